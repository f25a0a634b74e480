"""Every event type lands in its table through the real driver, UUIDs and all."""

from __future__ import annotations

import uuid
from decimal import Decimal

import asyncpg
import pytest

from omniclaude.events import CATALOG
from omniclaude.storage.writers import group_by_table, write_events
from tests.unit.storage.samples import sample_events


@pytest.mark.covers(
    "table:agent_actions",
    "table:agent_execution_events",
    "table:agent_execution_logs",
    "table:agent_routing_decisions",
    "table:agent_manifest_injections",
    "table:agent_transformation_events",
    "table:agent_llm_calls",
    "event:agent_action",
    "event:execution_started",
    "event:execution_progress",
    "event:execution_completed",
    "event:execution_failed",
    "event:routing_decision",
    "event:manifest_injection",
    "event:agent_transformation",
    "event:llm_call",
)
async def test_every_event_type_is_stored_and_read_back(
    postgres_connection: asyncpg.Connection,
) -> None:
    """Each catalogued event type inserts with uuid.UUID values and reads back by event_id."""
    events = sample_events(uuid.uuid4())
    assert {e.event_type for e in events} == {k.event_type for k in CATALOG}
    await write_events(postgres_connection, events)
    for table, batch in group_by_table(events).items():
        for event in batch:
            row = await postgres_connection.fetchrow(
                f"SELECT correlation_id, created_at FROM {table} WHERE event_id = $1",
                event.event_id,
            )
            assert row is not None, f"{event.event_type} {event.event_id} lost in {table}"
            assert row["correlation_id"] == event.correlation_id
            assert row["created_at"] == event.timestamp


async def test_writing_the_same_events_twice_adds_no_row(
    postgres_connection: asyncpg.Connection,
) -> None:
    """Inserts are idempotent on event_id: a redelivery duplicates nothing."""
    events = sample_events(uuid.uuid4())
    await write_events(postgres_connection, events)
    await write_events(postgres_connection, events)
    for table, batch in group_by_table(events).items():
        count = await postgres_connection.fetchval(
            f"SELECT count(*) FROM {table} WHERE event_id = ANY($1::uuid[])",
            [e.event_id for e in batch],
        )
        assert count == len(batch), f"{table}: {count - len(batch)} duplicate rows"


async def test_uuid_datetime_decimal_inside_details_survive_the_database(
    postgres_connection: asyncpg.Connection,
) -> None:
    """Values nested in jsonb come back in their JSON form; typed columns keep their types."""
    cid = uuid.uuid4()
    events = sample_events(cid)
    await write_events(postgres_connection, events)
    action = next(e for e in events if e.event_type == "agent_action")
    details = await postgres_connection.fetchval(
        "SELECT action_details FROM agent_actions WHERE event_id = $1", action.event_id
    )
    assert details == action.action_details
    score = await postgres_connection.fetchval(
        "SELECT confidence_score FROM agent_routing_decisions WHERE correlation_id = $1", cid
    )
    assert score == Decimal("0.9000")


@pytest.mark.covers("join:agent_execution_logs-agent_actions")
async def test_spec_join_executions_with_actions(postgres_connection: asyncpg.Connection) -> None:
    """The spec's agent_execution_logs ⋈ agent_actions join on correlation_id returns the call."""
    cid = uuid.uuid4()
    await write_events(postgres_connection, sample_events(cid))
    result = await postgres_connection.fetchrow(
        """
        SELECT ae.correlation_id, aa.action_type, aa.action_name
        FROM agent_execution_logs ae
        JOIN agent_actions aa ON ae.correlation_id = aa.correlation_id
        WHERE ae.correlation_id = $1
        """,
        str(cid),
    )
    assert result is not None, "tool call not linked to its execution"
    assert result["action_type"] == "tool_call"


@pytest.mark.covers("join:agent_routing_decisions-agent_manifest_injections")
async def test_spec_join_routing_with_manifests(postgres_connection: asyncpg.Connection) -> None:
    """agent_routing_decisions ⋈ agent_manifest_injections on correlation_id returns the pair."""
    cid = uuid.uuid4()
    await write_events(postgres_connection, sample_events(cid))
    row = await postgres_connection.fetchrow(
        """
        SELECT rd.selected_agent, mi.agent_name, mi.sections_included
        FROM agent_routing_decisions rd
        JOIN agent_manifest_injections mi ON rd.correlation_id = mi.correlation_id
        WHERE rd.correlation_id = $1
        """,
        cid,
    )
    assert row is not None, "routing decision and manifest injection are not linked"
    assert row["selected_agent"] == row["agent_name"] == "agent-test"


async def test_complete_trace_is_ordered_in_time(postgres_connection: asyncpg.Connection) -> None:
    """get_complete_trace() returns every row of a trace in the order things began."""
    cid = uuid.uuid4()
    events = [e for e in sample_events(cid) if e.correlation_id == cid]
    await write_events(postgres_connection, events)
    rows = await postgres_connection.fetch("SELECT * FROM get_complete_trace($1)", cid)
    # Metric points are time series of the trace, not steps of it: not in the trace view.
    steps = {e.event_id for e in events if e.event_type != "metric_point"}
    assert {r["event_id"] for r in rows} == steps
    times = [r["started_at"] for r in rows]
    assert times == sorted(times)
    assert all(r["started_at"] <= r["created_at"] for r in rows), "a row ends before it began"


async def test_execution_status_never_moves_backwards(
    postgres_connection: asyncpg.Connection,
) -> None:
    """A late progress event after completion leaves the execution completed."""
    from datetime import timedelta

    from omniclaude.events import ExecutionCompleted, ExecutionProgress, ExecutionStarted

    cid = uuid.uuid4()
    started = ExecutionStarted(correlation_id=cid, agent_name="a", user_prompt="p")
    done = ExecutionCompleted(correlation_id=cid, quality_score=0.9)
    late = ExecutionProgress(
        correlation_id=cid,
        stage="late",
        percent=10,
        timestamp=done.timestamp + timedelta(seconds=1),
    )
    # Delivered out of order: completion first, then the start, then a late progress.
    for event in (done, started, late):
        await write_events(postgres_connection, [event])
    row = await postgres_connection.fetchrow(
        "SELECT status, agent_name, user_prompt, quality_score FROM agent_execution_logs "
        "WHERE correlation_id = $1",
        cid,
    )
    assert row["status"] == "success", "a late progress reopened a completed execution"
    assert row["agent_name"] == "a"
    assert row["user_prompt"] == "p"
    assert row["quality_score"] == Decimal("0.9000")
