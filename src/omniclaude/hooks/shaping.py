"""Shaping payload values before they become event fields: truncation, then redaction.

Large tool responses are cut to a configurable size (the original size is recorded) *before*
redaction, so a 50 MB ``Read`` result costs a slice, not a regex pass over 50 MB; the kept
part is then redacted. Every sink redacts centrally as well.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Redact", "Shaper", "json_size"]

Redact = Callable[[Any], Any]
"""A redaction function (``omniclaude.publishing.redaction.sanitize_pii``)."""


def json_size(value: Any) -> tuple[str, int]:
    """Return ``value`` as compact JSON text and its size in UTF-8 bytes."""
    if isinstance(value, str):
        return value, len(value.encode("utf-8", "replace"))
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return text, len(text.encode("utf-8", "replace"))


def _cut(text: str, max_bytes: int) -> str:
    """Return the longest prefix of ``text`` within ``max_bytes`` UTF-8 bytes."""
    return text.encode("utf-8", "replace")[:max_bytes].decode("utf-8", "ignore")


@dataclass(frozen=True, slots=True)
class Shaper:
    """Truncates and redacts payload values for the events.

    Attributes:
        redact: the redaction function applied to everything kept.
        max_value_bytes: a tool input/response larger than this (as JSON) is truncated.
        max_text_bytes: bound on free text such as prompts and final messages.
    """

    redact: Redact
    max_value_bytes: int = 16_384
    max_text_bytes: int = 65_536

    def trim(self, value: Any) -> tuple[Any, dict[str, Any]]:
        """Truncate one JSON value (a tool input or response); redaction comes later.

        Returns:
            ``(kept, info)``: the value itself, or ``{"truncated": true, "original_bytes": n,
            "preview": first max_value_bytes of its JSON}`` when it is too large; and
            ``{"bytes": original size, "truncated": bool}``.
        """
        if value is None:
            return None, {"bytes": 0, "truncated": False}
        text, size = json_size(value)
        if size <= self.max_value_bytes:
            return value, {"bytes": size, "truncated": False}
        kept = {
            "truncated": True,
            "original_bytes": size,
            "preview": _cut(text, self.max_value_bytes),
        }
        return kept, {"bytes": size, "truncated": True}

    def details(self, details: dict[str, Any]) -> dict[str, Any]:
        """Redact a finished details object as a whole (key names count: ``password``...)."""
        redacted = self.redact(details)
        return redacted if isinstance(redacted, dict) else {"value": redacted}

    def text(self, value: Any) -> str | None:
        """Shape free text: None stays None, the rest is cut to ``max_text_bytes`` and redacted."""
        if value is None:
            return None
        text = value if isinstance(value, str) else json_size(value)[0]
        if len(text) * 4 > self.max_text_bytes and len(text.encode("utf-8")) > self.max_text_bytes:
            text = _cut(text, self.max_text_bytes) + " …[truncated]"
        redacted = self.redact(text)
        return redacted if isinstance(redacted, str) else str(redacted)

    def mapping(self, value: dict[str, Any]) -> dict[str, Any]:
        """Truncate each value of a mapping of extra fields as :meth:`trim` would."""
        out: dict[str, Any] = {}
        for key, item in value.items():
            out[key] = self.trim(item)[0]
        return out
