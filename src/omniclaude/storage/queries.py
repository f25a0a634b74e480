"""Read queries: one execution, lists of executions, complete traces, agent statistics.

Every value is a query parameter (no SQL is built from values); table and column names are
constants of this module. Rows come back as JSON-native dicts (UUIDs and datetimes as
strings, numerics as floats), ready for the API, the viewer and the CLI.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic_core import to_jsonable_python

from omniclaude.events import utc_now
from omniclaude.events.catalog import TOPICS
from omniclaude.events.limits import instant_problem

__all__ = [
    "DEFAULT_WINDOW",
    "ExecutionFilter",
    "ExecutionPage",
    "InvalidCursorError",
    "agent_success_rates",
    "decode_cursor",
    "encode_cursor",
    "final_event_count",
    "get_execution",
    "get_trace",
    "list_children",
    "list_executions",
    "stored_events",
]

DEFAULT_WINDOW = timedelta(hours=24)
"""Lists cover the last 24 hours unless a time range is given."""

_EXECUTION_COLUMNS = (
    "execution_id, correlation_id, parent_correlation_id, session_id, prompt_id, "
    "claude_agent_id, agent_name, user_prompt, status, progress_stage, progress_percent, "
    "quality_score, result, error_message, error_type, duration_ms, project_path, project_name, "
    "metadata, created_at, started_at, completed_at, last_event_at"
)
_SUMMARY_COLUMNS = (
    "correlation_id, parent_correlation_id, session_id, agent_name, user_prompt, status, "
    "quality_score, error_type, error_message, duration_ms, created_at, started_at, completed_at"
)
_ACTION_COLUMNS = (
    "event_id, correlation_id, agent_name, action_type, action_name, action_details, "
    "duration_ms, session_id, prompt_id, tool_use_id, started_at, created_at, "
    "coalesce(action_details->>'label', action_name) AS label"
)
_ROUTING_COLUMNS = (
    "event_id, correlation_id, parent_correlation_id, user_request, selected_agent, "
    "confidence_score, routing_strategy, trigger_confidence, context_confidence, "
    "capability_confidence, historical_confidence, alternatives, reasoning, matched_triggers, "
    "matched_capabilities, routing_time_ms, cache_hit, is_fallback, context_snapshot, "
    "started_at, created_at"
)
_MANIFEST_COLUMNS = (
    "event_id, correlation_id, routing_decision_id, agent_name, manifest_version, "
    "generation_source, is_fallback, sections_included, sections, query_times, "
    "total_query_time_ms, manifest_size_bytes, warnings, query_failures, started_at, created_at"
)
_TRANSFORMATION_COLUMNS = (
    "event_id, event_type, correlation_id, source_agent, target_agent, transformation_reason, "
    "routing_confidence, routing_strategy, user_request, transformation_duration_ms, success, "
    "error_message, error_type, parent_event_id, started_at, created_at"
)
_LLM_COLUMNS = (
    "event_id, correlation_id, session_id, prompt_id, claude_agent_id, agent_name, is_sidechain, "
    "provider, model, input_tokens, output_tokens, cache_creation_input_tokens, "
    "cache_read_input_tokens, total_tokens, stop_reason, request_id, message_id, tool_use_ids, "
    "duration_ms, cost_usd, cost_source, pricing_source, source, started_at, created_at"
)
_LIFECYCLE_COLUMNS = (
    "event_id, correlation_id, event_type, agent_name, status, payload, "
    "created_at AS started_at, created_at"
)

# Statements built once from the constants above; every value is a parameter.
_GET_EXECUTION = (
    f"SELECT {_EXECUTION_COLUMNS} FROM agent_execution_logs "  # noqa: S608 - constants
    "WHERE correlation_id = $1"
)
_LIST_CHILDREN = (
    f"SELECT {_SUMMARY_COLUMNS} FROM agent_execution_logs "  # noqa: S608 - constants
    "WHERE parent_correlation_id = $1 ORDER BY created_at, correlation_id LIMIT $2"
)
_LIST_EXECUTIONS = (
    f"SELECT {_SUMMARY_COLUMNS} FROM agent_execution_logs "  # noqa: S608 - constants
    "WHERE created_at >= $1 AND created_at <= $2 "
    "AND ($3::text IS NULL OR agent_name = $3) "
    "AND ($4::text IS NULL OR status = $4) "
    "AND ($5::uuid IS NULL OR parent_correlation_id = $5) "
    "AND ($6::text IS NULL OR session_id = $6) "
    "AND ($7::text IS NULL OR user_prompt ILIKE $7 ESCAPE '\\') "
    "AND (NOT $8 OR parent_correlation_id IS NULL) "
    "AND ($9::timestamptz IS NULL OR (created_at, correlation_id) < ($9, $10::uuid)) "
    "ORDER BY created_at DESC, correlation_id DESC LIMIT $11"
)
_SECTIONS = {
    name: f"SELECT {columns} FROM {table} WHERE correlation_id = $1 "  # noqa: S608 - constants
    "ORDER BY started_at, created_at, event_id"
    for name, columns, table in (
        ("lifecycle", _LIFECYCLE_COLUMNS, "agent_execution_events"),
        ("routing_decisions", _ROUTING_COLUMNS, "agent_routing_decisions"),
        ("manifest_injections", _MANIFEST_COLUMNS, "agent_manifest_injections"),
        ("transformations", _TRANSFORMATION_COLUMNS, "agent_transformation_events"),
        ("actions", _ACTION_COLUMNS, "agent_actions"),
        ("llm_calls", _LLM_COLUMNS, "agent_llm_calls"),
    )
}
"""The per-table sections of a trace, in the order the trace lists them."""
_TIMELINE = (
    "SELECT started_at, created_at, source, event_id, kind, agent_name, details "
    "FROM get_complete_trace($1)"
)
_SUCCESS_RATES = (
    "SELECT agent_name, count(*) AS finished, "
    "avg(CASE WHEN status = 'success' THEN 1.0 ELSE 0.0 END)::float8 AS rate "
    "FROM agent_execution_logs WHERE created_at >= $1 AND status <> 'in_progress' "
    "GROUP BY agent_name"
)


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


class InvalidCursorError(ValueError):
    """A pagination cursor was not produced by :func:`encode_cursor`."""


def _json(record: Any) -> dict[str, Any]:
    return dict(to_jsonable_python(dict(record), fallback=str))


def encode_cursor(created_at: datetime, correlation_id: uuid.UUID) -> str:
    """Return an opaque cursor for the position after ``(created_at, correlation_id)``."""
    raw = f"{created_at.isoformat()}|{correlation_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """Return the position a cursor stands for.

    Raises:
        InvalidCursorError: the cursor is not one this module produced.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, _, ident = raw.partition("|")
        created_at, correlation_id = datetime.fromisoformat(stamp), uuid.UUID(ident)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidCursorError("cursor: not a cursor returned by this API") from exc
    if created_at.tzinfo is None or instant_problem(created_at) is not None:
        raise InvalidCursorError("cursor: not a cursor returned by this API")
    return created_at, correlation_id


