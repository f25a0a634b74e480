"""Read queries of the viewer: the executions list, one trace tree, and the overview figures.

Every statement is a constant with ``$n`` parameters; no value is ever formatted into SQL.
Functions take anything with asyncpg's ``fetch``/``fetchrow``/``fetchval`` (a connection or a
pool). Lists are bounded in time and in size.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

__all__ = [
    "EVENT_SOURCES",
    "ExecutionFilter",
    "Reader",
    "TraceRows",
    "escape_like",
    "fetch_event",
    "fetch_trace",
    "list_agents",
    "list_executions",
]

MAX_TRACE_EXECUTIONS = 500
MAX_TRACE_DEPTH = 8


class Reader(Protocol):
    """The subset of an asyncpg connection or pool the queries use."""

    async def fetch(self, query: str, *args: Any) -> list[Any]:
        """Run ``query`` and return its rows."""
        ...

    async def fetchval(self, query: str, *args: Any) -> Any:
        """Run ``query`` and return the first column of its first row."""
        ...


def escape_like(text: str) -> str:
    r"""Escape ``\``, ``%`` and ``_`` so ``text`` matches literally in ``LIKE ... ESCAPE '\'``."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True, slots=True)
class ExecutionFilter:
    """What the executions list shows: a time window, filters, and a keyset cursor."""

    since: datetime
    until: datetime
    agent: str | None = None
    status: str | None = None
    text: str | None = None
    roots_only: bool = False
    before: tuple[datetime, uuid.UUID] | None = None
    limit: int = 50


# The filters of the list and of its count ($1-$7), shared so the two never disagree.
_FILTER_SQL = """
 WHERE l.created_at >= $1 AND l.created_at < $2
   AND ($3::text IS NULL OR l.agent_name = $3)
   AND ($4::text IS NULL OR l.status = $4)
   AND ($5::text IS NULL
        OR l.user_prompt ILIKE '%' || $5 || '%' ESCAPE '\\'
        OR l.agent_name ILIKE '%' || $5 || '%' ESCAPE '\\'
        OR l.correlation_id::text = lower($6)
        OR l.session_id = $6)
   AND (NOT $7::boolean OR l.parent_correlation_id IS NULL)"""

_LIST_SQL = (
    """
SELECT l.correlation_id, l.parent_correlation_id, l.session_id, l.agent_name, l.status,
       l.user_prompt, l.error_type, l.error_message, l.duration_ms, l.quality_score,
       l.created_at, l.started_at, l.completed_at,
       (SELECT count(*) FROM agent_execution_logs c
         WHERE c.parent_correlation_id = l.correlation_id) AS child_count
  FROM agent_execution_logs l"""  # noqa: S608 - module constants only; values are $n parameters
    + _FILTER_SQL
    + """
   AND ($8::timestamptz IS NULL OR (l.created_at, l.correlation_id) < ($8, $9::uuid))
 ORDER BY l.created_at DESC, l.correlation_id DESC
 LIMIT $10
"""
)

_COUNT_SQL = (
    """
SELECT count(*) FROM agent_execution_logs l"""
    + _FILTER_SQL
    + "\n"
)

_AGENTS_SQL = """
SELECT DISTINCT agent_name FROM agent_execution_logs
 WHERE created_at >= $1 ORDER BY agent_name LIMIT 200
"""


async def list_executions(db: Reader, flt: ExecutionFilter) -> tuple[list[dict[str, Any]], int]:
    """Return one page of executions (newest first) and how many match in total.

    Args:
        db: a connection or pool.
        flt: the window, filters and cursor; ``limit + 1`` rows are read so the caller can
            tell whether another page follows.

    Returns:
        ``(rows, total)``; rows are dicts with the columns of ``agent_execution_logs`` the
        list shows and ``child_count``.
    """
    text = flt.text.strip() if flt.text else None
    pattern = escape_like(text) if text else None
    before_at, before_id = flt.before if flt.before else (None, None)
    common = (flt.since, flt.until, flt.agent, flt.status, pattern, text, flt.roots_only)
    rows = await db.fetch(_LIST_SQL, *common, before_at, before_id, flt.limit + 1)
    total = await db.fetchval(_COUNT_SQL, *common)
    return [dict(row) for row in rows], int(total or 0)


async def list_agents(db: Reader, since: datetime) -> list[str]:
    """Return the agent names seen since ``since`` (for the filter's choices)."""
    return [row["agent_name"] for row in await db.fetch(_AGENTS_SQL, since)]


_TREE_SQL = """
WITH RECURSIVE tree(correlation_id, depth) AS (
    SELECT $1::uuid, 0
    UNION
    SELECT l.correlation_id, t.depth + 1
      FROM agent_execution_logs l JOIN tree t ON l.parent_correlation_id = t.correlation_id
     WHERE t.depth < $2
)
SELECT l.*, t.depth
  FROM tree t LEFT JOIN agent_execution_logs l ON l.correlation_id = t.correlation_id
 ORDER BY t.depth, l.created_at NULLS FIRST
 LIMIT $3
"""

_ACTIONS_SQL = """
SELECT event_id, correlation_id, agent_name, action_type, action_name, action_details,
       duration_ms, tool_use_id, session_id, prompt_id, started_at, created_at
  FROM agent_actions WHERE correlation_id = ANY($1::uuid[])
 ORDER BY started_at, created_at, event_id
"""

