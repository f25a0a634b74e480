"""What the mapping remembers of each session after it closed: which execution a moment belongs to.

Transcripts lag their hooks: the last responses of a prompt, or of a background subagent, may
be read after the prompt stopped or the session ended. :class:`SessionHistory` keeps, for the
latest sessions, when each prompt started (a response belongs to the latest prompt started
before it), each subagent's execution, and what was already said about the session (its git
branch), so an LLM call is attributed to the right execution whenever it is read. Plain data,
committed with the emitter's state; bounded.
"""

from __future__ import annotations

import bisect
from dataclasses import asdict, dataclass, field
from typing import Any, Final

from omniclaude.hooks.sessions import AgentState

__all__ = ["Histories", "SessionHistory"]

_MAX_SESSIONS: Final = 256
_MAX_PROMPTS: Final = 512
_MAX_AGENTS: Final = 256


@dataclass(slots=True)
class SessionHistory:
    """One session: its execution, its prompts in start order, its subagents."""

    session_id: str
    correlation_id: str
    started_ns: int
    project_path: str | None = None
    agent_type: str | None = None
    prompts: list[tuple[int, str, str | None]] = field(default_factory=list)
    """``(started_ns, correlation_id, prompt_id)``, in start order."""
    agents: dict[str, AgentState] = field(default_factory=dict)
    git_branch: str | None = None
    last_ns: int = 0

    def add_prompt(self, started_ns: int, correlation_id: str, prompt_id: str | None) -> None:
        """Remember a prompt (once)."""
        if any(cid == correlation_id for _, cid, _ in self.prompts):
            return
        bisect.insort(self.prompts, (started_ns, correlation_id, prompt_id))
        del self.prompts[:-_MAX_PROMPTS]

    def prompt_at(self, at_ns: int) -> tuple[int, str, str | None] | None:
        """``(started_ns, correlation_id, prompt_id)`` of the latest prompt started by ``at_ns``."""
        index = bisect.bisect_right([start for start, _, _ in self.prompts], at_ns)
        return self.prompts[index - 1] if index else None

    def to_state(self) -> dict[str, Any]:
        """JSON-ready data (see :meth:`from_state`)."""
        return asdict(self)

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> SessionHistory:
        """Rebuild from :meth:`to_state` output."""
        values = dict(data)
        prompts = [tuple(item) for item in values.pop("prompts", [])]
        agents = {k: AgentState(**v) for k, v in (values.pop("agents", {}) or {}).items()}
        return cls(**values, prompts=prompts, agents=agents)


class Histories:
    """The latest sessions' histories, the least recently used dropped first."""

    def __init__(self) -> None:
        """Start with none."""
        self._items: dict[str, SessionHistory] = {}

    def get(self, session_id: str) -> SessionHistory | None:
        """The history of ``session_id`` (None when unknown or dropped)."""
        return self._items.get(session_id)

    def session(
        self,
        session_id: str,
        correlation_id: str,
        *,
        started_ns: int,
        project_path: str | None = None,
        agent_type: str | None = None,
    ) -> SessionHistory:
        """The history of a session, created when first seen (and marked most recent)."""
        history = self._items.pop(session_id, None)
        if history is None:
            history = SessionHistory(
                session_id, correlation_id, started_ns, project_path, agent_type,
                last_ns=started_ns,
            )  # fmt: skip
        self._items[session_id] = history
        while len(self._items) > _MAX_SESSIONS:
            del self._items[next(iter(self._items))]
        return history

    def add_agent(self, session_id: str, agent_id: str, record: AgentState) -> None:
        """Remember a subagent of a known session (a better launching call replaces none)."""
        history = self._items.get(session_id)
        if history is None:
            return
        known = history.agents.get(agent_id)
        if known is not None and known.tool_use_id and not record.tool_use_id:
            record.tool_use_id = known.tool_use_id
        history.agents[agent_id] = record
        while len(history.agents) > _MAX_AGENTS:
            del history.agents[next(iter(history.agents))]

    def to_state(self) -> list[dict[str, Any]]:
        """JSON-ready data, least recent first."""
        return [h.to_state() for h in self._items.values()]

    def load_state(self, data: list[dict[str, Any]]) -> None:
        """Restore what :meth:`to_state` returned."""
        self._items = {}
        for item in data:
            history = SessionHistory.from_state(item)
            self._items[history.session_id] = history
