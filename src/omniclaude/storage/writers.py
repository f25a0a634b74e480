"""Idempotent batch writers: one per table, shared by the consumer and the direct SDK sink.

Every insert is idempotent on the table's key ``(correlation_id, created_at, event_id)``
(:data:`~omniclaude.storage.partitions.UNIQUE_KEY`), so writing the same event twice (a
redelivered Kafka batch, a retried SDK call) adds no row. Typed columns receive Python
objects (``uuid.UUID``, aware ``datetime``); JSON columns go through the shared codec.

Every event table is partitioned by day (:mod:`omniclaude.storage.partitions`): each path
first makes sure the partitions of its rows exist, through a
:class:`~omniclaude.storage.partitions.PartitionCache` (the consumer keeps one; other callers
get a fresh one, which asks the catalogue once per table).

Two paths, same rows:

* :func:`write_events` - ``INSERT .. ON CONFLICT`` (``DO NOTHING``; LLM calls: a better
  cost merged), one statement per table and batch (a batch telling one LLM call twice: a
  pipelined ``executemany``, in order): any connection, any batch, inside the caller's
  transaction or its own.
* :func:`copy_events` - binary ``COPY``, about twice as fast, for bulk ingestion on
  connections prepared with :func:`enable_copy`. ``COPY`` cannot skip existing rows: a
  redelivered event makes it fail with a unique violation, which aborts the caller's
  transaction; the caller then writes the same events again with :func:`write_events` in a
  new transaction (the consumer's store does exactly that). ``COPY`` fires row triggers, so
  the execution summary is maintained on both paths. (A savepoint around ``COPY`` would
  avoid the abort but halves its speed in PostgreSQL, so there is none.)

LLM calls are the one event told by several sources (a transcript, OpenTelemetry) under the
same id but not always at the same instant: before writing them, :func:`align_llm_rows`
gives a call already stored (within a day) the stored row's trace and times, so the second
telling meets the first on its key and the better cost replaces the worse.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from omniclaude.events import (
    AgentAction,
    AgentTransformation,
    EventBase,
    ExecutionCompleted,
    ExecutionFailed,
    LlmCall,
    ManifestInjection,
    MetricPoint,
    RoutingDecision,
    kind_of,
)
from omniclaude.events.codec import dumps, loads
from omniclaude.events.executions import ExecutionStatus
from omniclaude.storage.partitions import DAY, PARTITION_KEY, UNIQUE_KEY, PartitionCache

__all__ = [
    "UNIQUE_VIOLATION",
    "WRITERS",
    "TableWriter",
    "align_llm_rows",
    "copy_events",
    "enable_copy",
    "group_by_table",
    "write_events",
]

UNIQUE_VIOLATION = "23505"
"""SQLSTATE of the error :func:`copy_events` raises when an event is already stored."""

_JSONB_VERSION = b"\x01"
_CACHE_LIMIT = 1024

# Values many rows share (the producer of a process, empty metadata) are built and encoded
# once: rows hold the same dict object, and the binary encoder finds its bytes by identity.
# These dicts are never mutated.
_EMPTY_META: dict[str, Any] = {}
_PRODUCERS: dict[tuple[str, str, str | None, int | None], dict[str, Any]] = {}
_ENCODED: dict[int, tuple[Any, bytes]] = {}


def _remember(value: dict[str, Any]) -> dict[str, Any]:
    _ENCODED[id(value)] = (value, _JSONB_VERSION + dumps(value))
    return value


_remember(_EMPTY_META)


def _encode_jsonb(value: Any) -> bytes:
    hit = _ENCODED.get(id(value))
    if hit is not None and hit[0] is value:
        return hit[1]
    return _JSONB_VERSION + dumps(value)


def _decode_jsonb(data: bytes) -> Any:
    return loads(data[1:])


async def enable_copy(conn: Any) -> None:
    """Prepare ``conn`` for :func:`copy_events`: binary ``json``/``jsonb`` codecs.

    The codecs encode and decode exactly as :func:`omniclaude.storage.pool.init_connection`
    does (the shared JSON codec), in the binary wire format that ``COPY`` needs; every other
    query on the connection behaves as before.

    Args:
        conn: an ``asyncpg.Connection``.
    """
    await conn.set_type_codec(
        "jsonb", encoder=_encode_jsonb, decoder=_decode_jsonb, schema="pg_catalog", format="binary"
    )
    await conn.set_type_codec(
        "json", encoder=dumps, decoder=loads, schema="pg_catalog", format="binary"
    )


_SCORE = Decimal("0.0001")


def _score(value: float | None) -> Decimal | None:
    """Round a 0..1 score to the ``numeric(5,4)`` column's precision."""
    return None if value is None else Decimal(str(value)).quantize(_SCORE)


