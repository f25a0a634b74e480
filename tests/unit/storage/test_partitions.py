"""Partition layout: daily inside the window, a month for older days, never an overlap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omniclaude.consuming.maintenance import seconds_until_next_run
from omniclaude.retry import is_data_error, is_missing_partition, is_retriable
from omniclaude.storage.partitions import (
    DAY,
    PARTITIONED_TABLES,
    Partition,
    PartitionCache,
    PartitionPolicy,
    day_of,
    partition_name,
    plan_range,
    quote_ident,
)

NOW = datetime(2026, 12, 10, 15, 30, tzinfo=UTC)
DAILY_FROM = PartitionPolicy(daily_days=35).daily_from(NOW)


def _day(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, tzinfo=UTC)


def test_every_event_table_is_partitioned_in_a_fixed_order() -> None:
    """The catalogue's tables, sorted (locks are taken in this order)."""
    assert list(PARTITIONED_TABLES) == sorted(PARTITIONED_TABLES)
    assert "agent_actions" in PARTITIONED_TABLES
    assert "agent_llm_calls" in PARTITIONED_TABLES
    assert "agent_execution_logs" not in PARTITIONED_TABLES


def test_day_of_is_the_utc_midnight() -> None:
    """An instant in another zone belongs to the UTC day it falls in."""
    tokyo = datetime(2026, 12, 11, 8, 0, tzinfo=timezone(timedelta(hours=9)))
    assert day_of(tokyo) == _day(2026, 12, 10)
    assert day_of(_day(2026, 12, 11)) == _day(2026, 12, 11)


def test_a_day_of_the_window_gets_itself() -> None:
    """Inside the daily window (and in the future) a partition spans one day."""
    assert plan_range(_day(2026, 12, 9), [], daily_from=DAILY_FROM) == (
        _day(2026, 12, 9),
        _day(2026, 12, 10),
    )
    assert plan_range(_day(2030, 1, 1), [], daily_from=DAILY_FROM) == (
        _day(2030, 1, 1),
        _day(2030, 1, 2),
    )


def test_an_old_day_gets_its_month_cut_at_the_window_and_the_neighbours() -> None:
    """Older days share their calendar month, never reaching into the window or a neighbour."""
    assert plan_range(_day(2026, 3, 14), [], daily_from=DAILY_FROM) == (
        _day(2026, 3, 1),
        _day(2026, 4, 1),
    )
    assert _day(2026, 11, 5) == DAILY_FROM
    assert plan_range(_day(2026, 11, 2), [], daily_from=DAILY_FROM) == (
        _day(2026, 11, 1),
        DAILY_FROM,
    )
    neighbours = [
        Partition("a", _day(2026, 3, 1), _day(2026, 3, 10)),
        Partition("b", _day(2026, 3, 20), _day(2026, 3, 21)),
    ]
    assert plan_range(_day(2026, 3, 14), neighbours, daily_from=DAILY_FROM) == (
        _day(2026, 3, 10),
        _day(2026, 3, 20),
    )
    assert plan_range(_day(2025, 12, 31), [], daily_from=DAILY_FROM) == (
        _day(2025, 12, 1),
        _day(2026, 1, 1),
    )


def test_unbounded_neighbours_cut_the_range_too() -> None:
    """A MINVALUE or MAXVALUE partition an operator made is respected."""
    parts = [
        Partition("low", None, _day(2026, 3, 5)),
        Partition("high", _day(2026, 3, 25), None),
    ]
    assert plan_range(_day(2026, 3, 14), parts, daily_from=DAILY_FROM) == (
        _day(2026, 3, 5),
        _day(2026, 3, 25),
    )


@given(
    st.lists(st.integers(min_value=-800, max_value=30), min_size=1, max_size=40),
    st.integers(min_value=0, max_value=60),
)
def test_planned_ranges_cover_their_day_and_never_overlap(offsets: list[int], daily: int) -> None:
    """Whatever order days arrive in, each gets a range containing it, disjoint from all."""
    daily_from = day_of(NOW) - daily * DAY
    parts: list[Partition] = []
    for offset in offsets:
        day = day_of(NOW) + offset * DAY
        if any(p.contains(day) for p in parts):
            continue
        start, end = plan_range(day, parts, daily_from=daily_from)
        assert start <= day < end, f"{day} not in its range [{start}, {end})"
        for other in parts:
            assert other.start is not None
            assert other.end is not None
            assert end <= other.start or start >= other.end, f"[{start}, {end}) overlaps {other}"
        if day >= daily_from:
            assert end - start == DAY
        parts.append(Partition("p", start, end))


