"""Bulk export: every stored row of a table in a window, streamed in bounded chunks.

What is exported (:data:`EXPORT_TABLES`): the event tables with exactly the columns their
writer stores (:data:`omniclaude.storage.writers.WRITERS`, so an export re-imports through the
same writer) plus the LLM calls' computed ``total_tokens``, and the execution summaries
(``agent_execution_logs``) without their rollup bookkeeping. Nothing else: no API key, no
viewer session, no ``ingested_at`` (when this database received a row is not part of the
event; a re-import could not keep it). Rows are redacted at rest already.

The window is the read layer's (``since <= created_at < until``, :func:`resolve_window`).
Rows come oldest first, ordered by ``(created_at, correlation_id, event_id)`` (summaries:
``(created_at, correlation_id)``), through a server-side cursor per partition the window
touches (each one transaction, read only, under a statement timeout): memory holds one
chunk, never the result, and PostgreSQL sorts one day at a time.

Two shapes of row (:class:`Shape`): ``json`` (one JSON text per row, built by PostgreSQL:
exact numerics, UTC ISO times, JSON columns nested), and ``values`` (the typed columns, JSON
columns as JSON text, arrays as Python lists) for CSV and Parquet.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from omniclaude.storage.partitions import PARTITIONED_TABLES, list_partitions
from omniclaude.storage.queries.filters import InvalidFilterError
from omniclaude.storage.writers import WRITERS

__all__ = [
    "EXPORT_TABLES",
    "SUMMARY_TABLE",
    "Column",
    "ExportTable",
    "Shape",
    "count_rows",
    "export_columns",
    "export_order",
    "export_slices",
    "stream_rows",
]

SUMMARY_TABLE: Final = "agent_execution_logs"
"""The one-row-per-execution table (maintained from ``agent_execution_events``)."""

_SUMMARY_COLUMNS: Final = (
    "execution_id", "correlation_id", "parent_correlation_id", "session_id", "prompt_id",
    "claude_agent_id", "agent_name", "user_prompt", "status", "progress_stage",
    "progress_percent", "progress_at", "quality_score", "result", "error_message",
    "error_type", "duration_ms", "project_path", "project_name", "metadata", "created_at",
    "started_at", "completed_at", "last_event_at",
)  # fmt: skip
_COMPUTED: Final = {"agent_llm_calls": ("total_tokens",)}


class ExportTable(StrEnum):
    """The tables an export reads (``table=``)."""

    ACTIONS = "agent_actions"
    ROUTING = "agent_routing_decisions"
    MANIFESTS = "agent_manifest_injections"
    LIFECYCLE = "agent_execution_events"
    TRANSFORMATIONS = "agent_transformation_events"
    LLM_CALLS = "agent_llm_calls"
    METRICS = "agent_metric_points"
    EXECUTIONS = SUMMARY_TABLE


_EVENT_TABLES: Final = tuple(t.value for t in ExportTable if t is not ExportTable.EXECUTIONS)

EXPORT_TABLES: Final[dict[str, tuple[str, ...]]] = {
    **{table: WRITERS[table].columns + _COMPUTED.get(table, ()) for table in _EVENT_TABLES},
    SUMMARY_TABLE: _SUMMARY_COLUMNS,
}
"""Every exportable table and its columns, in export order (names are code, never input)."""


class Shape(StrEnum):
    """How :func:`stream_rows` gives rows."""

    JSON = "json"
    """One column, ``line``: the row as a JSON object (text)."""
    VALUES = "values"
    """The columns; ids and JSON columns as text, arrays as lists."""


@dataclass(frozen=True, slots=True)
class Column:
    """One exported column: its name and PostgreSQL type (``format_type``: ``uuid``,
    ``numeric(5,4)``, ``text[]``, ``timestamp with time zone``...)."""

    name: str
    type: str

    @property
    def is_json(self) -> bool:
        """A ``json``/``jsonb`` column (exported as JSON text in CSV and Parquet)."""
        return self.type in {"json", "jsonb"}

    @property
    def as_text(self) -> bool:
        """Read as text in the ``values`` shape: JSON (its JSON text) and ids."""
        return self.is_json or self.type == "uuid"


_TYPES_SQL = """
SELECT attname AS name, format_type(atttypid, atttypmod) AS type
  FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped
"""


def _table(table: str) -> tuple[str, ...]:
    columns = EXPORT_TABLES.get(table)
    if columns is None:
        raise InvalidFilterError("table", f"must be one of {', '.join(EXPORT_TABLES)}")
    return columns


def export_order(table: str) -> tuple[str, ...]:
    """The columns rows are ordered by (the table's key, time first)."""
    _table(table)
    return ("created_at", "correlation_id") if table == SUMMARY_TABLE else (
        "created_at", "correlation_id", "event_id",
    )  # fmt: skip


async def export_columns(conn: Any, table: str) -> list[Column]:
    """The exported columns of ``table`` with their database types, in export order.

    Raises:
        InvalidFilterError: ``table`` is not exportable (names ``table``).
        LookupError: the database lacks a column the export expects (not migrated).
    """
    names = _table(table)
    types = {r["name"]: r["type"] for r in await conn.fetch(_TYPES_SQL, table)}
    missing = [name for name in names if name not in types]
    if missing:
        raise LookupError(f"{table}: no column {', '.join(missing)} (is the database migrated?)")
    return [Column(name, types[name]) for name in names]


def _select(table: str, columns: Sequence[Column], shape: Shape) -> str:
    """The statement of one slice (``$1 <= created_at < $2``), built from constants."""
    if shape is Shape.JSON:
        items = ", ".join(c.name for c in columns)
    else:
        items = ", ".join(f"{c.name}::text AS {c.name}" if c.as_text else c.name for c in columns)
    order = ", ".join(export_order(table))
    query = (
        f"SELECT {items} FROM {table} "  # noqa: S608 - names are this module's constants
        f"WHERE created_at >= $1 AND created_at < $2 ORDER BY {order}"
    )
    if shape is Shape.JSON:
        query = f"SELECT row_to_json(r)::text AS line FROM ({query}) AS r"  # noqa: S608
    return query


async def export_slices(
    conn: Any, table: str, since: datetime, until: datetime
) -> list[tuple[datetime, datetime]]:
    """The parts of ``[since, until)`` to read one after the other, oldest first: one per
    partition the window meets (an event table), else the whole window."""
    _table(table)
    if table not in PARTITIONED_TABLES:
        return [(since, until)]
    out = []
    for part in await list_partitions(conn, table):
        if part.is_default or part.detach_pending:
            continue
        start = since if part.start is None else max(since, part.start)
        end = until if part.end is None else min(until, part.end)
        if start < end:
            out.append((start, end))
    return out


async def count_rows(conn: Any, table: str, since: datetime, until: datetime) -> int:
    """How many rows of ``table`` the window holds (a progress bar's total)."""
    _table(table)
    query = (
        f"SELECT count(*) FROM {table} "  # noqa: S608 - a constant table name
        "WHERE created_at >= $1 AND created_at < $2"
    )
    return int(await conn.fetchval(query, since, until))


async def stream_rows(
    conn: Any,
    table: str,
    since: datetime,
    until: datetime,
    *,
    shape: Shape,
    chunk_rows: int = 1000,
    statement_timeout_ms: int = 60_000,
) -> AsyncGenerator[list[Any], None]:
    """Yield the window's rows of ``table`` in chunks of at most ``chunk_rows`` records.

    Each partition is read by its own server-side cursor in its own read-only transaction
    (times in UTC; every ``FETCH`` under ``statement_timeout_ms``), so nothing holds a
    snapshot for the whole export and retention can detach old days meanwhile.

    Args:
        conn: one ``asyncpg.Connection`` (held until the generator ends or is closed).
        table: one of :data:`EXPORT_TABLES`.
        since: start of the window (inclusive).
        until: end of the window (exclusive).
        shape: the rows' shape (see :class:`Shape`).
        chunk_rows: rows per chunk.
        statement_timeout_ms: the longest one statement (a partition's sort, a fetch) may run.

    Raises:
        InvalidFilterError: ``table`` is not exportable.
    """
    columns = await export_columns(conn, table)
    query = _select(table, columns, shape)
    for start, end in await export_slices(conn, table, since, until):
        async with conn.transaction(readonly=True):
            await conn.execute("SET LOCAL TIME ZONE 'UTC'")
            await conn.execute(
                "SELECT set_config('statement_timeout', $1, true)", str(statement_timeout_ms)
            )
            cursor = await conn.cursor(query, start, end)
            while True:
                chunk = await cursor.fetch(chunk_rows)
                if not chunk:
                    break
                yield chunk
                if len(chunk) < chunk_rows:
                    break
