"""GenAI / Claude Code / plain spans mapped into events, and every bad value refused by name."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from omniclaude.events import AgentAction, ExecutionFailed, ExecutionStarted, LlmCall
from omniclaude.hooks.sessions import (
    agent_correlation_id,
    prompt_correlation_id,
    session_correlation_id,
)
from omniclaude.otel.ids import EVENT_ID_ATTRIBUTE, correlation_id_for_trace
from omniclaude.otel.spans import SpanMapper, SpanRole, role_of
from omniclaude.pricing import default_price_table
from tests.fixtures.otel import MODEL, span_request, toy_agent_spans

TRACE = bytes(range(1, 17))
ROOT = correlation_id_for_trace(TRACE)
T0 = 1_800_000_000_000_000_000


def _value(value: Any) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, list):
        out = AnyValue()
        out.array_value.values.extend(_value(v) for v in value)
        return out
    return AnyValue(string_value=value)


def _request(*spans: dict[str, Any], resource: dict[str, Any] | None = None) -> Any:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    for key, value in (resource or {"service.name": "svc"}).items():
        resource_spans.resource.attributes.append(KeyValue(key=key, value=_value(value)))
    scope = resource_spans.scope_spans.add()
    for given in spans:
        span = scope.spans.add(
            trace_id=given.get("trace_id", TRACE),
            span_id=given["span_id"],
            parent_span_id=given.get("parent", b""),
            name=given.get("name", "op"),
            start_time_unix_nano=given.get("start", T0),
            end_time_unix_nano=given.get("end", T0 + 2_000_000),
        )
        for key, value in given.get("attrs", {}).items():
            span.attributes.append(KeyValue(key=key, value=_value(value)))
        if "status" in given:
            span.status.code, span.status.message = given["status"]
        for event in given.get("events", []):
            added = span.events.add(name=event["name"], time_unix_nano=T0 + 1_000_000)
            for key, value in event.get("attrs", {}).items():
                added.attributes.append(KeyValue(key=key, value=_value(value)))
    return request


def _sid(n: int) -> bytes:
    return n.to_bytes(8, "big")


def _map(*spans: dict[str, Any], prices: bool = True) -> tuple[list[Any], list[str]]:
    mapped, refused = SpanMapper(prices=default_price_table() if prices else None).map_request(
        _request(*spans)
    )
    return [e for m in mapped for e in m.events], [str(r) for r in refused]


def test_roles_come_from_the_operation_name_and_claude_codes_span_names() -> None:
    """Each GenAI operation and Claude Code span name has its role; anything else is other."""
    cases = {
        ("x", "invoke_agent"): SpanRole.EXECUTION,
        ("x", "invoke_workflow"): SpanRole.EXECUTION,
        ("x", "execute_tool"): SpanRole.TOOL,
        ("x", "chat"): SpanRole.INFERENCE,
        ("x", "text_completion"): SpanRole.INFERENCE,
        ("x", "generate_content"): SpanRole.INFERENCE,
        ("x", "create_agent"): SpanRole.OTHER,
        ("GET /", None): SpanRole.OTHER,
        ("claude_code.interaction", None): SpanRole.EXECUTION,
        ("claude_code.llm_request", None): SpanRole.INFERENCE,
        ("claude_code.tool", None): SpanRole.TOOL,
    }
    for (name, operation), role in cases.items():
        attrs = {"gen_ai.operation.name": operation} if operation else {}
        assert role_of(name, attrs) is role, (name, operation)


def test_the_toy_agent_becomes_an_execution_tree() -> None:
    """Root agent: the trace id; nested agent: a child with the root as parent; chat, tool and
    the HTTP span land in the execution that encloses them."""
    spans = toy_agent_spans()
    mapped, refused = SpanMapper(prices=default_price_table()).map_request(span_request(spans))
    assert refused == []
    events = [e for m in mapped for e in m.events]
    context = spans[0].context
    assert context is not None
    root = uuid.UUID(bytes=context.trace_id.to_bytes(16, "big"))
    started = {e.agent_name: e for e in events if isinstance(e, ExecutionStarted)}
    assert started["planner"].correlation_id == root
    assert started["planner"].parent_correlation_id is None
    child = started["researcher"].correlation_id
    assert child != root
    assert started["researcher"].parent_correlation_id == root
    by_cid = {(type(e).__name__, getattr(e, "action_type", None), e.correlation_id) for e in events}
    assert ("AgentAction", "tool_call", root) in by_cid
    assert ("AgentAction", "decision", child) in by_cid
    assert ("AgentAction", "error", child) in by_cid
    calls = {e.correlation_id: e for e in events if isinstance(e, LlmCall)}
    assert set(calls) == {root, child}
    assert (calls[root].model, calls[root].cost_source.value) == (MODEL, "estimate")


def test_an_execution_span_gives_started_and_completed_at_its_start_and_end() -> None:
    """invoke_agent: started at the span's start, completed at its end with the duration."""
    events, refused = _map(
        {
            "span_id": _sid(1),
            "attrs": {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "a"},
        }
    )
    assert refused == []
    started, completed = events
    assert (started.event_type, completed.event_type) == (
        "execution_started",
        "execution_completed",
    )
    assert started.correlation_id == completed.correlation_id == ROOT
    assert (completed.timestamp - started.timestamp).total_seconds() == pytest.approx(0.002)
    assert completed.duration_ms == pytest.approx(2.0)