def test_names_tell_a_day_from_a_longer_range() -> None:
    """``<table>_pYYYYMMDD`` for a day, both ends otherwise; always a plain identifier."""
    assert partition_name("agent_actions", _day(2026, 12, 1), _day(2026, 12, 2)) == (
        "agent_actions_p20261201"
    )
    name = partition_name("agent_transformation_events", _day(2026, 3, 1), _day(2026, 4, 1))
    assert name == "agent_transformation_events_p20260301_20260401"
    assert quote_ident(name) == f'"{name}"'
    odd = partition_name("t", _day(2026, 3, 1) + timedelta(hours=6), _day(2026, 3, 2))
    assert odd == "t_p20260301t060000_20260302"


@pytest.mark.parametrize("name", ["Agent", "a b", 'a"; drop', "", "x" * 64, "1abc"])
def test_quote_ident_refuses_anything_but_our_names(name: str) -> None:
    """DDL never quotes a name it did not make."""
    with pytest.raises(ValueError, match="refusing"):
        quote_ident(name)


class _MissingError(Exception):
    sqlstate = "23514"


def test_a_missing_partition_is_the_databases_state_not_the_rows_fault() -> None:
    """Retriable and not poison; any other check violation stays the row's fault."""
    missing = _MissingError('no partition of relation "agent_actions" found for row')
    assert is_missing_partition(missing)
    assert is_retriable(missing)
    assert not is_data_error(missing)
    other = _MissingError('new row for relation "agent_actions" violates check constraint')
    assert not is_missing_partition(other)
    assert is_data_error(other)
    assert not is_retriable(other)


class _CatalogConn:
    """Answers the partition list and lock; records created partitions."""

    def __init__(self, parts: list[Partition]) -> None:
        self.parts = parts
        self.reads = 0
        self.created: list[tuple[datetime, datetime]] = []

    def transaction(self) -> Any:
        class _Tx:
            async def __aenter__(self) -> None:
                return None

            async def __aexit__(self, *exc: object) -> None:
                return None

        return _Tx()

    async def execute(self, sql: str, *args: Any) -> str:
        return "SELECT 1"

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        self.reads += 1
        return [
            {"partition_name": p.name, "range_start": p.start, "range_end": p.end,
             "detach_pending": False, "is_default": False}
            for p in self.parts
        ]  # fmt: skip

    async def fetchval(self, sql: str, parent: str, name: str, start: Any, end: Any) -> str:
        self.created.append((start, end))
        self.parts.append(Partition(name, start, end))
        return name


async def test_the_cache_asks_the_catalogue_only_for_rows_outside_known_partitions() -> None:
    """Known days cost no query; a new day is created once; old rows are counted."""
    now = datetime.now(UTC)
    today = day_of(now)
    conn = _CatalogConn([Partition("p0", today, today + DAY)])
    backdated: list[tuple[str, int]] = []
    cache = PartitionCache(on_backdated=lambda table, n: backdated.append((table, n)))
    await cache.ensure(conn, "agent_actions", [now, now])
    assert (conn.reads, conn.created) == (1, [])
    await cache.ensure(conn, "agent_actions", [today + timedelta(hours=1)])
    assert conn.reads == 1, "a known partition was looked up again"
    old = today - 400 * DAY
    await cache.ensure(conn, "agent_actions", [old, now])
    assert conn.reads == 2
    assert len(conn.created) == 1
    start, end = conn.created[0]
    assert start == old.replace(day=1)
    assert end > old
    assert backdated == [("agent_actions", 1)]
    cache.clear()
    await cache.ensure(conn, "agent_actions", [now])
    assert conn.reads == 3, "a cleared cache must ask again"


def test_the_daily_run_starts_just_after_the_utc_midnight() -> None:
    """One minute past the next day boundary, plus the jitter."""
    assert seconds_until_next_run(NOW) == pytest.approx((8 * 3600 + 30 * 60) + 60)
    assert seconds_until_next_run(NOW, jitter_s=30) == pytest.approx(8 * 3600 + 30 * 60 + 90)
