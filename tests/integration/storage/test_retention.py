"""Retention drops whole old days (and old summaries, rollup rows) and nothing of the window.

Against the real PostgreSQL: partitions entirely older than the cutoff are detached
concurrently and dropped, the kept window's rows and every rollup stay as they were, a dry
run changes nothing, an interrupted run is finished by the next one, and the consumer's
maintenance job applies a configured policy once per UTC day, counting what it dropped.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from omniclaude.consuming.maintenance import MaintenanceJob
from omniclaude.consuming.metrics import IngestMetrics
from omniclaude.events import AgentAction, ExecutionCompleted, ExecutionStarted, utc_now
from omniclaude.storage.partitions import (
    DAY,
    PartitionPolicy,
    day_of,
    list_partitions,
    quote_ident,
)
from omniclaude.storage.retention import MARK, ROLLUP_TABLES, RetentionPolicy, apply_retention
from omniclaude.storage.writers import write_events

pytestmark = pytest.mark.covers(
    "table:agent_actions",
    "table:agent_execution_events",
    "table:agent_execution_logs",
    "feature:retention",
)

KEEP = timedelta(days=30)


def _action(cid: uuid.UUID, at: datetime, name: str = "bash") -> AgentAction:
    return AgentAction(
        correlation_id=cid, action_type="tool_call", action_name=name, timestamp=at,
        duration_ms=5.0,
    )  # fmt: skip


async def _ids(conn: asyncpg.Connection, table: str = "agent_actions") -> set[uuid.UUID]:
    rows = await conn.fetch(f"SELECT event_id FROM {quote_ident(table)}")
    return {r["event_id"] for r in rows}


async def _rollups(conn: asyncpg.Connection) -> dict[str, list[tuple[Any, ...]]]:
    return {
        t: [tuple(r) for r in await conn.fetch(f"SELECT * FROM {quote_ident(t)} ORDER BY 1, 2")]
        for t in ROLLUP_TABLES
    }


async def _names(conn: asyncpg.Connection, table: str = "agent_actions") -> set[str]:
    return {p.name for p in await list_partitions(conn, table)}


async def _seed(conn: asyncpg.Connection, now: datetime) -> dict[str, list[AgentAction]]:
    """Actions on days 45 (a month partition), 33, 31, 30 (the cutoff's day), 29, today and
    tomorrow before ``now``, written by the ordinary writer (which creates the partitions)."""
    cid = uuid.uuid4()
    old = [_action(cid, now - n * DAY, f"old-{n}") for n in (45, 33, 31)]
    # The cutoff is now - 30 days: its own day is only partly older, so it stays whole.
    kept = [_action(cid, now - 30 * DAY + timedelta(minutes=1), "edge"),
            _action(cid, now - 29 * DAY, "kept"), _action(cid, now, "today"),
            _action(cid, now + DAY, "tomorrow")]  # fmt: skip
    await write_events(conn, [*old, *kept], partitions=None)
    return {"old": old, "kept": kept}


async def test_old_days_are_dropped_and_the_window_is_untouched(
    postgres_connection: asyncpg.Connection,
) -> None:
    """A dry run lists the old partitions and changes nothing; the run drops exactly them:
    every row of the kept window stays, every rollup row is unchanged, today's and the days
    ahead stay."""
    conn, now = postgres_connection, utc_now()
    seeded = await _seed(conn, now)
    rollups_before = await _rollups(conn)
    before = await _names(conn)
    policy = RetentionPolicy(keep=KEEP)

    dry = await apply_retention(conn, policy, now=now, dry_run=True)
    assert await _names(conn) == before, "a dry run changed the partitions"
    limit = now - KEEP
    listed = {d.name for d in dry.partitions if d.table == "agent_actions"}
    expected = {
        p.name for p in await list_partitions(conn, "agent_actions")
        if p.end is not None and p.end <= limit
    }  # fmt: skip
    assert listed == expected, (listed, expected)
    assert len(listed) >= 3, listed
    assert sum(d.rows for d in dry.partitions if d.table == "agent_actions") == 3
    assert all(d.bytes > 0 for d in dry.partitions)

    dropped: list[Any] = []
    report = await apply_retention(conn, policy, now=now, on_dropped=dropped.append)
    assert {d.name for d in report.partitions} == {d.name for d in dry.partitions}
    assert [d.name for d in dropped] == [d.name for d in report.partitions]
    assert await _ids(conn) == {e.event_id for e in seeded["kept"]}
    after = await _names(conn)
    assert after == before - listed
    assert f"agent_actions_p{day_of(now):%Y%m%d}" in after
    assert f"agent_actions_p{day_of(now + DAY):%Y%m%d}" in after
    for name in listed:  # dropped, not merely detached
        assert await conn.fetchval("SELECT to_regclass($1)", name) is None, name
    assert await _rollups(conn) == rollups_before, "dropping raw days changed a rollup"
    again = await apply_retention(conn, policy, now=now)
    assert again.partitions == [], "a second run found more to drop"
    # A writer needing a dropped day gets it back (the partition is created again).
    late = _action(uuid.uuid4(), now - 33 * DAY, "late")
    await write_events(conn, [late])
    assert late.event_id in await _ids(conn)


async def test_per_table_retention_and_the_boundaries(
    postgres_connection: asyncpg.Connection,
) -> None:
    """``agent_actions`` kept 7 days while the rest keep 30; a partition ending exactly at
    the cutoff goes, the next one stays; a policy shorter than today never touches today."""
    conn = postgres_connection
    now = datetime.combine(utc_now().date(), datetime.min.time(), UTC) + timedelta(hours=13)
    cid = uuid.uuid4()
    # An action and a lifecycle event on each of days 1..9 back (the summaries stay: 30d).
    events: list[Any] = []
    for n in range(1, 10):
        events.append(_action(cid, now - n * DAY))
        events.append(ExecutionStarted(correlation_id=uuid.uuid4(), agent_name="a",
                                       timestamp=now - n * DAY))  # fmt: skip
    await write_events(conn, [*events, _action(cid, now)])
    policy = RetentionPolicy(keep=KEEP, tables={"agent_actions": timedelta(days=7)})
    report = await apply_retention(conn, policy, now=now)
    by_table: dict[str, set[str]] = {}
    for item in report.partitions:
        by_table.setdefault(item.table, set()).add(item.name)
    # 7 days before 13:00 is 13:00 on day -7: the day -8 partition ends at -7 00:00 < it.
    assert by_table == {"agent_actions": {f"agent_actions_p{day_of(now - n * DAY):%Y%m%d}"
                                          for n in (8, 9)}}  # fmt: skip
    assert report.summaries == 0
    # 12 hours at 13:00: the cutoff is 01:00 today, capped at today's start; yesterday
    # (ending at the cap exactly) goes, today never does.
    short = RetentionPolicy(keep=KEEP, tables={"agent_actions": timedelta(hours=12)})
    report = await apply_retention(conn, short, now=now)
    names = {d.name for d in report.partitions}
    assert f"agent_actions_p{day_of(now - DAY):%Y%m%d}" in names
    assert f"agent_actions_p{day_of(now):%Y%m%d}" not in names
    assert f"agent_actions_p{day_of(now):%Y%m%d}" in await _names(conn)
    lifecycle = await conn.fetchval("SELECT count(*) FROM agent_execution_events")
    assert lifecycle == 9, "another table's days were dropped by agent_actions' policy"


async def test_old_summaries_and_rollups_are_deleted_in_batches(
    postgres_connection: asyncpg.Connection,
) -> None:
    """Summaries whose last event is older than their cutoff go (a completed one and an
    abandoned one), one whose execution still had an event inside the window stays; rollup
    buckets before the rollups' cutoff go."""
    conn, now = postgres_connection, utc_now()
    old_done, old_abandoned, late_done, fresh = (uuid.uuid4() for _ in range(4))
    at = now - 40 * DAY
    await write_events(conn, [
        ExecutionStarted(correlation_id=old_done, agent_name="a", timestamp=at),
        ExecutionCompleted(correlation_id=old_done, timestamp=at + timedelta(minutes=1)),
        ExecutionStarted(correlation_id=old_abandoned, agent_name="a", timestamp=at),
        ExecutionStarted(correlation_id=late_done, agent_name="a", timestamp=at),
        ExecutionCompleted(correlation_id=late_done, timestamp=now - 10 * DAY),
        ExecutionStarted(correlation_id=fresh, agent_name="a", timestamp=now),
        _action(fresh, now - 100 * DAY),
    ])  # fmt: skip
    policy = RetentionPolicy(keep=KEEP, rollups=timedelta(days=60), batch_rows=1)
    dry = await apply_retention(conn, policy, now=now, dry_run=True)
    assert dry.summaries == 2
    assert dry.rollups["rollup_actions_hour"] == 1
    deleted: list[tuple[str, int]] = []
    report = await apply_retention(
        conn, policy, now=now, on_deleted=lambda t, n: deleted.append((t, n))
    )
    assert report.summaries == 2
    left = {r["correlation_id"] for r in await conn.fetch(
        "SELECT correlation_id FROM agent_execution_logs")}  # fmt: skip
    assert left == {late_done, fresh}
    assert ("agent_execution_logs", 2) in deleted
    assert ("rollup_actions_hour", 1) in deleted
    assert await conn.fetchval("SELECT count(*) FROM rollup_actions_hour") == 0
    kept = await conn.fetchval("SELECT sum(executions) FROM rollup_executions_hour")
    assert kept == 4, "rollup rows inside the rollups' window were deleted"
    assert await conn.fetchval("SELECT count(*) FROM rollup_events_minute WHERE bucket < $1",
                               day_of(now - 60 * DAY)) == 0  # fmt: skip


async def test_an_interrupted_run_is_finished_by_the_next(
    postgres_connection: asyncpg.Connection, database_url: str
) -> None:
    """A detach cancelled while it waits for a reader leaves the partition detach pending;
    one detached but not dropped is left marked. The next run finalizes and drops both; a
    table detached by hand (not marked) is left alone."""
    conn, now = postgres_connection, utc_now()
    cid = uuid.uuid4()
    await write_events(conn, [_action(cid, now - n * DAY) for n in (40, 34, 33, 32)])
    parts = {p.start: p.name for p in await list_partitions(conn, "agent_actions")}
    pending, leftover, manual = (parts[day_of(now - n * DAY)] for n in (34, 33, 32))
    reader = await asyncpg.connect(database_url)
    try:
        tx = reader.transaction(isolation="repeatable_read")
        await tx.start()
        await reader.fetchval("SELECT count(*) FROM agent_actions")  # holds a snapshot
        await conn.execute("SET statement_timeout = '500ms'")
        with pytest.raises(asyncpg.QueryCanceledError):
            await conn.execute(
                f"ALTER TABLE agent_actions DETACH PARTITION {quote_ident(pending)} CONCURRENTLY"
            )
        await conn.execute("RESET statement_timeout")
        await tx.rollback()
    finally:
        await reader.close()
    state = {p.name: p.detach_pending for p in await list_partitions(conn, "agent_actions")}
    assert state[pending] is True, "the cancelled detach did not leave the partition pending"
    await conn.execute(f"COMMENT ON TABLE {quote_ident(leftover)} IS '{MARK}'")
    for name in (leftover, manual):
        await conn.execute(f"ALTER TABLE agent_actions DETACH PARTITION {quote_ident(name)}")

    report = await apply_retention(conn, RetentionPolicy(keep=KEEP), now=now)
    finished = {d.name for d in report.partitions if d.finalized}
    assert finished == {pending, leftover}, report.partitions
    for name in (pending, leftover):
        assert await conn.fetchval("SELECT to_regclass($1)", name) is None, name
    assert await conn.fetchval("SELECT to_regclass($1)", manual) is not None, (
        "a table of the user's was dropped"
    )


async def test_concurrent_runs_take_turns(
    postgres_connection: asyncpg.Connection, database_url: str
) -> None:
    """A run finding another's lock skips (reported), dropping nothing."""
    conn, now = postgres_connection, utc_now()
    await write_events(conn, [_action(uuid.uuid4(), now - 40 * DAY)])
    other = await asyncpg.connect(database_url)
    try:
        assert await other.fetchval(
            "SELECT pg_try_advisory_lock(hashtextextended('omniclaude.retention', 0))"
        )
        report = await apply_retention(conn, RetentionPolicy(keep=KEEP), now=now)
        assert report.skipped
        assert report.partitions == []
    finally:
        await other.close()
    report = await apply_retention(conn, RetentionPolicy(keep=KEEP), now=now)
    assert report.skipped is None
    assert report.partitions


async def test_the_maintenance_job_applies_it_once_a_day(
    postgres_connection: asyncpg.Connection, database_url: str
) -> None:
    """The consumer's daily job drops old days when a retention is configured, counts them in
    ``omniclaude_retention_*``, and applies it at most once per UTC day."""
    conn = postgres_connection
    clock = [utc_now()]
    metrics = IngestMetrics()
    job = MaintenanceJob(
        database_url, policy=PartitionPolicy(), metrics=metrics,
        retention=RetentionPolicy(keep=KEEP), clock=lambda: clock[0],
    )  # fmt: skip
    await write_events(conn, [_action(uuid.uuid4(), clock[0] - 40 * DAY)])
    await job.run_once()
    assert job.retention_reports[-1].partitions
    text = metrics.render().decode()
    assert 'omniclaude_retention_partitions_dropped_total{table="agent_actions"} 1.0' in text
    assert 'omniclaude_retention_rows_dropped_total{table="agent_actions"} 1.0' in text
    assert "omniclaude_retention_last_run_timestamp_seconds" in text
    await write_events(conn, [_action(uuid.uuid4(), clock[0] - 40 * DAY)])
    await job.run_once()  # same day: partitions maintained, retention not applied again
    assert len(job.retention_reports) == 1
    assert await conn.fetchval("SELECT count(*) FROM agent_actions") == 1
    clock[0] += DAY
    await job.run_once()
    assert len(job.retention_reports) == 2
    assert await conn.fetchval("SELECT count(*) FROM agent_actions") == 0
    off = MaintenanceJob(database_url, policy=PartitionPolicy(), metrics=IngestMetrics(),
                         retention=RetentionPolicy())  # fmt: skip
    await write_events(conn, [_action(uuid.uuid4(), clock[0] - 40 * DAY)])
    await off.run_once()
    assert off.retention is None
    assert await conn.fetchval("SELECT count(*) FROM agent_actions") == 1


def _cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMNICLAUDE_DATABASE_URL": database_url, "COLUMNS": "200",
           "OMNICLAUDE_LOG_LEVEL": "INFO", "OMNICLAUDE_LOG_FORMAT": "json"}  # fmt: skip
    env.pop("OMNICLAUDE_CONFIG_FILE", None)
    return subprocess.run(
        [str(Path(sys.executable).parent / "omniclaude"), "retention", *args],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


async def test_the_command_lists_then_drops_and_logs_each_partition(
    postgres_connection: asyncpg.Connection, database_url: str
) -> None:
    """``omniclaude retention --dry-run`` prints the partitions and keeps them; without it
    they are dropped, each reported in a structured log line."""
    conn, now = postgres_connection, utc_now()
    await write_events(conn, [_action(uuid.uuid4(), now - n * DAY) for n in (0, 33)])
    name = f"agent_actions_p{day_of(now - 33 * DAY):%Y%m%d}"
    dry = await asyncio.to_thread(_cli, database_url, "--keep", "30d", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert name in dry.stdout
    assert "would drop" in dry.stdout
    assert name in await _names(conn)
    done = await asyncio.to_thread(_cli, database_url, "--keep", "30d")
    assert done.returncode == 0, done.stderr
    assert name not in await _names(conn)
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    dropped = [line for line in lines if line.get("partition") == name]
    assert dropped, done.stderr
    assert dropped[0]["table"] == "agent_actions"
    assert dropped[0]["rows"] == 1
    assert await conn.fetchval("SELECT count(*) FROM agent_actions") == 1
