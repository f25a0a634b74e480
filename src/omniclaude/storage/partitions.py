"""Time partitions of the event tables: which ranges exist, which to create, and creating them.

Every event table (one per topic family, see :data:`PARTITIONED_TABLES`) is partitioned by
range of ``created_at`` (when the event happened or ended), natively (declarative
partitioning). The layout, in UTC:

* **daily** partitions ``<table>_pYYYYMMDD`` for every day from ``daily_days`` before today
  onwards; the ``ahead_days`` after today are created in advance (by the consumer when it
  starts and at each day boundary, or by ``omniclaude db maintain``), so the write path
  normally finds its partition ready;
* an event older than the daily window (a backfill, a transcript imported late, a clock far
  off) lands in a partition spanning the free part of its **calendar month**
  (``<table>_pYYYYMMDD_YYYYMMDD``), created when the first such event is written. The event
  is stored, counted and logged, never dropped; one partition per month keeps old data from
  multiplying partitions.

There is no DEFAULT partition on purpose: PostgreSQL refuses ``DETACH PARTITION ...
CONCURRENTLY`` on a table that has one, and retention depends on it to drop old days
without blocking writers. Instead every writer makes sure the partitions of the rows it
writes exist first (:class:`PartitionCache`); a partition dropped under a writer's feet is a
retriable error (:func:`is_missing_partition`), and the retry creates it again.

Creating a partition never blocks writers or readers of the table: the new table is created
on its own and then attached (``ATTACH PARTITION`` takes only a SHARE UPDATE EXCLUSIVE lock on
the parent; ``CREATE TABLE .. PARTITION OF`` would take an ACCESS EXCLUSIVE one, and queue
every insert behind any long query). The DDL runs in PostgreSQL functions created by the
migration (``omniclaude_create_partition``, ``omniclaude_partitions``) which quote
identifiers and bounds themselves, so no SQL is formatted here.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from omniclaude.events import TOPICS, utc_now
from omniclaude.retry import is_missing_partition

__all__ = [
    "DAY",
    "PARTITIONED_TABLES",
    "PARTITION_KEY",
    "UNIQUE_KEY",
    "Created",
    "Partition",
    "PartitionCache",
    "PartitionPolicy",
    "day_of",
    "ensure_partitions",
    "finalize_detach",
    "is_missing_partition",  # re-exported from omniclaude.retry, its home
    "list_partitions",
    "maintain_partitions",
    "partition_name",
    "plan_range",
    "quote_ident",
]

log = logging.getLogger(__name__)

PARTITIONED_TABLES: Final[tuple[str, ...]] = tuple(sorted(spec.table for spec in TOPICS))
"""Every event table (one per topic family), in a fixed order (locks are taken in it)."""

PARTITION_KEY: Final = "created_at"
"""The column every event table is partitioned by (when the event happened or ended)."""

UNIQUE_KEY: Final[tuple[str, ...]] = ("correlation_id", "created_at", "event_id")
"""The primary key of every event table: the event id, plus the partition key (PostgreSQL
requires it in every unique key of a partitioned table) and the trace id (a distributed
PostgreSQL such as Citus requires the distribution column in it; see docs/operations.md).
A redelivered event has the same three values, so it lands on the same row."""

DAY: Final = timedelta(days=1)
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def quote_ident(name: str) -> str:
    """Double-quote an identifier of ours (a table we name), refusing anything unusual.

    DDL cannot take bind parameters; the few statements that name a partition (``DETACH``,
    ``DROP``) quote it with this after checking it is a plain lower-case name.

    Raises:
        ValueError: ``name`` is not ``[a-z_][a-z0-9_]*`` of at most 63 characters.
    """
    if not _NAME.match(name):
        raise ValueError(f"refusing to use {name!r} as a table name")
    return f'"{name}"'


def day_of(moment: datetime) -> datetime:
    """Return the UTC midnight starting the day of ``moment`` (an aware datetime)."""
    utc = moment.astimezone(UTC)
    return datetime(utc.year, utc.month, utc.day, tzinfo=UTC)


def _month_of(day: datetime) -> tuple[datetime, datetime]:
    start = day.replace(day=1)
    end = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
    return start, end


@dataclass(frozen=True, slots=True)
class PartitionPolicy:
    """How partitions are laid out (see the module docstring).

    Attributes:
        ahead_days: days after today whose partitions are created in advance.
        daily_days: days before today that get a partition each; older days share one
            partition per calendar month.
    """

    ahead_days: int = 7
    daily_days: int = 35

    def daily_from(self, now: datetime) -> datetime:
        """The first day that gets a daily partition."""
        return day_of(now) - self.daily_days * DAY


@dataclass(frozen=True, slots=True)
class Partition:
    """One partition: its name and range ``[start, end)`` (None: unbounded)."""

    name: str
    start: datetime | None
    end: datetime | None
    detach_pending: bool = False
    """An interrupted ``DETACH .. CONCURRENTLY`` left it half-detached (to be finalized)."""
    is_default: bool = False

    def contains(self, moment: datetime) -> bool:
        """Whether a row at ``moment`` belongs here."""
        if self.is_default or self.detach_pending:
            return False
        return (self.start is None or self.start <= moment) and (
            self.end is None or moment < self.end
        )


def plan_range(
    day: datetime, existing: Sequence[Partition], *, daily_from: datetime
) -> tuple[datetime, datetime]:
    """Return the range of the partition to create for ``day``, which none covers.

    A day of the daily window gets itself; an older day gets its calendar month, ending at
    the window at the latest. Either is cut short by the neighbouring partitions, so ranges
    never overlap (whoever created the neighbours, and with whatever policy).
    """
    if day >= daily_from:
        start, end = day, day + DAY
    else:
        start, end = _month_of(day)
        end = min(end, daily_from)
    for other in existing:
        if other.is_default:
            continue
        if other.end is not None and other.end <= day and other.end > start:
            start = other.end
        if other.start is not None and other.start > day and other.start < end:
            end = other.start
        if other.start is None and other.end is not None and other.end <= day:
            start = max(start, other.end)
        if other.end is None and other.start is not None and other.start > day:
            end = min(end, other.start)
    return start, end


def partition_name(table: str, start: datetime, end: datetime) -> str:
    """``<table>_pYYYYMMDD`` for one whole day, ``<table>_pYYYYMMDD_YYYYMMDD`` otherwise."""

    def stamp(moment: datetime) -> str:
        if moment == day_of(moment):
            return f"{moment:%Y%m%d}"
        return f"{moment:%Y%m%dt%H%M%S}"

    if end - start == DAY and start == day_of(start):
        return f"{table}_p{stamp(start)}"
    return f"{table}_p{stamp(start)}_{stamp(end)}"


_LIST_SQL = """
SELECT partition_name, range_start, range_end, detach_pending, is_default
  FROM omniclaude_partitions($1::regclass)
