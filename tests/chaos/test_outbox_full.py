"""Chaos: the broker is away long enough for the SDK's durable outbox to fill to its cap.

Guaranteed (policy ``drop_newest``, the default): the outbox keeps the OLDEST events up to
``outbox_max_events``; every event it refuses is counted (``stats()["dropped"]``) and logged
at WARNING; once the broker is back the kept events and everything sent afterwards are
stored exactly once. So: stored ⊆ accepted, accepted - stored == dropped (no loss the SDK
did not report), the first ``cap`` events of the outage are all stored, nothing is doubled.
The broker is absent from the start (nothing listens on its port), so no acknowledged event
can be lost by a broker restart here.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import asyncpg
import pytest

from omniclaude.stack.ports import unused_port
from omniclaude.stack.tansu import TansuBroker
from tests.chaos.traffic import Traffic, chaos_seconds, ingest, kafka_sink
from tests.fixtures.waiting import wait_for
from tests.load.procs import http_ok
from tests.load.report import record_chaos
from tests.load.verify import duplicates, missing, sample, unexpected, wait_until_stored

pytestmark = pytest.mark.covers("topic:agent-actions", "table:agent_actions")

CAP = 500
QUEUE = 100


async def test_outbox_filled_to_its_cap_drops_only_what_it_reports(
    database_url: str,
    postgres_connection: asyncpg.Connection,
    topic_prefix: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With the broker away the outbox fills to its cap; it keeps the oldest, counts and logs
    every drop; after the broker comes every kept and later event is stored exactly once."""
    db, seconds = postgres_connection, chaos_seconds()
    caplog.set_level(logging.WARNING, logger="omniclaude.publishing")
    port = unused_port()
    broker = TansuBroker(port=port, log_path=tmp_path / "tansu.log")
    sink = kafka_sink(f"127.0.0.1:{port}", topic_prefix, tmp_path / "spool",
                      outbox_max_events=CAP, queue_max_events=QUEUE)  # fmt: skip
    service = None
    await sink.start()
    traffic = Traffic(sink).start()
    try:

        async def full() -> bool:
            return sink.stats()["dropped"] > 0

        await wait_for(full, what=f"the outbox to reach its cap of {CAP}", timeout_s=60)
        await traffic.run_for(seconds * 0.3)
        traffic.mark("broker")
        arrived = time.monotonic()
        await asyncio.to_thread(broker.start, 60)
        service = ingest(broker.bootstrap, database_url, topic_prefix)
        await service.start()

        async def drained() -> bool:
            return sink.stats()["outbox"] == 0 and sink.stats()["connected"]

        await wait_for(drained, what="the outbox to drain once the broker is there", timeout_s=60)
        drained_s = time.monotonic() - arrived
        traffic.mark("drained")
        await traffic.run_for(seconds * 0.4)
        await traffic.stop()
        await sink.flush(60)
        assert sink.pending == 0, f"undelivered after recovery: {sink.stats()}"
        dropped = sink.stats()["dropped"]
        accepted = traffic.accepted
        kept = {i: accepted[i] for i in traffic.ids(None, None)[:CAP]}
        after = {i: accepted[i] for i in traffic.ids("drained", None)}
        await wait_until_stored(db, kept, what=f"the oldest {CAP} events the outbox kept")
        await wait_until_stored(db, after, what="the events sent after the outbox drained")

        async def settled() -> bool:
            return len(await missing(db, accepted)) == dropped

        try:
            await wait_for(settled, what="every kept event stored", timeout_s=60)
        except AssertionError:
            lost = await missing(db, accepted)
            raise AssertionError(
                f"{len(lost)} events missing but the SDK reported {dropped} dropped:"
                f" {len(lost) - dropped} lost without a trace, e.g. {sample(lost)}"
            ) from None
        doubled = await duplicates(db, accepted)
        assert not doubled, f"{len(doubled)} events stored twice: {sample(doubled)}"
        extra = await unexpected(db, accepted)
        assert not extra, f"{len(extra)} rows nobody sent: {sample(extra)}"
        assert any("is full" in r.getMessage() for r in caplog.records), "no WARNING on drops"

        async def healthy() -> bool:
            return (
                service is not None
                and service.ready()[0]
                and await http_ok(f"http://127.0.0.1:{service.health_port}/ready")
            )

        await wait_for(healthy, what="the consumer's /ready to answer 200", timeout_s=60)
        record_chaos(
            "outbox_full",
            accepted=len(accepted), outbox_cap=CAP, dropped_and_reported=dropped,
            lost_unreported=0, duplicates=0, outbox_drained_after_s=round(drained_s, 2),
        )  # fmt: skip
    finally:
        await traffic.stop()
        if service is not None:
            await service.stop()
        await sink.stop()
        broker.stop()
