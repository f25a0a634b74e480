"""Chaos: the broker is killed while an agent keeps logging; after it restarts (empty: Tansu
is memory-only) every event reaches the database exactly once and the outbox is empty."""

from __future__ import annotations

import uuid
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer

from omniclaude.events import decode
from omniclaude.publishing import ActionLogger
from omniclaude.stack.tansu import TansuBroker
from tests.fixtures.kafka import KafkaService
from tests.fixtures.waiting import wait_for
from tests.integration.publishing.conftest import make_ingest, make_sink

pytestmark = pytest.mark.covers(
    "topic:agent-actions",
    "table:agent_actions",
)

PER_PHASE = 100
TRACES = 5


async def test_broker_killed_mid_stream_loses_and_duplicates_nothing(  # noqa: PLR0917
    own_broker: TansuBroker,
    kafka_service: KafkaService,
    database_url: str,
    postgres_connection: asyncpg.Connection,
    topic_prefix: str,
    tmp_path: Path,
) -> None:
    """Kill the broker, keep logging, restart it: every event lands once; outbox empty."""
    bootstrap = own_broker.bootstrap
    options = dict(kafka_service.consumer_defaults) or {"session_timeout_ms": 3000}
    sink = make_sink(bootstrap, topic_prefix, tmp_path / "spool")
    logger = ActionLogger(sink=sink, agent_name="chaos")
    traces = [uuid.uuid4() for _ in range(TRACES)]
    sent: list[uuid.UUID] = []

    async def log_phase(phase: int) -> None:
        for i in range(PER_PHASE):
            action = await logger.log_tool_call(
                traces[i % TRACES], "bash", {"phase": phase, "i": i}
            )
            sent.append(action.event_id)

    async def stored() -> int:
        return int(await postgres_connection.fetchval(
            "SELECT count(*) FROM agent_actions WHERE agent_name = 'chaos'"
        ))  # fmt: skip

    await sink.start()
    try:
        # Phase 1: broker up, consumer up; wait until it is all in the database.
        first = make_ingest(bootstrap, database_url, topic_prefix, options)
        await first.start()
        try:
            await log_phase(1)
            await sink.flush(30)
            await wait_for(lambda: _at_least(stored, PER_PHASE), what="phase 1 in the database")
        finally:
            await first.stop()

        # Phase 2: the broker dies; the agent keeps logging (nothing waits on the network).
        own_broker.kill()
        await log_phase(2)

        async def spooled() -> bool:
            return sink.stats()["outbox"] > 0

        await wait_for(spooled, what="the sink spooling to its outbox while the broker is down")

        # Phase 3: the broker comes back empty; the outbox is re-sent, new events follow.
        own_broker.start(timeout_s=60)
        second = make_ingest(bootstrap, database_url, f"{topic_prefix}", options)
        await log_phase(3)
        await sink.flush(60)
        assert sink.pending == 0, f"undelivered after the restart: {sink.stats()}"
        assert sink.stats()["outbox"] == 0, "the outbox is not empty"
        await second.start()
        try:
            await wait_for(lambda: _at_least(stored, 3 * PER_PHASE), what="all phases stored",
                           timeout_s=90)  # fmt: skip
        finally:
            await second.stop()
    finally:
        await sink.stop()

    rows = await postgres_connection.fetch(
        "SELECT event_id FROM agent_actions WHERE agent_name = 'chaos'"
    )
    stored_ids = [row["event_id"] for row in rows]
    missing = set(sent) - set(stored_ids)
    assert not missing, f"{len(missing)} event(s) lost, e.g. {sorted(missing)[:3]}"
    assert len(stored_ids) == len(sent) == 3 * PER_PHASE, "count mismatch"

    # On the broker, the events sent after the restart appear exactly once each.
    consumer = AIOKafkaConsumer(
        f"{topic_prefix}agent-actions", bootstrap_servers=bootstrap,
        auto_offset_reset="earliest", enable_auto_commit=False,
    )  # fmt: skip
    await consumer.start()
    try:
        records: list[uuid.UUID] = []

        async def all_read() -> bool:
            batch = await consumer.getmany(timeout_ms=200)
            records.extend(decode(r.value).event_id for rs in batch.values() for r in rs)
            return len(records) >= 2 * PER_PHASE

        await wait_for(all_read, what="phases 2 and 3 on the restarted broker")
    finally:
        await consumer.stop()
    duplicates = len(records) - len(set(records))
    assert duplicates == 0, f"{duplicates} duplicate record(s) on the broker"
    assert set(records) == set(sent[PER_PHASE:]), "the restarted broker misses events"


async def _at_least(count, n: int) -> bool:  # type: ignore[no-untyped-def]
    return await count() >= n
