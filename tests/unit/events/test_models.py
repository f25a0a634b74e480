"""Event models: identity, time, JSON-native details, validation that names the field."""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from omniclaude.events import (
    CATALOG,
    ActionType,
    AgentAction,
    ExecutionCompleted,
    ExecutionStarted,
    ManifestInjection,
    RoutingDecision,
)


class Colour(enum.Enum):
    RED = "red"


def test_every_event_gets_a_unique_event_id_and_aware_timestamp() -> None:
    """Two events built alike differ by event_id and carry UTC-aware timestamps."""
    cid = uuid.uuid4()
    a = AgentAction(correlation_id=cid, action_type="tool_call", action_name="Read")
    b = AgentAction(correlation_id=cid, action_type="tool_call", action_name="Read")
    assert a.event_id != b.event_id
    assert a.timestamp.tzinfo is not None


def test_correlation_id_accepts_the_string_form() -> None:
    """A UUID string becomes a uuid.UUID, so callers may pass either."""
    cid = uuid.uuid4()
    action = AgentAction(correlation_id=str(cid), action_type="decision", action_name="x")
    assert action.correlation_id == cid


def test_naive_timestamps_are_read_as_utc() -> None:
    """datetime.utcnow()-style naive input (the spec's bare example) is stored as UTC."""
    naive = datetime(2025, 11, 9, 12, 0, 0)  # noqa: DTZ001 - the point of the test
    action = AgentAction(
        correlation_id=uuid.uuid4(), action_type="success", action_name="x", timestamp=naive
    )
    assert action.timestamp == naive.replace(tzinfo=UTC)


def test_details_become_json_native_at_construction() -> None:
    """UUID, datetime, Decimal, enum and set values in details are converted when built."""
    marker = uuid.uuid4()
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    action = AgentAction(
        correlation_id=uuid.uuid4(),
        action_type=ActionType.TOOL_CALL,
        action_name="bash",
        action_details={
            "id": marker,
            "at": when,
            "cost": Decimal("0.25"),
            "colour": Colour.RED,
            "tags": {"a"},
            "nested": [{"id": marker}],
        },
    )
    details = action.action_details
    assert details["id"] == str(marker)
    assert details["at"].startswith("2026-01-02T03:04:05")
    assert details["cost"] in ("0.25", 0.25)
    assert details["colour"] == "red"
    assert details["tags"] == ["a"]
    assert details["nested"] == [{"id": str(marker)}]


def test_unknown_objects_in_details_are_kept_as_their_repr() -> None:
    """An object with no JSON form is stored as its repr, never lost and never an error."""

    class Opaque:
        def __repr__(self) -> str:
            return "<Opaque>"

    action = AgentAction(
        correlation_id=uuid.uuid4(),
        action_type="tool_call",
        action_name="x",
        action_details={"o": Opaque()},
    )
    assert action.action_details == {"o": "<Opaque>"}


@pytest.mark.parametrize("score", [-0.1, 1.01])
def test_scores_outside_zero_to_one_are_refused(score: float) -> None:
    """quality_score and confidence must lie in [0, 1]."""
    with pytest.raises(ValueError, match="quality_score"):
        ExecutionCompleted(correlation_id=uuid.uuid4(), quality_score=score)
    with pytest.raises(ValueError, match="confidence_score"):
        RoutingDecision(
            correlation_id=uuid.uuid4(),
            user_request="x",
            selected_agent="a",
            confidence_score=score,
            routing_strategy="s",
            routing_time_ms=1,
        )


def test_decimal_scores_are_accepted() -> None:
    """A Decimal confidence (as a database returns it) is accepted."""
    decision = RoutingDecision(
        correlation_id=uuid.uuid4(),
        user_request="x",
        selected_agent="a",
        confidence_score=Decimal("0.8125"),
        routing_strategy="s",
        routing_time_ms=0,
    )
    assert decision.confidence_score == pytest.approx(0.8125)


def test_unknown_fields_are_kept_not_dropped() -> None:
    """Fields from a newer producer survive as extra fields."""
    started = ExecutionStarted(correlation_id=uuid.uuid4(), agent_name="a", future_field=1)
    assert started.extra_fields() == {"future_field": 1}


def test_manifest_sections_carry_names_sizes_and_sources() -> None:
    """A manifest injection lists its sections with their sizes and sources."""
    manifest = ManifestInjection(
        correlation_id=uuid.uuid4(),
        agent_name="a",
        sections=[{"name": "agent", "size_bytes": 10, "source": "registry"}],
        total_query_time_ms=1.5,
    )
    assert manifest.sections[0].source == "registry"


def test_events_are_immutable() -> None:
    """An event cannot be changed after it was built (it may already be on its way)."""
    action = AgentAction(correlation_id=uuid.uuid4(), action_type="error", action_name="x")
    with pytest.raises(ValueError, match="frozen"):
        action.action_name = "y"  # type: ignore[misc]


def test_catalogue_names_each_event_type_once() -> None:
    """The catalogue has one entry per event type, each with a model and a table."""
    types = [kind.event_type for kind in CATALOG]
    assert len(types) == len(set(types))
    for kind in CATALOG:
        assert kind.model.model_fields["event_type"].default == kind.event_type
        assert kind.topic.table.startswith("agent_")
