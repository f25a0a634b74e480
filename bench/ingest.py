"""Benchmark ingestion: the consumer's sustained throughput against raw COPY of the same rows.

1. Builds ``--events`` agent actions of realistic size (a tool call with its command, a few
   hundred bytes of output, session/prompt/tool ids, project paths) and publishes them to a
   fresh ``agent-actions`` topic.
2. Starts an :class:`~omniclaude.consuming.IngestService` (idempotent writes, one transaction
   per batch, offsets committed after each) and measures its sustained rate: from the first
   committed batch until every row is in the database.
3. In the same run, through one connection, ``COPY``s the same rows into an empty copy of
   ``agent_actions`` (same columns, constraints and indexes) in one transaction; three times,
   the median is the baseline (a shared machine's load varies from run to run).

Prints the consumer's rate and two baselines measured in the same run: COPY of already-built
records (the target: consumer ≥ 0.8x of it) and COPY including building the records from the
events (the writer's row serialisation). With local services it also prints the CPU time each
process spent per event (the consumer process, PostgreSQL, the broker) in the consumer's
sustained window and per row in the COPY baseline, and the load average: on a shared machine
the ratio moves with the load, the CPU per event much less, and it says what bounds the rate.

Services: ``OMNICLAUDE_DATABASE_URL`` / ``OMNICLAUDE_KAFKA_BOOTSTRAP`` when set (a scratch
database is created on that server and dropped afterwards), else an embedded PostgreSQL and
a Tansu broker started for the run.

The consumer runs as ``omniclaude consume`` does (garbage collector tuned by ``tune_gc``).

Usage: python bench/ingest.py [--events 200000] [--batch-events 2000] [--batch-ms 200]
                             [--profile N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import os
import pstats
import random
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psutil

from omniclaude.consuming import IngestService
from omniclaude.consuming.service import tune_gc
from omniclaude.events import AgentAction, encode
from omniclaude.settings import ConsumerSettings, TopicSettings
from omniclaude.storage.migrations import upgrade
from omniclaude.storage.pool import connect
from omniclaude.storage.writers import WRITERS, enable_copy

TABLE = "agent_actions"
TOOLS = ("Bash", "Read", "Edit", "Grep", "Glob", "Write")


def tool_action(
    rng: random.Random,
    i: int,
    *,
    correlation_id: uuid.UUID,
    session: str,
    agent: str = "agent-polymorphic",
    project: str = "omniclaude",
    timestamp: datetime | None = None,
    duration_ms: float | None = None,
) -> AgentAction:
    """One tool-call action shaped like Claude Code's (a command, a few lines of output;
    about 1 KiB of JSON). Shared by the benches that load actions."""
    tool = TOOLS[i % len(TOOLS)]
    output = "\n".join(f"{n:4d}  " + "x" * rng.randint(10, 70) for n in range(rng.randint(2, 8)))
    path = f"/home/dev/projects/{project}"
    return AgentAction(
        correlation_id=correlation_id,
        agent_name=agent,
        action_type="tool_call",
        action_name=tool,
        action_details={
            "tool_input": {"command": f"pytest -q tests/test_mod_{i % 97}.py -k case_{i}"},
            "tool_response": {"stdout": output, "exit_code": i % 3 == 0},
            "truncated": False,
        },
        duration_ms=round(rng.uniform(1, 900), 2) if duration_ms is None else duration_ms,
        session_id=session,
        prompt_id=f"{session}:{i // 20}",
        tool_use_id=f"toolu_{rng.getrandbits(64):016x}",
        project_path=path,
        project_name=project,
        working_directory=f"{path}/src",
        **({"timestamp": timestamp} if timestamp is not None else {}),
    )


def realistic_actions(count: int, seed: int = 11) -> list[AgentAction]:
    """Tool-call actions shaped like Claude Code's (sizes vary; about 1 KiB of JSON each)."""
    rng = random.Random(seed)
    sessions = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(50)]
    return [
        tool_action(
            rng,
            i,
            correlation_id=uuid.UUID(int=rng.getrandbits(128)),
            session=sessions[i % len(sessions)],
        )
        for i in range(count)
    ]


@dataclass
class Services:
    """Where the bench runs: a migrated scratch database and a broker."""

    database_url: str
    bootstrap: str
    description: str


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


@contextlib.asynccontextmanager
async def scratch_database(server_url: str, *, keep: bool = False) -> AsyncIterator[str]:
    """Create a fresh database on ``server_url``'s server, migrate it, drop it afterwards
    (unless ``keep``)."""
    name = f"omniclaude_bench_{secrets.token_hex(4)}"
    admin = await connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = _with_database(server_url, name)
    try:
        await asyncio.to_thread(upgrade, url)
        yield url
    finally:
        if not keep:
            admin = await connect(server_url)
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await admin.close()