def test_a_failed_execution_span_is_execution_failed_with_its_exception_as_error() -> None:
    """Status ERROR on an agent span: execution_failed (type from the exception) and one
    error action per exception event."""
    events, _ = _map(
        {
            "span_id": _sid(1),
            "attrs": {"gen_ai.operation.name": "invoke_agent"},
            "status": (2, "it broke"),
            "events": [{"name": "exception", "attrs": {"exception.type": "KeyError"}}],
        }
    )
    failed = next(e for e in events if isinstance(e, ExecutionFailed))
    assert (failed.error_type, failed.error_message) == ("KeyError", "it broke")
    errors = [e for e in events if isinstance(e, AgentAction) and e.action_type == "error"]
    assert [e.action_name for e in errors] == ["KeyError"]


def test_a_tool_span_is_a_tool_call_with_its_call_id_arguments_and_result() -> None:
    """execute_tool: tool name, gen_ai.tool.call.id as tool_use_id, JSON arguments parsed."""
    [action], _ = _map(
        {
            "span_id": _sid(1),
            "attrs": {
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": "grep",
                "gen_ai.tool.call.id": "toolu_1",
                "gen_ai.tool.call.arguments": '{"pattern": "x"}',
                "gen_ai.tool.call.result": "plain text",
            },
        }
    )
    assert isinstance(action, AgentAction)
    assert (action.action_type, action.action_name, action.tool_use_id) == (
        "tool_call",
        "grep",
        "toolu_1",
    )
    assert action.action_details["tool_input"] == {"pattern": "x"}
    assert action.action_details["tool_response"] == "plain text"
    assert action.action_details["success"] is True
    assert action.started_at is not None
    assert (action.timestamp - action.started_at).total_seconds() == pytest.approx(0.002)


def test_an_inference_span_is_an_llm_call_with_uncached_input_and_cost() -> None:
    """chat: cached tokens taken out of input_tokens, finish reasons kept, priced estimate."""
    [call], _ = _map(
        {
            "span_id": _sid(1),
            "attrs": {
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": MODEL,
                "gen_ai.usage.input_tokens": 500,
                "gen_ai.usage.cache_read.input_tokens": 100,
                "gen_ai.usage.cache_creation.input_tokens": 50,
                "gen_ai.usage.output_tokens": 10,
                "gen_ai.response.finish_reasons": ["stop", "length"],
                "gen_ai.response.id": "msg_1",
            },
        }
    )
    assert isinstance(call, LlmCall)
    assert (call.input_tokens, call.cache_read_input_tokens) == (350, 100)
    assert (call.cache_creation_input_tokens, call.output_tokens) == (50, 10)
    assert call.stop_reason == "stop"
    assert call.metadata["finish_reasons"] == ["stop", "length"]
    assert call.message_id == "msg_1"
    assert call.cost_source.value == "estimate"
    assert call.cost_usd is not None
    assert call.cost_usd > 0


