"""The one meaning of time: ``started_at`` when it began, ``timestamp`` when it ended."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from omniclaude.errors import EventValidationError
from omniclaude.events import (
    CATALOG,
    AgentAction,
    CostSource,
    LlmCall,
    ManifestInjection,
    RoutingDecision,
    TimedEvent,
    decode,
    llm_call_id,
)
from omniclaude.publishing import ActionLogger
from omniclaude.testing import InMemorySink

END = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
CID = uuid.uuid4()


def test_without_started_at_the_start_is_the_end_minus_the_duration() -> None:
    """A producer that sends only when it ended and how long: started_at is filled once."""
    action = AgentAction(correlation_id=CID, action_type="tool_call", action_name="bash",
                         duration_ms=250, timestamp=END)  # fmt: skip
    assert action.started_at == END - timedelta(milliseconds=250)
    routing = RoutingDecision(correlation_id=CID, user_request="q", selected_agent="a",
                              confidence_score=0.5, routing_strategy="s", routing_time_ms=4,
                              timestamp=END)  # fmt: skip
    assert routing.started_at == END - timedelta(milliseconds=4)
    manifest = ManifestInjection(correlation_id=CID, agent_name="a", total_query_time_ms=9,
                                 timestamp=END)  # fmt: skip
    assert manifest.started_at == END - timedelta(milliseconds=9)
    point = AgentAction(correlation_id=CID, action_type="decision", action_name="d", timestamp=END)
    assert point.started_at == point.timestamp, "a point event starts when it happens"


def test_an_explicit_start_is_kept_and_travels_on_the_wire() -> None:
    """started_at given is authoritative and survives encoding and decoding."""
    start = END - timedelta(seconds=2)
    action = AgentAction(correlation_id=CID, action_type="tool_call", action_name="bash",
                         duration_ms=5, timestamp=END, started_at=start)  # fmt: skip
    decoded = decode(action.model_dump_json())
    assert isinstance(decoded, AgentAction)
    assert (decoded.started_at, decoded.timestamp) == (start, END)


def test_a_start_after_the_end_is_refused_naming_the_field() -> None:
    """Bad input gets a clear error naming started_at."""
    with pytest.raises(EventValidationError) as caught:
        decode({"correlation_id": str(CID), "action_type": "tool_call", "action_name": "b",
                "timestamp": END.isoformat(),
                "started_at": (END + timedelta(seconds=1)).isoformat()},
               default_type="agent_action")  # fmt: skip
    assert caught.value.field == "started_at"


def test_every_timed_type_in_the_catalogue_is_a_timed_event() -> None:
    """Everything but the point lifecycle events carries started_at."""
    timed = {k.event_type for k in CATALOG if issubclass(k.model, TimedEvent)}
    assert timed == {"agent_action", "routing_decision", "manifest_injection",
                     "agent_transformation", "llm_call", "metric_point"}  # fmt: skip


def test_the_sdk_tool_call_spans_its_block() -> None:
    """ActionLogger.tool_call starts at the block's start and ends when it exits."""
    sink = InMemorySink()

    async def main() -> tuple[datetime, datetime]:
        logger = ActionLogger(sink=sink)
        before = datetime.now(UTC)
        async with logger.tool_call("read", {"p": 1}, correlation_id=CID):
            await asyncio.sleep(0.02)
        return before, datetime.now(UTC)

    before, after = asyncio.run(main())
    (action,) = sink.events
    assert isinstance(action, AgentAction)
    assert before <= action.start <= action.timestamp <= after
    assert (action.timestamp - action.start) >= timedelta(milliseconds=19)
    assert action.duration_ms is not None
    assert action.duration_ms >= 19


def test_llm_call_ids_name_one_response() -> None:
    """A request id alone names a response; the message id is the key without one."""
    both = llm_call_id(request_id="req_1", message_id="msg_1")
    assert (
        both
        == llm_call_id(request_id="req_1", message_id=None)
        != llm_call_id(request_id="req_2", message_id="msg_1")
    )
    assert llm_call_id(request_id=None, message_id="msg_1") != both
    with pytest.raises(ValueError, match="request_id/message_id"):
        llm_call_id(request_id=None, message_id=None)


def test_an_llm_call_states_how_exact_its_cost_is() -> None:
    """An unpriced call has no cost; an estimate or an exact figure must have one."""
    with pytest.raises(ValueError, match="cost_usd"):
        LlmCall(correlation_id=CID, model="m", cost_usd=1.0)
    with pytest.raises(ValueError, match="cost_usd"):
        LlmCall(correlation_id=CID, model="m", cost_source=CostSource.ESTIMATE)
    call = LlmCall(correlation_id=CID, model="m", input_tokens=1, output_tokens=2,
                   cache_creation_input_tokens=3, cache_read_input_tokens=4,
                   cost_usd=0.5, cost_source="exact")  # fmt: skip
    assert call.total_tokens == 10
