"""Faults: the database away mid-stream, a broker restart; nothing lost, nothing dead-lettered."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from omniclaude.stack.tansu import TansuBroker
from tests.fixtures.ingest import IngestServiceFactory
from tests.fixtures.waiting import wait_for
from tests.integration.consuming.conftest import TcpProxy


def _action(cid: uuid.UUID, i: int) -> bytes:
    body = {"correlation_id": str(cid), "action_type": "decision", "action_name": f"e{i}"}
    return json.dumps(body).encode()


async def _names(conn: asyncpg.Connection, cid: uuid.UUID) -> list[str]:
    rows = await conn.fetch("SELECT action_name FROM agent_actions WHERE correlation_id = $1", cid)
    return [row["action_name"] for row in rows]


@pytest.mark.covers(
    "topic:agent-actions",
    "table:agent_actions",
)
async def test_the_database_going_away_mid_stream_loses_nothing(
    ingest_service_factory: IngestServiceFactory,
    database_proxy: tuple[TcpProxy, str],
    kafka_producer: Any,
    postgres_connection: asyncpg.Connection,
    topic_prefix: str,
) -> None:
    """Cut the database while events flow: the service pauses, retries, resumes; every event
    lands exactly once and none goes to the dead letters."""
    proxy, url = database_proxy
    service = await ingest_service_factory(database_url=url)
    topic = f"{topic_prefix}agent-actions"
    cid = uuid.uuid4()
    for i in range(200):
        await kafka_producer.send(topic, _action(cid, i))
    await kafka_producer.flush()

    async def first_part() -> bool:
        return len(await _names(postgres_connection, cid)) == 200

    await wait_for(first_part, what="the events before the outage")
    await proxy.cut()
    for i in range(200, 1200):
        await kafka_producer.send(topic, _action(cid, i))
    await kafka_producer.flush()

    async def noticed() -> bool:
        return not service.ready()[0] and service.metrics.store_retries._value.get() >= 2

    await wait_for(noticed, what="the service to notice the outage and retry", timeout_s=30)
    _, details = service.ready()
    assert details["database"] == "unavailable"
    assert len(await _names(postgres_connection, cid)) == 200
    await proxy.restore()

    async def everything() -> bool:
        return len(await _names(postgres_connection, cid)) >= 1200

    await wait_for(everything, what="every event after the database came back", timeout_s=60)
    names = await _names(postgres_connection, cid)
    assert sorted(names) == sorted(f"e{i}" for i in range(1200)), "an event was lost or doubled"
    assert service.dead_lettered == 0, "a transient fault sent events to the dead letters"

    async def ready_again() -> bool:
        return service.ready()[0]

    await wait_for(ready_again, what="readiness after recovery")


@pytest.fixture
async def own_producer(own_broker: TansuBroker) -> AsyncIterator[AIOKafkaProducer]:
    """A producer on the test's own broker."""
    producer = AIOKafkaProducer(bootstrap_servers=own_broker.bootstrap)
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


@pytest.mark.covers(
    "topic:agent-actions",
    "table:agent_actions",
)
async def test_a_broker_restart_is_survived(
    own_broker: TansuBroker,
    own_producer: AIOKafkaProducer,
    ingest_service_factory: IngestServiceFactory,
    postgres_connection: asyncpg.Connection,
    topic_prefix: str,
) -> None:
    """Tansu restarts empty: the service re-creates its topics, rejoins, and ingests new
    events; the old ones stay stored once."""
    service = await ingest_service_factory(bootstrap_servers=[own_broker.bootstrap])
    topic = f"{topic_prefix}agent-actions"
    cid = uuid.uuid4()
    for i in range(50):
        await own_producer.send(topic, _action(cid, i))
    await own_producer.flush()

    async def before() -> bool:
        return len(await _names(postgres_connection, cid)) == 50

    await wait_for(before, what="events before the restart")
    own_broker.kill()
    own_broker.start(timeout_s=60)

    async def topics_back() -> bool:
        from aiokafka.admin import AIOKafkaAdminClient

        admin = AIOKafkaAdminClient(bootstrap_servers=own_broker.bootstrap)
        await admin.start()
        try:
            return topic in await admin.list_topics()
        finally:
            await admin.close()

    await wait_for(topics_back, what="the service to re-create its topics", timeout_s=60)
    for i in range(50, 100):
        await own_producer.send_and_wait(topic, _action(cid, i))

    async def after() -> bool:
        return len(await _names(postgres_connection, cid)) >= 100

    await wait_for(after, what="events published after the restart", timeout_s=90)
    names = await _names(postgres_connection, cid)
    assert sorted(names) == sorted(f"e{i}" for i in range(100)), "an event was lost or doubled"
    assert service.dead_lettered == 0
