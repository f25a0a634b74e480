"""Claude Code hook payloads: the events we know, and one parsed payload.

Claude Code passes one JSON object per hook run. Every payload has ``session_id``,
``transcript_path``, ``cwd`` and ``hook_event_name``; recent versions add ``prompt_id`` and
``permission_mode``, and inside subagents ``agent_id`` and ``agent_type``. Events and fields
are added over time, so :class:`HookPayload` keeps the object as it came and only offers
typed views of the fields the mapping reads: an unknown event or field is never refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from omniclaude.errors import EventValidationError

__all__ = [
    "ALL_INSTALLABLE_EVENTS",
    "CHATTY_EVENTS",
    "COMMON_FIELDS",
    "CORE_EVENTS",
    "FULL_EVENTS",
    "INSTALL_EVENTS",
    "KNOWN_EVENTS",
    "NEWEST_SINCE",
    "TOOL_EVENTS",
    "HookPayload",
    "PayloadError",
    "ns_to_datetime",
    "parse_payload",
]

KNOWN_EVENTS: Final[tuple[str, ...]] = (
    "Setup", "SessionStart", "UserPromptSubmit", "UserPromptExpansion", "PreToolUse",
    "PermissionRequest", "PermissionDenied", "PostToolUse", "PostToolUseFailure",
    "PostToolBatch", "Notification", "SubagentStart", "SubagentStop", "Stop", "StopFailure",
    "TeammateIdle", "TaskCreated", "TaskCompleted", "InstructionsLoaded", "ConfigChange",
    "CwdChanged", "DirectoryAdded", "FileChanged", "WorktreeCreate", "WorktreeRemove",
    "PreCompact", "PostCompact", "Elicitation", "ElicitationResult", "MessageDisplay",
    "SessionEnd",
)  # fmt: skip
"""The 31 hook events Claude Code documents at the time of writing (others are still stored)."""

TOOL_EVENTS: Final[frozenset[str]] = frozenset(
    {"PreToolUse", "PostToolUse", "PostToolUseFailure", "PermissionRequest", "PermissionDenied"}
)
"""Events whose matcher is a tool name (installed with ``"matcher": "*"``)."""

_NOT_INSTALLED: Final[frozenset[str]] = frozenset(
    {
        # A WorktreeCreate/WorktreeRemove command hook REPLACES Claude Code's own git worktree
        # handling (it must print the new path): an observer there would break worktrees.
        "WorktreeCreate",
        "WorktreeRemove",
        # FileChanged's matcher names the files to watch, not a filter: nothing to observe.
        "FileChanged",
    }
)

ALL_INSTALLABLE_EVENTS: Final[tuple[str, ...]] = tuple(
    e for e in KNOWN_EVENTS if e not in _NOT_INSTALLED
)
"""Every event the hook can be installed for (``hooks install --events all``).

Not installable by a set: a WorktreeCreate/WorktreeRemove command hook replaces Claude Code's
own worktree handling, and FileChanged's matcher names files to watch.
"""

CORE_EVENTS: Final[tuple[str, ...]] = (
    "SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "Notification", "Stop",
    "SubagentStop", "PreCompact", "SessionEnd",
)  # fmt: skip
"""Events every Claude Code 1.x/2.0 knows (``--events core``)."""

CHATTY_EVENTS: Final[frozenset[str]] = frozenset({"MessageDisplay"})
"""Installed only when named: MessageDisplay runs the hook once per streamed chunk of text,
a process per chunk for text the transcript already holds."""

_NEWEST: Final[frozenset[str]] = frozenset(
    {"UserPromptExpansion", "PostToolBatch", "DirectoryAdded"}
)
NEWEST_SINCE: Final = (2, 1, 200)
"""The Claude Code version from which :data:`FULL_EVENTS` is installed by ``--events auto``."""

FULL_EVENTS: Final[tuple[str, ...]] = tuple(
    e for e in ALL_INSTALLABLE_EVENTS if e not in CHATTY_EVENTS
)
"""Every installable event but the chatty ones (``--events full``)."""

INSTALL_EVENTS: Final[tuple[str, ...]] = tuple(e for e in FULL_EVENTS if e not in _NEWEST)
"""The default set when the version is unknown: every event Claude Code 2.1 lists as valid.

