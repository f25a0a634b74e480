"""Chaos: retention drops old days while the consumer ingests as fast as a producer can push.

The consumer (``omniclaude consume``, a real process) writes what the SDK publishes to the
broker flat out — current events of every type, plus tool calls dated inside the kept window
(1 to 29 days back, next to the days being dropped, some in partitions the writer creates
during the drop). Meanwhile retention (``keep=30d``) detaches and drops the seeded old days
of every event table. Guaranteed: the old partitions are gone; the consumer had no write
error (no store retry, no dead letter, no error line); every event of the kept window — each
one published, and each seeded row of a kept day — is stored exactly once (checked by id),
and nothing of the dropped days is left. The consumer's throughput during the drop against
before is ``bench/retention.py``'s to report (never asserted here).
"""

from __future__ import annotations

import json
import random
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from omniclaude.events import AgentAction, EventBase, decode_mapping, utc_now
from omniclaude.stack.ports import unused_port
from omniclaude.storage.partitions import PARTITIONED_TABLES, day_of, list_partitions
from omniclaude.storage.pool import connect
from omniclaude.storage.retention import RetentionPolicy, apply_retention
from omniclaude.storage.writers import copy_events, enable_copy, write_events
from tests.chaos.traffic import Traffic, chaos_seconds, kafka_sink
from tests.fixtures.kafka import KafkaService
from tests.fixtures.waiting import wait_for
from tests.load.procs import BIN, ServiceProcess, consumer_assigned, metric_total, service_env
from tests.load.report import record_chaos
from tests.load.verify import assert_exactly_once
from tests.load.workload import EVENT_TYPES, event_payload, realistic_text

pytestmark = pytest.mark.covers("topic:agent-actions", "table:agent_actions", "feature:retention")

KEEP = timedelta(days=30)
OLD_DAYS = (31, 32, 45)
"""Seeded days that retention drops (every event table gets rows on each): two daily
partitions and, 45 days back (older than the daily window), one of its month's."""
KEPT_DAYS = (1, 5, 29)


