"""API responses in a Claude Code transcript: one per (``message.id``, ``requestId``).

Claude Code writes one API response as several transcript lines (one per content block:
text, tool_use, …), each repeating the message id, the request id and the usage; while it
streams, earlier lines may carry partial usage. :class:`ResponseAssembler` groups consecutive
lines of one response and yields it once, complete, when a line of something else follows (or
the transcript goes quiet, or ends): the usage of its last line that has a ``stop_reason``
(else of its last line), the union of the ``tool_use`` ids it asked for, and its times — it
began when the line before it was written (the prompt or the tool results it answers) and
ended with its last line.

Lines that are not responses are skipped with a reason (:data:`SKIP_REASONS`): a ``model`` of
``<synthetic>`` is no API call, an assistant line without usage or ids cannot be counted, an
unknown ``type`` is a future format. The assembler's state is plain data, committed with the
emitter's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

__all__ = [
    "KNOWN_LINE_TYPES",
    "Response",
    "ResponseAssembler",
    "bad_line_reason",
    "entry_ns",
    "usage_tokens",
]

KNOWN_LINE_TYPES: Final = frozenset(
    {"user", "assistant", "system", "summary", "file-history-snapshot", "queue-operation",
     "progress", "attachment", "custom-title", "tag"}
)  # fmt: skip
"""Line types Claude Code writes; others are counted as unknown (and skipped)."""
SYNTHETIC_MODEL: Final = "<synthetic>"
_RECENT_KEYS: Final = 512
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

Skip = Callable[[str], None]
"""Told the reason each time a line is skipped."""


def entry_ns(entry: dict[str, Any]) -> int | None:
    """A transcript line's ``timestamp`` in nanoseconds since the epoch (None if unreadable)."""
    stamp = entry.get("timestamp")
    if not isinstance(stamp, str):
        return None
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000


