"""What is stored of an execution's events: how "finished means readable" is checked.

The runner reports an execution ended only once every event it emitted is stored; these
count the rows of one correlation id over every event table of the catalogue.
"""

from __future__ import annotations

import uuid

from omniclaude.events.catalog import TOPICS
from omniclaude.storage.queries._base import Reader

__all__ = ["final_event_count", "stored_events"]

_EVENT_TABLES = tuple(spec.table for spec in TOPICS)
_STORED_BY_ID = " UNION ALL ".join(
    f"SELECT '{table}' AS tbl, count(*) AS n FROM {table} "  # noqa: S608 - catalogue constants
    "WHERE correlation_id = $1 AND event_id = ANY($2::uuid[])"
    for table in _EVENT_TABLES
)
_STORED_ALL = " UNION ALL ".join(
    f"SELECT '{table}' AS tbl, count(*) AS n FROM {table} "  # noqa: S608 - catalogue constants
    "WHERE correlation_id = $1"
    for table in _EVENT_TABLES
)
_FINAL_EVENT_COUNT = (
    "SELECT (payload->>'event_count')::bigint FROM agent_execution_events "
    "WHERE correlation_id = $1 AND event_type IN ('execution_completed', 'execution_failed') "
    "ORDER BY created_at DESC LIMIT 1"
)


async def stored_events(
    db: Reader, correlation_id: uuid.UUID, event_ids: list[uuid.UUID] | None = None
) -> dict[str, int]:
    """Return ``{table: rows}`` stored for one correlation id, over every event table.

    Args:
        db: a connection or pool.
        correlation_id: the execution.
        event_ids: count only these events (None: every row of the correlation id).
    """
    if event_ids is None:
        rows = await db.fetch(_STORED_ALL, correlation_id)
    else:
        rows = await db.fetch(_STORED_BY_ID, correlation_id, event_ids)
    return {r["tbl"]: int(r["n"]) for r in rows if r["n"]}


async def final_event_count(db: Reader, correlation_id: uuid.UUID) -> int | None:
    """Return the ``event_count`` the execution's final lifecycle event carries, if any."""
    value = await db.fetchval(_FINAL_EVENT_COUNT, correlation_id)
    return None if value is None else int(value)