def _meta(event: EventBase) -> dict[str, Any]:
    extra = event.__pydantic_extra__  # read, never changed: no copy for the common empty case
    return {"extra": dict(extra)} if extra else _EMPTY_META


def _producer(event: EventBase) -> dict[str, Any] | None:
    producer = event.producer
    if producer is None:  # unattributed: stored as NULL, never as the writer's identity
        return None
    if producer.__pydantic_extra__:  # unusual producers: not worth caching
        return producer.model_dump(mode="json")
    key = (producer.name, producer.version, producer.host, producer.pid)
    cached = _PRODUCERS.get(key)
    if cached is None:
        if len(_PRODUCERS) >= _CACHE_LIMIT:
            for value in _PRODUCERS.values():
                _ENCODED.pop(id(value), None)
            _PRODUCERS.clear()
        cached = _PRODUCERS[key] = _remember(producer.model_dump(mode="json"))
    return cached


def _action_row(e: EventBase) -> tuple[Any, ...]:
    assert isinstance(e, AgentAction)  # noqa: S101 - the catalogue routes only actions here
    return (
        e.event_id, e.correlation_id, e.agent_name, e.action_type.value, e.action_name,
        e.action_details, e.debug_mode, e.duration_ms, e.session_id, e.prompt_id, e.tool_use_id,
        e.project_path, e.project_name, e.working_directory, e.schema_version, _producer(e),
        _meta(e), e.start, e.timestamp,
    )  # fmt: skip


def _execution_status(e: EventBase) -> str:
    if isinstance(e, ExecutionFailed):
        return ExecutionStatus.FAILED.value
    if isinstance(e, ExecutionCompleted):
        return ExecutionStatus(e.status).value
    return ExecutionStatus.IN_PROGRESS.value


def _execution_row(e: EventBase) -> tuple[Any, ...]:
    payload = e.model_dump(mode="json", exclude={"producer"})
    return (
        e.event_id, e.correlation_id, payload["event_type"],
        getattr(e, "parent_correlation_id", None), getattr(e, "agent_name", None),
        _execution_status(e), payload, e.schema_version, _producer(e), e.timestamp,
    )  # fmt: skip


def _routing_row(e: EventBase) -> tuple[Any, ...]:
    assert isinstance(e, RoutingDecision)  # noqa: S101
    digest = hashlib.sha256(e.user_request.encode()).hexdigest()
    alternatives = [a.model_dump(mode="json") for a in e.alternatives]
    return (
        e.event_id, e.correlation_id, e.parent_correlation_id, e.session_id, e.user_request,
        digest, e.context_snapshot, e.selected_agent, _score(e.confidence_score),
        e.routing_strategy, _score(e.trigger_confidence), _score(e.context_confidence),
        _score(e.capability_confidence), _score(e.historical_confidence), alternatives,
        len(alternatives), e.reasoning, list(e.matched_triggers), list(e.matched_capabilities),
        e.routing_time_ms, e.cache_hit, e.is_fallback, e.schema_version, _producer(e), _meta(e),
        e.start, e.timestamp,
    )  # fmt: skip


