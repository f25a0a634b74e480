"""The usage report: LLM calls, tokens and cost, per day, session, model, project or agent.

Read from the LLM rollups (kept in the writing transaction: a call told twice counts once, a
better cost replaces the estimate), never from the calls themselves. What reads what:

* by day, model, project or agent without a filter, and with one model or project filter by
  day or by that filter's grouping (and the overview's cost sections): the session-free
  rollups, whole UTC days from ``rollup_llm_sums_day``, the ragged ends from
  ``rollup_llm_sums_hour``; distinct sessions summed from the session cells (migration 0009,
  :func:`_cells`): exact, a few hundred rows a month;
* by session without a filter, and by day or session filtered by session only: the per-day
  and session sums (``rollup_llm_session_sums_day``, migration 0010), each day row whole when
  all its calls are in the window, the edge days' other sessions by hour from
  ``rollup_llm_hour``;
* anything else (both filters, one filter by another grouping, a session filter with another
  filter or by model, project or agent): ``rollup_llm_hour``, keyed by hour, model, project,
  agent and session.

Every path gives what the raw statement over ``rollup_llm_hour`` gives, row for row. One
statement per report (the groups and the total together); the grouping key is one of this
module's constant expressions, every value a parameter. The window is the read layer's
(``since <= created_at < until``; an LLM call's ``created_at`` is when its response ended) in
whole hours: an hour counts when it starts in ``[floor(since), until)``. Costs add up only
priced calls; ``unpriced_calls`` says how many are not.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from pydantic import BaseModel, Field

from omniclaude.storage.queries._base import Reader, Row
from omniclaude.storage.queries.filters import (
    EVERYWHEN,
    InvalidFilterError,
    Window,
    choice,
    resolve_window,
    text_or_none,
)
from omniclaude.storage.queries.rollups import HourSpans, hour_spans
from omniclaude.storage.queries.rows import LlmCallRow

__all__ = [
    "ExecutionUsage",
    "UsageGroup",
    "UsageQuery",
    "UsageReport",
    "UsageRow",
    "UsageTotals",
    "execution_usage",
    "overview_costs",
    "summarize",
    "usage_report",
]


class UsageGroup(StrEnum):
    """What a usage report's rows are."""

    DAY = "day"
    SESSION = "session"
    MODEL = "model"
    PROJECT = "project"
    AGENT = "agent"


_KEYS: Final[dict[UsageGroup, str]] = {
    UsageGroup.DAY: "to_char(date_trunc('day', bucket AT TIME ZONE 'UTC'), 'YYYY-MM-DD')",
    UsageGroup.SESSION: "coalesce(nullif(session_id, ''), '(none)')",
    UsageGroup.MODEL: "model",
    UsageGroup.PROJECT: "coalesce(nullif(project, ''), '(none)')",
    UsageGroup.AGENT: "coalesce(nullif(agent_name, ''), '(none)')",
}
"""The grouping expression of each kind of row (constants: never built from input)."""


class UsageRow(Row):
    """The totals of one group (or of the whole report)."""

    key: str = Field(description="The day (YYYY-MM-DD, UTC), session, model, project or agent.")
    calls: int
    input_tokens: int
    output_tokens: int
    cache_creation_input_tokens: int
    cache_read_input_tokens: int
    total_tokens: int
    cost_usd: float = Field(description="The cost of the priced calls.")
    unpriced_calls: int = Field(description="Calls with no known price (not in cost_usd).")
    estimated_calls: int = Field(default=0, description="Calls priced by the price table.")
    exact_calls: int = Field(default=0, description="Calls priced by the provider's figure.")
    sidechain_calls: int = Field(description="Calls made by subagents (sidechains).")
    sessions: int
    first_at: datetime | None = None
    last_at: datetime | None = None


DEFAULT_ROWS: Final = 1_000
"""A usage report's rows unless asked for more (days oldest first, other groups costliest)."""
MAX_ROWS: Final = 10_000
"""The most rows one usage report gives (its total always covers every row)."""


