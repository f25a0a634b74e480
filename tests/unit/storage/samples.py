"""One sample event of every catalogued type, sharing a correlation id (for tests)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from omniclaude.events import (
    AgentAction,
    AgentTransformation,
    EventBase,
    ExecutionCompleted,
    ExecutionFailed,
    ExecutionProgress,
    ExecutionStarted,
    LlmCall,
    ManifestInjection,
    MetricPoint,
    RoutingDecision,
    llm_call_id,
)


def sample_events(correlation_id: uuid.UUID) -> list[EventBase]:
    """Return one event per catalogued type, with UUID/datetime/Decimal values inside."""
    marker = uuid.uuid4()
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    return [
        ExecutionStarted(correlation_id=correlation_id, agent_name="agent-test",
                         user_prompt="Analyze this codebase", metadata={"ref": marker}),
        ExecutionProgress(correlation_id=correlation_id, stage="analysing", percent=50),
        ExecutionCompleted(correlation_id=correlation_id, quality_score=Decimal("0.875"),
                           result={"analysis": {"files": 3, "at": when}}),
        ExecutionFailed(correlation_id=uuid.uuid4(), agent_name="agent-test",
                        error_type="TimeoutError", error_message="too slow"),
        AgentAction(correlation_id=correlation_id, action_type="tool_call", action_name="bash",
                    action_details={"id": marker, "cost": Decimal("0.01"), "at": when},
                    duration_ms=12.5),
        RoutingDecision(correlation_id=correlation_id, user_request="Analyze this codebase",
                        selected_agent="agent-test", confidence_score=Decimal("0.9"),
                        routing_strategy="enhanced", routing_time_ms=1.5,
                        alternatives=[{"agent_name": "agent-other", "confidence": 0.4}],
                        matched_triggers=["analyze"]),
        ManifestInjection(correlation_id=correlation_id, agent_name="agent-test",
                          sections=[{"name": "agent_definition", "size_bytes": 120,
                                     "source": "registry", "query_time_ms": 0.5}],
                          total_query_time_ms=0.5),
        AgentTransformation(correlation_id=correlation_id, source_agent="polymorphic-agent",
                            target_agent="agent-test", transformation_reason="specialise",
                            confidence=Decimal("0.75")),
        LlmCall(event_id=llm_call_id(request_id=f"req_{marker.hex}", message_id="msg_1"),
                correlation_id=correlation_id, model="claude-sonnet-4-5", provider="anthropic",
                input_tokens=12, output_tokens=345, cache_creation_input_tokens=1000,
                cache_read_input_tokens=20000, usage={"service_tier": "standard"},
                stop_reason="tool_use", request_id=f"req_{marker.hex}", message_id="msg_1",
                tool_use_ids=["toolu_1", "toolu_2"], duration_ms=2500.0,
                cost_usd=0.0123456789, cost_source="estimate", pricing_source="test table",
                source="transcript", session_id="s-1", timestamp=when,
                started_at=when - timedelta(seconds=2.5), metadata={"git_branch": "main"}),
        MetricPoint(correlation_id=correlation_id, metric_name="claude_code.lines_of_code.count",
                    kind="sum", temporality="cumulative", is_monotonic=True, unit="count",
                    series_key=marker.hex, value=42.0, attributes={"type": "added", "at": when},
                    resource={"service.name": "claude-code"}, session_id="s-1",
                    started_at=when - timedelta(minutes=5), timestamp=when,
                    metadata={"scope": {"name": "com.anthropic.claude_code"}}),
    ]  # fmt: skip