def _manifest_row(e: EventBase) -> tuple[Any, ...]:
    assert isinstance(e, ManifestInjection)  # noqa: S101
    sections = [s.model_dump(mode="json") for s in e.sections]
    query_times = {s.name: s.query_time_ms for s in e.sections if s.query_time_ms is not None}
    size = e.manifest_size_bytes
    if size is None:
        size = sum(s.size_bytes for s in e.sections)
    return (
        e.event_id, e.correlation_id, e.session_id, e.routing_decision_id, e.agent_name,
        e.manifest_version, e.generation_source, e.is_fallback, [s.name for s in e.sections],
        sections, query_times, e.total_query_time_ms, size, list(e.warnings), e.query_failures,
        e.schema_version, _producer(e), _meta(e), e.start, e.timestamp,
    )  # fmt: skip


def _transformation_row(e: EventBase) -> tuple[Any, ...]:
    assert isinstance(e, AgentTransformation)  # noqa: S101
    return (
        e.event_id, e.phase.value, e.correlation_id, e.session_id, e.source_agent,
        e.target_agent, e.transformation_reason, _score(e.confidence), e.routing_strategy,
        e.user_request, e.duration_ms, e.success, e.error_message, e.error_type,
        e.parent_event_id, e.schema_version, _producer(e), _meta(e), e.start, e.timestamp,
    )  # fmt: skip


_COST_DIGITS = Decimal("0.0000000001")


def _cost(value: float | None) -> Decimal | None:
    """Round a USD cost to the ``numeric(20, 10)`` column's precision."""
    return None if value is None else Decimal(repr(value)).quantize(_COST_DIGITS)


def _llm_row(e: EventBase) -> tuple[Any, ...]:
    assert isinstance(e, LlmCall)  # noqa: S101
    meta = {**e.metadata, **_meta(e)} if e.metadata else _meta(e)
    return (
        e.event_id, e.correlation_id, e.session_id, e.prompt_id, e.claude_agent_id,
        e.agent_name, e.is_sidechain, e.provider, e.model, e.input_tokens, e.output_tokens,
        e.cache_creation_input_tokens, e.cache_read_input_tokens, e.usage, e.stop_reason,
        e.request_id, e.message_id, list(e.tool_use_ids), e.duration_ms, _cost(e.cost_usd),
        e.cost_source.value, e.pricing_source, e.source, e.project_path, e.project_name,
        e.schema_version, _producer(e), meta, e.start, e.timestamp,
    )  # fmt: skip


def _metric_row(e: EventBase) -> tuple[Any, ...]:
    assert isinstance(e, MetricPoint)  # noqa: S101
    return (
        e.event_id, e.correlation_id, e.session_id, e.metric_name, e.kind.value,
        e.temporality.value if e.temporality is not None else None, e.is_monotonic, e.unit,
        e.series_key, e.value, e.count, e.min_value, e.max_value, e.buckets, e.attributes,
        e.resource, e.source, e.schema_version, _producer(e),
        {**e.metadata, **_meta(e)} if e.metadata else _meta(e), e.start, e.timestamp,
    )  # fmt: skip


