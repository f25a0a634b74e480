"""Retention: old days of the event tables dropped whole, without blocking writers.

A policy (:class:`RetentionPolicy`, from ``OMNICLAUDE_RETENTION__*`` or ``omniclaude
retention``) keeps each event table for a duration; what is older goes:

* **event tables** (partitioned by day, :mod:`.partitions`): every partition lying entirely
  before the table's cutoff (``now - keep``) is detached with ``ALTER TABLE .. DETACH
  PARTITION .. CONCURRENTLY`` (SHARE UPDATE EXCLUSIVE on the parent, which inserts, ``COPY``
  and selects do not conflict with; queries started after the detach's first step no longer
  see the partition) and then dropped (a table no query uses any more). Today's partition
  and those ahead are never chosen, whatever the policy says: the cutoff is at most the
  start of today. Before detaching, a partition is marked with a comment
  (:data:`MARK`); a run interrupted mid-detach leaves it *detach pending*, one interrupted
  between the detach and the drop leaves a marked table outside the parent; the next run
  finalizes the first and drops both (``omniclaude db maintain`` finalizes too).
* **execution summaries** (``agent_execution_logs``, one unpartitioned row per execution):
  rows whose execution's *last* event is older than the summary cutoff are deleted, at most
  ``batch_rows`` per statement (each its own transaction, skipping rows a writer holds).
* **rollups**: kept forever unless ``rollups`` is set; then buckets before the UTC day of
  ``now - rollups`` are deleted in batches. They must outlive every other retention
  (:func:`check_policy`): dropping raw days never changes a rollup, so the overview's and
  usage's figures keep covering days whose rows are gone.

Concurrent runs (several consumers, a cron job) take turns on an advisory lock; one that
finds it held skips. Every drop is logged (``retention dropped …`` with ``table``,
``partition``, ``rows``, ``bytes``) and handed to ``on_dropped`` (the consumer counts it in
``omniclaude_retention_*`` metrics). Row counts and sizes are the planner's estimates
(``reltuples``, exact only for a partition never analysed) and the relation's size with its
indexes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from omniclaude.events import utc_now
from omniclaude.settings import check_retention
from omniclaude.storage.partitions import (
    PARTITIONED_TABLES,
    Partition,
    day_of,
    finalize_detach,
    list_partitions,
    quote_ident,
)

if TYPE_CHECKING:
    from omniclaude.settings import RetentionSettings

__all__ = [
    "MARK",
    "RETAINED_TABLES",
    "ROLLUP_TABLES",
    "SUMMARY_TABLE",
    "Dropped",
    "RetentionPolicy",
    "RetentionReport",
    "apply_retention",
    "check_policy",
    "choose_partitions",
    "cutoff",
    "rollup_cutoff",
]

log = logging.getLogger(__name__)

SUMMARY_TABLE: Final = "agent_execution_logs"
"""The execution summaries: one table, not partitioned; pruned by rows."""

RETAINED_TABLES: Final[tuple[str, ...]] = (*PARTITIONED_TABLES, SUMMARY_TABLE)
"""The tables a per-table retention may name."""

ROLLUP_TABLES: Final[tuple[str, ...]] = (
    "rollup_actions_hour",
    "rollup_events_minute",
    "rollup_executions_day",
    "rollup_executions_hour",
    "rollup_llm_hour",
    "rollup_llm_session_cells",
    "rollup_llm_session_sums_day",
    "rollup_llm_sessions_day",
    "rollup_llm_sums_day",
    "rollup_llm_sums_hour",
    "rollup_routing_hour",
    "rollup_tools_day",
    "rollup_tools_hour",
)
"""The rollups (migrations 0005 to 0007 and 0009 to 0011), each with its UTC ``bucket``."""

MARK: Final = "omniclaude retention: detached to be dropped"
"""The comment a partition gets just before retention detaches it."""

_LOCK_SQL = "SELECT pg_try_advisory_lock(hashtextextended('omniclaude.retention', 0))"
_UNLOCK_SQL = "SELECT pg_advisory_unlock(hashtextextended('omniclaude.retention', 0))"
_SIZE_SQL = """
SELECT c.reltuples::bigint AS rows, pg_total_relation_size(c.oid) AS bytes,
       coalesce(pg_stat_get_live_tuples(c.oid), 0) AS live
  FROM pg_class c WHERE c.oid = $1::regclass
