"""The codec: one JSON form on every path, liberal decoding, errors that name the field."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omniclaude.errors import EventValidationError, UnknownEventTypeError
from omniclaude.events import (
    AgentAction,
    AgentTransformation,
    ExecutionCompleted,
    ExecutionFailed,
    ExecutionProgress,
    ExecutionStarted,
    decode,
    dumps,
    encode,
)
from omniclaude.events.codec import infer_execution_type
from tests.strategies import storable_json, storable_text


@given(details=st.dictionaries(storable_text, storable_json, max_size=5))
def test_any_json_details_round_trip(details: dict[str, object]) -> None:
    """encode → decode gives back an equal event for any JSON details inside the limits."""
    event = AgentAction(
        correlation_id=uuid.uuid4(),
        action_type="tool_call",
        action_name="x",
        action_details=details,
    )
    assert decode(encode(event)) == event


def test_uuid_datetime_decimal_round_trip_in_typed_fields() -> None:
    """Typed UUID, datetime and score fields survive the wire form unchanged."""
    event = ExecutionCompleted(
        correlation_id=uuid.uuid4(),
        parent_correlation_id=uuid.uuid4(),
        quality_score=Decimal("0.5"),
        timestamp=datetime(2026, 5, 1, tzinfo=UTC),
    )
    again = decode(encode(event))
    assert again == event
    assert isinstance(again.correlation_id, uuid.UUID)


def test_dumps_handles_uuid_datetime_decimal() -> None:
    """dumps() writes the values the spec's UUID bug choked on."""
    marker = uuid.uuid4()
    data = json.loads(dumps({"id": marker, "d": Decimal("1.5"), "t": datetime(2026, 1, 1)}))  # noqa: DTZ001
    assert data["id"] == str(marker)


def test_spec_bare_action_object_decodes_with_topic_default() -> None:
    """The spec's bare JSON on agent-actions is a valid agent action."""
    cid = str(uuid.uuid4())
    raw = {
        "correlation_id": cid,
        "action_type": "tool_call",
        "action_name": "bash",
        "action_details": {"command": "ls"},
        "timestamp": "2025-11-09T10:00:00",
    }
    event = decode(json.dumps(raw).encode(), default_type="agent_action")
    assert isinstance(event, AgentAction)
    assert str(event.correlation_id) == cid
    assert event.action_details == {"command": "ls"}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"agent_name": "a", "user_prompt": "p"}, ExecutionStarted),
        ({"stage": "s", "percent": 5}, ExecutionProgress),
        ({"status": "success", "quality_score": 0.9}, ExecutionCompleted),
        ({"error_type": "E", "error_message": "m"}, ExecutionFailed),
    ],
)
def test_bare_execution_objects_are_recognised_by_fields(
    fields: dict[str, object], expected: type
) -> None:
    """A lifecycle object without event_type is typed by the fields it has."""
    event = decode({"correlation_id": str(uuid.uuid4()), **fields})
    assert isinstance(event, expected)
    assert infer_execution_type(fields) == event.event_type


def test_reference_transformation_event_type_is_read_as_phase() -> None:
    """The reference system's event_type=transformation_start maps to the phase field."""
    event = decode(
        {
            "event_type": "transformation_start",
            "correlation_id": str(uuid.uuid4()),
            "target_agent": "agent-x",
        }
    )
    assert isinstance(event, AgentTransformation)
    assert event.phase.value == "transformation_start"


def test_missing_field_error_names_the_field() -> None:
    """A missing required field is reported by name."""
    with pytest.raises(EventValidationError, match="action_name") as info:
        decode({"correlation_id": str(uuid.uuid4()), "action_type": "tool_call"},
               default_type="agent_action")  # fmt: skip
    assert info.value.field == "action_name"


def test_unknown_event_type_is_refused_by_name() -> None:
    """An event_type outside the catalogue is an UnknownEventTypeError naming it."""
    with pytest.raises(UnknownEventTypeError, match="'nope'"):
        decode({"event_type": "nope", "correlation_id": str(uuid.uuid4())})


@pytest.mark.parametrize("payload", [b"{not json", b"[1, 2]", b"\xff\xfe"])
def test_non_objects_are_refused_clearly(payload: bytes) -> None:
    """Bytes that are not a JSON object raise EventValidationError, not a crash."""
    with pytest.raises(EventValidationError, match=r"\(payload\)"):
        decode(payload)


def test_event_type_must_be_a_string() -> None:
    """A non-string event_type is refused with the field named."""
    with pytest.raises(EventValidationError, match="event_type"):
        decode({"event_type": 5, "correlation_id": str(uuid.uuid4())})
