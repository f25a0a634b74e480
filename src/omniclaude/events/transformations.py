"""Agent transformations: the polymorphic agent turning into a specialised one."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Literal

from pydantic import Field

from omniclaude.events.base import AgentName, DurationMs, Identifier, TimedEvent

__all__ = ["AgentTransformation", "TransformationPhase"]


class TransformationPhase(StrEnum):
    """Stage of a transformation."""

    START = "transformation_start"
    COMPLETE = "transformation_complete"
    FAILED = "transformation_failed"


class AgentTransformation(TimedEvent):
    """An agent handing over to another: from, to, why, and how sure the router was.

    Timed: ``started_at`` → ``timestamp`` (``duration_ms`` as measured).
    """

    event_type: Literal["agent_transformation"] = "agent_transformation"
    phase: TransformationPhase = TransformationPhase.COMPLETE
    source_agent: AgentName | None = None
    target_agent: AgentName = Field(min_length=1)
    transformation_reason: str | None = None
    confidence: float | None = Field(default=None, ge=0, le=1)
    routing_strategy: str | None = None
    user_request: str | None = None
    duration_ms: DurationMs | None = None
    success: bool | None = None
    error_message: str | None = None
    error_type: str | None = None
    parent_event_id: uuid.UUID | None = None
    session_id: Identifier | None = None
