"""The liberal decoder: bare objects, derived ids, record times, and exact refusals."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from omniclaude.consuming.decoding import decode_record, decode_value, derived_event_id
from omniclaude.errors import EventValidationError, UnknownEventTypeError
from omniclaude.events import (
    AgentAction,
    AgentTransformation,
    ExecutionCompleted,
    ExecutionStarted,
    RoutingDecision,
    encode,
)
from tests.unit.consuming.records import ACTIONS, EXECUTIONS, bare_action, record


def test_the_specs_bare_object_becomes_an_agent_action() -> None:
    """The spec's envelope-less object on agent-actions decodes with its own values."""
    cid = str(uuid.uuid4())
    event = decode_record(record(bare_action(cid)), default_type="agent_action")
    assert isinstance(event, AgentAction)
    assert str(event.correlation_id) == cid
    assert event.action_type == "tool_call"
    assert event.action_name == "bash"
    assert event.action_details == {"command": "ls"}
    assert event.timestamp == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_a_missing_event_id_is_derived_deterministically() -> None:
    """The same record always gets the same id, so a redelivery adds no row."""
    raw = bare_action(str(uuid.uuid4()))
    first = decode_record(record(raw, offset=7), default_type="agent_action")
    again = decode_record(record(raw, offset=7), default_type="agent_action")
    assert first.event_id == again.event_id == derived_event_id(ACTIONS, 0, 7, raw)
    assert first.event_id.version == 5


@pytest.mark.parametrize(
    ("field", "value"), [("offset", 8), ("partition", 1), ("topic", "other-agent-actions")]
)
def test_derived_ids_differ_by_topic_partition_and_offset(field: str, value: object) -> None:
    """Two records at different positions never share a derived id."""
    raw = bare_action(str(uuid.uuid4()))
    base = decode_record(record(raw, offset=7), default_type="agent_action")
    moved = decode_record(record(raw, **{"offset": 7, field: value}), default_type="agent_action")
    assert base.event_id != moved.event_id


def test_a_reused_offset_with_other_content_gets_another_id() -> None:
    """After a memory-only broker restart, a new record at an old offset is not a duplicate."""
    one = decode_record(record(bare_action(str(uuid.uuid4()))), default_type="agent_action")
    two = decode_record(record(bare_action(str(uuid.uuid4()))), default_type="agent_action")
    assert one.event_id != two.event_id


def test_a_null_event_id_counts_as_missing() -> None:
    """Clients that send event_id: null get a derived id instead of a dead letter."""
    raw = bare_action(str(uuid.uuid4()), event_id=None)
    event = decode_record(record(raw, offset=3), default_type="agent_action")
    assert event.event_id == derived_event_id(ACTIONS, 0, 3, raw)


def test_a_given_event_id_is_kept() -> None:
    """An envelope's own event_id is the idempotency key, untouched."""
    action = AgentAction(correlation_id=uuid.uuid4(), action_type="decision", action_name="d")
    event = decode_record(record(encode(action)), default_type="agent_action")
    assert event == action


def test_a_missing_timestamp_is_the_records_time() -> None:
    """Without a timestamp the broker's record time is used, not the time of reading."""
    body = json.loads(bare_action(str(uuid.uuid4())))
    del body["timestamp"]
    raw = json.dumps(body).encode()
    event = decode_record(record(raw, timestamp=1_767_225_600_000), default_type="agent_action")
    assert event.timestamp == datetime(2026, 1, 1, tzinfo=UTC)


def test_a_missing_timestamp_moves_the_derived_start_with_it() -> None:
    """A bare timed action without times ends at the record time, starting its duration before."""
    body = json.loads(bare_action(str(uuid.uuid4()), duration_ms=1500))
    del body["timestamp"]
    event = decode_record(record(json.dumps(body).encode()), default_type="agent_action")
    assert isinstance(event, AgentAction)
    assert event.timestamp == datetime(2026, 1, 1, tzinfo=UTC)
    assert event.start == datetime(2025, 12, 31, 23, 59, 58, 500000, tzinfo=UTC)


def test_another_type_on_the_topic_is_decoded_as_that_type() -> None:
    """An envelope naming its event_type wins over the topic's default type."""
    decision = RoutingDecision(
        correlation_id=uuid.uuid4(), user_request="r", selected_agent="a",
        confidence_score=0.5, routing_strategy="s", routing_time_ms=1.0,
    )  # fmt: skip
    assert isinstance(decode_value(encode(decision), default_type="agent_action"), RoutingDecision)


def test_bare_execution_objects_are_recognised_by_their_fields() -> None:
    """The executions topic has no default type: started/completed are inferred."""
    cid = str(uuid.uuid4())
    started = json.dumps({"correlation_id": cid, "agent_name": "a"}).encode()
    done = json.dumps({"correlation_id": cid, "status": "success", "quality_score": 0.9}).encode()
    assert isinstance(decode_record(record(started, topic=EXECUTIONS), default_type=None),
                      ExecutionStarted)  # fmt: skip
    assert isinstance(decode_record(record(done, topic=EXECUTIONS), default_type=None),
                      ExecutionCompleted)  # fmt: skip


def test_reference_transformation_events_use_event_type_as_phase() -> None:
    """The reference system's transformation_start maps onto AgentTransformation."""
    raw = json.dumps({"event_type": "transformation_start", "correlation_id": str(uuid.uuid4()),
                      "target_agent": "agent-x"}).encode()  # fmt: skip
    event = decode_value(raw, default_type="agent_transformation")
    assert isinstance(event, AgentTransformation)
    assert event.phase == "transformation_start"


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        (b"not json", "not valid JSON"),
        (b"[1, 2]", "expected a JSON object, got list"),
        (b"\xff\xfe", "not valid JSON"),
        (b"", "empty message"),
        (None, "empty message"),
    ],
)
def test_undecodable_records_are_refused_with_the_reason(raw: bytes | None, needle: str) -> None:
    """Bytes that are not a JSON object raise EventValidationError saying so."""
    with pytest.raises(EventValidationError, match=needle):
        decode_value(raw, default_type="agent_action")


def test_an_invalid_field_is_named() -> None:
    """A bad action_type is refused with the field's name in the message."""
    raw = bare_action(str(uuid.uuid4()), action_type="bogus")
    with pytest.raises(EventValidationError) as caught:
        decode_value(raw, default_type="agent_action")
    assert caught.value.field == "action_type"
    assert "action_type" in str(caught.value)


def test_an_unknown_event_type_is_refused() -> None:
    """An event_type outside the catalogue raises UnknownEventTypeError."""
    raw = json.dumps({"event_type": "nope", "correlation_id": str(uuid.uuid4())}).encode()
    with pytest.raises(UnknownEventTypeError):
        decode_value(raw, default_type="agent_action")
