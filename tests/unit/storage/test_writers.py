"""Row building for each table: typed values for typed columns, JSON for JSON columns."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from omniclaude.events import (
    CATALOG,
    AgentAction,
    ExecutionCompleted,
    ExecutionFailed,
    ExecutionProgress,
    ManifestInjection,
    RoutingDecision,
)
from omniclaude.storage.writers import WRITERS, group_by_table
from tests.unit.storage.samples import sample_events


def test_every_catalogued_table_has_a_writer() -> None:
    """No event type can reach the storage layer without a table writer."""
    assert {kind.topic.table for kind in CATALOG} == set(WRITERS)


@pytest.mark.parametrize("event", sample_events(uuid.uuid4()), ids=lambda e: e.event_type)
def test_rows_match_columns_and_keep_typed_ids(event) -> None:  # type: ignore[no-untyped-def]
    """Each row has one value per column; event_id and correlation_id stay uuid.UUID."""
    writer = WRITERS[group_by_table([event]).popitem()[0]]
    row = dict(zip(writer.columns, writer.row(event), strict=True))
    assert isinstance(row["event_id"], uuid.UUID)
    assert isinstance(row["correlation_id"], uuid.UUID)
    assert row["created_at"].tzinfo is not None


def test_execution_rows_carry_the_derived_status() -> None:
    """Lifecycle rows store the status the summary row is derived from."""
    cid = uuid.uuid4()
    writer = WRITERS["agent_execution_events"]
    status = writer.columns.index("status")
    assert writer.row(ExecutionProgress(correlation_id=cid, stage="s", percent=1))[status] == (
        "in_progress"
    )
    assert writer.row(ExecutionCompleted(correlation_id=cid))[status] == "success"
    assert writer.row(ExecutionCompleted(correlation_id=cid, status="cancelled"))[status] == (
        "cancelled"
    )
    failed = ExecutionFailed(correlation_id=cid, error_type="E", error_message="m")
    assert writer.row(failed)[status] == "failed"


def test_scores_are_rounded_to_the_column_precision() -> None:
    """confidence_score becomes a Decimal with four places for numeric(5,4)."""
    decision = RoutingDecision(
        correlation_id=uuid.uuid4(),
        user_request="r",
        selected_agent="a",
        confidence_score=0.123456,
        routing_strategy="s",
        routing_time_ms=1,
    )
    writer = WRITERS["agent_routing_decisions"]
    row = dict(zip(writer.columns, writer.row(decision), strict=True))
    assert row["confidence_score"] == Decimal("0.1235")
    assert len(row["user_request_hash"]) == 64


def test_manifest_size_defaults_to_the_sum_of_sections() -> None:
    """Without an explicit size the manifest size is the sum of its sections."""
    manifest = ManifestInjection(
        correlation_id=uuid.uuid4(),
        agent_name="a",
        sections=[{"name": "x", "size_bytes": 3}, {"name": "y", "size_bytes": 4}],
        total_query_time_ms=0,
    )
    writer = WRITERS["agent_manifest_injections"]
    row = dict(zip(writer.columns, writer.row(manifest), strict=True))
    assert row["manifest_size_bytes"] == 7
    assert row["sections_included"] == ["x", "y"]


def test_extra_fields_go_to_metadata() -> None:
    """Unknown fields are kept in the row's metadata, not dropped."""
    action = AgentAction(correlation_id=uuid.uuid4(), action_type="decision", action_name="d", x=1)
    writer = WRITERS["agent_actions"]
    row = dict(zip(writer.columns, writer.row(action), strict=True))
    assert row["metadata"] == {"extra": {"x": 1}}


def test_insert_sql_is_idempotent_and_parameterised() -> None:
    """Every insert is idempotent on event_id, with one placeholder per column.

    Only LLM calls update on conflict (a better cost replaces an estimate); the rest do nothing.
    """
    for writer in WRITERS.values():
        expected = "DO UPDATE SET" if writer.table == "agent_llm_calls" else "DO NOTHING"
        assert writer.insert_sql.count("ON CONFLICT (correlation_id, created_at, event_id) ") == 1
        assert f"ON CONFLICT (correlation_id, created_at, event_id) {expected}" in writer.insert_sql
        assert f"${len(writer.columns)})" in writer.insert_sql


def test_group_by_table_refuses_unknown_objects() -> None:
    """An object that is not a catalogued event cannot be written."""
    with pytest.raises(ValueError, match="event_type"):
        group_by_table([object()])  # type: ignore[list-item]