class UsageQuery(BaseModel):
    """Which LLM calls a usage report covers, how it groups them, and how many rows it gives."""

    model_config = {"frozen": True}

    since: datetime
    until: datetime
    group_by: UsageGroup = UsageGroup.DAY
    model: str | None = None
    project: str | None = None
    session: str | None = None
    limit: int = Field(default=DEFAULT_ROWS, ge=1, le=MAX_ROWS)

    @classmethod
    def build(
        cls,
        *,
        range_: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        group_by: UsageGroup | str = UsageGroup.DAY,
        model: str | None = None,
        project: str | None = None,
        session: str | None = None,
        limit: int | None = None,
        now: datetime | None = None,
    ) -> UsageQuery:
        """Resolve the window (as every list does) and check the parameters.

        Raises:
            InvalidFilterError: a parameter is invalid (the message names it).
        """
        start, end = resolve_window(range_=range_, since=since, until=until, now=now)
        if limit is not None and not 1 <= limit <= MAX_ROWS:
            raise InvalidFilterError("limit", f"must be 1 to {MAX_ROWS:,}, not {limit}")
        return cls(
            since=start, until=end,
            group_by=choice(UsageGroup, group_by, "group_by") or UsageGroup.DAY,
            model=text_or_none(model), project=text_or_none(project),
            session=text_or_none(session), limit=DEFAULT_ROWS if limit is None else limit,
        )  # fmt: skip


class UsageReport(BaseModel):
    """LLM usage over a window: one row per group, and the total."""

    since: datetime
    until: datetime
    group_by: UsageGroup
    rows: list[UsageRow] = Field(
        description="Days oldest first; other groups costliest first; at most the query's limit."
    )
    groups: int = Field(
        default=0, description="How many rows the window has (rows: the first limit of them)."
    )
    total: UsageRow = Field(description="Every call of the window, whatever the limit.")


_SUMS: Final = (
    "coalesce(sum(input_tokens), 0) AS input_tokens, "
    "coalesce(sum(output_tokens), 0) AS output_tokens, "
    "coalesce(sum(cache_creation_input_tokens), 0) AS cache_creation_input_tokens, "
    "coalesce(sum(cache_read_input_tokens), 0) AS cache_read_input_tokens, "
    "coalesce(sum(input_tokens + output_tokens + cache_creation_input_tokens "
    "+ cache_read_input_tokens), 0) AS total_tokens, "
    "coalesce(sum(cost_usd), 0)::float8 AS cost_usd, "
    "coalesce(sum(unpriced_calls), 0) AS unpriced_calls, "
    "coalesce(sum(estimated_calls), 0) AS estimated_calls, "
    "coalesce(sum(exact_calls), 0) AS exact_calls, "
    "coalesce(sum(sidechain_calls), 0) AS sidechain_calls, "
)
"""The figures every usage row sums (over either rollup: the same columns)."""


def _statement(group: UsageGroup) -> str:
    key = _KEYS[group]
    order = "key" if group is UsageGroup.DAY else "cost_usd DESC, total_tokens DESC, key"
    return (
        f"SELECT {key} AS key, coalesce(sum(calls), 0) AS calls, "  # noqa: S608 - constants
        f"{_SUMS}"
        "count(DISTINCT nullif(session_id, '')) AS sessions, "
        "min(first_at) AS first_at, max(last_at) AS last_at, "
        f"grouping({key}) AS is_total "
        "FROM rollup_llm_hour WHERE bucket >= date_trunc('hour', $1::timestamptz, 'UTC') "
        "AND bucket < $2 AND calls > 0 "
        "AND ($3::text IS NULL OR model = $3) "
        "AND ($4::text IS NULL OR project = $4) "
        "AND ($5::text IS NULL OR session_id = $5) "
        f"GROUP BY GROUPING SETS (({key}), ()) ORDER BY is_total DESC, {order} LIMIT 10001"
    )


_STATEMENTS: Final = {group: _statement(group) for group in UsageGroup}

_SUMS_KEYS: Final[dict[UsageGroup, tuple[str, str]]] = {
    UsageGroup.DAY: (_KEYS[UsageGroup.DAY], "all"),
    UsageGroup.MODEL: (_KEYS[UsageGroup.MODEL], "model"),
    UsageGroup.PROJECT: (_KEYS[UsageGroup.PROJECT], "project"),
    UsageGroup.AGENT: (_KEYS[UsageGroup.AGENT], "agent"),
}
"""The groupings the session-free rollups answer (their key, and the sessions' dimension)."""


_SESSION_KEYS: Final[dict[UsageGroup, str]] = {
    UsageGroup.DAY: _KEYS[UsageGroup.DAY],
    UsageGroup.MODEL: "value",
    UsageGroup.PROJECT: "coalesce(nullif(value, ''), '(none)')",
    UsageGroup.AGENT: "coalesce(nullif(value, ''), '(none)')",
}
"""The same keys over ``rollup_llm_sessions_day`` (its bucket a day, its value the dimension's)."""


