"""Every event table is partitioned by day: conversion in place, idempotency, no lost row.

The write paths make sure their rows' partitions exist (daily in the window, a month for
older days); a partition dropped under a writer is a retriable error that the next attempt
repairs; the consumer's migration converts a populated database without losing a row.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from omniclaude.consuming.batcher import Item
from omniclaude.consuming.store import EventStore, TransientStoreError
from omniclaude.events import (
    AgentAction,
    CostSource,
    EventBase,
    ExecutionCompleted,
    ExecutionStarted,
    LlmCall,
    kind_of,
    llm_call_id,
    utc_now,
)
from omniclaude.kafka import topic_routes
from omniclaude.settings import TopicSettings
from omniclaude.storage import migrations
from omniclaude.storage.partitions import (
    DAY,
    PARTITIONED_TABLES,
    PartitionCache,
    day_of,
    ensure_partitions,
    list_partitions,
    maintain_partitions,
    quote_ident,
)
from omniclaude.storage.pool import init_connection
from omniclaude.storage.writers import WRITERS, copy_events, enable_copy, write_events
from tests.unit.consuming.records import record
from tests.unit.storage.samples import sample_events

BIN = Path(sys.executable).parent
pytestmark = pytest.mark.covers(
    "table:agent_actions",
    "table:agent_execution_events",
    "table:agent_execution_logs",
    "table:agent_llm_calls",
    "table:agent_manifest_injections",
    "table:agent_routing_decisions",
    "table:agent_transformation_events",
    "feature:partitioned-storage",
)


def _action(cid: uuid.UUID, at: datetime, name: str = "bash") -> AgentAction:
    return AgentAction(
        correlation_id=cid, action_type="tool_call", action_name=name, timestamp=at,
        duration_ms=5.0,
    )  # fmt: skip


async def _rows(conn: asyncpg.Connection, table: str) -> list[tuple[Any, ...]]:
    return [
        tuple(r)
        for r in await conn.fetch(
            f"SELECT event_id, correlation_id, created_at FROM {quote_ident(table)} ORDER BY 1, 3"
        )
    ]


async def _key_columns(conn: asyncpg.Connection, table: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT a.attname FROM pg_constraint c CROSS JOIN unnest(c.conkey) WITH ORDINALITY k(n, i)"
        " JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n"
        " WHERE c.conrelid = $1::regclass AND c.contype = 'p' ORDER BY k.i",
        table,
    )
    return [r["attname"] for r in rows]


def _upgrade_with_cli(database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMNICLAUDE_DATABASE_URL": database_url, "COLUMNS": "160"}
    return subprocess.run(
        [str(BIN / "omniclaude"), "db", "upgrade"],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


async def test_a_populated_database_is_converted_in_place(database_url: str) -> None:
    """Every row of 0002 is still there after ``db upgrade`` (with its progress bars), each in
    a partition of its day (a month for old ones), keyed by trace, time and id."""
    await asyncio.to_thread(migrations.downgrade, database_url, "0002_timing_llm_calls")
    now = utc_now()
    cid = uuid.uuid4()
    events: list[EventBase] = [
        *(e for e in sample_events(cid) if e.event_type != "metric_point"),  # 0006's table
        *(_action(cid, now - n * DAY, f"tool-{n}") for n in (0, 1, 2, 100, 400)),
        _action(cid, now + 3 * DAY, "tomorrow-ish"),
    ]
    conn = await asyncpg.connect(database_url)
    try:
        await init_connection(conn)
        await enable_copy(conn)
        for event in events:  # 0002's tables take the same rows; COPY needs no conflict key
            kind = kind_of(event.event_type)
            assert kind is not None
            writer = WRITERS[kind.topic.table]
            await conn.copy_records_to_table(
                writer.table, records=[writer.row(event)], columns=writer.columns
            )
        tables = [t for t in PARTITIONED_TABLES if t != "agent_metric_points"]  # after 0002
        before = {t: await _rows(conn, t) for t in tables}
        summary = await conn.fetch("SELECT * FROM agent_execution_logs ORDER BY correlation_id")
    finally:
        await conn.close()
    result = await asyncio.to_thread(_upgrade_with_cli, database_url)
    assert result.returncode == 0, result.stderr
    assert "agent_actions: partitioning" in result.stderr, result.stderr
    assert "7/7" in result.stderr, f"no progress of agent_actions' 7 rows: {result.stderr}"

    conn = await asyncpg.connect(database_url)
    try:
        await init_connection(conn)
        for table in tables:
            after = await _rows(conn, table)
            assert after == before[table], f"{table}: rows changed by the conversion"
            assert await _key_columns(conn, table) == ["correlation_id", "created_at", "event_id"]
            outside = await conn.fetchval(f"SELECT count(*) FROM ONLY {quote_ident(table)}")
            assert outside == 0, f"{table}: rows outside every partition"
        after = await conn.fetch("SELECT * FROM agent_execution_logs ORDER BY correlation_id")
        kept = [{k: row[k] for k in dict(old)} for row, old in zip(after, summary, strict=True)]
        assert kept == [dict(old) for old in summary], "the execution summary changed"
        names = {p.name for p in await list_partitions(conn, "agent_actions")}
        old = now - 400 * DAY
        month = old.replace(day=1)
        assert f"agent_actions_p{month:%Y%m%d}_" in " ".join(names), names
        assert f"agent_actions_p{day_of(now - DAY):%Y%m%d}" in names
        assert f"agent_actions_p{day_of(now + 3 * DAY):%Y%m%d}" in names
        assert await _key_columns(conn, "agent_execution_logs") == ["correlation_id"]
        # The trigger still maintains the summary after the conversion.
        fresh = uuid.uuid4()
        await write_events(
            conn,
            [ExecutionStarted(correlation_id=fresh, agent_name="a", user_prompt="go"),
             ExecutionCompleted(correlation_id=fresh)],
        )  # fmt: skip
        status = await conn.fetchval(
            "SELECT status FROM agent_execution_logs WHERE correlation_id = $1", fresh
        )
        assert status == "success"
        trace = await conn.fetchval("SELECT count(*) FROM get_complete_trace($1)", cid)
        assert trace == sum(len(rows) for rows in before.values()) - 1  # the failed run's own id
    finally:
        await conn.close()


async def test_a_redelivered_event_lands_on_its_row_whatever_its_day(
    postgres_connection: asyncpg.Connection,
) -> None:
    """Insert twice, then COPY: one row per event, today's or a far-past day's, counted."""
    conn = postgres_connection
    cid = uuid.uuid4()
    now = utc_now()
    events = [_action(cid, now), _action(cid, now - 200 * DAY, "old"), _action(cid, now + DAY)]
    backdated: list[tuple[str, int]] = []
    cache = PartitionCache(on_backdated=lambda table, n: backdated.append((table, n)))
    await write_events(conn, events, partitions=cache)
    await write_events(conn, events, partitions=cache)
    await enable_copy(conn)
    with pytest.raises(asyncpg.UniqueViolationError):
        async with conn.transaction():
            await copy_events(conn, events)
    rows = await conn.fetch(
        "SELECT event_id, tableoid::regclass::text AS part FROM agent_actions"
        " WHERE correlation_id = $1",
        cid,
    )
    assert sorted(r["event_id"] for r in rows) == sorted(e.event_id for e in events)
    old_part = next(r["part"] for r in rows if r["event_id"] == events[1].event_id)
    start = day_of(now - 200 * DAY).replace(day=1)
    assert old_part.startswith(f"agent_actions_p{start:%Y%m%d}_"), old_part
    assert backdated == [("agent_actions", 1), ("agent_actions", 1)]


def _items(events: list[EventBase]) -> list[Item]:
    routes = topic_routes(TopicSettings())
    route = routes["agent-actions"]
    return [Item.build(e, record(b"{}", offset=i), route) for i, e in enumerate(events)]  # type: ignore[arg-type]


async def test_a_partition_dropped_under_the_consumer_is_created_again(database_url: str) -> None:
    """The store's next write after a drop fails as retriable; the retry recreates it."""
    store = EventStore(database_url)
    cid = uuid.uuid4()
    day = day_of(utc_now()) + 2 * DAY
    try:
        assert await store.write(_items([_action(cid, day + timedelta(hours=1))])) == []
        conn = await asyncpg.connect(database_url)
        try:
            name = f"agent_actions_p{day:%Y%m%d}"
            await conn.execute(f"ALTER TABLE agent_actions DETACH PARTITION {quote_ident(name)}")
            await conn.execute(f"DROP TABLE {quote_ident(name)}")
        finally:
            await conn.close()
        second = _items([_action(cid, day + timedelta(hours=2), "after-drop")])
        with pytest.raises(TransientStoreError, match="no partition"):
            await store.write(second)
        assert await store.write(second) == [], "the retry refused a row"
        conn = await asyncpg.connect(database_url)
        try:
            names = await conn.fetch(
                "SELECT action_name FROM agent_actions WHERE correlation_id = $1", cid
            )
        finally:
            await conn.close()
        assert [r["action_name"] for r in names] == ["after-drop"]
    finally:
        await store.close()