# The same response told again (a redelivery, a transcript re-read, OTel after the
# transcript): a better cost replaces a worse one, and ids the first telling lacked are
# filled in; anything else leaves the row as it is (no update, no churn).
_BETTER = "omniclaude_cost_rank(EXCLUDED.cost_source) > omniclaude_cost_rank(t.cost_source)"
_KEY = ", ".join(UNIQUE_KEY)
_LLM_ON_CONFLICT = """ON CONFLICT ({key}) DO UPDATE SET
    input_tokens = CASE WHEN {better} THEN EXCLUDED.input_tokens ELSE t.input_tokens END,
    output_tokens = CASE WHEN {better} THEN EXCLUDED.output_tokens ELSE t.output_tokens END,
    cache_creation_input_tokens = CASE WHEN {better}
        THEN EXCLUDED.cache_creation_input_tokens ELSE t.cache_creation_input_tokens END,
    cache_read_input_tokens = CASE WHEN {better}
        THEN EXCLUDED.cache_read_input_tokens ELSE t.cache_read_input_tokens END,
    cost_usd = CASE WHEN {better} THEN EXCLUDED.cost_usd ELSE t.cost_usd END,
    cost_source = CASE WHEN {better} THEN EXCLUDED.cost_source ELSE t.cost_source END,
    pricing_source = CASE WHEN {better} THEN EXCLUDED.pricing_source ELSE t.pricing_source END,
    duration_ms = CASE WHEN {better}
        THEN coalesce(EXCLUDED.duration_ms, t.duration_ms) ELSE t.duration_ms END,
    message_id = coalesce(t.message_id, EXCLUDED.message_id),
    request_id = coalesce(t.request_id, EXCLUDED.request_id),
    stop_reason = coalesce(t.stop_reason, EXCLUDED.stop_reason),
    tool_use_ids = CASE WHEN cardinality(t.tool_use_ids) = 0
        THEN EXCLUDED.tool_use_ids ELSE t.tool_use_ids END,
    metadata = EXCLUDED.metadata || t.metadata
 WHERE {better}
    OR (t.message_id IS NULL AND EXCLUDED.message_id IS NOT NULL)
    OR (t.request_id IS NULL AND EXCLUDED.request_id IS NOT NULL)
    OR (t.stop_reason IS NULL AND EXCLUDED.stop_reason IS NOT NULL)
    OR (cardinality(t.tool_use_ids) = 0 AND cardinality(EXCLUDED.tool_use_ids) > 0)""".replace(
    "{better}", _BETTER
).replace("{key}", _KEY)

_LLM_STORED_SQL = """
SELECT event_id, correlation_id, started_at, created_at FROM agent_llm_calls
 WHERE event_id = ANY($1::uuid[]) AND created_at >= $2 AND created_at < $3
"""
_ID, _CORRELATION = 0, 1
_LLM_STARTED, _LLM_CREATED = -2, -1


