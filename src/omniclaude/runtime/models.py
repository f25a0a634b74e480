"""The runtime's data: what is asked (:class:`ExecutionRequest`), how it is run
(:class:`RuntimeConfig`) and where it stands (:class:`ExecutionState`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from omniclaude.errors import OmniClaudeError
from omniclaude.events import ExecutionStatus, utc_now
from omniclaude.routing.router import MAX_PROMPT_CHARS
from omniclaude.runtime.retry import RetryPolicy

__all__ = [
    "ChildExecutionError",
    "ExecutionRequest",
    "ExecutionState",
    "ExecutionTimeoutError",
    "RuntimeConfig",
    "Status",
    "ToolNotAllowedError",
]

Status = ExecutionStatus
"""Where an execution stands: the one vocabulary of the database, the API and every screen."""


class ExecutionTimeoutError(OmniClaudeError, TimeoutError):
    """An execution ran longer than its timeout and was stopped."""


class ToolNotAllowedError(OmniClaudeError):
    """An agent called a tool its definition does not list."""


class ChildExecutionError(OmniClaudeError):
    """Some of the parallel child executions failed."""


class ExecutionRequest(BaseModel):
    """One request to run an agent (or several in parallel)."""

    model_config = ConfigDict(frozen=True)

    user_prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS)
    context: dict[str, Any] = Field(default_factory=dict)
    agent: str | None = Field(default=None, description="Run this agent (skip routing).")
    agents: tuple[str, ...] = Field(
        default=(), description="Run these agents in parallel, as children of one execution."
    )
    session_id: str | None = Field(default=None, max_length=256)
    parent_correlation_id: uuid.UUID | None = None
    timeout_s: float | None = Field(default=None, gt=0, le=3600)
    max_attempts: int | None = Field(
        default=None, ge=1, le=10, description="Attempts per failing tool call (retries + 1)."
    )


class RuntimeConfig(BaseModel):
    """How executions run."""

    model_config = ConfigDict(frozen=True)

    default_timeout_s: float = Field(default=300.0, gt=0, le=3600)
    retry: RetryPolicy = RetryPolicy()
    manifest_timeout_s: float = Field(default=1.0, gt=0, le=60)
    """Upper bound on building one manifest (each section gets what is left of it)."""
    transform_min_confidence: float = Field(default=0.2, ge=0, le=1)
    """The polymorphic agent transforms into an agent scoring at least this."""
    max_parallel: int = Field(default=8, ge=1, le=256)
    tool_processes: int = Field(default=2, ge=0, le=64)
    """Worker processes for isolated tools (killed at the timeout); 0 runs them in threads,
    which cannot be stopped (for tests that need no processes)."""
    max_tracked: int = Field(default=10_000, ge=10)
    """How many executions the runner remembers in memory (older ones: ask the database)."""


@dataclass(slots=True)
class ExecutionState:
    """Where one execution stands, as the runner that runs it knows it."""

    correlation_id: uuid.UUID
    user_prompt: str
    agent_name: str | None = None
    status: Status = ExecutionStatus.IN_PROGRESS
    parent_correlation_id: uuid.UUID | None = None
    created_at: datetime = field(default_factory=utc_now)
    completed_at: datetime | None = None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    children: list[uuid.UUID] = field(default_factory=list)
    routing: dict[str, Any] | None = None
    emitted: list[tuple[str, uuid.UUID]] = field(default_factory=list)
    """``(table, event_id)`` of every event the runner handed to its sink for it."""
    readable: bool = False
    """Set once every emitted event was read back from the database (it stays set)."""

    @property
    def done(self) -> bool:
        """Whether the execution ended."""
        return self.status is not ExecutionStatus.IN_PROGRESS

    def as_json(self) -> dict[str, Any]:
        """The state as JSON-ready data."""
        duration = None
        if self.completed_at is not None:
            duration = (self.completed_at - self.created_at).total_seconds() * 1000
        return {
            "correlation_id": str(self.correlation_id),
            "status": self.status.value,
            "agent_name": self.agent_name,
            "user_prompt": self.user_prompt,
            "parent_correlation_id": (
                str(self.parent_correlation_id) if self.parent_correlation_id else None
            ),
            "created_at": self.created_at.isoformat(),
            "completed_at": self.completed_at.isoformat() if self.completed_at else None,
            "duration_ms": duration,
            "result": self.result,
            "error": self.error,
            "children": [str(c) for c in self.children],
            "routing": self.routing,
            "events": {"emitted": len(self.emitted), "stored": None},
        }
