"""Chaos: PostgreSQL is killed (SIGKILL, no shutdown) and restarted while events flow.

Guaranteed: every event the SDK accepted is stored exactly once. While the database is away
the broker keeps the events and the consumer neither commits offsets nor drops anything: it
pauses, retries with backoff and resumes where its last committed transaction ended; a batch
whose commit was cut off is written again and absorbed by ``event_id``. The server is this
test's own (committed data survives a kill: only a machine crash loses unsynced pages).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import asyncpg
import pytest

from omniclaude.storage.pool import init_connection
from tests.chaos.conftest import OwnPostgres
from tests.chaos.traffic import Traffic, chaos_seconds, ingest, kafka_sink
from tests.fixtures.kafka import KafkaService
from tests.fixtures.waiting import wait_for
from tests.load.procs import http_ok
from tests.load.report import record_chaos
from tests.load.verify import assert_exactly_once, wait_until_stored

pytestmark = pytest.mark.covers("table:agent_actions", "table:agent_execution_events")


async def test_postgres_killed_and_restarted_while_events_flow(
    own_postgres: OwnPostgres, kafka_service: KafkaService, topic_prefix: str, tmp_path: Path
) -> None:
    """Kill the database mid-stream, restart it: the consumer reports it, waits, resumes;
    every accepted event is stored exactly once and /ready answers 200 again."""
    seconds = chaos_seconds()
    sink = kafka_sink(kafka_service.bootstrap, topic_prefix, tmp_path / "spool")
    service = ingest(kafka_service.bootstrap, own_postgres.url, topic_prefix)
    await sink.start()
    await service.start()
    traffic = Traffic(sink).start()
    try:
        await traffic.run_for(seconds * 0.3)
        traffic.mark("kill")
        await asyncio.to_thread(own_postgres.server.kill)

        async def consumer_noticed() -> bool:
            ok, details = service.ready()
            return not ok and details["database"] == "unavailable"

        await wait_for(consumer_noticed, what="the consumer to report the database unavailable")
        await traffic.run_for(seconds * 0.3)
        restarted = time.monotonic()
        await asyncio.to_thread(own_postgres.server.start, 60)
        traffic.mark("restart")
        conn = await asyncpg.connect(own_postgres.url)
        try:
            await init_connection(conn)
            before = {i: traffic.accepted[i] for i in traffic.ids(None, "restart")}
            await wait_until_stored(conn, before, what="the events sent before the restart")
            recovered_s = time.monotonic() - restarted
            await traffic.run_for(seconds * 0.4)
            await traffic.stop()
            assert not traffic.refused, f"the SDK refused events: {traffic.refused[:3]}"
            await sink.flush(60)
            assert sink.pending == 0, f"the SDK could not deliver everything: {sink.stats()}"
            await assert_exactly_once(conn, traffic.accepted, what="after the database restart")
        finally:
            await conn.close()

        async def healthy() -> bool:
            return service.ready()[0] and await http_ok(
                f"http://127.0.0.1:{service.health_port}/ready"
            )

        await wait_for(healthy, what="the consumer's /ready to answer 200 again", timeout_s=60)
        assert service.dead_lettered == 0, "a database outage sent events to the dead letters"
        record_chaos(
            "postgres_kill_restart",
            accepted=len(traffic.accepted),
            sent_while_down=len(traffic.ids("kill", "restart")),
            caught_up_after_restart_s=round(recovered_s, 2),
            lost=0, duplicates=0, dead_lettered=service.dead_lettered,
        )  # fmt: skip
    finally:
        await traffic.stop()
        await service.stop()
        await sink.stop()
