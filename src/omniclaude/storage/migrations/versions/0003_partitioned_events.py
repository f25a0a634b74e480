"""Every event table partitioned by time (daily), converted in place; trace-local unique keys.

* Each event table becomes a table partitioned by range of ``created_at`` (see
  :mod:`omniclaude.storage.partitions` for the layout), with the primary key
  ``(correlation_id, created_at, event_id)``: the partition key is part of every unique key
  of a partitioned table, and the trace id makes every unique key local to one trace (what a
  distributed PostgreSQL needs to shard by ``correlation_id``). The primary key also serves
  the trace lookups the ``(correlation_id, ...)`` indexes used to.
* Stored rows are copied into the partitioned tables chunk by chunk (``omniclaude db
  upgrade`` shows a progress bar per table), in the migration's one transaction: stop the
  consumer first (it would wait on the tables' locks).
* ``agent_execution_logs`` (one row per execution) stays one table, keyed by
  ``correlation_id`` (it was ``execution_id``, a random id nothing referenced).
* Two functions do partition DDL with identifiers and bounds quoted by PostgreSQL:
  ``omniclaude_partitions(parent)`` lists partitions and their ranges,
  ``omniclaude_create_partition(parent, name, start, end)`` creates one without blocking
  writers (a table of its own, then ``ATTACH PARTITION``).

Revision ID: 0003_partitioned_events
Revises: 0002_timing_llm_calls
Create Date: 2026-12-02
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from omniclaude.events import utc_now
from omniclaude.storage.migrations._history import TRACE_VIEW_0002, TRACE_VIEW_DROP
from omniclaude.storage.migrations._script import execute, fetch, fetchval, run_script
from omniclaude.storage.migrations.progress import task
from omniclaude.storage.partitions import (
    DAY,
    Partition,
    PartitionPolicy,
    day_of,
    partition_name,
    plan_range,
)

revision = "0003_partitioned_events"
down_revision = "0002_timing_llm_calls"
branch_labels = None
depends_on = None

TABLES: Final = (
    "agent_actions",
    "agent_execution_events",
    "agent_llm_calls",
    "agent_manifest_injections",
    "agent_routing_decisions",
    "agent_transformation_events",
)
"""The event tables as of this revision (frozen here: later catalogue changes do not apply)."""

_BRIN = ("created_brin", "USING brin (created_at)")
_SESSION = ("session", "(session_id) WHERE session_id IS NOT NULL")

INDEXES_0002: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "agent_actions": (("correlation_time", "(correlation_id, created_at)"), _BRIN, _SESSION),
    "agent_execution_events": (("correlation_time", "(correlation_id, created_at)"), _BRIN),
    "agent_llm_calls": (
        ("correlation_time", "(correlation_id, started_at)"),
        _BRIN,
        _SESSION,
        ("request", "(request_id) WHERE request_id IS NOT NULL"),
        ("model_created", "(model, created_at DESC)"),
    ),
    "agent_manifest_injections": (("correlation", "(correlation_id)"), _BRIN),
    "agent_routing_decisions": (
        ("correlation", "(correlation_id)"),
        _BRIN,
        ("agent_created", "(selected_agent, created_at DESC)"),
    ),
    "agent_transformation_events": (("correlation", "(correlation_id)"), _BRIN),
}
"""Secondary indexes of revision 0002, ``<table>_<suffix>`` (restored by the downgrade)."""

INDEXES_0003: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "agent_actions": (_BRIN, _SESSION),
    "agent_execution_events": (_BRIN,),
    "agent_llm_calls": (
        _BRIN,
        # The same response told by another source may carry another time: the writer
        # finds the stored row by its id (see omniclaude.storage.writers).
        ("event", "(event_id)"),
        _SESSION,
        ("request", "(request_id) WHERE request_id IS NOT NULL"),
        ("model_created", "(model, created_at DESC)"),
    ),
    "agent_manifest_injections": (_BRIN,),
    "agent_routing_decisions": (_BRIN, ("agent_created", "(selected_agent, created_at DESC)")),
    "agent_transformation_events": (_BRIN,),
}
"""Secondary indexes of the partitioned tables (the primary key serves trace lookups)."""


def _create_indexes(table: str, indexes: tuple[tuple[str, str], ...]) -> None:
    for suffix, definition in indexes:
        run_script(f"CREATE INDEX {table}_{suffix} ON {table} {definition}")


FUNCTIONS = r"""
-- The partitions of a partitioned table and their ranges (NULL: MINVALUE / MAXVALUE).
-- Bounds are printed and read back in UTC and ISO style, whatever the session's settings
-- (another style could print a zone abbreviation that reads back as another zone).
CREATE FUNCTION omniclaude_partitions(parent regclass)
RETURNS TABLE (partition_name text, range_start timestamptz, range_end timestamptz,
               detach_pending boolean, is_default boolean)