@contextlib.contextmanager
def embedded_services(workdir: Path, *, broker: bool = True) -> Iterator[tuple[str, str]]:
    """Start an embedded PostgreSQL and (unless ``broker`` is False) a Tansu broker."""
    from omniclaude.stack.postgres import EmbeddedPostgres
    from omniclaude.stack.tansu import TansuBroker

    postgres = EmbeddedPostgres(workdir / "pg", die_with_parent=True)
    postgres.start(timeout_s=120)
    try:
        if not broker:
            yield postgres.url, ""
            return
        tansu = TansuBroker(log_path=workdir / "tansu.log", die_with_parent=True)
        tansu.start(timeout_s=60)
        try:
            yield postgres.url, tansu.bootstrap
        finally:
            tansu.stop()
    finally:
        postgres.stop()


async def publish(bootstrap: str, topic: str, payloads: list[bytes]) -> float:
    """Publish ``payloads`` (round-robin over partitions); return the rate in messages/s."""
    from omniclaude.kafka import KafkaClients

    producer = KafkaClients([bootstrap], client_id="bench").producer(
        linger_ms=20, max_batch_size=1_048_576, acks=1
    )
    await producer.start()
    try:
        started = time.perf_counter()
        for payload in payloads:
            await producer.send(topic, payload)
        await producer.flush()
        return len(payloads) / (time.perf_counter() - started)
    finally:
        await producer.stop()


@dataclass(frozen=True)
class Cpu:
    """CPU seconds (user + system) of this process and of the local services' processes
    (None: the service runs elsewhere, its CPU is not seen)."""

    own: float
    postgres: float | None = None
    broker: float | None = None

    @classmethod
    def now(cls) -> Cpu:
        """CPU used so far. A PostgreSQL backend that has exited is counted in the
        postmaster's ``children_*`` times, so connections closed in between are not lost."""
        me = psutil.Process()
        own = me.cpu_times()
        totals: dict[str, float] = {}
        for child in me.children(recursive=True):
            try:
                name, times = child.name(), child.cpu_times()
            except psutil.Error:
                continue  # exited meanwhile
            kind = "broker" if "tansu" in name else "postgres" if "postgres" in name else ""
            if kind:
                used = times.user + times.system
                if kind == "postgres":
                    used += times.children_user + times.children_system
                totals[kind] = totals.get(kind, 0.0) + used
        return cls(own.user + own.system, totals.get("postgres"), totals.get("broker"))

    def __sub__(self, other: Cpu) -> Cpu:
        def minus(a: float | None, b: float | None) -> float | None:
            return None if a is None or b is None else a - b

        return Cpu(
            self.own - other.own,
            minus(self.postgres, other.postgres),
            minus(self.broker, other.broker),
        )

    def __add__(self, other: Cpu) -> Cpu:
        def plus(a: float | None, b: float | None) -> float | None:
            return None if a is None or b is None else a + b

        own = self.own + other.own
        return Cpu(own, plus(self.postgres, other.postgres), plus(self.broker, other.broker))

    def per(self, count: int, own: str) -> str:
        """Microseconds per item, by process."""
        parts = [f"{own} {self.own / count * 1e6:.1f} µs"]
        if self.postgres is not None:
            parts.append(f"PostgreSQL {self.postgres / count * 1e6:.1f} µs")
        if self.broker is not None:
            parts.append(f"broker {self.broker / count * 1e6:.1f} µs")
        return ", ".join(parts)


def cpu_bound(consumer: Cpu, events: int, copy: Cpu, rows: int) -> str:
    """What the CPU per item implies, whatever the load: each of the pipelined processes
    (client, PostgreSQL, broker) has one thread, so a stage needing ``t`` µs caps the rate at
    ``1e6 / t`` per second when it has a core of its own; the slowest stage sets the pace.
    """

    def stages(cpu: Cpu, count: int) -> list[float]:
        found = [cpu.own, cpu.postgres, cpu.broker]
        return [value / count * 1e6 for value in found if value is not None]

    consumer_us, copy_us = max(stages(consumer, events)), max(stages(copy, rows))
    own_us = consumer.own / events * 1e6
    # On this machine's cores the processes also share: a rate needs its total CPU per item
    # spread over the cores, so the pace is the slower of the two bounds.
    cores = os.cpu_count() or 1
    consumer_here = max(consumer_us, sum(stages(consumer, events)) / cores)
    copy_here = max(copy_us, sum(stages(copy, rows)) / cores)
    return (
        f"bound by CPU (each process on a core of its own): consumer ≤ {1e6 / consumer_us:,.0f}"
        f" events/s, COPY ≤ {1e6 / copy_us:,.0f} rows/s, ratio ≤ {copy_us / consumer_us:.2f}x;"
        f" 0.8x needs ≤ {copy_us / 0.8:.1f} µs per event in the consumer process"
        f" (now {own_us:.1f})\n"
        f"bound by CPU on this machine's {cores} cores (all processes' CPU per item over the"
        f" cores, or the slowest process): consumer ≤ {1e6 / consumer_here:,.0f} events/s,"
        f" COPY ≤ {1e6 / copy_here:,.0f} rows/s, ratio ≤ {copy_here / consumer_here:.2f}x"
    )


