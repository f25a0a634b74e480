"""Benchmark retention under load: the consumer's throughput while old days are dropped.

1. Seeds ``--old-days`` days older than the retention (31 days back and more) with
   ``--rows-per-day`` realistic agent actions each, plus one event of every other table per
   day, so every event table has old partitions (``COPY``, then ``ANALYZE``).
2. Starts ``omniclaude consume`` (a process of its own, as deployed) and a producer
   publishing pre-encoded agent actions as fast as it can, so the consumer is saturated
   (its lag grows: it is the bottleneck, which is what is measured).
3. Samples the consumer's ``omniclaude_ingest_events_written_total`` (its ``/metrics``) every
   quarter second: ``--window-s`` seconds before the drop, during the drop
   (``apply_retention`` with ``keep=30d`` from this process, on a connection of its own), and
   ``--window-s`` seconds after.

Prints the three rates, the ratio during / before (target: within 20%, i.e. ≥ 0.8x), the
partitions dropped and how long each took (waiting for older transactions included), and
the load average. Nothing is asserted: the figures go in the issue note.

Services: as bench/ingest.py (``OMNICLAUDE_DATABASE_URL`` + ``OMNICLAUDE_KAFKA_BOOTSTRAP``,
or an embedded PostgreSQL and Tansu started for the run).

Usage: python bench/retention.py [--old-days 10] [--rows-per-day 20000] [--window-s 15]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
from ingest import Services, realistic_actions, with_services

from omniclaude.events import (
    AgentTransformation,
    EventBase,
    ExecutionStarted,
    LlmCall,
    ManifestInjection,
    RoutingDecision,
    encode,
    utc_now,
)
from omniclaude.kafka import KafkaClients, ensure_topics, topic_routes
from omniclaude.settings import TopicSettings
from omniclaude.storage.pool import connect
from omniclaude.storage.retention import RetentionPolicy, apply_retention
from omniclaude.storage.writers import copy_events, enable_copy, write_events

KEEP = timedelta(days=30)
WRITTEN = "omniclaude_ingest_events_written_total"


def _others(at: datetime) -> list[EventBase]:
    """One event for each table other than ``agent_actions`` (so each has old partitions)."""
    cid = uuid.uuid4()
    return [
        ExecutionStarted(correlation_id=cid, agent_name="bench", timestamp=at),
        RoutingDecision(correlation_id=cid, user_request="r", selected_agent="bench",
                        confidence_score=0.5, routing_strategy="bench", routing_time_ms=1.0,
                        timestamp=at),
        ManifestInjection(correlation_id=cid, agent_name="bench", total_query_time_ms=1.0,
                          timestamp=at),
        AgentTransformation(correlation_id=cid, target_agent="b", timestamp=at),
        LlmCall(correlation_id=cid, model="claude-sonnet-4-5", timestamp=at),
    ]  # fmt: skip


async def seed(database_url: str, days: int, per_day: int) -> int:
    """Seed the old days; return the rows written."""
    now = utc_now()
    conn = await connect(database_url)
    total = 0
    try:
        await enable_copy(conn)
        for back in range(31, 31 + days):
            at = now - timedelta(days=back)
            actions = realistic_actions(per_day, seed=back)
            events: list[EventBase] = []
            for i, action in enumerate(actions):
                end = at - timedelta(seconds=i % 80_000)
                start = end - timedelta(milliseconds=action.duration_ms or 0)
                events.append(action.model_copy(update={"timestamp": end, "started_at": start}))
            events.extend(_others(at))
            await write_events(conn, events[:1])  # the day's partitions, then COPY the rest
            async with conn.transaction():
                await copy_events(conn, events[1:])
            total += len(events)
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return total


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def consumer_process(
    services: Services, prefix: str, port: int, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """``omniclaude consume`` against the services, its log in ``log``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNICLAUDE_")}
    env.update(
        OMNICLAUDE_DATABASE_URL=services.database_url,
        OMNICLAUDE_KAFKA_BOOTSTRAP=services.bootstrap,
        OMNICLAUDE_TOPIC_PREFIX=prefix,
        OMNICLAUDE_LOG_LEVEL="WARNING",
        OMNICLAUDE_CONSUMER__SESSION_TIMEOUT_MS="3000",
    )
    argv = [str(Path(sys.executable).parent / "omniclaude"), "consume", "--group-id",
            f"{prefix}bench", "--health-port", str(port)]  # fmt: skip
    with log.open("ab") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _written(port: int) -> float | None:
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return None
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(WRITTEN))  # fmt: skip


