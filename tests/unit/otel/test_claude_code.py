"""Claude Code's log events: api_request as the transcript's LLM call with the exact cost,
errors, tool telemetry and everything else as actions in the hook's executions."""

from __future__ import annotations

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from omniclaude.events import AgentAction, CostSource, llm_call_id
from omniclaude.hooks.sessions import prompt_correlation_id, session_correlation_id
from omniclaude.otel import claude_code, logs
from omniclaude.otel.logs import LogMapper
from tests.fixtures.otlp_logs import set_attributes

T0 = 1_800_000_000_000_000_000


def _request(
    name: str, attrs: dict[str, object], service: str = "claude-code"
) -> ExportLogsServiceRequest:
    request = ExportLogsServiceRequest()
    resource_logs = request.resource_logs.add()
    resource_logs.resource.attributes.add(key="service.name").value.string_value = service
    record = resource_logs.scope_logs.add().log_records.add()
    record.time_unix_nano = T0
    record.body.string_value = f"claude_code.{name}"
    record.attributes.add(key="event.name").value.string_value = name
    set_attributes(record, attrs)
    return request


def _one(name: str, attrs: dict[str, object]):  # type: ignore[no-untyped-def]
    mapped, refused = LogMapper().map_request(_request(name, attrs))
    assert refused == []
    [event] = mapped[0].events
    return event


def test_the_module_is_the_dispatched_mapper() -> None:
    logs.specialised_mappers.cache_clear()
    assert claude_code.map_log_record in logs.specialised_mappers()


def test_api_request_is_the_transcripts_llm_call_with_an_exact_cost() -> None:
    call = _one("api_request", {
        "session.id": "s1", "prompt.id": "p1", "model": "claude-sonnet-4-5", "cost_usd": 0.0123,
        "duration_ms": 1500, "input_tokens": 10, "output_tokens": 20, "cache_read_tokens": 30,
        "cache_creation_tokens": 40, "request_id": "req_1", "query_source": "main",
    })  # fmt: skip
    assert call.event_type == "llm_call"
    assert call.event_id == llm_call_id(request_id="req_1", message_id="msg_whatever")
    assert call.correlation_id == prompt_correlation_id("s1", "p1")
    assert (call.cost_usd, call.cost_source, call.source) == (0.0123, CostSource.EXACT, "otel")
    assert (call.input_tokens, call.output_tokens) == (10, 20)
    assert (call.cache_read_input_tokens, call.cache_creation_input_tokens) == (30, 40)
    assert (call.model, call.duration_ms, call.request_id) == ("claude-sonnet-4-5", 1500, "req_1")
    assert call.metadata["otel"]["query_source"] == "main"
    assert call.started_at < call.timestamp


def test_cost_from_micros_and_unpriced_without_cost() -> None:
    micros = _one("api_request", {"session.id": "s", "model": "m", "cost_usd_micros": 2500})
    assert (micros.cost_usd, micros.cost_source) == (0.0025, CostSource.EXACT)
    assert micros.correlation_id == session_correlation_id("s")
    none = _one("api_request", {"session.id": "s", "model": "m", "request_id": "r"})
    assert (none.cost_usd, none.cost_source) == (None, CostSource.UNPRICED)


@pytest.mark.parametrize(
    ("attrs", "text"),
    [
        ({"session.id": "s"}, "attributes.model: missing"),
        ({"model": "m", "cost_usd": "lots"}, "attributes.cost_usd: expected a finite number"),
        ({"model": "m", "cost_usd": -1.0}, "attributes.cost_usd: must be >= 0"),
        ({"model": "m", "input_tokens": -3}, "attributes.input_tokens: expected a whole number"),
    ],
)
def test_bad_api_requests_are_refused_by_name(attrs: dict[str, object], text: str) -> None:
    mapped, refused = LogMapper().map_request(_request("api_request", attrs))
    assert mapped == []
    assert len(refused) == 1
    assert text in refused[0].reason


@pytest.mark.parametrize("name", ["api_error", "api_refusal"])
def test_api_errors_are_error_actions(name: str) -> None:
    action = _one(name, {"session.id": "s", "error": "overloaded", "status_code": 529})
    assert (action.action_type, action.action_name) == ("error", name)
    assert (action.action_details["error"], action.action_details["status_code"]) == (
        "overloaded",
        "529",
    )


@pytest.mark.parametrize(
    "name", ["user_prompt", "compaction", "subagent_completed", "skill_activated", "new_thing"]
)
def test_other_events_are_decisions_in_the_prompt_they_name(name: str) -> None:
    action = _one(name, {"session.id": "s", "prompt.id": "p"})
    assert (action.action_type, action.action_name) == ("decision", name)
    assert action.correlation_id == prompt_correlation_id("s", "p")
    assert action.action_details["attributes"]["prompt.id"] == "p"


@pytest.mark.parametrize("name", ["tool_result", "tool_decision"])
def test_tool_telemetry_names_the_call_it_describes(name: str) -> None:
    action = _one(name, {"session.id": "s", "tool_use_id": "toolu_1", "tool_name": "Bash",
                         "success": "true", "duration_ms": 12})  # fmt: skip
    assert action.action_details["telemetry_of"] == "toolu_1"
    without = _one(name, {"session.id": "s", "tool_name": "Bash"})
    assert "telemetry_of" not in without.action_details  # kept, as a decision of its own


def test_resend_gives_the_same_ids_and_other_services_are_not_mine() -> None:
    a = _one("compaction", {"session.id": "s"})
    b = _one("compaction", {"session.id": "s"})
    assert a.event_id == b.event_id
    mapped, _ = LogMapper().map_request(_request("api_request", {"model": "m"}, service="other"))
    [generic] = mapped[0].events
    assert isinstance(generic, AgentAction)  # the generic mapping took it
    assert generic.action_name == "api_request"
