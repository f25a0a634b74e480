"""Events and Claude Code hook payloads for the load, chaos and security tests.

:func:`event_payload` builds a valid wire-form event of ANY catalogued type from its pydantic
model alone (so a new event type needs no new builder here): required fields get a value of
their type (an enum's first member, a number's lower bound, a fresh UUID...), and every
string field — top-level, inside lists, nested models and JSON objects (keys and values) —
gets ``text(path)``. The security tests pass injection strings as ``text``; the load tests
pass realistic phrases.

:class:`HookSession` writes the payloads one Claude Code session sends (the documented hook
format) and remembers which tool calls it made, so the test can check each one by id.
"""

from __future__ import annotations

import enum
import random
import types
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from omniclaude.events import CATALOG
from omniclaude.hooks.sessions import derive_id, session_correlation_id

__all__ = [
    "ENVELOPE_FIELDS",
    "EVENT_TYPES",
    "NEVER_REDACTED",
    "PII_SAMPLES",
    "HookSession",
    "event_payload",
    "may_hold_pii",
    "realistic_text",
    "string_paths",
]

ENVELOPE_FIELDS = frozenset({"event_id", "correlation_id", "timestamp", "schema_version"})
"""Set by the builder itself, never filled with text."""

EVENT_TYPES: tuple[str, ...] = tuple(kind.event_type for kind in CATALOG)
"""Every catalogued event type, in catalogue order."""

NEVER_REDACTED = frozenset(
    {
        "session_id",
        "prompt_id",
        "tool_use_id",
        "claude_agent_id",
        "producer",
        "request_id",
        "message_id",
        "tool_use_ids",
    }
)
"""Fields the SDK never redacts by design (ids and producer metadata keep traces joinable,
see :mod:`omniclaude.publishing.redaction`): the tests put no PII there."""


def may_hold_pii(path: str) -> bool:
    """Whether the tests may put PII at ``path`` (not an id, not a JSON key: see the gap
    documented in ``tests/system/test_pii_leakage.py``)."""
    field = path.split(".", maxsplit=1)[0].split("[", maxsplit=1)[0]
    return field not in NEVER_REDACTED and not path.endswith("<key>")


PII_SAMPLES: tuple[str, ...] = (
    "mail me at dev.person@example.com",
    "Authorization: Bearer abcdefghijklmnop1234",
    "key sk-abcdefghijklmnopqrstuv1234",
    "card 4111 1111 1111 1111 on file",
    "postgres://admin:hunter2pass@db.internal:5432/prod",
    "gh token ghp_abcdefghijklmnopqrstuvwxyz0123456789",
)
"""Strings every default redaction pattern must catch (the load mixes them into events)."""

_WORDS = (
    "refactor", "parser", "tests", "failing", "module", "cache", "deploy", "review", "schema",
    "query", "latency", "retry", "index", "migration", "handler", "config", "logging", "route",
)  # fmt: skip

TextFn = Callable[[str], str]


def realistic_text(rng: random.Random) -> TextFn:
    """A ``text`` function giving short plausible phrases (no secrets)."""

    def text(path: str) -> str:
        return " ".join(rng.choice(_WORDS) for _ in range(rng.randint(1, 6))) or path

    return text


def _strip_optional(tp: Any) -> Any:
    if get_origin(tp) in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def _lower_bound(info: FieldInfo | None) -> float:
    for meta in info.metadata if info is not None else ():
        if getattr(meta, "ge", None) is not None:
            return float(meta.ge)
        if getattr(meta, "gt", None) is not None:
            return float(meta.gt) + 1
    return 0.0


def _sample(tp: Any, info: FieldInfo | None, text: TextFn, path: str) -> Any:  # noqa: PLR0911
    tp = _strip_optional(tp)
    origin = get_origin(tp)
    if tp is str:
        return text(path)
    if origin is Literal:
        first = get_args(tp)[0]
        return first.value if isinstance(first, enum.Enum) else first
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return next(iter(tp)).value
    if tp is bool:
        return False
    if tp is int:
        return int(_lower_bound(info))
    if tp is float:
        return _lower_bound(info)
    if tp is uuid.UUID:
        return str(uuid.uuid4())
    if tp is datetime:
        return datetime.now(UTC).isoformat()
    if origin is list:
        (item,) = get_args(tp) or (str,)
        return [_sample(item, None, text, f"{path}[0]")]
    if origin is dict or tp is dict:
        return {
            text(f"{path}.<key>"): text(f"{path}.value"),
            "nested": [text(f"{path}.nested[0]"), {"deep": text(f"{path}.nested[1].deep")}],
        }
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return _fill(tp, text, path, optional=True)
    if tp is Any:
        return text(path)
    raise TypeError(f"{path}: no sample value for {tp!r}")