class Sampler:
    """(time, events written) every quarter second, from the consumer's /metrics."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.samples: list[tuple[float, float]] = []

    async def run(self) -> None:
        while True:
            value = await asyncio.to_thread(_written, self.port)
            if value is not None:
                self.samples.append((time.perf_counter(), value))
            await asyncio.sleep(0.25)

    def rate(self, start: float, end: float) -> float:
        """Events written per second between the samples nearest ``start`` and ``end``."""
        inside = [s for s in self.samples if start <= s[0] <= end]
        if len(inside) < 2:
            return float("nan")
        (t0, v0), (t1, v1) = inside[0], inside[-1]
        return (v1 - v0) / max(t1 - t0, 1e-9)


@contextlib.asynccontextmanager
async def producing(bootstrap: str, topic: str) -> AsyncIterator[list[int]]:
    """Publish agent actions to ``topic`` as fast as the client takes them, until exit."""
    actions = realistic_actions(2000, seed=3)
    templates = [(encode(a), str(a.event_id).encode()) for a in actions]
    sent = [0]
    producer = KafkaClients([bootstrap], client_id="bench-retention").producer(
        linger_ms=20, max_batch_size=1_048_576, acks=1
    )
    await producer.start()
    stop = asyncio.Event()

    async def push() -> None:
        i = 0
        while not stop.is_set():
            template, event_id = templates[i % len(templates)]
            # A fresh event id per message: every one is a new row (not a redelivery).
            await producer.send(topic, template.replace(event_id, str(uuid.uuid4()).encode(), 1))
            i += 1
            sent[0] = i

    task = asyncio.create_task(push())
    try:
        yield sent
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 30)
        await producer.stop()


async def run(args: argparse.Namespace, services: Services) -> None:
    """Seed, ingest flat out, drop, print."""
    print(f"services: {services.description}")
    started = time.perf_counter()
    seeded = await seed(services.database_url, args.old_days, args.rows_per_day)
    print(f"seeded {seeded:,} rows on {args.old_days} old days in "
          f"{time.perf_counter() - started:.1f}s")  # fmt: skip
    prefix = f"bench{secrets.token_hex(3)}."
    topics = TopicSettings()
    routes = topic_routes(topics, prefix)
    await ensure_topics(KafkaClients([services.bootstrap], client_id="bench"), list(routes),
                        partitions=topics.partitions)  # fmt: skip
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="omniclaude-bench-") as workdir:
        log = Path(workdir) / "consumer.log"
        with consumer_process(services, prefix, port, log) as proc:
            sampler = Sampler(port)
            sampling = asyncio.create_task(sampler.run())
            async with producing(services.bootstrap, f"{prefix}{topics.actions}") as sent:
                while not sampler.samples or sampler.samples[-1][1] == 0:
                    if proc.poll() is not None:
                        raise RuntimeError(f"the consumer exited: {log.read_text()[-2000:]}")
                    await asyncio.sleep(0.25)
                await asyncio.sleep(3)  # past the first batches
                before_start = time.perf_counter()
                await asyncio.sleep(args.window_s)
                before_end = time.perf_counter()
                conn = await connect(services.database_url)
                try:
                    report = await apply_retention(conn, RetentionPolicy(keep=KEEP))
                finally:
                    await conn.close()
                drop_end = time.perf_counter()
                await asyncio.sleep(args.window_s)
                after_end = time.perf_counter()
                produced = sent[0]
            sampling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampling
            if proc.poll() is not None:
                raise RuntimeError(f"the consumer exited: {log.read_text()[-2000:]}")
            errors = [line for line in log.read_text().splitlines() if '"level": "error"' in line]
    before = sampler.rate(before_start, before_end)
    during = sampler.rate(before_end, drop_end)
    after = sampler.rate(drop_end, after_end)
    seconds = [d.seconds for d in report.partitions]
    print(f"produced {produced:,} events (flat out); consumer errors logged: {len(errors)}")
    print(f"dropped {len(report.partitions)} partitions (≈{report.rows:,} rows, "
          f"{report.bytes / 2**20:,.1f} MiB) in {drop_end - before_end:.2f}s; per partition "
          f"median {statistics.median(seconds):.3f}s, max {max(seconds):.3f}s")  # fmt: skip
    print(f"consumer before the drop: {before:,.0f} events/s ({args.window_s:.0f}s window)")
    print(f"consumer during the drop: {during:,.0f} events/s")
    print(f"consumer after the drop:  {after:,.0f} events/s")
    ratio = during / before
    verdict = "within" if ratio >= 0.8 else "NOT within"
    print(f"ratio during / before: {ratio:.2f}x ({verdict} 20%)")
    print(f"load average: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old-days", type=int, default=10, help="old days seeded (31+ back)")
    parser.add_argument("--rows-per-day", type=int, default=20_000, help="actions per old day")
    parser.add_argument("--window-s", type=float, default=15.0, help="before/after windows")
    args = parser.parse_args(argv)
    asyncio.run(with_services(run, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