def _cells(dimensions: str, columns: str, *, per_day: bool = False) -> str:
    """The rows whose sum counts a window's distinct sessions of ``dimensions`` (an SQL
    condition on ``dimension``), as ``columns`` of ``rollup_llm_session_cells`` (migration
    0009): on the first day the cells of rows whose last hour is in the window; on a middle
    day those whose previous day with a call is before the window (or on its first day
    before its first hour); on the last day those of rows whose first hour is in the window,
    on the same condition. A window inside one UTC day counts that day's masks.

    ``per_day``: each day's sessions instead (summed per ``bucket``): a day's rows are its
    sessions, so the previous day does not matter."""
    first_in_window = (
        "" if per_day else " AND (prev_day < $6 OR (prev_day = $6 AND prev_hour < $7))"
    )
    cells = f"SELECT {columns}, sessions FROM rollup_llm_session_cells WHERE {dimensions} AND "  # noqa: S608
    return (
        f"{cells}kind = 'f' AND bucket = $6 AND hour >= $7 AND $6 < $8"  # noqa: S608
        f" UNION ALL {cells}kind = 'm' AND bucket > $6 AND bucket < $8{first_in_window}"
        f" UNION ALL {cells}kind = 'l' AND bucket = $8 AND hour <= $9 AND $6 < $8"
        f"{first_in_window}"
        f" UNION ALL SELECT {columns}, 1 FROM rollup_llm_sessions_day WHERE {dimensions}"
        " AND $6 = $8 AND bucket = $6 AND hours & $10 <> 0"
    )


_ALL: Final = "dimension = 'all'"
_OVERVIEW_DIMENSIONS: Final = "dimension IN ('all', 'model', 'project')"


def _session_args(spans: HourSpans) -> tuple[datetime, int, datetime, int, int]:
    """The session counts' parameters (``$6`` to ``$10``) of a window."""
    return (
        spans.first_day, spans.first_hour, spans.last_day, spans.last_hour,
        spans.first_mask & spans.last_mask,
    )  # fmt: skip


_WINDOW: Final = (
    "SELECT * FROM rollup_llm_sums_day WHERE bucket >= $2 AND bucket < $3"
    " UNION ALL SELECT * FROM rollup_llm_sums_hour WHERE (bucket >= $1 AND bucket < $2)"
    " OR (bucket >= $3 AND bucket < $4)"
)
"""A window's session-free sums: whole days (``[$2, $3)``) from the daily rollup, the ragged
ends (``[$1, $2)``, ``[$3, $4)``) from the hourly one."""


_FILTERS: Final[dict[str, str]] = {"model": "model", "project": "project"}
"""The filters the session-free rollups answer: each a dimension of the session cells, and
the sums' column it compares (``project`` there is the cells' value: ``coalesce(project_name,
project_path, '')``)."""


def _sums_statement(group: UsageGroup, filtered: str | None = None) -> str:
    """The report by ``group`` from the session-free rollups, optionally of one model or
    project (``filtered``: its dimension; the value is ``$11``). ``$5`` is the dimension the
    rows' sessions are counted in (a report by day: ``all``, or the filter's)."""
    key, session_key = _SUMS_KEYS[group][0], _SESSION_KEYS[group]
    order = "key" if group is UsageGroup.DAY else "cost_usd DESC, total_tokens DESC, key"
    chosen = "dimension = $5" if filtered is None else "dimension = $5 AND value = $11"
    cells = (
        _cells(chosen, "bucket", per_day=True) if group is UsageGroup.DAY
        else _cells(chosen, "value")
    )  # fmt: skip
    by_key = (
        f"SELECT {session_key} AS key, sum(sessions) AS sessions, 0 AS is_total"  # noqa: S608
        f" FROM ({cells}) AS c GROUP BY 1"
    )
    where = "calls > 0" if filtered is None else f"calls > 0 AND {_FILTERS[filtered]} = $11"
    return (
        f"WITH sums AS (SELECT {key} AS key, coalesce(sum(calls), 0) AS calls, "  # noqa: S608
        f"{_SUMS}"
        "min(first_at) AS first_at, max(last_at) AS last_at, "
        f"grouping({key}) AS is_total FROM ({_WINDOW}) AS w WHERE {where} "
        f"GROUP BY GROUPING SETS (({key}), ())), "
        f"sessions AS ({by_key} UNION ALL SELECT NULL, sum(sessions), 1"
        f" FROM ({_cells(_ALL if filtered is None else chosen, 'value')}) AS t) "
        "SELECT s.*, coalesce(n.sessions, 0) AS sessions FROM sums s LEFT JOIN sessions n"
        " ON n.is_total = s.is_total AND n.key IS NOT DISTINCT FROM s.key "
        f"ORDER BY s.is_total DESC, {order} LIMIT 10001"
    )