async def test_a_redelivery_in_a_batch_that_needs_a_new_partition_is_written(
    database_url: str,
) -> None:
    """A batch of several tables that needs a new day's partition and repeats a stored event:
    the COPY creates the partition and is rolled back on the duplicate; the idempotent retry
    must create it again (a cache still believing in it inserted into no partition, forever)."""
    store = EventStore(database_url)
    cid = uuid.uuid4()
    now = utc_now()
    later = day_of(now) + 20 * DAY + timedelta(hours=3)
    stored = _action(cid, now)
    try:
        assert await store.write(_items([stored])) == []
        started = ExecutionStarted(
            correlation_id=cid, agent_name="a", user_request="go", timestamp=later
        )
        batch = _items([stored, _action(cid, later, "later"), started])
        assert await store.write(batch) == [], "a row was refused"
        conn = await asyncpg.connect(database_url)
        try:
            names = await conn.fetch(
                "SELECT action_name FROM agent_actions WHERE correlation_id = $1 ORDER BY 1", cid
            )
            lifecycle = await conn.fetchval(
                "SELECT count(*) FROM agent_execution_events WHERE correlation_id = $1", cid
            )
        finally:
            await conn.close()
        assert [r["action_name"] for r in names] == ["bash", "later"]
        assert lifecycle == 1
    finally:
        await store.close()