@dataclass(frozen=True, slots=True)
class ExecutionFilter:
    """Which executions to list; ``since`` defaults to 24 hours before ``until`` (or now)."""

    agent: str | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    parent: uuid.UUID | None = None
    session_id: str | None = None
    search: str | None = None
    top_level: bool = False

    def window(self) -> tuple[datetime, datetime]:
        """Return the effective ``(since, until)``."""
        until = self.until or utc_now()
        return self.since or (until - DEFAULT_WINDOW), until


@dataclass(frozen=True, slots=True)
class ExecutionPage:
    """One page of executions and the cursor of the next page (None at the end)."""

    items: list[dict[str, Any]]
    next_cursor: str | None


async def get_execution(db: Any, correlation_id: uuid.UUID) -> dict[str, Any] | None:
    """Return the summary row of one execution, or None."""
    record = await db.fetchrow(_GET_EXECUTION, correlation_id)
    return None if record is None else _json(record)


async def stored_events(
    db: Any, correlation_id: uuid.UUID, event_ids: list[uuid.UUID] | None = None
) -> dict[str, int]:
    """Return ``{table: rows}`` stored for one correlation id, over every event table.

    Args:
        event_ids: count only these events (None: every row of the correlation id).
    """
    if event_ids is None:
        rows = await db.fetch(_STORED_ALL, correlation_id)
    else:
        rows = await db.fetch(_STORED_BY_ID, correlation_id, event_ids)
    return {r["tbl"]: int(r["n"]) for r in rows if r["n"]}


