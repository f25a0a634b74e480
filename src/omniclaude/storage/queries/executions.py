"""Executions: one, its children, a filtered page of them, and per-agent success rates.

Statements are put together from this module's constant fragments, one per filter that is
set (so the planner sees only the conditions that apply and can use their indexes); every
value is a ``$n`` parameter.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import Field

from omniclaude.events import utc_now
from omniclaude.storage.queries._base import Reader, column_list, one_connection, rows_as
from omniclaude.storage.queries.filters import (
    Cursor,
    ExecutionFilter,
    decode_cursor,
    encode_cursor,
    escape_like,
    hex_prefix,
    trace_window,
    uuid_range,
)
from omniclaude.storage.queries.rows import ExecutionRow, ExecutionSummary
from omniclaude.storage.queries.usage import execution_usage

__all__ = [
    "MAX_PAGE",
    "SEARCH_TEXT",
    "ExecutionListItem",
    "ExecutionPage",
    "agent_success_rates",
    "get_execution",
    "list_agents",
    "list_children",
    "list_executions",
    "recent_successes",
]

MAX_PAGE = 200
"""The most rows one page holds."""

SEARCH_TEXT = "(coalesce(l.user_prompt, '') || ' ' || coalesce(l.error_message, ''))"
"""What text search matches: the prompt and the error message (the trigram index's
expression, migration 0004: keep the two identical or the index is not used)."""


class ExecutionListItem(ExecutionSummary):
    """A row of the executions list: the summary, how many direct children it has, and the
    tokens and cost of its LLM calls with those of everything under it (each once)."""

    child_count: int = 0
    llm_calls: int = 0
    total_tokens: int = 0
    cost_usd: float | None = Field(
        default=None, description="The priced calls' cost (None: no call, or none priced)."
    )
    cost_exactness: str = Field(
        default="none", description="exact, estimate, partly unpriced, unpriced or none."
    )


@dataclass(frozen=True, slots=True)
class ExecutionPage:
    """One page of executions, newest first, and the cursor of the next (None at the end)."""

    items: list[ExecutionListItem]
    next_cursor: str | None


_GET = (
    f"SELECT {column_list(ExecutionRow)} FROM agent_execution_logs "  # noqa: S608 - constants
    "WHERE correlation_id = $1"
)
_CHILDREN = (
    f"SELECT {column_list(ExecutionSummary)} FROM agent_execution_logs "  # noqa: S608
    "WHERE parent_correlation_id = $1 ORDER BY created_at, correlation_id LIMIT $2"
)
_LIST_HEAD = (
    f"SELECT {column_list(ExecutionSummary, prefix='l.')}, "  # noqa: S608 - constants
    "(SELECT count(*) FROM agent_execution_logs c "
    "WHERE c.parent_correlation_id = l.correlation_id) AS child_count "
    "FROM agent_execution_logs l WHERE l.created_at >= $1 AND l.created_at < $2"
)
# The agent choices: a skip scan of the (agent_name, created_at) index, one probe per agent
# (a DISTINCT over the executions rollup read every agent-hour-status-project row of the
# month: 100+ ms at 10M actions, on every executions page). The success rates read the
# executions rollup (rollups.py).
_AGENTS = (
    "WITH RECURSIVE a(agent_name) AS ("
    " (SELECT agent_name FROM agent_execution_logs WHERE created_at >= $1"
    "  ORDER BY agent_name LIMIT 1)"
    " UNION ALL"
    " SELECT (SELECT l.agent_name FROM agent_execution_logs l"
    "          WHERE l.agent_name > a.agent_name AND l.created_at >= $1"
    "          ORDER BY l.agent_name LIMIT 1)"
    "   FROM a WHERE a.agent_name IS NOT NULL) "
    "SELECT agent_name FROM a WHERE agent_name IS NOT NULL LIMIT 200"
)
_SUCCESS_RATES = (
    "SELECT agent_name, sum(executions)::bigint AS finished, "
    "(sum(executions) FILTER (WHERE status = 'success'))::float8 "
    "/ nullif(sum(executions), 0) AS rate "
    "FROM rollup_executions_hour WHERE bucket >= date_trunc('hour', $1::timestamptz, 'UTC') "
    "AND status <> 'in_progress' GROUP BY agent_name HAVING sum(executions) > 0"
)


async def get_execution(db: Reader, correlation_id: uuid.UUID) -> ExecutionRow | None:
    """Return everything known about one execution, or None."""
    record = await db.fetchrow(_GET, correlation_id)
    return None if record is None else ExecutionRow.model_validate(dict(record))


async def list_children(
    db: Reader, correlation_id: uuid.UUID, *, limit: int = MAX_PAGE
) -> list[ExecutionSummary]:
    """Return the direct child executions of one execution, oldest first."""
    return rows_as(ExecutionSummary, await db.fetch(_CHILDREN, correlation_id, limit))


class _Statement:
    """A statement under construction: constant SQL fragments and their parameters."""

    def __init__(self, head: str, *args: Any) -> None:
        self.sql = head
        self.args = list(args)

    def param(self, value: Any) -> str:
        self.args.append(value)
        return f"${len(self.args)}"

    def where(self, fragment: str) -> None:
        self.sql += f" AND {fragment}"


def _filtered(flt: ExecutionFilter) -> _Statement:
    st = _Statement(_LIST_HEAD, flt.since, flt.until)
    if flt.agent is not None:
        st.where(f"l.agent_name = {st.param(flt.agent)}")
    if flt.status is not None:
        st.where(f"l.status = {st.param(flt.status.value)}")
    if flt.parent is not None:
        st.where(f"l.parent_correlation_id = {st.param(flt.parent)}")
    if flt.top_level:
        st.where("l.parent_correlation_id IS NULL")
    if flt.session is not None:
        st.where(f"l.session_id LIKE {st.param(escape_like(flt.session) + '%')} ESCAPE '\\'")
    if flt.text is not None:
        pattern = st.param(f"%{escape_like(flt.text)}%")
        options = [f"{SEARCH_TEXT} ILIKE {pattern} ESCAPE '\\'"]
        like = st.param(escape_like(flt.text) + "%")
        options.append(f"l.session_id LIKE {like} ESCAPE '\\'")
        prefix = hex_prefix(flt.text)
        if prefix is not None:
            low, high = uuid_range(prefix)
            options.append(f"l.correlation_id BETWEEN {st.param(low)} AND {st.param(high)}")
        st.where("(" + " OR ".join(options) + ")")
    return st


async def list_executions(
    db: Reader,
    flt: ExecutionFilter,
    *,
    limit: int = 50,
    cursor: str | Cursor | None = None,
) -> ExecutionPage:
    """Return executions newest first, filtered, one page at a time (keyset pagination).

    Args:
        db: a connection or pool.
        flt: which executions.
        limit: rows per page (1..:data:`MAX_PAGE`).
        cursor: the ``next_cursor`` of the previous page (or its decoded position).

    Raises:
        InvalidCursorError: ``cursor`` is not valid.
    """
    limit = max(1, min(limit, MAX_PAGE))
    after = decode_cursor(cursor) if isinstance(cursor, str) else cursor
    st = _filtered(flt)
    if after is not None:
        st.where(f"(l.created_at, l.correlation_id) < ({st.param(after[0])}, {st.param(after[1])})")
    st.sql += f" ORDER BY l.created_at DESC, l.correlation_id DESC LIMIT {st.param(limit + 1)}"
    async with one_connection(db) as conn:
        rows = rows_as(ExecutionListItem, await conn.fetch(st.sql, *st.args))
        more = len(rows) > limit
        rows = await _with_usage(conn, rows[:limit])
    last = rows[-1] if rows else None
    next_cursor = (
        encode_cursor(last.created_at, last.correlation_id) if more and last is not None else None
    )
    return ExecutionPage(rows, next_cursor)


async def _with_usage(db: Reader, rows: list[ExecutionListItem]) -> list[ExecutionListItem]:
    """The page's rows with their LLM usage (one more statement for the whole page)."""
    window = trace_window((r.created_at, r.last_event_at, r.status == "in_progress") for r in rows)
    usage = await execution_usage(db, [r.correlation_id for r in rows], window=window)
    out = []
    for row in rows:
        found = usage.get(row.correlation_id)
        if found is None:
            out.append(row)
            continue
        total = found.total
        priced = total.calls > total.unpriced_calls
        out.append(row.model_copy(update={
            "llm_calls": total.calls, "total_tokens": total.total_tokens,
            "cost_usd": total.cost_usd if priced else None, "cost_exactness": total.exactness,
        }))  # fmt: skip
    return out


