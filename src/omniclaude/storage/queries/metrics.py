"""Figures read from metric points: how much each counter grew, per day or per session.

``agent_metric_points`` holds OTLP data points as they were told (migration
``0008_metric_points``). How a sum adds up depends on its temporality:

* ``delta``: each point is the growth of its own interval, added as it is;
* ``cumulative``: each point is the total since its series started; a point adds its
  difference from the previous point of the same series **and start** (``series_key``,
  ``started_at``), the first point of a start adds its whole value, and a drop in value is a
  reset (the new value counts whole). A window's first point looks back
  :data:`LOOKBACK` for its predecessor, so a series reported across the window's start is
  not counted from zero.
* gauges, histograms and summaries are never added up here.

A point counts in the window its time (``created_at``) falls in (``since <= t < until``).
:func:`activity_figures` turns Claude Code's counters into the overview's figures (lines
added and removed, commits, pull requests, active time), per UTC day or per session.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from pydantic import Field

from omniclaude.storage.queries._base import Reader, Row

__all__ = [
    "ACTIVITY_METRICS",
    "LOOKBACK",
    "ActivityGroup",
    "ActivityRow",
    "MetricTotal",
    "activity_figures",
    "metric_totals",
]

LOOKBACK: Final = timedelta(days=7)
"""How far before the window a cumulative series' previous point is looked for."""


class ActivityGroup(StrEnum):
    """What the rows of :func:`activity_figures` are."""

    DAY = "day"
    SESSION = "session"


_KEYS: Final[dict[ActivityGroup, str]] = {
    ActivityGroup.DAY: "to_char(date_trunc('day', created_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD')",
    ActivityGroup.SESSION: "coalesce(session_id, '(none)')",
}
"""The grouping expression of each kind of row (constants: never built from input)."""

ACTIVITY_METRICS: Final[dict[str, tuple[str, str | None]]] = {
    "lines_added": ("claude_code.lines_of_code.count", "added"),
    "lines_removed": ("claude_code.lines_of_code.count", "removed"),
    "commits": ("claude_code.commit.count", None),
    "pull_requests": ("claude_code.pull_request.count", None),
    "active_time_s": ("claude_code.active_time.total", None),
}
"""Each activity figure: the Claude Code metric it adds up, and the ``type`` attribute it
keeps (None: every type)."""

_GROWTH = """
WITH points AS (
    SELECT {key} AS key, metric_name, attributes->>'type' AS type, temporality, value,
           created_at,
           lag(value) OVER (PARTITION BY series_key, started_at ORDER BY created_at) AS previous
      FROM agent_metric_points
     WHERE created_at >= $1 AND created_at < $2 AND kind = 'sum' AND value IS NOT NULL
       AND metric_name = ANY($4::text[])
)
SELECT key, metric_name, type,
       sum(CASE WHEN temporality = 'delta' OR previous IS NULL OR value < previous
                THEN value ELSE value - previous END) AS growth
  FROM points WHERE created_at >= $3
 GROUP BY 1, 2, 3
"""  # the window starts at $3; $1 is LOOKBACK before it (a cumulative point's predecessor)


class MetricTotal(Row):
    """How much one counter (a sum metric, one ``type``) grew in one group."""

    key: str
    metric_name: str
    type: str | None = None
    growth: float


class ActivityRow(Row):
    """Claude Code's activity in one day or session."""

    key: str = Field(description="The day (YYYY-MM-DD, UTC) or the session id.")
    lines_added: int = Field(default=0, description="Lines of code added.")
    lines_removed: int = Field(default=0, description="Lines of code removed.")
    commits: int = Field(default=0, description="Git commits made.")
    pull_requests: int = Field(default=0, description="Pull requests created.")
    active_time_s: float = Field(default=0.0, description="Active time, in seconds.")

    @property
    def lines_changed(self) -> int:
        """Lines added and removed."""
        return self.lines_added + self.lines_removed


async def metric_totals(
    db: Reader,
    *,
    since: datetime,
    until: datetime,
    names: list[str],
    group: ActivityGroup = ActivityGroup.DAY,
) -> list[MetricTotal]:
    """How much each of the sum metrics ``names`` grew in ``since <= t < until``, per group
    and ``type`` attribute (see the module docstring for the temporalities)."""
    statement = _GROWTH.format(key=_KEYS[group])
    rows = await db.fetch(statement, since - LOOKBACK, until, since, names)
    return [
        MetricTotal(
            key=r["key"], metric_name=r["metric_name"], type=r["type"], growth=float(r["growth"])
        )
        for r in rows
        if r["growth"] is not None
    ]


async def activity_figures(
    db: Reader, *, since: datetime, until: datetime, group: ActivityGroup, limit: int = 20
) -> list[ActivityRow]:
    """Lines added/removed, commits, pull requests and active time per day (oldest first)
    or per session (most lines changed first, at most ``limit``)."""
    names = sorted({name for name, _ in ACTIVITY_METRICS.values()})
    figures: dict[str, dict[str, float]] = {}
    for total in await metric_totals(db, since=since, until=until, names=names, group=group):
        for figure, (name, kind) in ACTIVITY_METRICS.items():
            if total.metric_name == name and (kind is None or total.type == kind):
                row = figures.setdefault(total.key, {})
                row[figure] = row.get(figure, 0.0) + total.growth
    rows = [
        ActivityRow(
            key=key,
            **{f: round(v) if f != "active_time_s" else v for f, v in values.items()},
        )
        for key, values in figures.items()
    ]
    if group is ActivityGroup.DAY:
        return sorted(rows, key=lambda r: r.key)
    rows.sort(key=lambda r: (-r.lines_changed, -r.active_time_s, r.key))
    return rows[:limit]
