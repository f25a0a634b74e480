"""Trace roots: which traces a window holds, and which trace an execution belongs to.

What an export walks (``omniclaude export-otlp``, the consumer's continuous export): the
root executions whose first event is in a window, one keyset page at a time, then the
correlation ids of rows recorded without any execution (an SDK user logging actions only),
also a page at a time, so a window of any size is read in bounded memory. Each root is
then read whole with :func:`~omniclaude.storage.queries.traces.fetch_trace_tree`.

A *root* is an execution without a parent, or whose parent is not recorded (its tree
starts there). Every statement is a constant; every value is a parameter.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from omniclaude.storage.queries._base import Reader
from omniclaude.storage.queries.traces import MAX_TRACE_DEPTH

__all__ = ["UNATTACHED_TABLES", "find_trace_root", "list_trace_roots", "list_unattached"]

UNATTACHED_TABLES = (
    "agent_actions",
    "agent_llm_calls",
    "agent_routing_decisions",
    "agent_manifest_injections",
    "agent_transformation_events",
)
"""The tables whose rows may name a correlation id no execution has."""

_ROOTS = (
    "SELECT l.correlation_id, l.created_at FROM agent_execution_logs l "
    "WHERE l.created_at >= $1 AND l.created_at < $2 "
    "AND (l.created_at, l.correlation_id) > ($3, $4) "
    "AND (l.parent_correlation_id IS NULL OR NOT EXISTS ("
    " SELECT 1 FROM agent_execution_logs p WHERE p.correlation_id = l.parent_correlation_id)) "
    "ORDER BY l.created_at, l.correlation_id LIMIT $5"
)
_UNATTACHED = (
    "SELECT DISTINCT correlation_id FROM ("  # noqa: S608 - table names are constants
    + " UNION ALL ".join(
        f"(SELECT DISTINCT t.correlation_id FROM {table} t "  # noqa: S608
        "WHERE t.created_at >= $1 AND t.created_at < $2 AND t.correlation_id > $3 "
        "AND NOT EXISTS (SELECT 1 FROM agent_execution_logs l "
        "WHERE l.correlation_id = t.correlation_id) "
        "ORDER BY t.correlation_id LIMIT $4)"
        for table in UNATTACHED_TABLES
    )
    + ") AS u ORDER BY correlation_id LIMIT $4"
)
_ROOT_OF = (
    "WITH RECURSIVE up(correlation_id, parent, depth) AS ("
    " SELECT correlation_id, parent_correlation_id, 0 FROM agent_execution_logs"
    "  WHERE correlation_id = $1"
    " UNION ALL"
    " SELECT l.correlation_id, l.parent_correlation_id, u.depth + 1"
    "   FROM agent_execution_logs l JOIN up u ON l.correlation_id = u.parent"
    "  WHERE u.depth < $2) "
    "SELECT correlation_id FROM up ORDER BY depth DESC LIMIT 1"
)
_EPOCH_ID = uuid.UUID(int=0)


async def list_trace_roots(
    db: Reader,
    since: datetime,
    until: datetime,
    *,
    after: tuple[datetime, uuid.UUID] | None = None,
    limit: int = 200,
) -> list[tuple[datetime, uuid.UUID]]:
    """The root executions first seen in ``since <= created_at < until``, oldest first.

    Args:
        db: a connection or pool.
        since: start of the window (inclusive).
        until: end of the window (exclusive).
        after: the last ``(created_at, correlation_id)`` of the previous page.
        limit: rows per page.

    Returns:
        ``(created_at, correlation_id)`` per root; fewer than ``limit`` at the end.
    """
    start, start_id = after or (since, _EPOCH_ID)
    rows = await db.fetch(_ROOTS, since, until, start, start_id, max(1, limit))
    return [(r["created_at"], r["correlation_id"]) for r in rows]


async def list_unattached(
    db: Reader,
    since: datetime,
    until: datetime,
    *,
    after: uuid.UUID | None = None,
    limit: int = 200,
) -> list[uuid.UUID]:
    """Correlation ids of rows stored in the window whose execution is not recorded,
    in id order (keyset: pass the last one as ``after``)."""
    rows = await db.fetch(_UNATTACHED, since, until, after or _EPOCH_ID, max(1, limit))
    return [r["correlation_id"] for r in rows]


async def find_trace_root(db: Reader, correlation_id: uuid.UUID) -> uuid.UUID:
    """The root of the tree an execution belongs to (itself when it has no recorded parent;
    at most :data:`MAX_TRACE_DEPTH` levels up, as deep as a trace is read)."""
    root = await db.fetchval(_ROOT_OF, correlation_id, MAX_TRACE_DEPTH)
    return correlation_id if root is None else root
