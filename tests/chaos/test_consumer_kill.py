"""Chaos: the consumer process (``omniclaude consume``) is SIGKILLed mid-batch, another starts.

Guaranteed: every event the SDK accepted is stored exactly once. The consumer commits offsets
only after the batch's transaction committed, so a kill at any point leaves the group's
offsets at or before what is stored; the next consumer of the group re-reads from there and
the rows it writes again are absorbed by ``event_id``. The first consumer collects batches
for up to 1 s, so at the kill it holds records it fetched and has not written.
"""

from __future__ import annotations

import time
from pathlib import Path

import asyncpg
import pytest

from omniclaude.stack.ports import unused_port
from tests.chaos.traffic import Traffic, chaos_seconds, kafka_sink
from tests.fixtures.kafka import KafkaService
from tests.fixtures.waiting import wait_for
from tests.load.procs import (
    BIN,
    ServiceProcess,
    consumer_assigned,
    http_ok,
    metric_total,
    service_env,
)
from tests.load.report import record_chaos
from tests.load.verify import EVENT_TABLES, assert_exactly_once

pytestmark = pytest.mark.covers("topic:agent-actions", "table:agent_actions")


def _consumer(
    name: str, env: dict[str, str], prefix: str, port: int, tmp: Path, *, batch_ms: int
) -> ServiceProcess:
    argv = [str(BIN / "omniclaude"), "consume", "--group-id", f"{prefix}chaos",
            "--health-port", str(port), "--batch-max-ms", str(batch_ms),
            "--batch-max-events", "5000"]  # fmt: skip
    return ServiceProcess(name, argv, env, tmp / f"{name}.log")


async def _stored(db: asyncpg.Connection) -> int:
    union = " UNION ALL ".join(f"SELECT 1 FROM {t}" for t in EVENT_TABLES)
    return int(await db.fetchval(f"SELECT count(*) FROM ({union}) s"))


async def test_consumer_killed_mid_batch_then_replaced(
    kafka_service: KafkaService,
    database_url: str,
    postgres_connection: asyncpg.Connection,
    topic_prefix: str,
    tmp_path: Path,
) -> None:
    """SIGKILL ``omniclaude consume`` while it holds an unwritten batch; a new one in the same
    group resumes from the committed offsets: every event stored once, /ready 200."""
    db, seconds = postgres_connection, chaos_seconds()
    env = service_env(
        OMNICLAUDE_DATABASE_URL=database_url,
        OMNICLAUDE_KAFKA_BOOTSTRAP=kafka_service.bootstrap,
        OMNICLAUDE_TOPIC_PREFIX=topic_prefix,
        OMNICLAUDE_LOG_LEVEL="WARNING",
    )
    first_port, second_port = unused_port(), unused_port()
    first = _consumer("consumer-1", env, topic_prefix, first_port, tmp_path, batch_ms=1000)
    second = _consumer("consumer-2", env, topic_prefix, second_port, tmp_path, batch_ms=50)
    sink = kafka_sink(kafka_service.bootstrap, topic_prefix, tmp_path / "spool")
    await sink.start()
    traffic = Traffic(sink)
    try:
        await first.start(lambda: consumer_assigned(first_port), timeout_s=90)
        traffic.start()

        async def consuming() -> bool:
            return await _stored(db) > 0

        await wait_for(consuming, what="the first consumer to store events", timeout_s=60)
        await traffic.run_for(seconds * 0.4)
        unstored_at_kill = sink.delivered - await _stored(db)
        traffic.mark("kill")
        first.kill()
        assert await first.wait() == -9, "the first consumer was not killed by SIGKILL"
        stored_at_kill = await _stored(db)
        await traffic.run_for(seconds * 0.2)
        restarted = time.monotonic()
        await second.start()  # it joins the group once the dead member's session expired
        await traffic.run_for(seconds * 0.4)
        await traffic.stop()

        async def second_joined() -> bool:
            assert second.running, f"consumer-2 exited: {second.log_tail()}"
            return await consumer_assigned(second_port)

        await wait_for(second_joined, what="consumer-2 to join the group", timeout_s=90)
        assert not traffic.refused, f"the SDK refused events: {traffic.refused[:3]}"
        await sink.flush(60)
        assert sink.pending == 0, f"the SDK could not deliver everything: {sink.stats()}"
        await assert_exactly_once(db, traffic.accepted, what="after the consumer was killed")
        caught_up_s = time.monotonic() - restarted
        assert await http_ok(f"http://127.0.0.1:{second_port}/ready"), "consumer-2 not ready"
        rewritten = int(
            await metric_total(second_port, "omniclaude_ingest_events_written_total")
        ) - (len(traffic.accepted) - stored_at_kill)
        record_chaos(
            "consumer_sigkill_mid_batch",
            accepted=len(traffic.accepted),
            acknowledged_not_stored_at_kill=unstored_at_kill,
            stored_at_kill=stored_at_kill,
            rewritten_by_replacement=max(rewritten, 0),
            replacement_caught_up_s=round(caught_up_s, 2),
            lost=0, duplicates=0,
        )  # fmt: skip
    finally:
        await traffic.stop()
        await sink.stop()
        for proc in (first, second):
            await proc.stop()
