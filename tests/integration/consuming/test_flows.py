"""Every topic lands in its table through the real broker and database, effectively once."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from omniclaude.consuming import IngestService
from omniclaude.events import EventBase, encode, kind_of
from omniclaude.settings import TopicSettings
from tests.fixtures.ingest import IngestServiceFactory
from tests.fixtures.waiting import wait_for
from tests.unit.storage.samples import sample_events


def _topic(prefix: str, event: EventBase) -> str:
    kind = kind_of(str(getattr(event, "event_type", "")))
    assert kind is not None
    return prefix + getattr(TopicSettings(), kind.topic.key)


async def _count(conn: asyncpg.Connection, table: str, correlation_id: uuid.UUID) -> int:
    # Table names come from the catalogue, never from input.
    sql = f"SELECT count(*) FROM {table} WHERE correlation_id = $1"
    return int(await conn.fetchval(sql, correlation_id))


@pytest.mark.covers(
    "topic:agent-actions",
    "topic:agent-execution-logs",
    "topic:agent-routing-decisions",
    "topic:agent-transformations",
    "topic:intelligence-events",
    "topic:agent-llm-calls",
    "table:agent_actions",
    "table:agent_routing_decisions",
    "table:agent_manifest_injections",
    "table:agent_execution_events",
    "table:agent_execution_logs",
    "table:agent_transformation_events",
    "table:agent_llm_calls",
)
async def test_every_topic_lands_in_its_table(
    ingest_service: IngestService,
    kafka_producer: Any,
    postgres_connection: asyncpg.Connection,
    topic_prefix: str,
) -> None:
    """One event of each catalogued type, published as JSON, becomes a row of its table."""
    cid = uuid.uuid4()
    events = sample_events(cid)
    for event in events:
        await kafka_producer.send_and_wait(_topic(topic_prefix, event), encode(event), key=cid)
    expected: dict[str, int] = {}
    for event in events:
        kind = kind_of(str(getattr(event, "event_type", "")))
        assert kind is not None
        if event.correlation_id == cid:
            expected[kind.topic.table] = expected.get(kind.topic.table, 0) + 1

    async def landed() -> dict[str, int] | None:
        counts = {table: await _count(postgres_connection, table, cid) for table in expected}
        return counts if counts == expected else None

    await wait_for(landed, what=f"rows of every table for trace {cid}", timeout_s=30)
    for event in events:
        kind = kind_of(str(getattr(event, "event_type", "")))
        assert kind is not None
        sql = f"SELECT count(*) FROM {kind.topic.table} WHERE event_id = $1"
        assert await postgres_connection.fetchval(sql, event.event_id) == 1, (
            f"{event.event_type} {event.event_id} was not stored exactly once"
        )
    summary = await postgres_connection.fetchrow(
        "SELECT status, agent_name, quality_score FROM agent_execution_logs "
        "WHERE correlation_id = $1",
        cid,
    )
    assert summary is not None, "the execution summary row was not maintained"
    assert summary["status"] == "success"
    assert summary["agent_name"] == "agent-test"
    assert ingest_service.dead_lettered == 0


@pytest.mark.covers(
    "topic:agent-actions",
    "table:agent_actions",
)
async def test_the_specs_bare_json_action_lands_with_its_values(
    ingest_service: IngestService,
    kafka_producer: Any,
    postgres_connection: asyncpg.Connection,
    topic_prefix: str,
) -> None:
    """The spec's envelope-less object (naive ISO timestamp) lands in agent_actions."""
    correlation_id = str(uuid.uuid4())
    when = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    await kafka_producer.send_and_wait(
        topic=f"{topic_prefix}agent-actions",
        value={
            "correlation_id": correlation_id,
            "action_type": "tool_call",
            "action_name": "bash",
            "action_details": {"command": "ls"},
            "timestamp": when.isoformat(),
        },
    )

    async def row() -> asyncpg.Record | None:
        return await postgres_connection.fetchrow(
            "SELECT * FROM agent_actions WHERE correlation_id = $1", uuid.UUID(correlation_id)
        )

    result = await wait_for(row, what=f"the bare action of {correlation_id}")
    assert result["action_type"] == "tool_call"
    assert result["action_name"] == "bash"
    assert result["action_details"] == {"command": "ls"}
    assert result["created_at"] == when.replace(tzinfo=UTC)
    assert result["event_id"].version == 5, "the missing event_id was not derived"


@pytest.mark.covers(
    "topic:agent-actions",
    "topic:agent-execution-logs",
    "table:agent_execution_logs",
)
async def test_a_redelivered_stream_adds_no_row(
    ingest_service_factory: IngestServiceFactory,
    kafka_producer: Any,
    postgres_connection: asyncpg.Connection,
    topic_prefix: str,
) -> None:
    """A second group re-reads everything (a redelivery): no row is added, none changes."""
    cid = uuid.uuid4()
    for i in range(300):  # bare objects: their ids are derived from topic/partition/offset
        body = {"correlation_id": str(cid), "action_type": "decision", "action_name": f"d{i}"}
        await kafka_producer.send(f"{topic_prefix}agent-actions", json.dumps(body).encode())
    lifecycle = [
        {"correlation_id": str(cid), "agent_name": "agent-a", "user_prompt": "p"},
        {"correlation_id": str(cid), "stage": "half", "percent": 50},
        {"correlation_id": str(cid), "status": "success", "quality_score": 0.9},
    ]
    for body in lifecycle:
        await kafka_producer.send(
            f"{topic_prefix}agent-execution-logs", json.dumps(body).encode(), key=str(cid)
        )
    await kafka_producer.flush()

    first = await ingest_service_factory()

    async def all_written() -> bool:
        return await _count(postgres_connection, "agent_actions", cid) == 300 and (
            await _count(postgres_connection, "agent_execution_events", cid) == 3
        )

    await wait_for(all_written, what="the first delivery", timeout_s=60)
    await first.stop()
    snapshot = await postgres_connection.fetch(
        "SELECT event_id, ingested_at FROM agent_actions WHERE correlation_id = $1", cid
    )

    again = await ingest_service_factory(consumer={"group_id": f"{topic_prefix}again"})

    async def redelivered() -> bool:
        return sum(again.events_written.values()) >= 303

    await wait_for(redelivered, what="the second group to re-read everything", timeout_s=60)
    assert await _count(postgres_connection, "agent_actions", cid) == 300, (
        "a redelivered action was inserted twice"
    )
    assert await _count(postgres_connection, "agent_execution_events", cid) == 3, (
        "a redelivered lifecycle event was inserted twice"
    )
    after = await postgres_connection.fetch(
        "SELECT event_id, ingested_at FROM agent_actions WHERE correlation_id = $1", cid
    )
    assert sorted(map(tuple, after)) == sorted(map(tuple, snapshot)), "a stored row changed"
    status = await postgres_connection.fetchval(
        "SELECT status FROM agent_execution_logs WHERE correlation_id = $1", cid
    )
    assert status == "success", "a redelivered lifecycle event moved the status backwards"