"""Sums from whole days of the daily rollup and the ragged ends of the hourly one
(:data:`_WINDOW`); distinct sessions per key and in all from the session cells
(:func:`_cells`): a few hundred rows for a month, no dedupe."""


_SUMS_STATEMENTS: Final = {
    (group, filtered): _sums_statement(group, filtered)
    for group in _SUMS_KEYS
    for filtered in (None, *_FILTERS)
    if filtered is None or group in {UsageGroup.DAY, UsageGroup(filtered)}
}
"""Every report the session-free rollups answer: by any of their groupings without a filter,
and by day or by the filter's own grouping with one model or project filter (sessions by
project among one model's are not counted ahead: such a report reads ``rollup_llm_hour``)."""


def _sums_plan(query: UsageQuery) -> tuple[str, str | None, str | None] | None:
    """Which session-free statement answers ``query`` (its statement, the ``$5`` dimension,
    the filter's value), or None: the report reads ``rollup_llm_hour``."""
    if query.session is not None:
        return None
    filters = [(d, v) for d, v in (("model", query.model), ("project", query.project)) if v]
    if len(filters) > 1:
        return None
    filtered, value = filters[0] if filters else (None, None)
    statement = _SUMS_STATEMENTS.get((query.group_by, filtered))
    if statement is None:
        return None
    dimension = filtered or _SUMS_KEYS[query.group_by][1]
    return statement, dimension, value


async def _report_from_sums(
    db: Reader, query: UsageQuery, plan: tuple[str, str | None, str | None]
) -> list[Any]:
    """The rows and total from the session-free rollups (:func:`_sums_plan`'s statement)."""
    spans = hour_spans(query.since, query.until)
    if spans.end <= spans.first:
        return []
    statement, dimension, value = plan
    args: list[Any] = [spans.first, spans.days, spans.days_end, spans.end, dimension]
    args += [*_session_args(spans), *([] if value is None else [value])]
    records: list[Any] = await db.fetch(statement, *args)
    return records


_SESSION_SUMS_COLUMNS: Final = (
    "session_id, bucket, calls, input_tokens, output_tokens, cache_creation_input_tokens, "
    "cache_read_input_tokens, cost_usd, unpriced_calls, estimated_calls, exact_calls, "
    "sidechain_calls, first_at, last_at"
)
_COUNTS: Final = (
    "calls", "input_tokens", "output_tokens", "cache_creation_input_tokens",
    "cache_read_input_tokens", "cost_usd", "unpriced_calls", "estimated_calls", "exact_calls",
    "sidechain_calls",
)  # fmt: skip


def _figures(of: str) -> str:
    """:data:`_SUMS`' figures of each group (``of``: ``{}`` or ``coalesce(sum({}), 0)``), as
    bigints: numerics take three times as long to decode and validate (10,000 rows)."""
    tokens = "(" + " + ".join(_COUNTS[1:5]) + ")"
    return (
        "".join(f"{of.format(name)}::bigint AS {name}, " for name in _COUNTS[:5])
        + f"{of.format(tokens)}::bigint AS total_tokens, "
        + f"{of.format('cost_usd')}::float8 AS cost_usd, "
        + "".join(f"{of.format(name)}::bigint AS {name}, " for name in _COUNTS[6:])
    )


_GROUP_SUM: Final = "sum({0}::float8)::bigint AS {0}, "
"""A group's sum of an integer column: float8 adds integers exactly below 2**53 (9e15 tokens,
far beyond a session's window), and its by-value state makes the per-session hash aggregate a
third faster than ``sum(bigint)``'s (7 d at 10M actions: 199 -> 137 ms). Costs stay numeric."""
_EDGE = (
    " UNION ALL SELECT {columns} FROM rollup_llm_hour WHERE bucket >= ${start} AND bucket < ${end}"
    " AND calls > 0{session} AND session_id IN (SELECT session_id FROM rollup_llm_session_sums_day"
    " WHERE bucket = ${day}{session} AND (first_at >= $1 AND last_at < $6) IS NOT TRUE)"
)


