"""What an event id and a producer mean to the consumer: a reused id with other content is a
conflict (counted, logged, first version kept); an event naming no producer stays unattributed."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

import asyncpg
import pytest

from omniclaude.consuming import IngestService
from tests.fixtures.waiting import wait_for


def _action(event_id: uuid.UUID, cid: uuid.UUID, name: str, **extra: Any) -> bytes:
    body = {
        "event_id": str(event_id), "correlation_id": str(cid), "action_type": "tool_call",
        "action_name": name, "timestamp": "2026-03-01T12:00:00Z", **extra,
    }  # fmt: skip
    return json.dumps(body).encode()


def _conflicts(service: IngestService, topic: str) -> float:
    value = service.metrics.registry.get_sample_value(
        "omniclaude_ingest_event_id_conflicts_total", {"topic": topic}
    )
    return value or 0.0


@pytest.mark.covers("topic:agent-actions", "table:agent_actions", "feature:event-id-conflicts")
async def test_event_id_conflicts_are_counted_and_logged(
    ingest_service: IngestService,
    kafka_producer: Any,
    postgres_connection: asyncpg.Connection,
    topic_prefix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A second event with a stored id but other content is counted once and logged, and the
    stored version is kept; a redelivery of the same content is no conflict."""
    caplog.set_level(logging.WARNING, logger="omniclaude.consuming.store")
    topic = f"{topic_prefix}agent-actions"
    cid, reused, twice = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    first = _action(reused, cid, "first")
    await kafka_producer.send_and_wait(topic, first, partition=0, key=b"k")

    async def stored(event_id: uuid.UUID) -> bool:
        sql = "SELECT count(*) FROM agent_actions WHERE event_id = $1"
        return bool(await postgres_connection.fetchval(sql, event_id))

    await wait_for(lambda: stored(reused), what="the first version")
    # A redelivery (same bytes), a conflicting reuse, and a reuse inside one batch.
    for value in (
        first,
        _action(reused, cid, "second", action_details={"changed": True}),
        _action(twice, cid, "one"),
        _action(twice, cid, "two"),
    ):
        await kafka_producer.send_and_wait(topic, value, partition=0, key=b"k")

    async def counted() -> bool:
        return await stored(twice) and _conflicts(ingest_service, topic) >= 2

    await wait_for(counted, what="both conflicts counted", timeout_s=30)
    assert _conflicts(ingest_service, topic) == 2, "a redelivery was counted as a conflict"
    kept = await postgres_connection.fetchval(
        "SELECT action_name FROM agent_actions WHERE event_id = $1", reused
    )
    assert kept == "first", "the stored version was replaced by the conflicting one"
    logged = [r.getMessage() for r in caplog.records if "other content" in r.getMessage()]
    assert any(str(reused) in m and "action_name" in m for m in logged), logged


@pytest.mark.covers("topic:agent-actions", "table:agent_actions", "feature:unattributed-events")
async def test_events_without_producer_stay_unattributed(
    ingest_service: IngestService,
    kafka_producer: Any,
    postgres_connection: asyncpg.Connection,
    topic_prefix: str,
) -> None:
    """A bare event naming no producer is stored with producer NULL, not the consumer's own
    identity; one that names its producer keeps it."""
    topic = f"{topic_prefix}agent-actions"
    cid, bare, named = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    producer = {"name": "their-tool", "version": "9.9", "host": "elsewhere", "pid": 7}
    await kafka_producer.send_and_wait(topic, _action(bare, cid, "bare"), key=b"k")
    await kafka_producer.send_and_wait(
        topic, _action(named, cid, "named", producer=producer), key=b"k"
    )

    async def both() -> dict[uuid.UUID, Any] | None:
        rows = await postgres_connection.fetch(
            "SELECT event_id, producer FROM agent_actions WHERE correlation_id = $1", cid
        )
        return {r["event_id"]: r["producer"] for r in rows} if len(rows) == 2 else None

    found = await wait_for(both, what="both actions")
    assert found[bare] is None, f"an unattributed event was stamped: {found[bare]}"
    assert found[named] == producer
