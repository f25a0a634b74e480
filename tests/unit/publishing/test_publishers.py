"""EventPublisher: routing decisions, manifest injections, transformations."""

from __future__ import annotations

import uuid

import pytest

from omniclaude.errors import EventValidationError
from omniclaude.events import (
    AgentTransformation,
    ManifestInjection,
    RoutingDecision,
    TransformationPhase,
)
from omniclaude.publishing import EventPublisher, correlation_scope
from omniclaude.testing import InMemorySink


@pytest.fixture
def sink() -> InMemorySink:
    """A fresh in-memory sink."""
    return InMemorySink()


async def test_routing_decision(sink: InMemorySink) -> None:
    """A routing decision with alternatives is built, sent and returned."""
    publisher = EventPublisher(sink)
    cid = uuid.uuid4()
    decision = await publisher.routing_decision(
        cid, user_request="fix tests", selected_agent="agent-testing", confidence_score=0.82,
        routing_strategy="fuzzy", routing_time_ms=3.2,
        alternatives=[{"agent_name": "agent-debug", "confidence": 0.6}],
        reasoning="trigger 'tests'", matched_triggers=["tests"],
    )  # fmt: skip
    assert sink.of_type(RoutingDecision) == [decision]
    assert decision.correlation_id == cid
    assert decision.alternatives[0].agent_name == "agent-debug"


async def test_manifest_and_transformation_use_the_current_scope(sink: InMemorySink) -> None:
    """Without a correlation id the current scope's id is used."""
    publisher = EventPublisher(sink)
    with correlation_scope() as cid:
        manifest = await publisher.manifest_injection(
            agent_name="agent-x", sections=[{"name": "patterns", "size_bytes": 10}],
            total_query_time_ms=5,
        )  # fmt: skip
        transformation = await publisher.transformation(
            target_agent="agent-x", source_agent="polymorphic", phase="transformation_start",
            confidence=0.7,
        )  # fmt: skip
    assert isinstance(manifest, ManifestInjection)
    assert isinstance(transformation, AgentTransformation)
    assert transformation.phase is TransformationPhase.START
    assert {e.correlation_id for e in sink} == {cid}


async def test_publish_any_event(sink: InMemorySink) -> None:
    """publish() sends an already-built event."""
    event = AgentTransformation(correlation_id=uuid.uuid4(), target_agent="b")
    assert await EventPublisher(sink).publish(event) is event
    assert list(sink) == [event]


async def test_invalid_field_is_named(sink: InMemorySink) -> None:
    """A confidence out of range names the field."""
    with pytest.raises(EventValidationError, match="confidence_score") as info:
        await EventPublisher(sink).routing_decision(
            uuid.uuid4(), user_request="x", selected_agent="a", confidence_score=1.5,
            routing_strategy="s", routing_time_ms=1,
        )  # fmt: skip
    assert info.value.field == "confidence_score"
    assert len(sink) == 0