LANGUAGE sql STABLE SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' AS $$
    SELECT c.relname::text,
           CASE WHEN b.lo IS NULL OR b.lo = 'MINVALUE' THEN NULL
                ELSE trim(both '''' from b.lo)::timestamptz END,
           CASE WHEN b.hi IS NULL OR b.hi = 'MAXVALUE' THEN NULL
                ELSE trim(both '''' from b.hi)::timestamptz END,
           i.inhdetachpending,
           b.expr = 'DEFAULT'
      FROM pg_inherits i
      JOIN pg_class c ON c.oid = i.inhrelid
     CROSS JOIN LATERAL (
           SELECT pg_get_expr(c.relpartbound, c.oid) AS expr,
                  substring(pg_get_expr(c.relpartbound, c.oid)
                            FROM $re$FROM \(('[^']*'|MINVALUE)\)$re$) AS lo,
                  substring(pg_get_expr(c.relpartbound, c.oid)
                            FROM $re$TO \(('[^']*'|MAXVALUE)\)$re$) AS hi) b
     WHERE i.inhparent = parent
     ORDER BY 2 NULLS FIRST
$$;

-- Create a partition without blocking the table's writers and readers: a table of its own
-- (same columns, defaults, checks, generated columns), then ATTACH, which locks the parent
-- only in SHARE UPDATE EXCLUSIVE mode; its indexes and row triggers come with the attach.
-- A name already taken (a table left by an interrupted retention run) gets a suffix.
CREATE FUNCTION omniclaude_create_partition(parent regclass, partition_name text,
                                            range_start timestamptz, range_end timestamptz)
RETURNS text LANGUAGE plpgsql SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' AS $$
DECLARE
    ns text := (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE c.oid = parent);
    candidate text := partition_name;
    attempt integer := 0;
BEGIN
    WHILE to_regclass(format('%I.%I', ns, candidate)) IS NOT NULL LOOP
        attempt := attempt + 1;
        candidate := partition_name || '_' || attempt;
    END LOOP;
    EXECUTE format('CREATE TABLE %I.%I (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS '
                   'INCLUDING GENERATED INCLUDING STORAGE)', ns, candidate, parent);
    EXECUTE format('ALTER TABLE %s ATTACH PARTITION %I.%I FOR VALUES FROM (%L) TO (%L)',
                   parent, ns, candidate, range_start, range_end);
    RETURN candidate;
END
$$;
"""

EXECUTION_TRIGGER = """
CREATE TRIGGER agent_execution_events_apply
    AFTER INSERT ON agent_execution_events
    FOR EACH ROW EXECUTE FUNCTION omniclaude_apply_execution_event();
"""

SUMMARY_KEY_UP = """
ALTER TABLE agent_execution_logs DROP CONSTRAINT agent_execution_logs_pkey;
ALTER TABLE agent_execution_logs DROP CONSTRAINT agent_execution_logs_correlation_id_key;
ALTER TABLE agent_execution_logs ADD CONSTRAINT agent_execution_logs_pkey
    PRIMARY KEY (correlation_id);
"""

SUMMARY_KEY_DOWN = """
ALTER TABLE agent_execution_logs DROP CONSTRAINT agent_execution_logs_pkey;
ALTER TABLE agent_execution_logs ADD CONSTRAINT agent_execution_logs_pkey
    PRIMARY KEY (execution_id);
ALTER TABLE agent_execution_logs ADD CONSTRAINT agent_execution_logs_correlation_id_key
    UNIQUE (correlation_id);
"""

CHUNK_BLOCKS: Final = 4096
"""Heap pages copied per statement (32 MiB): one progress step."""

_LIKE = "INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED INCLUDING STORAGE"


def _ddl(sql: str) -> None:
    run_script(sql)


def _columns(table: str) -> str:
    """The table's stored columns (generated ones cannot be inserted), comma-separated."""
    names = fetch(
        "SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 "
        "AND NOT attisdropped AND attgenerated = '' ORDER BY attnum",
        table,
    )
    return ", ".join(f'"{row["attname"]}"' for row in names)


def _drop_indexes(table: str, key: str) -> None:
    """Drop every index and the key ``key`` of ``table``: it is only read (by block ranges)."""
    _ddl(f"ALTER TABLE {table} DROP CONSTRAINT {key}")
    for row in fetch(
        "SELECT indexrelid::regclass::text AS name FROM pg_index WHERE indrelid = $1::regclass",
        table,
    ):
        _ddl(f"DROP INDEX {row['name']}")


def _partitions(table: str) -> list[Partition]:
    rows = fetch(
        "SELECT partition_name, range_start, range_end, detach_pending, is_default "
        "FROM omniclaude_partitions($1::regclass)",
        table,
    )
    return [Partition(r[0], r[1], r[2], r[3], r[4]) for r in rows]


def _ensure(table: str, days: list[datetime], existing: list[Partition], now: datetime) -> None:
    daily_from = PartitionPolicy().daily_from(now)
    for day in sorted(days):
        if any(p.contains(day) for p in existing):
            continue
        start, end = plan_range(day, existing, daily_from=daily_from)
        name = fetchval(
            "SELECT omniclaude_create_partition($1::regclass, $2, $3, $4)",
            table, partition_name(table, start, end), start, end,
        )  # fmt: skip
        existing.append(Partition(name, start, end))


def _copy(source: str, target: str, now: datetime) -> None:
    """Copy ``source`` into the partitioned ``target`` by heap block ranges, with progress."""
    columns = _columns(target)
    total = int(fetchval(f"SELECT count(*) FROM {source}"))
    blocks = int(
        fetchval(
            "SELECT pg_relation_size($1::regclass) / current_setting('block_size')::bigint",
            source,
        )
    )
    existing = _partitions(target)
    days_sql = (
        f"SELECT DISTINCT date_trunc('day', created_at, 'UTC') AS day FROM {source} "
        "WHERE ctid >= $1::tid AND ctid < $2::tid"
    )
    insert_sql = (
        f"INSERT INTO {target} ({columns}) SELECT {columns} FROM {source} "
        "WHERE ctid >= $1::tid AND ctid < $2::tid"
    )
    with task(f"{target}: partitioning", total) as advance:
        for first in range(0, max(blocks, 1), CHUNK_BLOCKS):
            bounds = ((first, 0), (first + CHUNK_BLOCKS, 0))
            days = [row["day"] for row in fetch(days_sql, *bounds)]
            if not days:
                continue
            _ensure(target, days, existing, now)
            advance(int(execute(insert_sql, *bounds).rsplit(" ", 1)[-1]))


def _partition_table(table: str, now: datetime) -> None:
    old = f"{table}__unpartitioned"
    _ddl(f"ALTER TABLE {table} RENAME TO {old}")
    _drop_indexes(old, f"{table}_pkey")
    _ddl(
        f"CREATE TABLE {table} (LIKE {old} {_LIKE}) PARTITION BY RANGE (created_at);"
        f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey "
        "PRIMARY KEY (correlation_id, created_at, event_id);"
    )
    _create_indexes(table, INDEXES_0003[table])
    ahead = [day_of(now) + i * DAY for i in range(PartitionPolicy().ahead_days + 1)]
    _ensure(table, ahead, _partitions(table), now)
    _copy(old, table, now)
    _ddl(f"DROP TABLE {old}")


def _unpartition_table(table: str) -> None:
    old = f"{table}__partitioned"
    _ddl(f"ALTER TABLE {table} RENAME TO {old}")
    _ddl(f"ALTER TABLE {old} RENAME CONSTRAINT {table}_pkey TO {old}_pkey")
    for row in fetch(
        "SELECT i.indexrelid::regclass::text AS name FROM pg_index i WHERE i.indrelid = "
        "$1::regclass AND NOT i.indisprimary",
        old,
    ):
        _ddl(f"DROP INDEX {row['name']}")
    _ddl(
        f"CREATE TABLE {table} (LIKE {old} {_LIKE});"
        f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY (event_id);"
    )
    columns = _columns(table)
    total = int(fetchval(f"SELECT count(*) FROM {old}"))
    with task(f"{table}: unpartitioning", total) as advance:
        status = execute(
            f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {old} "
            "ON CONFLICT (event_id) DO NOTHING"
        )
        advance(int(status.rsplit(" ", 1)[-1]))
    _ddl(f"DROP TABLE {old}")
    _create_indexes(table, INDEXES_0002[table])


def upgrade() -> None:
    """Partition every event table by day, copying stored rows; re-key the summary."""
    now = utc_now()
    run_script(TRACE_VIEW_DROP)
    run_script(FUNCTIONS)
    _ddl("DROP TRIGGER agent_execution_events_apply ON agent_execution_events")
    for table in TABLES:
        _partition_table(table, now)
    run_script(EXECUTION_TRIGGER)
    run_script(SUMMARY_KEY_UP)
    run_script(TRACE_VIEW_0002)


def downgrade() -> None:
    """Back to one plain table per event family, keyed by ``event_id`` (0002)."""
    run_script(TRACE_VIEW_DROP)
    _ddl("DROP TRIGGER agent_execution_events_apply ON agent_execution_events")
    for table in TABLES:
        _unpartition_table(table)
    run_script(EXECUTION_TRIGGER)
    run_script(SUMMARY_KEY_DOWN)
    run_script(
        "DROP FUNCTION omniclaude_create_partition(regclass, text, timestamptz, timestamptz);"
        "DROP FUNCTION omniclaude_partitions(regclass);"
    )
    run_script(TRACE_VIEW_0002)