_TOTALS_COLUMNS: Final = _SESSION_SUMS_COLUMNS.replace("bucket, ", "")
_INSIDE: Final = (
    f"SELECT {_TOTALS_COLUMNS} FROM rollup_llm_session_totals"  # noqa: S608 - constants
    " WHERE first_at >= $1 AND last_at < $6 AND calls > 0"
)
"""The sessions wholly inside the window's hours ``[$1, $6)`` (migration 0012): their sums
over all their calls are the window's."""
_CROSSING: Final = (
    " AND session_id IN (SELECT session_id FROM rollup_llm_session_totals"
    " WHERE last_at >= $1 AND first_at < $1"
    " UNION SELECT session_id FROM rollup_llm_session_totals WHERE last_at >= $6 AND first_at < $6)"
)
"""The sessions with calls in the window and outside it (before its start or after its end):
the few whose window sums need their days and hours."""


def _session_sums_statement(group: UsageGroup, *, filtered: bool) -> str:
    key = _KEYS[group]
    order = "key" if group is UsageGroup.DAY else "cost_usd DESC, total_tokens DESC, key"
    session = " AND session_id = $7" if filtered else ""
    limit = "$8" if filtered else "$7"
    whole = ""
    if group is UsageGroup.SESSION and not filtered:
        # Sessions wholly inside from their totals; only the crossing ones by days and hours.
        session = _CROSSING
        whole = (
            f" UNION ALL SELECT {key}, "  # noqa: S608 - constants only
            + "".join(f"{name}, " for name in _COUNTS)
            + f"(session_id <> '')::int, first_at, last_at FROM ({_INSIDE}) AS t"
        )
    # By session, a group is one session (or none): the total's distinct sessions add up. By
    # day, the report is filtered by one session: the total has it when any day has it.
    sessions = "sum" if group is UsageGroup.SESSION else "max"
    edge = {"columns": _SESSION_SUMS_COLUMNS, "session": session}
    return (
        f"WITH w AS (SELECT {_SESSION_SUMS_COLUMNS} FROM rollup_llm_session_sums_day"  # noqa: S608
        f" WHERE bucket >= $3 AND bucket < $6 AND first_at >= $1 AND last_at < $6{session}"
        + _EDGE.format(start=1, end=2, day=3, **edge)
        + _EDGE.format(start=5, end=6, day=4, **edge)
        + f"), g AS MATERIALIZED (SELECT {key} AS key, "
        + "".join(
            _GROUP_SUM.format(name) if name != "cost_usd" else "sum(cost_usd) AS cost_usd, "
            for name in _COUNTS
        )
        + "max((session_id <> '')::int) AS sessions, min(first_at) AS first_at,"  # noqa: S608
        f" max(last_at) AS last_at FROM w WHERE calls > 0 GROUP BY 1{whole}) "
        "SELECT * FROM (SELECT NULL AS key, "
        + _figures("coalesce(sum({}), 0)")
        + f"coalesce({sessions}(sessions), 0) AS sessions, min(first_at) AS first_at,"  # noqa: S608 - constants
        " max(last_at) AS last_at, 1 AS is_total, (SELECT count(*) FROM g) AS groups FROM g"
        f" UNION ALL (SELECT key, {_figures('{}')}"
        f"sessions, first_at, last_at, 0, 0 FROM g ORDER BY {order} LIMIT {limit})) AS r"
        f" ORDER BY is_total DESC, {order}"
    )


"""A report by session (or by day of one session: ``$7``) from the per-day and session rollup:
a day row counts whole when all its calls are in the window's hours ``[$1, $6)`` (its first
and last call say so: every whole day, and an edge day's sessions that started after the
window's first hour or ended before its end, as a session of today does); the other sessions
of the edge days (``$3``, ``$4``) count their hours from ``rollup_llm_hour``, those of the
window in the first day (``[$1, $2)``) and in the last (``[$5, $6)``). Summed per key once
(a session, or none; or a day), then the total and the costliest 10,000 rows from those
groups: a group's ``sessions`` is 1 unless its session is none, as the raw statement's
``count(DISTINCT nullif(session_id, ''))``, without sorting every row for it."""

_SESSION_SUMS_STATEMENTS: Final = {
    (group, filtered): _session_sums_statement(group, filtered=filtered)
    for group in (UsageGroup.DAY, UsageGroup.SESSION)
    for filtered in (False, True)
}