"""
# Rows of one partition, by its range through the parent (pruned to that partition); one
# statement per event table, from the constant names; values are parameters.
_COUNT_RANGE: Final = {
    table: f"SELECT count(*) FROM {quote_ident(table)}"  # noqa: S608 - constants
    " WHERE created_at >= $1 AND created_at < $2"
    for table in PARTITIONED_TABLES
}
_LEFTOVERS_SQL = """
SELECT c.relname::text AS name
  FROM pg_class c
 WHERE c.relkind = 'r' AND NOT c.relispartition
   AND c.relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = $1::regclass)
   AND starts_with(c.relname::text, $2)
   AND obj_description(c.oid, 'pg_class') = $3
 ORDER BY 1
"""
_SUMMARY_COUNT_SQL = """
SELECT count(*) FROM agent_execution_logs WHERE created_at < $1 AND last_event_at < $1
"""
_SUMMARY_DELETE_SQL = """
WITH doomed AS (
    SELECT correlation_id FROM agent_execution_logs
     WHERE created_at < $1 AND last_event_at < $1
     LIMIT $2 FOR UPDATE SKIP LOCKED)
DELETE FROM agent_execution_logs l USING doomed d WHERE l.correlation_id = d.correlation_id
"""
# One statement per rollup, from the constant names above; values are parameters.
_ROLLUP_COUNT: Final = {
    table: f"SELECT count(*) FROM {quote_ident(table)} WHERE bucket < $1"  # noqa: S608 - constants
    for table in ROLLUP_TABLES
}
_ROLLUP_DELETE: Final = {
    table: f"DELETE FROM {quote_ident(table)} WHERE ctid = ANY(ARRAY("  # noqa: S608 - constants
    f"SELECT ctid FROM {quote_ident(table)} WHERE bucket < $1 LIMIT $2))"
    for table in ROLLUP_TABLES
}


def check_policy(
    keep: timedelta | None, tables: Mapping[str, timedelta], rollups: timedelta | None
) -> None:
    """Refuse a policy that would lose figures or traces before their rows
    (:func:`omniclaude.settings.check_retention`, with this schema's tables).

    Raises:
        ValueError: naming the setting at fault (``tables.<name>``, ``rollups``).
    """
    check_retention(keep, tables, rollups, event_tables=PARTITIONED_TABLES, summary=SUMMARY_TABLE)


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """How long each table is kept (None: forever). See the module docstring.

    Attributes:
        keep: every event table and the summaries, unless ``tables`` says otherwise.
        tables: per table (:data:`RETAINED_TABLES`).
        rollups: the rollups' buckets (None: kept forever).
        batch_rows: rows per ``DELETE`` statement (summaries, rollups).

    Raises:
        ValueError: an incoherent policy (:func:`check_policy`).
    """

    keep: timedelta | None = None
    tables: Mapping[str, timedelta] = field(default_factory=dict)
    rollups: timedelta | None = None
    batch_rows: int = 5000

    def __post_init__(self) -> None:
        check_policy(self.keep, self.tables, self.rollups)
        if self.batch_rows < 1:
            raise ValueError("batch_rows: must be at least 1")

    @classmethod
    def from_settings(cls, settings: RetentionSettings) -> RetentionPolicy:
        """The policy ``OMNICLAUDE_RETENTION__*`` configures (already checked)."""
        return cls(settings.keep, dict(settings.tables), settings.rollups, settings.batch_rows)

    @property
    def configured(self) -> bool:
        """Whether anything is ever deleted."""
        return self.keep is not None or bool(self.tables) or self.rollups is not None

    def keep_for(self, table: str) -> timedelta | None:
        """How long ``table`` is kept (None: forever)."""
        return self.tables.get(table, self.keep)


def cutoff(now: datetime, keep: timedelta) -> datetime:
    """The instant before which rows go: ``now - keep``, and never after today's start."""
    return min(now - keep, day_of(now))


def rollup_cutoff(now: datetime, keep: timedelta) -> datetime:
    """The rollups' cutoff: the start of the UTC day of ``now - keep`` (whole buckets)."""
    return day_of(now - keep)


def choose_partitions(
    parts: Sequence[Partition], *, keep: timedelta, now: datetime
) -> list[Partition]:
    """The partitions lying entirely before the cutoff (:func:`cutoff`), oldest first.

    A partition ending exactly at the cutoff holds only older rows: it is chosen. One
    without an upper bound, a DEFAULT one, today's and every later one never are.
    """
    limit = cutoff(now, keep)
    return [p for p in parts if not p.is_default and p.end is not None and p.end <= limit]


@dataclass(frozen=True, slots=True)
class Dropped:
    """One partition dropped (or that would be, in a dry run)."""

    table: str
    name: str
    start: datetime | None
    end: datetime | None
    rows: int
    """The planner's estimate (exact for a partition never analysed)."""
    bytes: int
    """Its size with its indexes and TOAST."""
    finalized: bool = False
    """An interrupted run had left it detach pending (or detached but not dropped)."""
    seconds: float = 0.0
    """How long detaching and dropping it took (waiting for older queries included)."""


@dataclass
class RetentionReport:
    """What one run dropped (or would drop)."""

    dry_run: bool
    now: datetime
    partitions: list[Dropped] = field(default_factory=list)
    summaries: int = 0
    """Execution summaries deleted (or that would be)."""
    rollups: dict[str, int] = field(default_factory=dict)
    """Rollup rows deleted per rollup (or that would be)."""
    cutoffs: dict[str, datetime] = field(default_factory=dict)
    """Per table with a retention, the cutoff applied."""
    skipped: str | None = None
    """Why nothing was done (another run held the lock)."""

    @property
    def rows(self) -> int:
        """Event rows in the dropped partitions (estimate)."""
        return sum(d.rows for d in self.partitions)

    @property
    def bytes(self) -> int:
        """Bytes of the dropped partitions."""
        return sum(d.bytes for d in self.partitions)


OnDropped = Callable[[Dropped], None]
OnDeleted = Callable[[str, int], None]


async def _size(conn: Any, table: str, name: str, part: Partition | None = None) -> tuple[int, int]:
    """The partition's rows (the planner's estimate) and bytes (indexes and TOAST included).

    A partition never analysed has no estimate: an attached one is counted (through the
    parent, by its range), any other gets the statistics collector's live rows.
    """
    row = await conn.fetchrow(_SIZE_SQL, name)
    rows, size = int(row["rows"]), int(row["bytes"])
    if rows >= 0:
        return rows, size
    attached = part is not None and not part.detach_pending
    if attached and part is not None and part.start is not None and part.end is not None:
        return int(await conn.fetchval(_COUNT_RANGE[table], part.start, part.end)), size
    return int(row["live"]), size


async def _leftovers(conn: Any, table: str) -> list[str]:
    rows = await conn.fetch(_LEFTOVERS_SQL, table, f"{table}_p", MARK)
    return [r["name"] for r in rows]


async def _drop_partition(conn: Any, table: str, part: Partition) -> None:
    parent, name = quote_ident(table), quote_ident(part.name)
    if part.detach_pending:
        await finalize_detach(conn, table, part.name)
    else:
        await conn.execute(f"COMMENT ON TABLE {name} IS '{MARK}'")
        # Not in a transaction block (PostgreSQL refuses it there): two transactions of its
        # own, the second after every query that could see the partition has finished.
        await conn.execute(f"ALTER TABLE {parent} DETACH PARTITION {name} CONCURRENTLY")
    await conn.execute(f"DROP TABLE {name}")


def _report(item: Dropped, *, dry_run: bool) -> None:
    span = (
        f"[{item.start:%Y-%m-%d %H:%M}, {item.end:%Y-%m-%d %H:%M})"
        if item.start is not None and item.end is not None
        else "(detached)"
    )
    log.info(
        "retention %s %s of %s %s: ~%d rows, %d bytes%s",
        "would drop" if dry_run else "dropped", item.name, item.table, span, item.rows,
        item.bytes, " (finalizing an interrupted run)" if item.finalized else "",
        extra={"table": item.table, "partition": item.name, "rows": item.rows,
               "bytes": item.bytes, "dry_run": dry_run, "seconds": round(item.seconds, 3)},
    )  # fmt: skip


async def _partitions(
    conn: Any,
    table: str,
    keep: timedelta,
    report: RetentionReport,
    on_dropped: OnDropped | None,
) -> None:
    limit = cutoff(report.now, keep)
    report.cutoffs[table] = limit
    parts = await list_partitions(conn, table)
    chosen = choose_partitions(parts, keep=keep, now=report.now)
    # PostgreSQL allows one pending detach per table: an interrupted one is finished first.
    chosen.sort(key=lambda p: not p.detach_pending)
    for part in parts:
        if part.detach_pending and part not in chosen and not report.dry_run:
            await finalize_detach(conn, table, part.name)
    for part in chosen:
        rows, size = await _size(conn, table, part.name, part)
        started = time.perf_counter()
        if not report.dry_run:
            await _drop_partition(conn, table, part)
        item = Dropped(
            table, part.name, part.start, part.end, rows, size, finalized=part.detach_pending,
            seconds=time.perf_counter() - started,
        )  # fmt: skip
        report.partitions.append(item)
        _report(item, dry_run=report.dry_run)
        if on_dropped is not None and not report.dry_run:
            on_dropped(item)
    for name in await _leftovers(conn, table):
        rows, size = await _size(conn, table, name)
        item = Dropped(table, name, None, None, rows, size, finalized=True)
        if not report.dry_run:
            await conn.execute(f"DROP TABLE {quote_ident(name)}")
        report.partitions.append(item)
        _report(item, dry_run=report.dry_run)
        if on_dropped is not None and not report.dry_run:
            on_dropped(item)


async def _delete_batches(conn: Any, sql: str, limit: datetime, batch: int) -> int:
    total = 0
    while True:
        status = await conn.execute(sql, limit, batch)
        deleted = int(status.rsplit(" ", 1)[-1])
        total += deleted
        if deleted < batch:
            return total


async def _summaries(
    conn: Any, keep: timedelta, policy: RetentionPolicy, report: RetentionReport
) -> None:
    limit = cutoff(report.now, keep)
    report.cutoffs[SUMMARY_TABLE] = limit
    if report.dry_run:
        report.summaries = int(await conn.fetchval(_SUMMARY_COUNT_SQL, limit))
    else:
        report.summaries = await _delete_batches(
            conn, _SUMMARY_DELETE_SQL, limit, policy.batch_rows
        )
    if report.summaries:
        log.info(
            "retention %s %d execution summaries whose last event is before %s",
            "would delete" if report.dry_run else "deleted", report.summaries, limit,
            extra={"table": SUMMARY_TABLE, "rows": report.summaries, "dry_run": report.dry_run},
        )  # fmt: skip


async def _rollups(
    conn: Any, keep: timedelta, policy: RetentionPolicy, report: RetentionReport
) -> None:
    limit = rollup_cutoff(report.now, keep)
    for table in ROLLUP_TABLES:
        report.cutoffs[table] = limit
        if report.dry_run:
            count = int(await conn.fetchval(_ROLLUP_COUNT[table], limit))
        else:
            count = await _delete_batches(conn, _ROLLUP_DELETE[table], limit, policy.batch_rows)
        report.rollups[table] = count
        if count:
            log.info(
                "retention %s %d rows of %s before %s",
                "would delete" if report.dry_run else "deleted", count, table, limit,
                extra={"table": table, "rows": count, "dry_run": report.dry_run},
            )  # fmt: skip


async def apply_retention(
    conn: Any,
    policy: RetentionPolicy,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    tables: Iterable[str] = PARTITIONED_TABLES,
    on_dropped: OnDropped | None = None,
    on_deleted: OnDeleted | None = None,
) -> RetentionReport:
    """Apply ``policy`` (see the module docstring) on ``conn``, outside any transaction.

    Args:
        conn: an asyncpg connection not in a transaction (``DETACH .. CONCURRENTLY``
            refuses one).
        now: the current time (tests pass their own).
        dry_run: report what would go and change nothing (no lock taken).
        tables: the event tables to consider.
        on_dropped: called for each partition dropped (not in a dry run).
        on_deleted: called with (table, rows) for rows deleted from the summaries and the
            rollups (not in a dry run).

    Returns:
        What was dropped (or would be).
    """
    report = RetentionReport(dry_run=dry_run, now=(now or utc_now()).astimezone(UTC))
    if not policy.configured:
        return report
    if not dry_run and not await conn.fetchval(_LOCK_SQL):
        report.skipped = "another retention run holds the lock"
        log.info("retention skipped: %s", report.skipped)
        return report
    try:
        for table in tables:
            keep = policy.keep_for(table)
            if keep is not None:
                await _partitions(conn, table, keep, report, on_dropped)
        summary_keep = policy.keep_for(SUMMARY_TABLE)
        if summary_keep is not None:
            await _summaries(conn, summary_keep, policy, report)
            if on_deleted is not None and not dry_run and report.summaries:
                on_deleted(SUMMARY_TABLE, report.summaries)
        if policy.rollups is not None:
            await _rollups(conn, policy.rollups, policy, report)
            if on_deleted is not None and not dry_run:
                for table, count in report.rollups.items():
                    if count:
                        on_deleted(table, count)
    finally:
        if not dry_run:
            await conn.fetchval(_UNLOCK_SQL)
    log.info(
        "retention %s: %d partition(s), ~%d rows, %d bytes; %d summaries; %d rollup rows",
        "dry run" if dry_run else "done", len(report.partitions), report.rows, report.bytes,
        report.summaries, sum(report.rollups.values()),
        extra={"partitions": len(report.partitions), "rows": report.rows, "bytes": report.bytes,
               "dry_run": dry_run},
    )  # fmt: skip
    return report