async def test_concurrent_writers_create_one_partition(database_url: str) -> None:
    """Two connections asking for the same new day at once: one partition, both rows stored."""
    far = day_of(utc_now()) - 3000 * DAY
    conns = [await asyncpg.connect(database_url) for _ in range(2)]
    try:
        results = await asyncio.gather(
            *(ensure_partitions(c, "agent_actions", [far + timedelta(hours=i)])
              for i, c in enumerate(conns))
        )  # fmt: skip
        made = [c for _, created in results for c in created]
        assert len(made) == 1, f"{made}"
        covering = [p for p in results[0][0] if p.contains(far)]
        assert len(covering) == 1
    finally:
        for c in conns:
            await c.close()


async def test_an_llm_call_told_at_another_time_meets_its_first_telling(
    postgres_connection: asyncpg.Connection,
) -> None:
    """OTel's exact figure, seconds later and under another trace, replaces the estimate."""
    conn = postgres_connection
    end = utc_now().replace(microsecond=0)
    first_cid, other_cid = uuid.uuid4(), uuid.uuid4()

    def call(cid: uuid.UUID, at: datetime, **fields: Any) -> LlmCall:
        return LlmCall(
            event_id=llm_call_id(request_id="req_x", message_id=None), correlation_id=cid,
            model="claude-sonnet-4-5", input_tokens=10, output_tokens=20, request_id="req_x",
            timestamp=at, started_at=at - timedelta(seconds=1), source="transcript", **fields,
        )  # fmt: skip

    estimate = call(first_cid, end, cost_usd=0.01, cost_source=CostSource.ESTIMATE)
    exact = call(other_cid, end + timedelta(seconds=2), cost_usd=0.02, cost_source=CostSource.EXACT)
    await write_events(conn, [estimate])
    await write_events(conn, [exact])
    await write_events(conn, [estimate, exact])  # both in one batch, either order
    rows = await conn.fetch(
        "SELECT correlation_id, created_at, cost_usd, cost_source FROM agent_llm_calls"
        " WHERE event_id = $1",
        estimate.event_id,
    )
    assert len(rows) == 1, f"one response stored {len(rows)} times"
    assert rows[0]["correlation_id"] == first_cid
    assert rows[0]["created_at"] == end
    assert (float(rows[0]["cost_usd"]), rows[0]["cost_source"]) == (0.02, "exact")


async def test_maintenance_creates_the_days_ahead_once(
    postgres_connection: asyncpg.Connection,
) -> None:
    """Run at a later date, it creates that date's partitions ahead; run again, nothing."""
    later = utc_now() + 60 * DAY
    created = await maintain_partitions(postgres_connection, now=later)
    assert len(created) == 8 * len(PARTITIONED_TABLES)
    assert {c.table for c in created} == set(PARTITIONED_TABLES)
    assert all(c.daily for c in created)
    assert await maintain_partitions(postgres_connection, now=later) == []


@contextlib.contextmanager
def _env(**values: str) -> Iterator[dict[str, str]]:
    yield {**os.environ, **values}


async def test_db_maintain_reports_what_it_created(database_url: str) -> None:
    """``omniclaude db maintain`` with a longer horizon creates and lists the new days."""
    with _env(OMNICLAUDE_DATABASE_URL=database_url, OMNICLAUDE_PARTITIONS__AHEAD_DAYS="10") as env:
        result = await asyncio.to_thread(
            subprocess.run,
            [str(BIN / "omniclaude"), "db", "maintain"],
            env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    day = day_of(utc_now()) + 10 * DAY
    assert f"created agent_actions_p{day:%Y%m%d} " in result.stdout, result.stdout
    assert "partition(s) created; 10 day(s) ahead exist" in result.stdout