async def _report_from_session_sums(db: Reader, query: UsageQuery) -> list[Any]:
    """The rows and total from the per-day and session rollup (by session, or by day or
    session filtered by session only)."""
    spans = hour_spans(query.since, query.until)
    if spans.end <= spans.first:
        return []
    first_end = min(spans.first_day + timedelta(days=1), spans.end)
    args: list[Any] = [
        spans.first, first_end, spans.first_day, spans.last_day,
        max(spans.last_day, first_end), spans.end,
    ]  # fmt: skip
    if query.session is not None:
        args.append(query.session)
    args.append(query.limit)
    statement = _SESSION_SUMS_STATEMENTS[query.group_by, query.session is not None]
    records: list[Any] = await db.fetch(statement, *args)
    return records


_OVERVIEW_GROUPS: Final = (UsageGroup.DAY, UsageGroup.MODEL, UsageGroup.PROJECT)
_DAY_KEY, _PROJECT_KEY = _KEYS[UsageGroup.DAY], _KEYS[UsageGroup.PROJECT]
_OVERVIEW_COSTS: Final = (
    f"WITH w AS ({_WINDOW}), "  # noqa: S608 - constants only
    f"sums AS (SELECT CASE WHEN grouping({_DAY_KEY}) = 0 THEN 'day'"
    " WHEN grouping(model) = 0 THEN 'model'"
    f" WHEN grouping({_PROJECT_KEY}) = 0 THEN 'project' ELSE 'total' END AS grp,"
    f" coalesce({_DAY_KEY}, model, {_PROJECT_KEY}) AS key, coalesce(sum(calls), 0) AS calls,"
    f" {_SUMS}min(first_at) AS first_at, max(last_at) AS last_at FROM w WHERE calls > 0"
    f" GROUP BY GROUPING SETS (({_DAY_KEY}), (model), ({_PROJECT_KEY}), ())), "
    "sessions AS (SELECT 'day' AS grp,"
    f" {_SESSION_KEYS[UsageGroup.DAY]} AS key, sum(sessions) AS sessions"
    f" FROM ({_cells(_ALL, 'bucket', per_day=True)}) AS d GROUP BY 2"
    " UNION ALL SELECT CASE dimension WHEN 'all' THEN 'total' ELSE dimension END, CASE dimension"
    f" WHEN 'all' THEN NULL WHEN 'model' THEN {_SESSION_KEYS[UsageGroup.MODEL]}"
    f" ELSE {_SESSION_KEYS[UsageGroup.PROJECT]} END, sum(sessions)"
    f" FROM ({_cells(_OVERVIEW_DIMENSIONS, 'dimension, value')}) AS c"
    " GROUP BY 1, 2), "
    "ranked AS (SELECT s.*, coalesce(n.sessions, 0) AS sessions, row_number() OVER ("
    "PARTITION BY s.grp ORDER BY s.cost_usd DESC, s.total_tokens DESC, s.key) AS rank"
    " FROM sums s LEFT JOIN sessions n ON n.grp = s.grp AND n.key IS NOT DISTINCT FROM s.key) "
    "SELECT * FROM ranked WHERE grp IN ('day', 'total') OR rank <= $5 "
    "ORDER BY grp, CASE WHEN grp = 'day' THEN key END, rank"
)
"""The overview's three reports (by day, model and project) and their total in one statement:
the sums are read once (:data:`_WINDOW`), the sessions counted from the session cells (a few
hundred rows for a month). The same windows and figures as :func:`_sums_statement`'s; ``$5``
caps the rows by model and by project (costliest first)."""


async def overview_costs(
    db: Reader, *, since: datetime, until: datetime, top: int = 10
) -> tuple[dict[UsageGroup, list[UsageRow]], UsageRow]:
    """The usage rows by day (every day), model and project (the ``top`` costliest) and the
    total of ``since <= t < until``: what three :func:`usage_report` calls give, in one read."""
    rows: dict[UsageGroup, list[UsageRow]] = {group: [] for group in _OVERVIEW_GROUPS}
    total = _empty_total()
    spans = hour_spans(since, until)
    if spans.end <= spans.first:
        return rows, total
    records = await db.fetch(
        _OVERVIEW_COSTS, spans.first, spans.days, spans.days_end, spans.end, top,
        *_session_args(spans),
    )  # fmt: skip
    for record in records:
        values = {k: v for k, v in dict(record).items() if k not in {"grp", "rank"}}
        if record["grp"] == "total":
            total = UsageRow.model_validate({**values, "key": "total"})
        else:
            rows[UsageGroup(record["grp"])].append(UsageRow.model_validate(values))
    return rows, total