async def list_agents(db: Reader, *, window: timedelta = timedelta(days=30)) -> list[str]:
    """The agent names that ran in the last ``window`` (a filter's choices)."""
    return [row["agent_name"] for row in await db.fetch(_AGENTS, utc_now() - window)]


def recent_successes(db: Reader) -> Callable[[str], Awaitable[list[dict[str, Any]]]]:
    """A loader of an agent's latest successful executions (the manifests' "recent
    patterns" section): ``{user_prompt (200 chars), duration_ms}`` of the last 5 in 24 h."""

    async def recent(agent: str) -> list[dict[str, Any]]:
        flt = ExecutionFilter.build(agent=agent, status="success")
        page = await list_executions(db, flt, limit=5)
        return [
            {"user_prompt": (r.user_prompt or "")[:200], "duration_ms": r.duration_ms}
            for r in page.items
        ]

    return recent


async def agent_success_rates(
    db: Reader, *, window: timedelta = timedelta(days=7)
) -> dict[str, tuple[int, float]]:
    """Return ``{agent: (finished executions, share that succeeded)}`` over ``window``."""
    rows = await db.fetch(_SUCCESS_RATES, utc_now() - window)
    return {r["agent_name"]: (int(r["finished"]), float(r["rate"] or 0.0)) for r in rows}