Claude Code versions before the lenient settings check reject a settings file naming an event
they do not know ("Invalid key in record") and then skip the WHOLE file; ``hooks install``
therefore installs :data:`CORE_EVENTS` for a Claude Code older than 2.1, :data:`FULL_EVENTS`
for one at least :data:`NEWEST_SINCE`, and this set otherwise (``--events standard``).
"""

COMMON_FIELDS: Final[frozenset[str]] = frozenset(
    {
        "session_id", "transcript_path", "cwd", "hook_event_name", "prompt_id",
        "permission_mode", "agent_id", "agent_type",
    }
)  # fmt: skip
"""Fields every payload may carry; the rest are the event's own."""


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def ns_to_datetime(ns: int) -> datetime:
    """Return ``ns`` (nanoseconds since the epoch) as an aware UTC datetime (to the µs).

    Exact integer arithmetic (no float), so two times in order stay in order.
    """
    return _EPOCH + timedelta(microseconds=ns // 1000)


class PayloadError(EventValidationError):
    """A spool record is not a usable hook payload (not JSON, not an object)."""


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value or None
    return str(value)


@dataclass(frozen=True, slots=True)
class HookPayload:
    """One hook payload as Claude Code sent it, with its receive time and record key.

    Attributes:
        key: a string unique to this payload and stable across re-reads (for spool records
            ``<receive_ns>-<pid>``); every event id derived from the payload hashes it.
        received_ns: when the hook received it, nanoseconds since the epoch.
        data: the JSON object exactly as received.
    """

    key: str
    received_ns: int
    data: dict[str, Any] = field(repr=False)

    @property
    def received_at(self) -> datetime:
        """The receive time, timezone-aware UTC."""
        return ns_to_datetime(self.received_ns)

    @property
    def event(self) -> str:
        """``hook_event_name`` (``"Unknown"`` when missing)."""
        return _text(self.data.get("hook_event_name")) or "Unknown"

    @property
    def session_id(self) -> str:
        """Claude Code's session id (``"unknown"`` when missing)."""
        return _text(self.data.get("session_id")) or "unknown"

    def get(self, name: str) -> str | None:
        """Return a field as text (None when absent or empty)."""
        return _text(self.data.get(name))

    @property
    def prompt_id(self) -> str | None:
        """``prompt_id`` (one per user prompt; absent in older versions)."""
        return self.get("prompt_id")

    @property
    def tool_use_id(self) -> str | None:
        """``tool_use_id`` (absent in older versions: pairing falls back to order)."""
        return self.get("tool_use_id")

    @property
    def agent_id(self) -> str | None:
        """``agent_id`` of the subagent the event happened in, if any."""
        return self.get("agent_id")

    @property
    def agent_type(self) -> str | None:
        """``agent_type`` of the subagent (or of the session's ``--agent``), if any."""
        return self.get("agent_type")

    @property
    def tool_name(self) -> str:
        """``tool_name`` (``"unknown"`` when missing)."""
        return self.get("tool_name") or "unknown"

    @property
    def cwd(self) -> str | None:
        """The working directory Claude Code reported."""
        return self.get("cwd")

    @property
    def duration_ms(self) -> float | None:
        """``duration_ms`` when present and a non-negative number."""
        value = self.data.get("duration_ms")
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            return None
        return float(value)

    def extra_fields(self, known: frozenset[str] | set[str]) -> dict[str, Any]:
        """Return the fields that are neither common nor in ``known`` (kept verbatim)."""
        return {k: v for k, v in self.data.items() if k not in COMMON_FIELDS and k not in known}


def parse_payload(raw: bytes | str, *, key: str, received_ns: int) -> HookPayload:
    """Parse one payload's JSON text.

    Args:
        raw: the JSON object's text.
        key: the record key (see :attr:`HookPayload.key`).
        received_ns: receive time, nanoseconds since the epoch.

    Returns:
        The payload.

    Raises:
        PayloadError: the text is not JSON or not an object.
    """
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PayloadError(f"(payload): not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise PayloadError(f"(payload): expected a JSON object, got {type(data).__name__}")
    return HookPayload(key=key, received_ns=received_ns, data=data)