def _empty_total() -> UsageRow:
    return UsageRow(
        key="total", calls=0, input_tokens=0, output_tokens=0, cache_creation_input_tokens=0,
        cache_read_input_tokens=0, total_tokens=0, cost_usd=0.0, unpriced_calls=0,
        sidechain_calls=0, sessions=0,
    )  # fmt: skip


async def usage_report(db: Reader, query: UsageQuery) -> UsageReport:
    """Return the usage report ``query`` asks for.

    Without filters, by day, model, project or agent, and with one model or project filter,
    by day or by that filter's grouping, it reads the session-free rollups (whole days from
    the daily one, the ragged ends from the hourly one) and sums the sessions from the session
    cells: a few thousand rows for a month. By session without a filter, or by day or session
    filtered by session only, it reads the per-day and session sums (85k rows for a busy
    month, where ``rollup_llm_hour`` holds 686k). Any other report (both filters, one filter
    by another grouping, a session filter with another filter or by model, project or agent)
    reads ``rollup_llm_hour`` (keyed by session). All give the same figures.
    """
    records: list[Any]
    plan = _sums_plan(query)
    if plan is not None:
        records = await _report_from_sums(db, query, plan)
    elif (
        (query.group_by, True) in _SESSION_SUMS_STATEMENTS
        and not (query.model or query.project)
        and (query.session or query.group_by is UsageGroup.SESSION)
    ):
        records = await _report_from_session_sums(db, query)
    else:
        records = await db.fetch(
            _STATEMENTS[query.group_by],
            query.since, query.until, query.model, query.project, query.session,
        )  # fmt: skip
    rows: list[UsageRow] = []
    total, groups = _empty_total(), 0
    for record in records:  # is_total is not a field: validation leaves it out
        if record["is_total"]:
            total = UsageRow.model_validate({**dict(record), "key": "total"})
            # The per-day and session statement limits its rows in SQL and counts them there.
            groups = record.get("groups", groups)
        else:
            groups += "groups" not in record
            if len(rows) < query.limit:
                rows.append(UsageRow.model_validate(dict(record)))
    return UsageReport(
        since=query.since, until=query.until, group_by=query.group_by, rows=rows,
        groups=groups, total=total,
    )  # fmt: skip


# ------------------------------------------------------------------ per execution
@dataclass(slots=True)
class UsageTotals:
    """Tokens and cost of some LLM calls (a trace, or an execution with all under it)."""

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    cost_usd: float = 0.0
    unpriced_calls: int = 0
    estimated_calls: int = 0
    exact_calls: int = 0
    models: list[str] = field(default_factory=list)

    @property
    def total_tokens(self) -> int:
        """Every token of every kind."""
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_creation_input_tokens
            + self.cache_read_input_tokens
        )

    @property
    def exactness(self) -> str:
        """How exact the cost is: exact, estimate, partly unpriced, unpriced (none: no call)."""
        if not self.calls:
            return "none"
        if self.unpriced_calls == self.calls:
            return "unpriced"
        if self.unpriced_calls:
            return "partly unpriced"
        return "exact" if self.exact_calls == self.calls else "estimate"

    @property
    def text(self) -> str:
        """``12,345 tokens · $0.0123 (estimate)`` (empty without calls)."""
        if not self.calls:
            return ""
        cost = "unpriced" if self.exactness == "unpriced" else f"${self.cost_usd:.4f}"
        kind = "" if self.exactness in {"unpriced", "exact"} else f" ({self.exactness})"
        return f"{self.total_tokens:,} tokens · {cost}{kind}"

    def as_json(self) -> dict[str, object]:
        """JSON-ready figures."""
        return {
            "calls": self.calls, "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
            "total_tokens": self.total_tokens, "cost_usd": self.cost_usd,
            "unpriced_calls": self.unpriced_calls, "estimated_calls": self.estimated_calls,
            "exact_calls": self.exact_calls, "exactness": self.exactness, "models": self.models,
        }  # fmt: skip


