"""Pydantic → PostgreSQL, one event type at a time: every column reads back as written.

Each case writes one event through the real driver and compares every column the writer
fills with the value it was given, so a column the DDL lacks, a type the driver cannot
serialise or a value the database silently changes fails with the column's name.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from omniclaude.events import EventBase
from omniclaude.storage.writers import WRITERS, group_by_table, write_events
from tests.unit.storage.samples import sample_events

SAMPLES = {event.event_type: event for event in sample_events(uuid.uuid4())}


def _same(written: Any, read: Any) -> bool:
    if isinstance(written, Decimal) or isinstance(read, Decimal):
        return Decimal(str(written)) == Decimal(str(read))
    if isinstance(written, float) and isinstance(read, float):
        return abs(written - read) < 1e-9
    return bool(written == read)


@pytest.mark.parametrize("event_type", sorted(SAMPLES))
async def test_every_column_reads_back_as_written(
    postgres_connection: asyncpg.Connection, event_type: str
) -> None:
    """The row holds exactly the values the writer sent, column by column."""
    event: EventBase = SAMPLES[event_type]
    table = next(iter(group_by_table([event])))
    writer = WRITERS[table]
    await write_events(postgres_connection, [event])
    row = await postgres_connection.fetchrow(
        f"SELECT {', '.join(writer.columns)} FROM {table} WHERE event_id = $1",
        event.event_id,
    )
    assert row is not None, f"{event_type} {event.event_id} was not stored in {table}"
    written = dict(zip(writer.columns, writer.row(event), strict=True))
    changed = {c: (written[c], row[c]) for c in writer.columns if not _same(written[c], row[c])}
    assert not changed, f"{table} changed these {event_type} columns (sent, stored): {changed}"


@pytest.mark.parametrize("event_type", sorted(SAMPLES))
async def test_redelivery_of_each_event_type_adds_no_row(
    postgres_connection: asyncpg.Connection, event_type: str
) -> None:
    """Writing the same event three times (redeliveries) leaves one row."""
    event = SAMPLES[event_type]
    table = next(iter(group_by_table([event])))
    for _ in range(3):
        await write_events(postgres_connection, [event])
    count = await postgres_connection.fetchval(
        f"SELECT count(*) FROM {table} WHERE event_id = $1", event.event_id
    )
    assert count == 1, f"{event_type} {event.event_id}: {count} rows after 3 deliveries"
