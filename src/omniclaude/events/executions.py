"""Execution lifecycle: started, progress, completed, failed.

Each is an event of its own (append-only); the one row per execution is derived from them
and its status never moves backwards (see :data:`STATUS_RANK`).
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Literal

from pydantic import Field

from omniclaude.events.base import AgentName, DurationMs, EventBase, Identifier, JsonObject
from omniclaude.events.limits import INT4_MAX, MAX_LABEL_CHARS

__all__ = [
    "STATUS_RANK",
    "ExecutionCompleted",
    "ExecutionFailed",
    "ExecutionProgress",
    "ExecutionStarted",
    "ExecutionStatus",
]


class ExecutionStatus(StrEnum):
    """Status of an execution, as stored in ``agent_execution_logs.status``."""

    IN_PROGRESS = "in_progress"
    SUCCESS = "success"
    CANCELLED = "cancelled"
    FAILED = "failed"


STATUS_RANK: dict[ExecutionStatus, int] = {
    ExecutionStatus.IN_PROGRESS: 0,
    ExecutionStatus.SUCCESS: 1,
    ExecutionStatus.CANCELLED: 2,
    ExecutionStatus.FAILED: 3,
}
"""A status only ever moves to a higher rank, whatever order events arrive in."""


class _ExecutionEvent(EventBase):
    agent_name: AgentName | None = None
    parent_correlation_id: uuid.UUID | None = Field(
        default=None, description="Correlation id of the parent execution, if any."
    )


class ExecutionStarted(_ExecutionEvent):
    """An execution began."""

    event_type: Literal["execution_started"] = "execution_started"
    agent_name: AgentName = Field(min_length=1)
    user_prompt: str | None = None
    session_id: Identifier | None = None
    prompt_id: Identifier | None = None
    claude_agent_id: Identifier | None = None
    project_path: str | None = None
    project_name: str | None = None
    metadata: JsonObject = Field(default_factory=dict)


class ExecutionProgress(_ExecutionEvent):
    """An execution reached a stage."""

    event_type: Literal["execution_progress"] = "execution_progress"
    stage: str = Field(min_length=1, max_length=MAX_LABEL_CHARS)
    percent: float = Field(ge=0, le=100)


class _ExecutionEnd(_ExecutionEvent):
    """What both final lifecycle events carry."""

    duration_ms: DurationMs | None = None
    event_count: int | None = Field(
        default=None,
        ge=1,
        le=INT4_MAX,
        description=(
            "How many events the producer emitted for this execution, this one included: "
            "a reader knows the execution's trace is complete once it holds as many."
        ),
    )


class ExecutionCompleted(_ExecutionEnd):
    """An execution ended normally (``success``) or was cancelled."""

    event_type: Literal["execution_completed"] = "execution_completed"
    status: Literal[ExecutionStatus.SUCCESS, ExecutionStatus.CANCELLED] = ExecutionStatus.SUCCESS
    quality_score: float | None = Field(default=None, ge=0, le=1)
    result: JsonObject = Field(default_factory=dict)


class ExecutionFailed(_ExecutionEnd):
    """An execution ended with an error."""

    event_type: Literal["execution_failed"] = "execution_failed"
    error_type: str = Field(min_length=1, max_length=MAX_LABEL_CHARS)
    error_message: str
    traceback: str | None = None