@dataclass(frozen=True)
class ConsumerRun:
    """What :func:`measure_consumer` saw."""

    sustained: float
    """Events/s from the first commit to the last row."""
    wall: float
    """Seconds from ``start()`` to the last row (group join included)."""
    batches: int
    events: int
    """Events written in the sustained window."""
    cpu: Cpu
    """CPU spent in the sustained window."""


async def measure_consumer(
    services: Services, prefix: str, total: int, consumer: ConsumerSettings
) -> ConsumerRun:
    """Run the service until ``total`` rows are written; measure its sustained window."""
    service = IngestService(
        bootstrap_servers=services.bootstrap.split(","),
        database_url=services.database_url,
        topic_prefix=prefix,
        consumer=consumer,
    )
    started = time.perf_counter()
    await service.start()
    tune_gc()  # as `omniclaude consume` (IngestService.run) does
    first_time: float | None = None
    first_count = 0
    first_cpu = Cpu(0.0)
    try:
        while True:
            written = sum(service.events_written.values())
            now = time.perf_counter()
            if written and first_time is None:
                first_time, first_count, first_cpu = now, written, Cpu.now()
            if written >= total:
                break
            if not service.health()[0]:
                raise RuntimeError("the consume loop died")
            await asyncio.sleep(0.005)
        end = time.perf_counter()
        cpu = Cpu.now() - first_cpu
        batches = service.stats.batches
    finally:
        await service.stop()
    assert first_time is not None
    sustained = (total - first_count) / max(end - first_time, 1e-9)
    return ConsumerRun(sustained, end - started, batches, total - first_count, cpu)


async def measure_copy(
    database_url: str, events: list[AgentAction], runs: int, *, build_rows: bool = False
) -> tuple[list[float], Cpu]:
    """COPY the rows of ``events`` into an empty copy of the table ``runs`` times.

    Args:
        build_rows: include building the records from the events (the writer's row
            serialisation) in the timed part; else the rows are built beforehand.

    Returns:
        The rate of each run, in rows/s (the machine's load varies: several runs, median),
        and the CPU spent in the timed parts of all runs.
    """
    writer = WRITERS[TABLE]
    rows = [writer.row(event) for event in events]
    conn = await connect(database_url)
    rates: list[float] = []
    cpu = Cpu(0.0, 0.0, 0.0)
    try:
        await enable_copy(conn)
        for _ in range(runs):
            await conn.execute(f"CREATE TABLE bench_copy (LIKE {TABLE} INCLUDING ALL)")
            before = Cpu.now()
            started = time.perf_counter()
            if build_rows:
                rows = [writer.row(event) for event in events]
            async with conn.transaction():
                await conn.copy_records_to_table("bench_copy", records=rows, columns=writer.columns)
            rates.append(len(rows) / (time.perf_counter() - started))
            cpu = cpu + (Cpu.now() - before)
            count = await conn.fetchval("SELECT count(*) FROM bench_copy")
            assert count == len(rows), f"COPY stored {count} of {len(rows)} rows"
            await conn.execute("DROP TABLE bench_copy")
        return rates, cpu
    finally:
        await conn.close()