def summarize(rows: Iterable[LlmCallRow]) -> UsageTotals:
    """Sum LLM call rows already read (each row once)."""
    out = UsageTotals()
    models: set[str] = set()
    for row in rows:
        out.calls += 1
        out.input_tokens += row.input_tokens
        out.output_tokens += row.output_tokens
        out.cache_creation_input_tokens += row.cache_creation_input_tokens
        out.cache_read_input_tokens += row.cache_read_input_tokens
        out.cost_usd += row.cost_usd or 0.0
        out.unpriced_calls += row.cost_source == "unpriced"
        out.estimated_calls += row.cost_source == "estimate"
        out.exact_calls += row.cost_source == "exact"
        models.add(row.model)
    out.models = sorted(models)
    return out


@dataclass(slots=True)
class ExecutionUsage:
    """An execution's own LLM calls, and its total with every execution under it."""

    own: UsageTotals = field(default_factory=UsageTotals)
    total: UsageTotals = field(default_factory=UsageTotals)


_MAX_DEPTH: Final = 8
_MAX_CHILDREN: Final = 500
_EXECUTION_USAGE = (
    "WITH RECURSIVE tree(root, cid, depth) AS ("
    " SELECT id, id, 0 FROM unnest($1::uuid[]) AS id"
    " UNION ALL"
    " SELECT t.root, k.correlation_id, t.depth + 1 FROM tree t CROSS JOIN LATERAL ("
    "   SELECT l.correlation_id FROM agent_execution_logs l"
    "    WHERE l.parent_correlation_id = t.cid AND l.correlation_id <> t.root LIMIT $3) k"
    "  WHERE t.depth < $2) "
    "SELECT t.root, (t.depth = 0) AS own, sum(c.calls)::bigint AS calls, "
    "sum(c.input_tokens)::bigint AS input_tokens, sum(c.output_tokens)::bigint AS output_tokens, "
    "sum(c.cache_creation_input_tokens)::bigint AS cache_creation_input_tokens, "
    "sum(c.cache_read_input_tokens)::bigint AS cache_read_input_tokens, "
    "coalesce(sum(c.cost_usd), 0)::float8 AS cost_usd, "
    "sum(c.unpriced_calls)::bigint AS unpriced_calls, "
    "sum(c.estimated_calls)::bigint AS estimated_calls, "
    "sum(c.exact_calls)::bigint AS exact_calls, array_agg(DISTINCT c.model) AS models "
    "FROM tree t CROSS JOIN LATERAL ("
    " SELECT model, count(*) AS calls, sum(input_tokens) AS input_tokens,"
    " sum(output_tokens) AS output_tokens,"
    " sum(cache_creation_input_tokens) AS cache_creation_input_tokens,"
    " sum(cache_read_input_tokens) AS cache_read_input_tokens, sum(cost_usd) AS cost_usd,"
    " count(*) FILTER (WHERE cost_source = 'unpriced') AS unpriced_calls,"
    " count(*) FILTER (WHERE cost_source = 'estimate') AS estimated_calls,"
    " count(*) FILTER (WHERE cost_source = 'exact') AS exact_calls"
    " FROM agent_llm_calls WHERE correlation_id = t.cid AND created_at >= $4 AND created_at < $5"
    " GROUP BY model) c "
    "GROUP BY GROUPING SETS ((t.root), (t.root, (t.depth = 0)))"
)
"""Each execution's calls (``own``) and with its descendants' (``own`` NULL): a call belongs
to one execution, so every ancestor's total counts it once. Both joins are lateral, one index
probe per execution (its children by the parent index, its calls by the primary key within
the window's partitions), never a scan of the calls: a page costs what its trees hold."""


async def execution_usage(
    db: Reader, correlation_ids: list[uuid.UUID], *, window: Window = EVERYWHEN
) -> dict[uuid.UUID, ExecutionUsage]:
    """Tokens and cost of each execution: its own LLM calls, and with all under it.

    Args:
        db: a connection or pool.
        correlation_ids: the executions.
        window: where their calls are (``created_at``; :func:`~.filters.trace_window` of
            the executions): only those days' partitions are read.

    Returns:
        Per correlation id with any call (others are absent: no usage).
    """
    out: dict[uuid.UUID, ExecutionUsage] = {}
    if not correlation_ids:
        return out
    args = (list(correlation_ids), _MAX_DEPTH, _MAX_CHILDREN, *window)
    for row in await db.fetch(_EXECUTION_USAGE, *args):
        values = dict(row)
        root, own = values.pop("root"), values.pop("own")
        values["models"] = sorted(values["models"] or [])
        totals = UsageTotals(**values)
        usage = out.setdefault(root, ExecutionUsage())
        if own is None:
            usage.total = totals
        elif own:
            usage.own = totals
    return out
