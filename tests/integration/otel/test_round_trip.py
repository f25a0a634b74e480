"""OmniClaude → OTLP → OmniClaude: a stored trace exported as GenAI spans by the export
mapping and sent back through the SDK's exporter to /v1/traces is stored as the same trace."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import SpanExportResult

from omniclaude.events import (
    ActionType,
    AgentAction,
    AgentTransformation,
    CostSource,
    EventBase,
    ExecutionCompleted,
    ExecutionFailed,
    ExecutionStarted,
    LlmCall,
    ManifestInjection,
    ManifestSection,
    RoutingDecision,
    dumps,
    utc_now,
)
from omniclaude.otel.export import spans_for_tree
from omniclaude.storage.queries import fetch_trace_tree
from tests.fixtures.waiting import wait_for
from tests.integration.otel.conftest import OtlpApi
from tests.integration.otel.toy import TABLES

VOLATILE = {"producer", "execution_id", "ingested_at", "inserted_at"}


def _trace_events(root: uuid.UUID, child: uuid.UUID) -> list[EventBase]:
    t0 = utc_now().replace(microsecond=0) - timedelta(minutes=5)

    def at(seconds: float) -> Any:
        return t0 + timedelta(seconds=seconds)

    return [
        ExecutionStarted(correlation_id=root, agent_name="planner", timestamp=at(0),
                         session_id="sess-1", user_prompt="fix the tests", metadata={"k": 1}),
        RoutingDecision(correlation_id=root, user_request="fix the tests", selected_agent="planner",
                        confidence_score=0.8, routing_strategy="fuzzy", routing_time_ms=4.0,
                        timestamp=at(0.1), matched_triggers=["tests"],
                        alternatives=[{"agent_name": "other", "confidence": 0.3}]),
        ManifestInjection(correlation_id=root, agent_name="planner", total_query_time_ms=12.0,
                          timestamp=at(0.2), warnings=["slow"],
                          sections=[ManifestSection(name="patterns", size_bytes=10)]),
        AgentAction(correlation_id=root, action_type=ActionType.TOOL_CALL, action_name="Bash",
                    tool_use_id="toolu_1", action_details={"tool_input": {"command": "pytest"}},
                    started_at=at(1), timestamp=at(2), duration_ms=900.0, session_id="sess-1",
                    hook_event="PostToolUse"),
        AgentAction(correlation_id=root, action_type=ActionType.ERROR, action_name="KeyError",
                    action_details={"error_type": "KeyError", "error_message": "x"},
                    timestamp=at(2.5)),
        LlmCall(correlation_id=root, model="claude-sonnet-4-5-20250929", input_tokens=100,
                output_tokens=20, cache_read_input_tokens=300, cost_usd=0.0012,
                cost_source=CostSource.ESTIMATE, pricing_source="test", request_id="req_1",
                message_id="msg_1", started_at=at(3), timestamp=at(4), stop_reason="end_turn",
                source="transcript", tool_use_ids=["toolu_1"]),
        AgentTransformation(correlation_id=root, source_agent="planner", target_agent="researcher",
                            confidence=0.7, duration_ms=3.0, timestamp=at(4.5), success=True),
        ExecutionStarted(correlation_id=child, parent_correlation_id=root, agent_name="researcher",
                         timestamp=at(5)),
        AgentAction(correlation_id=child, action_type=ActionType.DECISION, action_name="look up",
                    started_at=at(5.5), timestamp=at(6)),
        ExecutionFailed(correlation_id=child, agent_name="researcher", error_type="Timeout",
                        error_message="too slow", timestamp=at(7), duration_ms=2000.0),
        ExecutionCompleted(correlation_id=root, agent_name="planner", timestamp=at(8),
                           duration_ms=8000.0, result={"ok": True}, event_count=11),
    ]  # fmt: skip


def _normal(node: Any) -> Any:
    """The trace without what a re-import may change (producer, storage-made ids)."""
    if isinstance(node, dict):
        return {k: _normal(v) for k, v in node.items() if k not in VOLATILE}
    if isinstance(node, list):
        return [_normal(v) for v in node]
    return node


async def _complete(api: OtlpApi, root: str, count: int) -> dict[str, Any]:
    async def ready() -> dict[str, Any] | None:
        response = await api.stack.client.get(f"/traces/{root}", headers=api.headers("read"))
        if response.status_code != 200:
            return None
        body = dict(response.json())
        sections = ("lifecycle", "routing_decisions", "manifest_injections", "transformations",
                    "actions", "llm_calls")  # fmt: skip
        stored = sum(len(body[s]) for s in sections) + sum(
            len(c[s]) for c in body["children"] for s in sections
        )
        done = stored >= count and body["execution"] and body["execution"]["status"] == "success"
        return body if done else None

    return await wait_for(ready, what=f"trace {root} with {count} rows", timeout_s=60)


@pytest.mark.covers("endpoint:POST /v1/traces")
async def test_an_exported_trace_imported_again_is_the_same_trace(otlp_api: OtlpApi) -> None:
    """Every row of a trace (lifecycle, routing, manifest, transformation, actions, LLM call,
    a failed child) exported as spans and re-imported gives the same GET /traces answer."""
    root, child = uuid.uuid4(), uuid.uuid4()
    events = _trace_events(root, child)
    body = {"events": [json.loads(dumps(e)) for e in events]}
    response = await otlp_api.stack.client.post("/events", json=body, headers=otlp_api.headers())
    assert response.status_code == 202, response.text
    before = await _complete(otlp_api, str(root), len(events))
    spans = spans_for_tree(await fetch_trace_tree(otlp_api.stack.pool, root))
    for table in TABLES:
        await otlp_api.stack.pool.execute(
            f"DELETE FROM {table} WHERE correlation_id = ANY($1::uuid[])",
            [root, child],
        )
    exporter = OTLPSpanExporter(endpoint=f"{otlp_api.url}/v1/traces", headers=otlp_api.headers())
    try:
        result = await asyncio.to_thread(exporter.export, spans)
    finally:
        exporter.shutdown()
    assert result is SpanExportResult.SUCCESS
    after = await _complete(otlp_api, str(root), len(events))
    for key in before:
        assert _normal(after[key]) == _normal(before[key]), key