async def run(args: argparse.Namespace, services: Services) -> None:
    """Load, consume, COPY, print."""
    load_before = os.getloadavg()[0]
    print(f"services: {services.description}")
    events = realistic_actions(args.events)
    payloads = [encode(event) for event in events]
    sizes = [len(p) for p in payloads]
    print(
        f"events: {len(events):,} agent actions, JSON median {statistics.median(sizes):.0f} B "
        f"(min {min(sizes)}, max {max(sizes)})"
    )
    prefix = f"bench{secrets.token_hex(3)}."
    topics = TopicSettings(partitions=args.partitions)
    from omniclaude.kafka import KafkaClients, ensure_topics, topic_routes

    routes = topic_routes(topics, prefix)
    clients = KafkaClients([services.bootstrap], client_id="bench")
    await ensure_topics(clients, list(routes), partitions=args.partitions)
    rate = await publish(services.bootstrap, f"{prefix}{topics.actions}", payloads)
    print(f"published: {rate:,.0f} msg/s ({args.partitions} partitions)")

    consumer = ConsumerSettings(
        group_id=f"{prefix}bench",
        batch_max_events=args.batch_events,
        batch_max_ms=args.batch_ms,
        health_port=0,
    )
    profiler = cProfile.Profile() if args.profile else None
    if profiler is not None:
        profiler.enable()
    run = await measure_consumer(services, prefix, len(events), consumer)
    if profiler is not None:
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(args.profile)
        print(out.getvalue())
    conn = await connect(services.database_url)
    try:
        stored = await conn.fetchval("SELECT count(*) FROM agent_actions")
    finally:
        await conn.close()
    assert stored == len(events), f"consumer stored {stored} of {len(events)} rows"
    print(
        f"consumer: {run.sustained:,.0f} events/s sustained ({run.batches} batches of up to "
        f"{args.batch_events}; {run.wall:.1f}s from start() incl. group join)"
    )
    rates, copy_cpu = await measure_copy(services.database_url, events, args.copy_runs)
    copy_rate = statistics.median(rates)
    print(
        f"raw COPY of built records: {copy_rate:,.0f} rows/s median of {len(rates)} runs "
        f"({', '.join(f'{r:,.0f}' for r in rates)}; one connection, one transaction, same indexes)"
    )
    built, _ = await measure_copy(services.database_url, events, args.copy_runs, build_rows=True)
    built_rate = statistics.median(built)
    print(f"raw COPY incl. building the records: {built_rate:,.0f} rows/s median of {len(built)}")
    ratio = run.sustained / copy_rate
    verdict = "meets" if ratio >= 0.8 else "BELOW"
    print(f"ratio consumer / COPY of built records: {ratio:.2f}x ({verdict} the 0.8x target)")
    print(f"ratio consumer / COPY incl. building: {run.sustained / built_rate:.2f}x")
    per_event = run.cpu.per(run.events, "consumer process")
    print(f"CPU per event, consumer's sustained window: {per_event}")
    per_row = copy_cpu.per(len(rates) * len(events), "bench process")
    print(f"CPU per row, COPY of built records: {per_row}")
    print(cpu_bound(run.cpu, run.events, copy_cpu, len(rates) * len(events)))
    print(f"load average (1 min): {load_before:.2f} before, {os.getloadavg()[0]:.2f} after")


async def with_services(
    body: Callable[[argparse.Namespace, Services], Awaitable[None]],
    args: argparse.Namespace,
    *,
    broker: bool = True,
    keep: bool = False,
) -> None:
    """Run ``body`` on the environment's services, or on embedded ones started for the run
    (a scratch database either way). Shared by the benches.

    Args:
        broker: the bench needs a broker (else only a database is asked for or started).
        keep: leave the scratch database in place afterwards (needs the environment's
            server: an embedded one goes with the run).
    """
    database_url = os.environ.get("OMNICLAUDE_DATABASE_URL")
    bootstrap = os.environ.get("OMNICLAUDE_KAFKA_BOOTSTRAP", "")
    if database_url and (bootstrap or not broker):
        async with scratch_database(database_url, keep=keep) as url:
            where = f"({bootstrap})" if bootstrap else "(database only)"
            await body(args, Services(url, bootstrap, f"from the environment {where}"))
        return
    if keep:
        raise SystemExit("keeping the database needs OMNICLAUDE_DATABASE_URL (your server)")
    with (
        tempfile.TemporaryDirectory(prefix="omniclaude-bench-") as workdir,
        embedded_services(Path(workdir), broker=broker) as (server_url, started_broker),
    ):
        async with scratch_database(server_url) as url:
            what = "embedded PostgreSQL" + (" + Tansu" if broker else "")
            await body(args, Services(url, started_broker, what))


def run_bench(
    body: Callable[[argparse.Namespace, Services], Awaitable[None]],
    parser: argparse.ArgumentParser,
    argv: list[str] | None,
) -> int:
    """A bench's ``main``: parse ``argv``, run ``body`` on the services, exit 0. Shared by
    the benches."""
    args = parser.parse_args(argv)
    asyncio.run(with_services(body, args))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000, help="events to load")
    parser.add_argument("--batch-events", type=int, default=ConsumerSettings().batch_max_events)
    parser.add_argument("--batch-ms", type=int, default=ConsumerSettings().batch_max_ms)
    parser.add_argument("--partitions", type=int, default=TopicSettings().partitions)
    parser.add_argument("--copy-runs", type=int, default=3, help="COPY baseline repetitions")
    parser.add_argument(
        "--profile", type=int, default=0, metavar="N",
        help="profile the consumer (cProfile) and print its N costliest functions",
    )  # fmt: skip
    return run_bench(run, parser, argv)


if __name__ == "__main__":
    sys.exit(main())