async def align_llm_rows(conn: Any, rows: Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Give each LLM call row the key of the same call told before (stored, or earlier in
    ``rows``): its correlation id, ``started_at`` and ``created_at``.

    A call is looked for within a day of the new telling's time (the partitions of those
    days only); the first telling's trace and times are kept.
    """
    if not rows:
        return []
    ends = [row[_LLM_CREATED] for row in rows]
    stored = await conn.fetch(
        _LLM_STORED_SQL, [row[_ID] for row in rows], min(ends) - DAY, max(ends) + DAY
    )
    first: dict[Any, tuple[Any, datetime, datetime]] = {
        r["event_id"]: (r["correlation_id"], r["started_at"], r["created_at"]) for r in stored
    }
    out: list[tuple[Any, ...]] = []
    for row in rows:
        key = first.setdefault(row[_ID], (row[_CORRELATION], row[_LLM_STARTED], row[_LLM_CREATED]))
        if key != (row[_CORRELATION], row[_LLM_STARTED], row[_LLM_CREATED]):
            row = (row[_ID], key[0], *row[2:-2], key[1], key[2])  # noqa: PLW2901 - aligned copy
        out.append(row)
    return out


Aligner = Callable[[Any, Sequence[tuple[Any, ...]]], Awaitable[list[tuple[Any, ...]]]]


_NOT_CONTENT = frozenset({"producer"})


def _instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("no time zone")
    return moment


_KEY_PARSERS: dict[str, Callable[[str], Any]] = {
    "event_id": uuid.UUID,
    "correlation_id": uuid.UUID,
    "started_at": _instant,
    "created_at": _instant,
}
"""How :meth:`TableWriter.write_records` reads the key and time columns given as text."""
_DO_NOTHING = f"ON CONFLICT ({_KEY}) DO NOTHING"


@dataclass(frozen=True, slots=True)
class TableWriter:
    """How events become rows of one table."""

    table: str
    columns: tuple[str, ...]
    row: Callable[[EventBase], tuple[Any, ...]]
    on_conflict: str = _DO_NOTHING
    """What a second telling of a stored event does (the row is aliased ``t``)."""
    align: Aligner | None = None
    """Rewrites rows before they are written (see :func:`align_llm_rows`)."""

    @property
    def created_at_index(self) -> int:
        """Position of the partition key (``created_at``) in :attr:`columns` and rows."""
        return self.columns.index(PARTITION_KEY)

    def moments(self, rows: Sequence[tuple[Any, ...]]) -> list[datetime]:
        """The partition key of each row (what :class:`PartitionCache` needs)."""
        index = self.created_at_index
        return [row[index] for row in rows]

    async def prepare(
        self, conn: Any, rows: Sequence[tuple[Any, ...]], partitions: PartitionCache
    ) -> Sequence[tuple[Any, ...]]:
        """Align ``rows`` (LLM calls) and make sure their partitions exist."""
        if self.align is not None and rows:
            rows = await self.align(conn, rows)
        await partitions.ensure(conn, self.table, self.moments(rows))
        return rows

    @property
    def keeps_first(self) -> bool:
        """Whether a second telling of a stored event is simply skipped (so other content in
        it is a conflict), rather than merged into the row."""
        return self.on_conflict == _DO_NOTHING

    @property
    def insert_sql(self) -> str:
        """The idempotent parameterised INSERT (identifiers are constants of this module)."""
        placeholders = ", ".join(f"${i}" for i in range(1, len(self.columns) + 1))
        return (
            f"INSERT INTO {self.table} AS t ({', '.join(self.columns)}) "  # noqa: S608 - constants
            f"VALUES ({placeholders}) {self.on_conflict}"
        )

    @property
    def insert_many_sql(self) -> str:
        """The idempotent INSERT of a whole batch in one statement: ``$1`` is a ``jsonb``
        array of rows (objects keyed by column), read with the table's own row type."""
        columns = ", ".join(self.columns)
        return (
            f"INSERT INTO {self.table} AS t ({columns}) SELECT {columns} "  # noqa: S608
            f"FROM jsonb_populate_recordset(NULL::{self.table}, $1::jsonb) {self.on_conflict}"
        )

    @property
    def stored_sql(self) -> str:
        """Select the stored rows of some keys, same columns: ``$1``, ``$2``, ``$3`` the
        arrays of :data:`UNIQUE_KEY`'s columns, ``$4``/``$5`` the first and last
        ``created_at`` (so only those days' partitions are visited)."""
        return (
            f"SELECT {', '.join(self.columns)} FROM {self.table} "  # noqa: S608 - constants
            f"WHERE ({_KEY}) IN (SELECT * FROM unnest($1::uuid[], $2::timestamptz[], "
            "$3::uuid[])) AND created_at >= $4 AND created_at <= $5"
        )

    def key_of(self, row: Sequence[Any]) -> tuple[Any, ...]:
        """The row's primary key, in :data:`UNIQUE_KEY`'s order."""
        return tuple(row[self.columns.index(column)] for column in UNIQUE_KEY)

    def differences(self, stored: Any, row: Sequence[Any]) -> list[str]:
        """Name the columns in which a stored row differs from ``row`` (built by :attr:`row`).

        ``producer`` is left out: who sent an event is not what it says, and a redelivery
        through another process is the same event.
        """
        return [
            column
            for index, column in enumerate(self.columns)
            if column not in _NOT_CONTENT and stored[index] != row[index]
        ]

    async def write(
        self, conn: Any, events: Sequence[EventBase], partitions: PartitionCache
    ) -> None:
        """Insert ``events`` idempotently.

        A batch takes one statement (one round trip; the statement-level rollup triggers
        fire once, over the rows inserted), unless its table merges a second telling into
        the row (LLM calls) and the batch tells one key twice: two tellings of one key in a
        single ``INSERT .. ON CONFLICT DO UPDATE`` would be refused, so that batch takes one
        pipelined statement per row, in order (each trigger then fires per row: 2,000 LLM
        calls took 3.3 s so, against 0.2 s in one statement).
        """
        if not events:
            return
        rows = await self.prepare(conn, [self.row(e) for e in events], partitions)
        if self.keeps_first or len({self.key_of(r) for r in rows}) == len(rows):
            columns = self.columns
            await conn.execute(
                self.insert_many_sql, [dict(zip(columns, r, strict=True)) for r in rows]
            )
        else:
            await conn.executemany(self.insert_sql, rows)

    async def write_records(
        self, conn: Any, records: Sequence[Mapping[str, Any]], partitions: PartitionCache
    ) -> int:
        """Insert rows given as ``{column: value}`` (an export read back) idempotently, in one
        statement; return how many were new (a row already stored adds nothing).

        Values may be JSON-shaped (ids and times as strings, as an export writes them):
        PostgreSQL reads them with the table's own row type. The key and time columns are
        parsed here so LLM calls are aligned and partitions made as for events.

        Raises:
            ValueError: a record lacks a column (names it), or holds a malformed id or time.
        """
        if not records:
            return 0
        rows = [self._typed(record) for record in records]
        rows = list(await self.prepare(conn, rows, partitions))
        if not self.keeps_first:  # one telling per key per statement (ON CONFLICT DO UPDATE)
            rows = list({self.key_of(row): row for row in reversed(rows)}.values())[::-1]
        columns = self.columns
        status = await conn.execute(
            self.insert_many_sql, [dict(zip(columns, row, strict=True)) for row in rows]
        )
        return int(str(status).rsplit(" ", 1)[-1])

    def _typed(self, record: Mapping[str, Any]) -> tuple[Any, ...]:
        row = []
        for column in self.columns:
            if column not in record:
                raise ValueError(f"{column}: missing (a {self.table} row needs every column)")
            value = record[column]
            parse = _KEY_PARSERS.get(column)
            if parse is not None and isinstance(value, str):
                try:
                    value = parse(value)
                except ValueError:
                    raise ValueError(f"{column}: {value[:40]!r} is malformed") from None
            row.append(value)
        return tuple(row)

    async def copy(
        self, conn: Any, events: Sequence[EventBase], partitions: PartitionCache
    ) -> None:
        """``COPY`` ``events`` into the table (see :func:`copy_events` for the contract)."""
        await self.copy_rows(conn, [self.row(e) for e in events], partitions)

    async def copy_rows(
        self, conn: Any, rows: Sequence[tuple[Any, ...]], partitions: PartitionCache
    ) -> None:
        """``COPY`` rows built by :attr:`row` into the table (see :func:`copy_events`)."""
        if rows:
            rows = await self.prepare(conn, rows, partitions)
            await conn.copy_records_to_table(self.table, records=rows, columns=self.columns)


