"""Deterministic ids and the per-session state the mapping keeps between payloads.

Every id is a UUIDv5 of Claude Code's own ids (or of the payload's record key), so mapping
the same payloads again (an emitter restarted from its committed offset, a transcript
imported twice) produces the same correlation and event ids and the database keeps one row.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, Final

__all__ = [
    "AGENT_NAME",
    "NAMESPACE",
    "AgentState",
    "PromptState",
    "SessionState",
    "agent_correlation_id",
    "derive_id",
    "prompt_correlation_id",
    "session_correlation_id",
]

NAMESPACE: Final = uuid.UUID("9a7c3e52-1d0b-5f7e-8c43-6f6d6e69636c")
"""UUIDv5 namespace of every id derived from Claude Code hook data."""

AGENT_NAME: Final = "claude-code"
"""Agent name of sessions and prompts run by Claude Code itself (no ``--agent``)."""

_MAX_CLOSED_PROMPTS = 64


def derive_id(*parts: str) -> uuid.UUID:
    """Return the UUIDv5 of ``parts`` (joined with a separator no id contains)."""
    return uuid.uuid5(NAMESPACE, "\x1f".join(parts))


def session_correlation_id(session_id: str) -> uuid.UUID:
    """Correlation id of a Claude Code session's execution."""
    return derive_id("session", session_id)


def prompt_correlation_id(session_id: str, prompt_key: str) -> uuid.UUID:
    """Correlation id of one prompt's execution (``prompt_key``: ``prompt_id`` or record key)."""
    return derive_id("prompt", session_id, prompt_key)


def agent_correlation_id(session_id: str, agent_id: str) -> uuid.UUID:
    """Correlation id of a subagent's execution."""
    return derive_id("agent", session_id, agent_id)


@dataclass(slots=True)
class PromptState:
    """The prompt a session is working on."""

    correlation_id: str
    prompt_id: str | None
    started_ns: int


@dataclass(slots=True)
class AgentState:
    """A running subagent."""

    correlation_id: str
    parent_correlation_id: str
    agent_type: str | None
    prompt_id: str | None
    started_ns: int
    tool_use_id: str | None = None
    """The Agent/Task call that launched it, when known."""


@dataclass(slots=True)
class SessionState:
    """What the mapping remembers about one open session."""

    session_id: str
    correlation_id: str
    last_ns: int
    project_path: str | None = None
    agent_type: str | None = None
    prompt: PromptState | None = None
    agents: dict[str, AgentState] = field(default_factory=dict)
    closed_prompts: list[str] = field(default_factory=list)
    started_ns: int | None = None
    """When the session's execution started (its first event)."""
    titled: bool = False
    """Its row already has a title (``session_title``, or its first prompt)."""
    displays: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Streamed ``MessageDisplay`` chunks not yet final, by message id."""

    def remember_closed(self, correlation_id: str) -> None:
        """Remember a closed prompt (a late event for it must not reopen it)."""
        if correlation_id not in self.closed_prompts:
            self.closed_prompts.append(correlation_id)
            del self.closed_prompts[:-_MAX_CLOSED_PROMPTS]

    def to_state(self) -> dict[str, Any]:
        """Return JSON-ready data (see :meth:`from_state`)."""
        return asdict(self)

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> SessionState:
        """Rebuild a session from :meth:`to_state` output."""
        values = dict(data)
        prompt = values.pop("prompt", None)
        agents = values.pop("agents", {}) or {}
        return cls(
            **values,
            prompt=PromptState(**prompt) if prompt else None,
            agents={key: AgentState(**value) for key, value in agents.items()},
        )