def test_an_unknown_model_is_unpriced_never_guessed() -> None:
    """A model not in the price table: cost_source unpriced, no cost."""
    [call], _ = _map(
        {
            "span_id": _sid(1),
            "attrs": {"gen_ai.operation.name": "chat", "gen_ai.request.model": "mystery-1"},
        }
    )
    assert (call.cost_source.value, call.cost_usd) == ("unpriced", None)


def test_any_other_span_is_a_decision_with_its_attributes() -> None:
    """A plain HTTP span is kept as a decision carrying its attributes and resource."""
    [action], _ = _map({"span_id": _sid(1), "name": "GET /x", "attrs": {"http.status": 200}})
    assert (action.action_type, action.action_name) == ("decision", "GET /x")
    assert action.action_details["attributes"] == {"http.status": 200}
    assert action.action_details["resource"] == {"service.name": "svc"}
    assert action.correlation_id == ROOT


def test_status_error_without_exception_is_one_error_action() -> None:
    """A span failed without an exception event: one error action with the status message."""
    events, _ = _map({"span_id": _sid(1), "status": (2, "denied")})
    assert [e.action_type for e in events] == ["decision", "error"]
    assert events[1].action_details["message"] == "denied"


def test_ids_are_deterministic_and_the_event_id_attribute_is_honoured() -> None:
    """The same span maps to the same ids; omniclaude.event_id is the primary event's id."""
    given = uuid.uuid4()
    span = {"span_id": _sid(1), "attrs": {EVENT_ID_ATTRIBUTE: str(given)}}
    first, _ = _map(span)
    again, _ = _map(span)
    assert [e.event_id for e in first] == [e.event_id for e in again] == [given]
    other, _ = _map({"span_id": _sid(2)})
    assert other[0].event_id not in {given}


def test_claude_code_spans_land_in_the_hook_mappers_executions() -> None:
    """claude_code.interaction with session.id and prompt.id: the prompt's execution (parent:
    the session); its llm_request with agent_id: the subagent's."""
    attrs = {"session.id": "s1", "prompt.id": "p1"}
    events, refused = _map(
        {"span_id": _sid(1), "name": "claude_code.interaction", "attrs": attrs},
        {
            "span_id": _sid(2),
            "parent": _sid(1),
            "name": "claude_code.llm_request",
            "attrs": {**attrs, "agent_id": "ag1", "gen_ai.request.model": MODEL,
                      "input_tokens": 40, "cache_read_tokens": 10},
        },
        {
            "span_id": _sid(3),
            "parent": _sid(1),
            "name": "claude_code.tool",
            "attrs": {**attrs, "tool_name": "Bash", "tool_use_id": "toolu_9"},
        },
    )  # fmt: skip
    assert refused == []
    started = next(e for e in events if isinstance(e, ExecutionStarted))
    assert started.correlation_id == prompt_correlation_id("s1", "p1")
    assert started.parent_correlation_id == session_correlation_id("s1")
    assert (started.agent_name, started.prompt_id) == ("claude-code", "p1")
    call = next(e for e in events if isinstance(e, LlmCall))
    assert call.correlation_id == agent_correlation_id("s1", "ag1")
    assert (call.input_tokens, call.cache_read_input_tokens) == (40, 10)  # uncached already
    tool = next(e for e in events if isinstance(e, AgentAction))
    assert (tool.action_name, tool.tool_use_id) == ("Bash", "toolu_9")
    assert tool.correlation_id == prompt_correlation_id("s1", "p1")