def _fill(model: type[BaseModel], text: TextFn, prefix: str, *, optional: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if name in ENVELOPE_FIELDS:
            continue
        path = f"{prefix}.{name}" if prefix else name
        tp = _strip_optional(info.annotation)
        if info.is_required() or get_origin(tp) is Literal or (optional and _holds_text(tp)):
            out[name] = _sample(info.annotation, info, text, path)
    return out


def _holds_text(tp: Any) -> bool:
    """Whether a field of type ``tp`` can carry a string somewhere inside it."""
    tp = _strip_optional(tp)
    origin = get_origin(tp)
    if tp is str or tp is Any or origin is dict or tp is dict:
        return True
    if origin is list:
        return any(_holds_text(a) for a in get_args(tp))
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def event_payload(
    event_type: str,
    *,
    correlation_id: uuid.UUID | None = None,
    text: TextFn,
    optional: bool = True,
    extra_field: bool = False,
) -> dict[str, Any]:
    """A valid wire-form (JSON-native) event of ``event_type``.

    Args:
        event_type: a catalogued type (``agent_action``...).
        correlation_id: its trace (a new one by default).
        text: gives the string for each string position, by path (``action_details.<key>``).
        optional: fill optional string-holding fields too (else only required ones).
        extra_field: add an unknown field ``x_extra`` (stored in the row's metadata).

    Raises:
        KeyError: the type is not in the catalogue.
    """
    kind = next(k for k in CATALOG if k.event_type == event_type)
    payload = _fill(kind.model, text, "", optional=optional)
    payload.update(
        event_type=event_type,
        event_id=str(uuid.uuid4()),
        correlation_id=str(correlation_id or uuid.uuid4()),
        timestamp=datetime.now(UTC).isoformat(),
    )
    if extra_field:
        payload["x_extra"] = text("x_extra")
    return payload


def string_paths(value: Any, path: str = "") -> dict[str, str]:
    """Every string inside ``value`` (keys included) by its path: what must be stored."""
    found: dict[str, str] = {}
    if isinstance(value, str):
        found[path] = value
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str):
                found[f"{path}.<key:{key[:20]}>"] = key
            found.update(string_paths(item, f"{path}.{key}" if path else str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.update(string_paths(item, f"{path}[{index}]"))
    return found


# ---------------------------------------------------------------- Claude Code hook payloads
@dataclass
class HookSession:
    """The payloads one Claude Code session sends; remembers its tool calls by id."""

    session_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    cwd: str = "/home/dev/shop"
    prompt_id: str | None = None
    tool_use_ids: list[str] = field(default_factory=list)
    prompts: int = 0

    @property
    def correlation_id(self) -> uuid.UUID:
        """The session's execution id (a UUIDv5 of the session id)."""
        return session_correlation_id(self.session_id)

    def tool_call_event_id(self, tool_use_id: str) -> uuid.UUID:
        """The event id the emitter derives for a completed tool call."""
        return derive_id("tool", self.session_id, tool_use_id, "tool_call")

    def _base(self, event: str, **fields: Any) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "session_id": self.session_id,
            "transcript_path": f"/home/dev/.claude/projects/-home-dev-shop/{self.session_id}.jsonl",
            "cwd": self.cwd,
            "hook_event_name": event,
            "permission_mode": "default",
        }
        if self.prompt_id is not None:
            payload["prompt_id"] = self.prompt_id
        payload.update(fields)
        return payload

    def start(self) -> dict[str, Any]:
        """SessionStart."""
        return self._base("SessionStart", source="startup", model="claude-sonnet-4-5")

    def prompt(self, text: str) -> dict[str, Any]:
        """UserPromptSubmit (a new prompt id)."""
        self.prompt_id = str(uuid.uuid4())
        self.prompts += 1
        return self._base("UserPromptSubmit", prompt=text)

    def tool_pair(self, tool: str, tool_input: dict[str, Any]) -> list[dict[str, Any]]:
        """PreToolUse then PostToolUse of one call (a fresh ``tool_use_id``)."""
        use_id = f"toolu_{uuid.uuid4().hex[:20]}"
        pre = self._base("PreToolUse", tool_name=tool, tool_input=tool_input, tool_use_id=use_id)
        post = self._base(
            "PostToolUse", tool_name=tool, tool_input=tool_input, tool_use_id=use_id,
            tool_response={"stdout": "ok", "exit_code": 0}, duration_ms=7,
        )  # fmt: skip
        return [pre, post]

    def record_tool_call(self, payload: dict[str, Any]) -> None:
        """Remember a PostToolUse the hook accepted (its event must reach the database)."""
        self.tool_use_ids.append(str(payload["tool_use_id"]))

    def stop(self) -> dict[str, Any]:
        """Stop (the prompt ends with success)."""
        return self._base("Stop", stop_hook_active=False)

    def end(self) -> dict[str, Any]:
        """SessionEnd."""
        return self._base("SessionEnd", reason="logout")