async def final_event_count(db: Any, correlation_id: uuid.UUID) -> int | None:
    """Return the ``event_count`` the execution's final lifecycle event carries, if any."""
    value = await db.fetchval(_FINAL_EVENT_COUNT, correlation_id)
    return None if value is None else int(value)


async def list_children(
    db: Any, correlation_id: uuid.UUID, *, limit: int = 200
) -> list[dict[str, Any]]:
    """Return the direct child executions of one execution, oldest first."""
    rows = await db.fetch(_LIST_CHILDREN, correlation_id, limit)
    return [_json(r) for r in rows]


async def list_executions(
    db: Any, filters: ExecutionFilter, *, limit: int = 50, cursor: str | None = None
) -> ExecutionPage:
    """Return executions newest first, filtered, one page at a time (keyset pagination).

    Raises:
        InvalidCursorError: ``cursor`` is not valid.
    """
    since, until = filters.window()
    after_time, after_id = decode_cursor(cursor) if cursor else (None, None)
    search = f"%{_escape_like(filters.search)}%" if filters.search else None
    rows = await db.fetch(
        _LIST_EXECUTIONS,
        since,
        until,
        filters.agent,
        filters.status,
        filters.parent,
        filters.session_id,
        search,
        filters.top_level,
        after_time,
        after_id,
        limit + 1,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = (
        encode_cursor(rows[-1]["created_at"], rows[-1]["correlation_id"]) if more else None
    )
    return ExecutionPage([_json(r) for r in rows], next_cursor)


def _escape_like(text: str) -> str:
    """Make ``%``, ``_`` and ``\\`` match themselves in an ILIKE pattern."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def get_trace(
    db: Any, correlation_id: uuid.UUID, *, max_depth: int = 4, max_children: int = 100
) -> dict[str, Any] | None:
    """Return the complete trace of one execution, children nested, or None if nothing is known.

    The trace holds the execution summary, its lifecycle events, routing decisions, manifest
    injections, transformations, actions and LLM calls (each in the order they began), a merged
    ``timeline`` of all of them (from ``get_complete_trace``), and ``children``: the traces of
    child executions, nested up to ``max_depth`` levels. Every row has ``started_at`` (when it
    began) and ``created_at`` (when it ended; a point event has both equal).
    """
    execution = await get_execution(db, correlation_id)
    trace: dict[str, Any] = {"correlation_id": str(correlation_id), "execution": execution}
    for name, statement in _SECTIONS.items():
        trace[name] = [_json(r) for r in await db.fetch(statement, correlation_id)]
    timeline = await db.fetch(_TIMELINE, correlation_id)
    trace["timeline"] = [_json(r) for r in timeline]
    children: list[dict[str, Any]] = []
    if max_depth > 0:
        for child in await list_children(db, correlation_id, limit=max_children):
            nested = await get_trace(
                db,
                uuid.UUID(child["correlation_id"]),
                max_depth=max_depth - 1,
                max_children=max_children,
            )
            if nested is not None:
                children.append(nested)
    trace["children"] = children
    if execution is None and not trace["timeline"] and not children:
        return None
    return trace


async def agent_success_rates(
    db: Any, *, window: timedelta = timedelta(days=7)
) -> dict[str, tuple[int, float]]:
    """Return ``{agent: (finished executions, share that succeeded)}`` over ``window``."""
    rows = await db.fetch(_SUCCESS_RATES, utc_now() - window)
    return {r["agent_name"]: (int(r["finished"]), float(r["rate"])) for r in rows}