class FullSpeed(Traffic):
    """As many events as the SDK takes (no pause between ticks), a tenth of them tool calls
    dated inside the kept window."""

    def batch(self) -> list[EventBase]:
        """One tick: current events of every type plus backdated tool calls."""
        now = utc_now()
        events = super().batch()
        events.extend(
            AgentAction(
                correlation_id=uuid.uuid4(),
                action_type="tool_call",
                action_name="Bash",
                timestamp=now - timedelta(days=self.rng.randint(1, 29), minutes=self.rng.random()),
                duration_ms=3.0,
            )
            for _ in range(max(1, self.per_tick // 10))
        )
        return events


def _old_events(text: Any, days: tuple[int, ...], rng: random.Random) -> list[EventBase]:
    """One event of every catalogued type, and 200 tool calls, on each of ``days`` back."""
    now = utc_now()
    out: list[EventBase] = []
    for back in days:
        at = now - timedelta(days=back, seconds=rng.randint(0, 3600))
        for event_type in EVENT_TYPES:
            payload = event_payload(event_type, text=text)
            out.append(decode_mapping({**payload, "timestamp": at.isoformat()}))
        out.extend(
            AgentAction(correlation_id=uuid.uuid4(), action_type="tool_call", action_name="Read",
                        timestamp=at - timedelta(seconds=i), duration_ms=1.0)
            for i in range(200)
        )  # fmt: skip
    return out


async def test_retention_under_full_speed_ingest(
    kafka_service: KafkaService,
    database_url: str,
    postgres_connection: asyncpg.Connection,
    topic_prefix: str,
    tmp_path: Path,
) -> None:
    """Old days of every table dropped mid-ingest: no write error, no lost or extra event."""
    db, seconds = postgres_connection, chaos_seconds()
    rng = random.Random(5)
    text = realistic_text(rng)
    old = _old_events(text, OLD_DAYS, rng)
    kept = _old_events(text, KEPT_DAYS, rng)
    await write_events(db, old[:1])  # partitions on demand, then COPY like the consumer
    await enable_copy(db)
    async with db.transaction():
        await copy_events(db, old[1:] + kept)
    await db.execute("ANALYZE")  # row estimates, as autovacuum would have made by then
    doomed = {
        table: {p.name for p in await list_partitions(db, table)
                if p.end is not None and p.end <= utc_now() - KEEP}
        for table in PARTITIONED_TABLES
    }  # fmt: skip
    assert all(len(names) == len(OLD_DAYS) for names in doomed.values()), doomed

    port = unused_port()
    env = service_env(
        OMNICLAUDE_DATABASE_URL=database_url,
        OMNICLAUDE_KAFKA_BOOTSTRAP=kafka_service.bootstrap,
        OMNICLAUDE_TOPIC_PREFIX=topic_prefix,
        OMNICLAUDE_LOG_LEVEL="INFO",
    )
    argv = [str(BIN / "omniclaude"), "consume", "--group-id", f"{topic_prefix}retention",
            "--health-port", str(port), "--batch-max-events", "1000"]  # fmt: skip
    consumer = ServiceProcess("consumer", argv, env, tmp_path / "consumer.log")
    sink = kafka_sink(kafka_service.bootstrap, topic_prefix, tmp_path / "spool")
    await sink.start()
    traffic = FullSpeed(sink, per_tick=200, tick_s=0.0)
    retention = await connect(database_url)
    try:
        await consumer.start(lambda: consumer_assigned(port), timeout_s=90)
        traffic.start()

        async def ingesting() -> bool:
            return await metric_total(port, "omniclaude_ingest_events_written_total") > 0

        await wait_for(ingesting, what="the consumer to write events", timeout_s=60)
        await traffic.run_for(seconds * 0.3)
        before = await metric_total(port, "omniclaude_ingest_events_written_total")
        started = time.monotonic()
        report = await apply_retention(retention, RetentionPolicy(keep=KEEP))
        drop_s = time.monotonic() - started
        during = await metric_total(port, "omniclaude_ingest_events_written_total") - before
        await traffic.run_for(seconds * 0.3)
        await traffic.stop()
        assert not traffic.refused, f"the SDK refused events: {traffic.refused[:3]}"
        await sink.flush(60)
        assert sink.pending == 0, f"the SDK could not deliver everything: {sink.stats()}"

        dropped = {(d.table, d.name) for d in report.partitions}
        assert dropped == {(t, n) for t, names in doomed.items() for n in names}
        for table, names in doomed.items():
            left = {p.name for p in await list_partitions(db, table)} & names
            assert not left, f"{table}: partitions not dropped: {left}"
        assert f"agent_actions_p{day_of(utc_now()):%Y%m%d}" in {
            p.name for p in await list_partitions(db, "agent_actions")
        }
        expected = {**traffic.accepted, **{e.event_id: str(e.event_type) for e in kept}}  # type: ignore[attr-defined]
        await assert_exactly_once(db, expected, what="retention under full-speed ingest")
        assert await metric_total(port, "omniclaude_ingest_dead_letters_total") == 0
        assert await metric_total(port, "omniclaude_ingest_store_retries_total") == 0
        assert await metric_total(port, "omniclaude_ingest_event_id_conflicts_total") == 0
        records = [json.loads(line) for line in consumer.log_path.read_text().splitlines()
                   if line.startswith("{")]  # fmt: skip
        errors = [r for r in records if r.get("level") in {"error", "critical"}]
        assert not errors, f"the consumer logged errors: {errors[:3]}"
        assert consumer.running, f"the consumer exited: {consumer.log_tail()}"
        record_chaos(
            "retention_under_full_speed_ingest",
            accepted=len(traffic.accepted),
            partitions_dropped=len(report.partitions),
            rows_dropped=report.rows,
            drop_s=round(drop_s, 3),
            written_during_drop=int(during),
            lost=0, write_errors=0,
        )  # fmt: skip
    finally:
        await traffic.stop()
        await sink.stop()
        await retention.close()
        await consumer.stop()
