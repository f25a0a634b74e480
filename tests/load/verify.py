"""Checks by event id: what was accepted is stored, exactly once (load and chaos tests).

Tables come from the catalogue (``omniclaude.events.CATALOG``), never from a hand-kept list.
Failure messages name a few of the ids lost or duplicated, and their types.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from omniclaude.events import CATALOG
from tests.fixtures.waiting import wait_for

__all__ = [
    "EVENT_TABLES",
    "TABLE_OF",
    "assert_exactly_once",
    "duplicates",
    "missing",
    "sample",
    "stored_counts",
    "unexpected",
    "wait_until_stored",
]

TABLE_OF: dict[str, str] = {kind.event_type: kind.topic.table for kind in CATALOG}
"""Event type → the table its rows go to."""
EVENT_TABLES: tuple[str, ...] = tuple(dict.fromkeys(TABLE_OF.values()))


def sample(ids: Iterable[Any], limit: int = 5) -> str:
    """A few ids (sorted, as text) for a failure message."""
    items = sorted(str(i) for i in ids)
    more = f" (+{len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


async def missing(db: Any, expected: Mapping[uuid.UUID, str]) -> dict[uuid.UUID, str]:
    """The expected events (id → type) that are not in their table."""
    by_table: dict[str, list[uuid.UUID]] = {}
    for event_id, event_type in expected.items():
        by_table.setdefault(TABLE_OF[event_type], []).append(event_id)
    absent: dict[uuid.UUID, str] = {}
    for table, ids in by_table.items():
        rows = await db.fetch(
            f"SELECT event_id FROM {table} WHERE event_id = ANY($1::uuid[])",
            ids,
        )
        found = {row["event_id"] for row in rows}
        absent.update({i: expected[i] for i in ids if i not in found})
    return absent


async def stored_counts(db: Any, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, int]:
    """How many rows each of ``ids`` has, over every event table together."""
    wanted = list(ids)
    counts = dict.fromkeys(wanted, 0)
    for table in EVENT_TABLES:
        rows = await db.fetch(
            f"SELECT event_id, count(*) AS n FROM {table}"
            " WHERE event_id = ANY($1::uuid[]) GROUP BY event_id",
            wanted,
        )
        for row in rows:
            counts[row["event_id"]] += int(row["n"])
    return counts


async def duplicates(db: Any, ids: Iterable[uuid.UUID] | None = None) -> dict[uuid.UUID, int]:
    """Event ids stored more than once (in one table or across tables); ``ids`` limits it."""
    if ids is not None:
        return {i: n for i, n in (await stored_counts(db, ids)).items() if n > 1}
    union = " UNION ALL ".join(f"SELECT event_id FROM {t}" for t in EVENT_TABLES)
    rows = await db.fetch(
        f"SELECT event_id, count(*) AS n FROM ({union}) s GROUP BY event_id HAVING count(*) > 1"
    )
    return {row["event_id"]: int(row["n"]) for row in rows}


async def wait_until_stored(
    db: Any, expected: Mapping[uuid.UUID, str], *, what: str, timeout_s: float = 120
) -> float:
    """Wait until every expected event is stored; return the seconds it took.

    Raises:
        AssertionError: some are still missing at the deadline; names how many and which.
    """
    started = time.monotonic()
    last: dict[uuid.UUID, str] = dict(expected)

    async def all_there() -> bool:
        nonlocal last
        last = await missing(db, last)
        return not last

    try:
        await wait_for(all_there, what=what, timeout_s=timeout_s, interval_s=0.25)
    except AssertionError:
        kinds = sorted(set(last.values()))
        raise AssertionError(
            f"{len(last)} of {len(expected)} accepted events never reached the database"
            f" ({what}); types {kinds}; e.g. {sample(last)}"
        ) from None
    return time.monotonic() - started


async def unexpected(db: Any, accepted: Iterable[uuid.UUID]) -> list[uuid.UUID]:
    """Rows in the event tables that nobody sent (the database is the test's own)."""
    known = set(accepted)
    union = " UNION ALL ".join(f"SELECT event_id FROM {t}" for t in EVENT_TABLES)
    rows = await db.fetch(f"SELECT event_id FROM ({union}) s")
    return [row["event_id"] for row in rows if row["event_id"] not in known]


async def assert_exactly_once(
    db: Any, accepted: Mapping[uuid.UUID, str], *, what: str, timeout_s: float = 120
) -> float:
    """Every accepted event stored once, nothing else stored; return the wait in seconds.

    Raises:
        AssertionError: naming how many events were lost, duplicated or unexpected, and which.
    """
    waited = await wait_until_stored(db, accepted, what=what, timeout_s=timeout_s)
    doubled = await duplicates(db, accepted)
    assert not doubled, f"{len(doubled)} events stored more than once ({what}): {sample(doubled)}"
    extra = await unexpected(db, accepted)
    assert not extra, f"{len(extra)} rows nobody sent ({what}): {sample(extra)}"
    return waited
