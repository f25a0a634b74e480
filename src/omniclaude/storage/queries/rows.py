"""Typed rows: one model per table, its fields the columns the read layer selects.

Every timed row has ``started_at`` (when it began) and ``created_at`` (when it ended; a point
event has both equal). JSON columns come back as Python objects (the shared codec of
:mod:`omniclaude.storage.pool`); ``numeric`` columns as floats.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field, computed_field

from omniclaude.events.executions import ExecutionStatus
from omniclaude.storage.queries._base import Row

__all__ = [
    "ActionRow",
    "ExecutionRow",
    "ExecutionSummary",
    "LifecycleRow",
    "LlmCallRow",
    "ManifestRow",
    "RoutingRow",
    "Row",
    "TimelineEntry",
    "TransformationRow",
]


class ExecutionSummary(Row):
    """One execution as lists show it (a row of ``agent_execution_logs``)."""

    correlation_id: uuid.UUID
    parent_correlation_id: uuid.UUID | None = None
    session_id: str | None = None
    agent_name: str
    user_prompt: str | None = None
    status: ExecutionStatus
    quality_score: float | None = None
    error_type: str | None = None
    error_message: str | None = None
    duration_ms: float | None = None
    created_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    last_event_at: datetime


class ExecutionRow(ExecutionSummary):
    """Everything ``agent_execution_logs`` holds about one execution."""

    execution_id: uuid.UUID
    prompt_id: str | None = None
    claude_agent_id: str | None = None
    progress_stage: str | None = None
    progress_percent: float | None = None
    result: dict[str, Any] | None = None
    project_path: str | None = None
    project_name: str | None = None
    metadata: dict[str, Any]


class LifecycleRow(Row):
    """One lifecycle event of an execution (``agent_execution_events``; a point event)."""

    event_id: uuid.UUID
    correlation_id: uuid.UUID
    event_type: str
    agent_name: str | None = None
    status: ExecutionStatus
    payload: dict[str, Any]
    started_at: datetime
    created_at: datetime


class ActionRow(Row):
    """One action: a tool call, a decision, an error, a success (``agent_actions``)."""

    event_id: uuid.UUID
    correlation_id: uuid.UUID
    agent_name: str | None = None
    action_type: str
    action_name: str
    action_details: dict[str, Any]
    duration_ms: float | None = None
    session_id: str | None = None
    prompt_id: str | None = None
    tool_use_id: str | None = None
    project_path: str | None = None
    project_name: str | None = None
    working_directory: str | None = None
    debug_mode: bool = False
    metadata: dict[str, Any]
    started_at: datetime
    created_at: datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def label(self) -> str:
        """What the action did: its stored ``label`` (Claude Code rows), else its name."""
        label = self.action_details.get("label")
        return label if isinstance(label, str) and label else self.action_name


class RoutingRow(Row):
    """One routing decision (``agent_routing_decisions``)."""

    event_id: uuid.UUID
    correlation_id: uuid.UUID
    parent_correlation_id: uuid.UUID | None = None
    session_id: str | None = None
    user_request: str
    selected_agent: str
    confidence_score: float
    routing_strategy: str
    trigger_confidence: float | None = None
    context_confidence: float | None = None
    capability_confidence: float | None = None
    historical_confidence: float | None = None
    alternatives: list[Any]
    reasoning: str | None = None
    matched_triggers: list[str]
    matched_capabilities: list[str]
    routing_time_ms: float
    cache_hit: bool
    is_fallback: bool
    context_snapshot: dict[str, Any]
    metadata: dict[str, Any]
    started_at: datetime
    created_at: datetime


class ManifestRow(Row):
    """One manifest injection (``agent_manifest_injections``)."""

    event_id: uuid.UUID
    correlation_id: uuid.UUID
    routing_decision_id: uuid.UUID | None = None
    agent_name: str
    manifest_version: str | None = None
    generation_source: str | None = None
    is_fallback: bool
    sections_included: list[str]
    sections: list[Any]
    query_times: dict[str, Any]
    total_query_time_ms: float
    manifest_size_bytes: int | None = None
    warnings: list[str]
    query_failures: dict[str, Any]
    metadata: dict[str, Any]
    started_at: datetime
    created_at: datetime


class TransformationRow(Row):
    """One phase of an agent transformation (``agent_transformation_events``)."""

    event_id: uuid.UUID
    event_type: str
    correlation_id: uuid.UUID
    source_agent: str | None = None
    target_agent: str
    transformation_reason: str | None = None
    routing_confidence: float | None = None
    routing_strategy: str | None = None
    user_request: str | None = None
    transformation_duration_ms: float | None = None
    success: bool | None = None
    error_message: str | None = None
    error_type: str | None = None
    parent_event_id: uuid.UUID | None = None
    metadata: dict[str, Any]
    started_at: datetime
    created_at: datetime


class LlmCallRow(Row):
    """One model API response: tokens, model, cost and how exact it is (``agent_llm_calls``)."""

    event_id: uuid.UUID
    correlation_id: uuid.UUID
    session_id: str | None = None
    prompt_id: str | None = None
    claude_agent_id: str | None = None
    agent_name: str | None = None
    is_sidechain: bool
    provider: str | None = None
    model: str
    input_tokens: int
    output_tokens: int
    cache_creation_input_tokens: int
    cache_read_input_tokens: int
    total_tokens: int
    usage: dict[str, Any] = Field(
        default_factory=dict, description="The usage object as reported (cache TTL split...)."
    )
    stop_reason: str | None = None
    request_id: str | None = None
    message_id: str | None = None
    tool_use_ids: list[str]
    duration_ms: float | None = None
    cost_usd: float | None = None
    cost_source: str
    pricing_source: str | None = None
    source: str
    project_path: str | None = None
    project_name: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    started_at: datetime
    created_at: datetime


class TimelineEntry(Row):
    """One row of a trace's merged timeline (the ``agent_trace_events`` view)."""

    started_at: datetime
    created_at: datetime
    source: str
    event_id: uuid.UUID
    kind: str
    agent_name: str | None = None
    details: dict[str, Any]