def bad_line_reason(raw: str | bytes) -> str:
    """Why a line that does not parse is skipped: cut short, or not JSON at all."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    body = text.strip()
    return (
        "truncated line"
        if body.startswith("{") and not body.endswith("}")
        else ("line is not JSON")
    )


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def usage_tokens(usage: dict[str, Any]) -> dict[str, int]:
    """The five token counts of a usage object (cache writes split by TTL when it says so).

    Returns:
        ``input``, ``output``, ``cache_write_5m``, ``cache_write_1h``, ``cache_read``;
        ``cache_write_5m + cache_write_1h == cache_creation_input_tokens`` (an unsplit write
        is a 5-minute one, the default TTL).
    """
    written = _int(usage.get("cache_creation_input_tokens"))
    split = usage.get("cache_creation")
    one_hour = _int(split.get("ephemeral_1h_input_tokens")) if isinstance(split, dict) else 0
    one_hour = min(one_hour, written)
    return {
        "input": _int(usage.get("input_tokens")),
        "output": _int(usage.get("output_tokens")),
        "cache_write_5m": written - one_hour,
        "cache_write_1h": one_hour,
        "cache_read": _int(usage.get("cache_read_input_tokens")),
    }


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass(slots=True)
class Response:
    """One API response, assembled from its transcript lines."""

    key: str
    message_id: str | None
    request_id: str | None
    model: str
    usage: dict[str, Any]
    start_ns: int
    end_ns: int
    stop_reason: str | None = None
    tool_use_ids: list[str] = field(default_factory=list)
    lines: int = 1
    session_id: str | None = None
    agent_id: str | None = None
    is_sidechain: bool = False
    cwd: str | None = None
    git_branch: str | None = None
    version: str | None = None

    def to_state(self) -> dict[str, Any]:
        """JSON-ready data (see :meth:`from_state`)."""
        return asdict(self)

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> Response:
        """Rebuild from :meth:`to_state` output."""
        return cls(**data)

    def add(self, message: dict[str, Any], at_ns: int) -> None:
        """Take in one more line of this response."""
        self.lines += 1
        self.end_ns = max(self.end_ns, at_ns)
        stop = _text(message.get("stop_reason"))
        usage = message.get("usage")
        if isinstance(usage, dict) and (stop is not None or self.stop_reason is None):
            self.usage = usage  # the final figures are on the line that says it stopped
        self.stop_reason = stop or self.stop_reason
        for use_id in _tool_use_ids(message):
            if use_id not in self.tool_use_ids:
                self.tool_use_ids.append(use_id)


def _tool_use_ids(message: dict[str, Any]) -> list[str]:
    content = message.get("content")
    if not isinstance(content, list):
        return []
    return [
        str(block["id"])
        for block in content
        if isinstance(block, dict) and block.get("type") == "tool_use" and block.get("id")
    ]


@dataclass(slots=True)
class ResponseAssembler:
    """Groups one transcript's lines into responses (feed the lines in file order)."""

    pending: Response | None = None
    prev_ns: int | None = None
    """When the last line that is not part of a response was written."""
    recent: list[str] = field(default_factory=list)
    """Keys of the latest responses yielded (a line repeating one is not a new response)."""

    def to_state(self) -> dict[str, Any]:
        """JSON-ready data (see :meth:`from_state`)."""
        return {
            "pending": self.pending.to_state() if self.pending else None,
            "prev_ns": self.prev_ns,
            "recent": list(self.recent),
        }

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> ResponseAssembler:
        """Rebuild from :meth:`to_state` output."""
        pending = data.get("pending")
        return cls(
            pending=Response.from_state(pending) if pending else None,
            prev_ns=data.get("prev_ns"),
            recent=list(data.get("recent", [])),
        )

    def reset(self) -> None:
        """Start the file again (it was replaced): times restart, known responses stay known."""
        self.pending, self.prev_ns = None, None

    def flush(self) -> list[Response]:
        """Yield the response in progress (the transcript ended or went quiet)."""
        done, self.pending = self.pending, None
        if done is None:
            return []
        self.recent.append(done.key)
        del self.recent[:-_RECENT_KEYS]
        return [done]

    def feed(self, entry: dict[str, Any], skip: Skip) -> list[Response]:
        """Take one transcript line; return the responses it completes (usually none)."""
        kind = entry.get("type")
        at = entry_ns(entry)
        if kind != "assistant":
            if not isinstance(kind, str) or kind not in KNOWN_LINE_TYPES:
                skip(f"line of unknown type {str(kind)[:40]!r}")
                return []
            done = self.flush()
            if at is not None:
                self.prev_ns = at
            return done
        return self._assistant(entry, at, skip)

    def _assistant(  # noqa: PLR0911 - one return per reason a line is not a response
        self, entry: dict[str, Any], at: int | None, skip: Skip
    ) -> list[Response]:
        message = entry.get("message")
        if not isinstance(message, dict):
            skip("assistant line without a message")
            return []
        model = _text(message.get("model"))
        if model == SYNTHETIC_MODEL:
            skip("synthetic assistant message (not an API call)")
            return []
        request_id, message_id = _text(entry.get("requestId")), _text(message.get("id"))
        key = request_id or message_id
        if key is None:
            skip("assistant line without message id or request id")
            return []
        if not isinstance(message.get("usage"), dict):
            skip("assistant line without usage")
            return []
        when = at if at is not None else (self.prev_ns or 0)
        if self.pending is not None and self.pending.key == key:
            self.pending.add(message, when)
            return []
        done = self.flush()
        if key in self.recent:
            return done  # a line of a response already counted (re-read, or repeated)
        self.pending = Response(
            key=key, message_id=message_id, request_id=request_id, model=model or "unknown",
            usage=message["usage"], start_ns=min(self.prev_ns or when, when), end_ns=when,
            stop_reason=_text(message.get("stop_reason")), tool_use_ids=_tool_use_ids(message),
            session_id=_text(entry.get("sessionId")), agent_id=_text(entry.get("agentId")),
            is_sidechain=bool(entry.get("isSidechain")), cwd=_text(entry.get("cwd")),
            git_branch=_text(entry.get("gitBranch")), version=_text(entry.get("version")),
        )  # fmt: skip
        return done

    def feed_all(self, entries: Iterable[dict[str, Any]], skip: Skip) -> list[Response]:
        """Feed every line and flush: the responses of a whole transcript."""
        out: list[Response] = []
        for entry in entries:
            out.extend(self.feed(entry, skip))
        out.extend(self.flush())
        return out
