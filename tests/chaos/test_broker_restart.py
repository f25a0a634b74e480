"""Chaos: the broker is killed (SIGKILL) and restarted while an agent keeps logging.

What is guaranteed, exactly: every event the SDK accepted (``KafkaSink.send_many`` returned)
is stored once — before, during and after the outage — PROVIDED the consumer had read what
the broker acknowledged before it died. Tansu is memory-only: a restart loses records it
acknowledged that no consumer had read yet, and the SDK has by then deleted them from its
outbox (an acknowledged record is the broker's responsibility; a durable Kafka keeps it). So
the test quiesces at the moment of the kill — traffic paused for about a second, the sink
flushed, every acknowledged event seen in the database — and then kills the broker with
traffic flowing again: the events sent while it is down go to the SDK's durable outbox and
are re-sent once it is back (empty, on the same port).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import asyncpg
import pytest

from omniclaude.consuming import IngestService
from omniclaude.publishing import KafkaSink
from omniclaude.stack.tansu import TansuBroker
from tests.chaos.traffic import Traffic, chaos_seconds, ingest, kafka_sink
from tests.fixtures.waiting import wait_for
from tests.load.procs import http_ok
from tests.load.report import record_chaos
from tests.load.verify import assert_exactly_once, wait_until_stored

pytestmark = pytest.mark.covers("topic:agent-actions", "table:agent_actions")


async def test_broker_killed_and_restarted_while_events_flow(
    own_broker: TansuBroker,
    database_url: str,
    postgres_connection: asyncpg.Connection,
    topic_prefix: str,
    tmp_path: Path,
) -> None:
    """Kill the broker mid-stream and bring it back empty: every event the SDK accepted is
    stored exactly once, the outbox drains, the consumer is ready again."""
    db, seconds = postgres_connection, chaos_seconds()
    sink = kafka_sink(own_broker.bootstrap, topic_prefix, tmp_path / "spool")
    service = ingest(own_broker.bootstrap, database_url, topic_prefix)
    await sink.start()
    await service.start()
    traffic = Traffic(sink).start()
    try:
        figures = await _kill_and_restart(own_broker, sink, traffic, db, seconds)
        await _check_recovery(sink, service, traffic, db, figures)
    finally:
        await traffic.stop()
        await service.stop()
        await sink.stop()


async def _kill_and_restart(
    broker: TansuBroker, sink: KafkaSink, traffic: Traffic, db: asyncpg.Connection,
    seconds: float,
) -> dict[str, float]:  # fmt: skip
    """Traffic; quiesce; kill; traffic into the outbox; restart; traffic. Returns figures."""
    await traffic.run_for(seconds * 0.3)
    # Quiesce (see the module docstring): nothing acknowledged may be unread at the kill.
    traffic.pause()
    await sink.flush(30)
    assert sink.pending == 0, f"the sink could not deliver before the kill: {sink.stats()}"
    await wait_until_stored(db, dict(traffic.accepted), what="everything acknowledged")
    traffic.mark("kill")
    broker.kill()
    traffic.resume()

    async def spooling() -> bool:
        return sink.stats()["outbox"] > 0

    await wait_for(spooling, what="the SDK spooling to its outbox while the broker is down")
    await traffic.run_for(seconds * 0.3)
    outbox_at_restart = sink.stats()["outbox"]
    restarted = time.monotonic()
    await asyncio.to_thread(broker.start, 60)
    traffic.mark("restart")
    before = {i: traffic.accepted[i] for i in traffic.ids(None, "restart")}
    await wait_until_stored(db, before, what="the events sent before the restart")
    caught_up_s = time.monotonic() - restarted
    await traffic.run_for(seconds * 0.4)
    await traffic.stop()
    return {"outbox_at_restart": outbox_at_restart, "caught_up_after_restart_s": caught_up_s}


async def _check_recovery(
    sink: KafkaSink, service: IngestService, traffic: Traffic, db: asyncpg.Connection,
    figures: dict[str, float],
) -> None:  # fmt: skip
    """Everything stored once, the outbox empty, nothing dropped, the consumer ready."""
    assert not traffic.refused, f"the SDK refused events: {traffic.refused[:3]}"
    await sink.flush(60)
    assert traffic.ids("kill", "restart"), "no event was sent while the broker was down"
    await assert_exactly_once(db, traffic.accepted, what="after the broker restart")

    async def healthy() -> bool:
        return service.ready()[0] and await http_ok(f"http://127.0.0.1:{service.health_port}/ready")

    await wait_for(healthy, what="the consumer's /ready to answer 200 again", timeout_s=60)
    stats = sink.stats()
    record_chaos(
        "broker_kill_restart",
        accepted=len(traffic.accepted),
        sent_while_down=len(traffic.ids("kill", "restart")),
        outbox_at_restart=figures["outbox_at_restart"],
        caught_up_after_restart_s=round(figures["caught_up_after_restart_s"], 2),
        lost=0, duplicates=0, dropped=stats["dropped"],
    )  # fmt: skip
    assert stats["outbox"] == 0, f"the outbox still holds events: {stats}"
    assert stats["dropped"] == 0, f"the SDK dropped events: {stats}"
    assert stats["connected"], f"the sink is not connected again: {stats}"