_ROUTING_SQL = """
SELECT event_id, correlation_id, user_request, selected_agent, confidence_score,
       routing_strategy, alternatives, reasoning, routing_time_ms, matched_triggers,
       matched_capabilities, cache_hit, is_fallback, started_at, created_at
  FROM agent_routing_decisions WHERE correlation_id = ANY($1::uuid[])
 ORDER BY started_at, created_at, event_id
"""

_MANIFEST_SQL = """
SELECT event_id, correlation_id, agent_name, manifest_version, generation_source, is_fallback,
       sections_included, sections, query_times, total_query_time_ms, manifest_size_bytes,
       warnings, query_failures, started_at, created_at
  FROM agent_manifest_injections WHERE correlation_id = ANY($1::uuid[])
 ORDER BY started_at, created_at, event_id
"""

_TRANSFORM_SQL = """
SELECT event_id, correlation_id, event_type, source_agent, target_agent,
       transformation_reason, routing_confidence, routing_strategy,
       transformation_duration_ms, success, error_message, error_type, started_at, created_at
  FROM agent_transformation_events WHERE correlation_id = ANY($1::uuid[])
 ORDER BY started_at, created_at, event_id
"""

_LLM_SQL = """
SELECT event_id, correlation_id, session_id, claude_agent_id, agent_name, model,
       input_tokens, output_tokens, cache_creation_input_tokens, cache_read_input_tokens,
       total_tokens, stop_reason, request_id, message_id, tool_use_ids, duration_ms,
       cost_usd, cost_source, source, started_at, created_at
  FROM agent_llm_calls WHERE correlation_id = ANY($1::uuid[])
 ORDER BY started_at, created_at, event_id
"""

_EXEC_EVENTS_SQL = """
SELECT event_id, correlation_id, event_type, agent_name, status, payload, created_at
  FROM agent_execution_events WHERE correlation_id = ANY($1::uuid[])
 ORDER BY created_at, event_id
"""


@dataclass(slots=True)
class TraceRows:
    """Every row of one trace tree, as plain dicts, keyed by table."""

    root: uuid.UUID
    executions: list[dict[str, Any]] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    routing: list[dict[str, Any]] = field(default_factory=list)
    manifests: list[dict[str, Any]] = field(default_factory=list)
    transformations: list[dict[str, Any]] = field(default_factory=list)
    llm_calls: list[dict[str, Any]] = field(default_factory=list)
    execution_events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """True when the database knows nothing about this correlation id."""
        return not (
            any(e.get("agent_name") for e in self.executions)
            or self.actions
            or self.routing
            or self.manifests
            or self.transformations
            or self.llm_calls
            or self.execution_events
        )


async def fetch_trace(db: Reader, correlation_id: uuid.UUID) -> TraceRows:
    """Read the execution ``correlation_id``, its descendants and every event of them.

    Returns:
        The rows; ``TraceRows.empty`` is True when nothing is known about the id.
    """
    tree = [
        dict(r)
        for r in await db.fetch(_TREE_SQL, correlation_id, MAX_TRACE_DEPTH, MAX_TRACE_EXECUTIONS)
    ]
    ids = [correlation_id] + [
        r["correlation_id"] for r in tree if r.get("correlation_id") not in (None, correlation_id)
    ]
    # The root may exist only as events (no summary row yet): keep a placeholder for it.
    executions = [r for r in tree if r.get("correlation_id") is not None]
    trace = TraceRows(root=correlation_id, executions=executions)
    trace.actions = [dict(r) for r in await db.fetch(_ACTIONS_SQL, ids)]
    trace.routing = [dict(r) for r in await db.fetch(_ROUTING_SQL, ids)]
    trace.manifests = [dict(r) for r in await db.fetch(_MANIFEST_SQL, ids)]
    trace.transformations = [dict(r) for r in await db.fetch(_TRANSFORM_SQL, ids)]
    trace.llm_calls = [dict(r) for r in await db.fetch(_LLM_SQL, ids)]
    trace.execution_events = [dict(r) for r in await db.fetch(_EXEC_EVENTS_SQL, ids)]
    return trace


_DETAIL_SQL: dict[str, str] = {
    "action": "SELECT * FROM agent_actions WHERE event_id = $1",
    "routing": "SELECT * FROM agent_routing_decisions WHERE event_id = $1",
    "manifest": "SELECT * FROM agent_manifest_injections WHERE event_id = $1",
    "transformation": "SELECT * FROM agent_transformation_events WHERE event_id = $1",
    "llm": "SELECT * FROM agent_llm_calls WHERE event_id = $1",
    "execution": "SELECT * FROM agent_execution_logs WHERE correlation_id = $1",
}
"""One statement per kind of row a waterfall span can show (keys are the span sources)."""

_LIFECYCLE_SQL = """
SELECT event_id, event_type, status, payload, created_at
  FROM agent_execution_events WHERE correlation_id = $1 ORDER BY created_at, event_id LIMIT 200
"""

EVENT_SOURCES = tuple(_DETAIL_SQL)


async def fetch_event(db: Reader, source: str, event_id: uuid.UUID) -> dict[str, Any] | None:
    """Return the full row behind one waterfall span (None when unknown).

    For an execution (``event_id`` is then its correlation id) the row also carries its
    lifecycle events under ``lifecycle``.

    Raises:
        KeyError: ``source`` is not one of :data:`EVENT_SOURCES`.
    """
    rows = await db.fetch(_DETAIL_SQL[source], event_id)
    if not rows:
        return None
    row = dict(rows[0])
    if source == "execution":
        row["lifecycle"] = [dict(r) for r in await db.fetch(_LIFECYCLE_SQL, event_id)]
    return row