@pytest.mark.parametrize(
    ("span", "field"),
    [
        ({"span_id": _sid(1), "trace_id": b"\x01" * 8}, "traceId: must be 16 bytes"),
        ({"span_id": _sid(1), "trace_id": b"\x00" * 16}, "traceId: all zero"),
        ({"span_id": b"\x01\x02"}, "spanId: must be 8 bytes"),
        ({"span_id": b"\x00" * 8}, "spanId: all zero"),
        ({"span_id": _sid(1), "parent": b"\x01"}, "parentSpanId: must be 8 bytes"),
        ({"span_id": _sid(1), "start": 0}, "startTimeUnixNano: missing"),
        ({"span_id": _sid(1), "end": 0}, "endTimeUnixNano: missing"),
        ({"span_id": _sid(1), "end": T0 - 1000}, "endTimeUnixNano: is before"),
        (
            {"span_id": _sid(1), "attrs": {EVENT_ID_ATTRIBUTE: "nope"}},
            f"attributes.{EVENT_ID_ATTRIBUTE}: expected a UUID",
        ),
        (
            {"span_id": _sid(1), "attrs": {"gen_ai.operation.name": "chat",
                                           "gen_ai.usage.input_tokens": -1}},
            "attributes.gen_ai.usage.input_tokens: expected a whole number",
        ),
        (
            {"span_id": _sid(1), "attrs": {"gen_ai.operation.name": "chat",
                                           "gen_ai.usage.output_tokens": "many"}},
            "attributes.gen_ai.usage.output_tokens: expected a whole number",
        ),
        (
            {"span_id": _sid(1), "attrs": {"gen_ai.operation.name": "execute_tool",
                                           "gen_ai.tool.name": ["a"]}},
            "attributes.gen_ai.tool.name: expected a string",
        ),
        (
            {"span_id": _sid(1), "attrs": {"session.id": "s" * 300}},
            "attributes.session.id: longer than 256",
        ),
        ({"span_id": _sid(1), "attrs": {"x": float("nan")}}, "action_details.attributes.x"),
        ({"span_id": _sid(1), "attrs": {"x": "a\x00b"}}, "action_details.attributes.x"),
    ],
)  # fmt: skip
def test_a_bad_value_refuses_the_span_naming_the_field(span: dict[str, Any], field: str) -> None:
    """Each bad value: the span is refused whole (no event), the reason names the field."""
    events, refused = _map(span)
    assert events == []
    [reason] = refused
    assert reason.startswith("resourceSpans[0].scopeSpans[0].spans[0]: "), reason
    assert field in reason, reason


def test_a_parent_cycle_does_not_hang_the_resolver() -> None:
    """Two spans naming each other as parent: both mapped, into the trace's root."""
    events, refused = _map(
        {"span_id": _sid(1), "parent": _sid(2)}, {"span_id": _sid(2), "parent": _sid(1)}
    )
    assert refused == []
    assert {e.correlation_id for e in events} == {ROOT}


def test_an_omniclaude_record_is_read_back_as_its_event() -> None:
    """A span an OmniClaude export made (omniclaude.record) becomes the row's own event:
    its event id, correlation id, columns (JSON text parsed) and the span's times."""
    event_id, correlation = uuid.uuid4(), uuid.uuid4()
    [action], refused = _map(
        {
            "span_id": _sid(1),
            "name": "decision plan",
            "attrs": {
                "omniclaude.record": "action",
                "omniclaude.event_id": str(event_id),
                "omniclaude.correlation_id": str(correlation),
                "omniclaude.action_type": "decision",
                "omniclaude.action_name": "plan",
                "omniclaude.action_details": '{"steps": 3}',
                "omniclaude.metadata": '{"extra": {"hook_event": "Stop"}}',
            },
        }
    )
    assert refused == []
    assert (action.event_id, action.correlation_id) == (event_id, correlation)
    assert (action.action_name, action.action_details) == ("plan", {"steps": 3})
    assert action.extra_fields() == {"hook_event": "Stop"}


@pytest.mark.parametrize(
    ("attrs", "events", "text"),
    [
        ({"omniclaude.record": "action", "omniclaude.action_details": "{nope"}, [],
         "attributes.omniclaude.action_details: not JSON"),
        ({"omniclaude.record": "execution"}, [{"name": "execution_started"}],
         "events[0].attributes.omniclaude.payload: missing"),
        ({"omniclaude.record": "action", "omniclaude.action_type": "bogus"}, [],
         "action_type"),
    ],
)  # fmt: skip
def test_a_bad_omniclaude_record_is_refused_by_name(
    attrs: dict[str, Any], events: list[dict[str, Any]], text: str
) -> None:
    """A record whose columns cannot be read back is refused, the attribute named."""
    found, refused = _map({"span_id": _sid(1), "attrs": attrs, "events": events})
    assert found == []
    [reason] = refused
    assert text in reason, reason
