"""Pairing ``PreToolUse`` with ``PostToolUse``/``PostToolUseFailure`` into one tool call.

Calls are paired by ``tool_use_id`` (parallel calls interleave freely); payloads from older
Claude Code versions carry no id, and are paired by order instead: the oldest open call of
the same session, subagent and tool. The open calls are plain data so the emitter can commit
them with its spool offset and resume after a restart with the same pairs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["OpenCall", "ToolPairing"]


@dataclass(slots=True)
class OpenCall:
    """A ``PreToolUse`` waiting for its result.

    Attributes:
        key: record key of the ``PreToolUse`` payload.
        session_id: Claude Code session.
        tool_name: the tool called.
        received_ns: when the ``PreToolUse`` hook ran (the call's start).
        correlation_id: the execution the call belongs to (prompt, subagent or session).
        tool_use_id: Claude Code's id of the call (None in older versions).
        agent_id: the subagent making the call, if any.
        prompt_id: the prompt the call belongs to, if known.
        tool_input: the (redacted, truncated) input, kept for calls that never finish.
    """

    key: str
    session_id: str
    tool_name: str
    received_ns: int
    correlation_id: str
    tool_use_id: str | None = None
    agent_id: str | None = None
    prompt_id: str | None = None
    tool_input: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


class ToolPairing:
    """The open calls, indexed by ``tool_use_id`` and in arrival order."""

    def __init__(self, *, max_open: int = 10_000) -> None:
        """Create an empty pairing.

        Args:
            max_open: bound on open calls; beyond it the oldest are evicted by :meth:`open`.
        """
        self._calls: dict[str, OpenCall] = {}
        """By record key, in arrival order (dicts keep insertion order)."""
        self._max_open = max_open

    def __len__(self) -> int:
        return len(self._calls)

    def __iter__(self) -> Iterator[OpenCall]:
        return iter(list(self._calls.values()))

    def open(self, call: OpenCall) -> list[OpenCall]:
        """Record a ``PreToolUse``.

        Returns:
            Calls evicted to respect ``max_open`` (the oldest), to be reported unfinished.
        """
        self._calls[call.key] = call
        evicted: list[OpenCall] = []
        while len(self._calls) > self._max_open:
            oldest = next(iter(self._calls))
            evicted.append(self._calls.pop(oldest))
        return evicted

    def close(
        self,
        *,
        session_id: str,
        tool_name: str,
        tool_use_id: str | None,
        agent_id: str | None,
    ) -> tuple[OpenCall | None, str | None]:
        """Find and remove the open call a result belongs to.

        Args:
            session_id: session of the result.
            tool_name: tool of the result.
            tool_use_id: id of the call (None in older versions).
            agent_id: subagent of the result, if any.

        Returns:
            ``(call, how)``: the matching call and ``"tool_use_id"`` or ``"order"``, or
            ``(None, None)`` when no open call matches.
        """
        if tool_use_id is not None:
            for key, call in self._calls.items():
                if call.session_id == session_id and call.tool_use_id == tool_use_id:
                    return self._calls.pop(key), "tool_use_id"
        candidates = [
            c
            for c in self._calls.values()
            if c.session_id == session_id and c.tool_name == tool_name
        ]
        if tool_use_id is not None:
            # An id we have never seen: only a call without an id can be its Pre.
            candidates = [c for c in candidates if c.tool_use_id is None]
        same_agent = [c for c in candidates if c.agent_id == agent_id]
        for pool in (same_agent, candidates):
            if pool:
                return self._calls.pop(pool[0].key), "order"
        return None, None

    def waiting_for(
        self, *, session_id: str, tool_name: str, tool_input: Any, agent_id: str | None
    ) -> OpenCall | None:
        """The open call a ``PermissionRequest`` (which carries no ``tool_use_id``) is about.

        The newest open call of the same session, subagent and tool with the same input;
        else the newest of that tool; None when there is no open call of that tool.
        """
        same_tool = [
            c
            for c in self._calls.values()
            if c.session_id == session_id and c.tool_name == tool_name and c.agent_id == agent_id
        ]
        same_input = [c for c in same_tool if c.tool_input == tool_input]
        for pool in (same_input, same_tool):
            if pool:
                return pool[-1]
        return None

    def drain(self, predicate: Callable[[OpenCall], bool]) -> list[OpenCall]:
        """Remove and return every open call matching ``predicate`` (oldest first)."""
        matched = [c for c in self._calls.values() if predicate(c)]
        for call in matched:
            del self._calls[call.key]
        return matched

    def to_state(self) -> list[dict[str, Any]]:
        """Return the open calls as JSON-ready data (for the emitter's commit)."""
        return [asdict(c) for c in self._calls.values()]

    @classmethod
    def from_state(cls, state: list[dict[str, Any]], *, max_open: int = 10_000) -> ToolPairing:
        """Rebuild a pairing from :meth:`to_state` output."""
        pairing = cls(max_open=max_open)
        for item in state:
            call = OpenCall(**item)
            pairing._calls[call.key] = call
        return pairing
