"""Builders for the viewer's tests: typed rows as the read layer returns them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from omniclaude.storage.queries import (
    ActionRow,
    ExecutionRow,
    ManifestRow,
    RoutingRow,
    TraceTree,
    TransformationRow,
)

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def at(ms: float) -> datetime:
    """The time ``ms`` milliseconds after :data:`T0`."""
    return T0 + timedelta(milliseconds=ms)


def execution_row(
    cid: uuid.UUID,
    *,
    agent: str = "code-analyzer",
    status: str = "success",
    start_ms: float = 0,
    end_ms: float | None = 100,
    parent: uuid.UUID | None = None,
    prompt: str = "Analyze the project",
    **extra: Any,
) -> ExecutionRow:
    """One ``agent_execution_logs`` row."""
    extra.pop("depth", None)
    return ExecutionRow.model_validate({
        "execution_id": uuid.uuid4(),
        "metadata": {},
        "correlation_id": cid,
        "parent_correlation_id": parent,
        "agent_name": agent,
        "status": status,
        "user_prompt": prompt,
        "created_at": at(start_ms),
        "started_at": at(start_ms),
        "completed_at": at(end_ms) if end_ms is not None else None,
        "last_event_at": at(end_ms if end_ms is not None else start_ms),
        "duration_ms": (end_ms - start_ms) if end_ms is not None else None,
        "session_id": "s-1",
        "quality_score": Decimal("0.9000"),
        "error_type": None,
        "error_message": None,
        **extra,
    })  # fmt: skip


def action_row(
    cid: uuid.UUID,
    *,
    name: str = "read_file",
    kind: str = "tool_call",
    end_ms: float = 50,
    duration_ms: float | None = 10,
    details: dict[str, Any] | None = None,
) -> ActionRow:
    """One ``agent_actions`` row: ``started_at`` → ``created_at`` (when the call ended)."""
    return ActionRow.model_validate({
        "metadata": {},
        "event_id": uuid.uuid4(),
        "correlation_id": cid,
        "agent_name": "code-analyzer",
        "action_type": kind,
        "action_name": name,
        "action_details": details or {},
        "duration_ms": duration_ms,
        "tool_use_id": None,
        "session_id": "s-1",
        "prompt_id": None,
        "started_at": at(end_ms - (duration_ms or 0)),
        "created_at": at(end_ms),
    })  # fmt: skip


def routing_row(cid: uuid.UUID, *, end_ms: float = 2, agent: str = "code-analyzer") -> RoutingRow:
    """One ``agent_routing_decisions`` row."""
    return RoutingRow.model_validate({
        "metadata": {},
        "context_snapshot": {},
        "event_id": uuid.uuid4(),
        "correlation_id": cid,
        "user_request": "Analyze the project",
        "selected_agent": agent,
        "confidence_score": Decimal("0.8700"),
        "routing_strategy": "enhanced",
        "alternatives": [{"agent_name": "test-finder", "confidence": 0.41, "reason": "tests"}],
        "reasoning": "matched 'analyze'",
        "routing_time_ms": 1.5,
        "matched_triggers": ["analyze"],
        "matched_capabilities": [],
        "cache_hit": False,
        "is_fallback": False,
        "started_at": at(end_ms - 1.5),
        "created_at": at(end_ms),
    })  # fmt: skip


def manifest_row(cid: uuid.UUID, *, end_ms: float = 8) -> ManifestRow:
    """One ``agent_manifest_injections`` row."""
    return ManifestRow.model_validate({
        "metadata": {},
        "event_id": uuid.uuid4(),
        "correlation_id": cid,
        "agent_name": "code-analyzer",
        "manifest_version": "1",
        "generation_source": "omniclaude.runtime",
        "is_fallback": False,
        "sections_included": ["agent_definition", "relevant_files"],
        "sections": [
            {"name": "agent_definition", "size_bytes": 400, "query_time_ms": 0.5},
            {"name": "relevant_files", "size_bytes": 120, "query_time_ms": 4.0},
        ],
        "query_times": {"agent_definition": 0.5},
        "total_query_time_ms": 5.0,
        "manifest_size_bytes": 520,
        "warnings": [],
        "query_failures": {},
        "started_at": at(end_ms - 5.0),
        "created_at": at(end_ms),
    })  # fmt: skip


def transformation_row(
    cid: uuid.UUID, *, phase: str = "transformation_complete"
) -> TransformationRow:
    """One ``agent_transformation_events`` row."""
    return TransformationRow.model_validate({
        "metadata": {},
        "event_id": uuid.uuid4(),
        "correlation_id": cid,
        "event_type": phase,
        "source_agent": "polymorphic-agent",
        "target_agent": "test-finder",
        "transformation_reason": "better fit",
        "routing_confidence": Decimal("0.6"),
        "routing_strategy": "transformation",
        "transformation_duration_ms": 20.0,
        "success": phase != "transformation_failed",
        "error_message": None,
        "error_type": None,
        "started_at": at(40),
        "created_at": at(60),
    })  # fmt: skip


def trace_of(root: uuid.UUID, **tables: list[Any]) -> TraceTree:
    """Build a :class:`TraceTree` for the execution ``root`` from the given rows."""
    return TraceTree(root=root, **tables)
