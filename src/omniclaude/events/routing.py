"""Routing decisions: which agent the router picked for a prompt, and why."""

from __future__ import annotations

import uuid
from typing import ClassVar, Literal

from pydantic import Field

from omniclaude.events.base import (
    AgentName,
    DurationMs,
    Identifier,
    JsonObject,
    StorableModel,
    TimedEvent,
)
from omniclaude.events.limits import MAX_STRATEGY_CHARS

__all__ = ["AgentAlternative", "RoutingDecision"]


class AgentAlternative(StorableModel):
    """An agent the router considered, with its score."""

    agent_name: AgentName
    confidence: float = Field(ge=0, le=1)
    reason: str | None = None


class RoutingDecision(TimedEvent):
    """The router's choice of agent for one user request (timed: ``routing_time_ms``)."""

    DURATION_FIELD: ClassVar[str] = "routing_time_ms"

    event_type: Literal["routing_decision"] = "routing_decision"
    user_request: str
    selected_agent: AgentName = Field(min_length=1)
    confidence_score: float = Field(ge=0, le=1)
    routing_strategy: str = Field(min_length=1, max_length=MAX_STRATEGY_CHARS)
    routing_time_ms: DurationMs
    alternatives: list[AgentAlternative] = Field(default_factory=list)
    reasoning: str | None = None
    trigger_confidence: float | None = Field(default=None, ge=0, le=1)
    context_confidence: float | None = Field(default=None, ge=0, le=1)
    capability_confidence: float | None = Field(default=None, ge=0, le=1)
    historical_confidence: float | None = Field(default=None, ge=0, le=1)
    matched_triggers: list[str] = Field(default_factory=list)
    matched_capabilities: list[str] = Field(default_factory=list)
    cache_hit: bool = False
    is_fallback: bool = False
    session_id: Identifier | None = None
    parent_correlation_id: uuid.UUID | None = None
    context_snapshot: JsonObject = Field(default_factory=dict)