WRITERS: dict[str, TableWriter] = {
    w.table: w
    for w in (
        TableWriter(
            "agent_actions",
            ("event_id", "correlation_id", "agent_name", "action_type", "action_name",
             "action_details", "debug_mode", "duration_ms", "session_id", "prompt_id",
             "tool_use_id", "project_path", "project_name", "working_directory",
             "schema_version", "producer", "metadata", "started_at", "created_at"),
            _action_row,
        ),
        TableWriter(
            "agent_execution_events",
            ("event_id", "correlation_id", "event_type", "parent_correlation_id", "agent_name",
             "status", "payload", "schema_version", "producer", "created_at"),
            _execution_row,
        ),
        TableWriter(
            "agent_routing_decisions",
            ("event_id", "correlation_id", "parent_correlation_id", "session_id",
             "user_request", "user_request_hash", "context_snapshot", "selected_agent",
             "confidence_score", "routing_strategy", "trigger_confidence",
             "context_confidence", "capability_confidence", "historical_confidence",
             "alternatives", "alternatives_count", "reasoning", "matched_triggers",
             "matched_capabilities", "routing_time_ms", "cache_hit", "is_fallback",
             "schema_version", "producer", "metadata", "started_at", "created_at"),
            _routing_row,
        ),
        TableWriter(
            "agent_manifest_injections",
            ("event_id", "correlation_id", "session_id", "routing_decision_id", "agent_name",
             "manifest_version", "generation_source", "is_fallback", "sections_included",
             "sections", "query_times", "total_query_time_ms", "manifest_size_bytes",
             "warnings", "query_failures", "schema_version", "producer", "metadata",
             "started_at", "created_at"),
            _manifest_row,
        ),
        TableWriter(
            "agent_transformation_events",
            ("event_id", "event_type", "correlation_id", "session_id", "source_agent",
             "target_agent", "transformation_reason", "routing_confidence",
             "routing_strategy", "user_request", "transformation_duration_ms", "success",
             "error_message", "error_type", "parent_event_id", "schema_version", "producer",
             "metadata", "started_at", "created_at"),
            _transformation_row,
        ),
        TableWriter(
            "agent_llm_calls",
            ("event_id", "correlation_id", "session_id", "prompt_id", "claude_agent_id",
             "agent_name", "is_sidechain", "provider", "model", "input_tokens", "output_tokens",
             "cache_creation_input_tokens", "cache_read_input_tokens", "usage", "stop_reason",
             "request_id", "message_id", "tool_use_ids", "duration_ms", "cost_usd",
             "cost_source", "pricing_source", "source", "project_path", "project_name",
             "schema_version", "producer", "metadata", "started_at", "created_at"),
            _llm_row,
            _LLM_ON_CONFLICT,
            align_llm_rows,
        ),
        TableWriter(
            "agent_metric_points",
            ("event_id", "correlation_id", "session_id", "metric_name", "kind", "temporality",
             "is_monotonic", "unit", "series_key", "value", "count", "min_value", "max_value",
             "buckets", "attributes", "resource", "source", "schema_version", "producer",
             "metadata", "started_at", "created_at"),
            _metric_row,
        ),
    )
}  # fmt: skip
"""Writers keyed by table name; the catalogue says which table each event type goes to."""