"""
_CREATE_SQL = "SELECT omniclaude_create_partition($1::regclass, $2, $3, $4)"
_LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtextextended('omniclaude.partitions.' || $1, 0))"


async def list_partitions(conn: Any, table: str) -> list[Partition]:
    """Return the partitions of ``table``, oldest first."""
    rows = await conn.fetch(_LIST_SQL, table)
    return [
        Partition(
            r["partition_name"], r["range_start"], r["range_end"], r["detach_pending"],
            r["is_default"],
        )
        for r in rows
    ]  # fmt: skip


@dataclass(frozen=True, slots=True)
class Created:
    """A partition this process created."""

    table: str
    name: str
    start: datetime
    end: datetime
    daily: bool
    """False: a month (or less) for events older than the daily window."""


async def ensure_partitions(
    conn: Any,
    table: str,
    moments: Iterable[datetime],
    *,
    policy: PartitionPolicy = PartitionPolicy(),
    now: datetime | None = None,
) -> tuple[list[Partition], list[Created]]:
    """Make sure a partition of ``table`` takes a row at each of ``moments``.

    Runs in one transaction (the caller's, as a savepoint, or its own) holding an advisory
    lock per table, so concurrent writers never create the same range twice.

    Returns:
        The partitions of the table afterwards, and those this call created.
    """
    days = sorted({day_of(m) for m in moments})
    created: list[Created] = []
    async with conn.transaction():
        await conn.execute(_LOCK_SQL, table)
        existing = await list_partitions(conn, table)
        daily_from = policy.daily_from(now or utc_now())
        for day in days:
            if any(p.contains(day) for p in existing):
                continue
            start, end = plan_range(day, existing, daily_from=daily_from)
            name = await conn.fetchval(
                _CREATE_SQL, table, partition_name(table, start, end), start, end
            )
            part = Partition(name, start, end)
            existing.append(part)
            created.append(Created(table, name, start, end, daily=end - start == DAY))
            log.info(
                "partition %s created for %s [%s, %s)%s", name, table, start.date(), end.date(),
                "" if end - start == DAY else " (events older than the daily window)",
            )  # fmt: skip
    existing.sort(key=lambda p: (p.start is not None, p.start or datetime.min.replace(tzinfo=UTC)))
    return existing, created


async def maintain_partitions(
    conn: Any,
    *,
    policy: PartitionPolicy = PartitionPolicy(),
    now: datetime | None = None,
    tables: Sequence[str] = PARTITIONED_TABLES,
) -> list[Created]:
    """Create the partitions of today and of the ``ahead_days`` after it, for every table.

    Also finalizes any detach an interrupted retention run left pending. Idempotent and cheap
    when nothing is missing (one catalogue query per table).

    Returns:
        The partitions created.
    """
    now = now or utc_now()
    today = day_of(now)
    moments = [today + i * DAY for i in range(policy.ahead_days + 1)]
    created: list[Created] = []
    for table in tables:
        for part in await list_partitions(conn, table):
            if part.detach_pending:
                await finalize_detach(conn, table, part.name)
        _, made = await ensure_partitions(conn, table, moments, policy=policy, now=now)
        created.extend(made)
    return created


async def finalize_detach(conn: Any, table: str, name: str) -> None:
    """Complete a ``DETACH .. CONCURRENTLY`` that was interrupted (it cannot be resumed)."""
    await conn.execute(
        f"ALTER TABLE {quote_ident(table)} DETACH PARTITION {quote_ident(name)} FINALIZE"
    )
    log.info("finalized the interrupted detach of %s from %s", name, table)


OnCreated = Callable[[Created], None]
OnBackdated = Callable[[str, int], None]


@dataclass
class PartitionCache:
    """What one writer knows of the partitions, so the write path asks the catalogue only
    when a row falls outside every partition it has seen.

    Args:
        policy: the layout of partitions it creates.
        on_created: called for each partition it creates.
        on_backdated: called with (table, rows) for rows older than the daily window.
    """

    policy: PartitionPolicy = field(default_factory=PartitionPolicy)
    on_created: OnCreated | None = None
    on_backdated: OnBackdated | None = None
    _known: dict[str, list[Partition]] = field(default_factory=dict)

    def clear(self) -> None:
        """Forget every partition (after a write failed: one may have been dropped)."""
        self._known.clear()

    def _covered(self, table: str, moment: datetime) -> bool:
        return any(p.contains(moment) for p in self._known.get(table, ()))

    async def ensure(self, conn: Any, table: str, moments: Sequence[datetime]) -> None:
        """Make sure ``table`` has a partition for each of ``moments`` (rows' ``created_at``).

        Cheap when every moment falls in a known partition: no query at all.
        """
        if not moments:
            return
        now = utc_now()
        daily_from = self.policy.daily_from(now)
        lo, hi = min(moments), max(moments)
        if lo < daily_from and self.on_backdated is not None:
            self.on_backdated(table, sum(1 for m in moments if m < daily_from))
        known = self._known.get(table)
        if known is not None and self._spans(known, lo, hi):
            return
        missing = [m for m in moments if not self._covered(table, m)] if known else moments
        parts, created = await ensure_partitions(conn, table, missing, policy=self.policy, now=now)
        self._known[table] = parts
        if self.on_created is not None:
            for item in created:
                self.on_created(item)

    @staticmethod
    def _spans(parts: Sequence[Partition], lo: datetime, hi: datetime) -> bool:
        """Whether contiguous known partitions cover all of ``[lo, hi]``."""
        moment = lo
        for part in parts:
            if part.contains(moment):
                if part.end is None or hi < part.end:
                    return True
                moment = part.end
        return False