def group_by_table(events: Iterable[EventBase]) -> dict[str, list[EventBase]]:
    """Split events by destination table, keeping their order within each table."""
    groups: dict[str, list[EventBase]] = defaultdict(list)
    for event in events:
        kind = kind_of(str(getattr(event, "event_type", "")))
        if kind is None:
            raise ValueError(f"event_type: no table for {getattr(event, 'event_type', None)!r}")
        groups[kind.topic.table].append(event)
    return groups


async def write_events(
    conn: Any, events: Iterable[EventBase], *, partitions: PartitionCache | None = None
) -> None:
    """Write events of any types in one transaction (the caller's, or a new one).

    1. group by table; 2. per table, in a fixed order (table name: concurrent writers take
    their locks in one order), make sure the rows' partitions exist and insert them with one
    idempotent statement (see :meth:`TableWriter.write`); 3. commit (by the enclosing
    transaction). Lifecycle rows update ``agent_execution_logs`` by trigger.

    Args:
        conn: an ``asyncpg.Connection``.
        events: the events.
        partitions: what the caller knows of the partitions (default: ask the catalogue).
    """
    groups = group_by_table(events)
    partitions = partitions if partitions is not None else PartitionCache()
    async with conn.transaction():
        for table in sorted(groups):
            await WRITERS[table].write(conn, groups[table], partitions)


async def copy_events(
    conn: Any, events: Iterable[EventBase], *, partitions: PartitionCache | None = None
) -> None:
    """``COPY`` events of any types, one ``COPY`` per table, in the caller's transaction.

    The fast path for bulk ingestion. Not idempotent by itself: when an event is already
    stored it raises ``asyncpg.UniqueViolationError`` (SQLSTATE :data:`UNIQUE_VIOLATION`) and
    the caller's transaction is aborted; write the events again with :func:`write_events` in
    a new transaction.

    Args:
        conn: a connection prepared with :func:`enable_copy`, inside a transaction.
        events: the events.
        partitions: what the caller knows of the partitions (default: ask the catalogue).

    Raises:
        asyncpg.PostgresError: a duplicate (unique violation) or a row the database refuses.
    """
    groups = group_by_table(events)
    partitions = partitions if partitions is not None else PartitionCache()
    for table in sorted(groups):
        await WRITERS[table].copy(conn, groups[table], partitions)
