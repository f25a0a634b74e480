"""Figures read from the rollups: activity, failures, slow tools, agents, routing, executions.

The rollups (migration ``0005_rollups``) are small tables of aggregates kept exact in the
writing transaction by triggers: per minute (``rollup_events_minute``) and per hour
(``rollup_actions_hour``, ``rollup_routing_hour``, ``rollup_executions_hour``,
``rollup_llm_hour``); tools and executions also per day (``rollup_tools_day``,
``rollup_executions_day``: a window reads its whole days there, its ragged ends hourly).
Reading them costs a few hundred rows whatever the volume of events, and never a scan of
raw actions.

Windows are the read layer's (``since <= t < until``), widened to whole buckets: a bucket
counts when it starts in ``[floor(since), until)``, so an hourly figure may include up to an
hour more at either end. The executions rollup files each execution under the hour of its
first event (``agent_execution_logs.created_at``), with its current status.

Durations per tool are kept as a histogram (:data:`DURATION_BOUNDS_MS`); a tool's p95 is
interpolated within its bucket (capped at the slowest call seen), so it is an estimate
within the bucket's width, never off by more.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

from pydantic import Field

from omniclaude.storage.queries._base import Reader, Row, rows_as

__all__ = [
    "DURATION_BOUNDS_MS",
    "ActivityBucket",
    "AgentUsage",
    "ConfidenceBucket",
    "ExecutionCounts",
    "FailureBucket",
    "HourSpans",
    "OverviewTotals",
    "ToolLatency",
    "agent_usage",
    "confidence_buckets",
    "data_as_of",
    "estimate_percentile",
    "events_per_minute",
    "execution_counts",
    "failures",
    "hour_spans",
    "minute_series",
    "overview_totals",
    "routing_confidence",
    "slowest_tools",
]

DURATION_BOUNDS_MS: Final = (
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000,
    100_000, 300_000, 600_000,
)  # fmt: skip
"""Upper bounds of the duration histogram's buckets (as migration 0005 writes them)."""

Granularity = Literal["minute", "hour"]


class ActivityBucket(Row):
    """How many events (rows of any table) ended in one bucket of time."""

    start: datetime
    events: int


class FailureBucket(Row):
    """Failures that ended in one bucket: error actions, failed executions and
    transformations."""

    start: datetime
    error_actions: int = 0
    failed_executions: int = 0
    failed_transformations: int = 0

    @property
    def total(self) -> int:
        """Every failure of the bucket."""
        return self.error_actions + self.failed_executions + self.failed_transformations


class OverviewTotals(Row):
    """Counters over the window."""

    executions: int = 0
    failed: int = 0
    running: int = 0
    actions: int = 0
    error_actions: int = 0


class ExecutionCounts(Row):
    """Executions first seen in the window, by current status."""

    executions: int = 0
    in_progress: int = 0
    success: int = 0
    failed: int = 0
    cancelled: int = 0


class ToolLatency(Row):
    """How long one tool's calls took."""

    action_name: str
    calls: int
    avg_ms: float | None = None
    p95_ms: float | None = Field(default=None, description="Estimated from a histogram.")
    max_ms: float | None = None


class AgentUsage(Row):
    """How often one agent ran and how it went."""

    agent_name: str
    runs: int
    succeeded: int
    failed: int
    avg_ms: float | None = None


class ConfidenceBucket(Row):
    """Routing decisions whose confidence fell in ``[low, high)``."""

    low: float
    high: float
    decisions: int
    fallbacks: int


def _hour(moment: datetime) -> datetime:
    """The UTC hour ``moment`` falls in (rollup buckets are UTC)."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _minute(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


@dataclass(frozen=True, slots=True)
class HourSpans:
    """A window of whole hours ``[first, end)`` cut into its whole UTC days ``[days, days_end)``
    and its ragged ends (hours before and after); the session masks of its first and last
    day (bit ``h``: the hour from ``h`` o'clock counts)."""

    first: datetime
    days: datetime
    days_end: datetime
    end: datetime
    first_day: datetime
    first_mask: int
    last_day: datetime
    last_mask: int

    @property
    def first_hour(self) -> int:
        """The hour of the day (UTC) the window's first hour starts at."""
        return self.first.hour

    @property
    def last_hour(self) -> int:
        """The hour of the day (UTC) the window's last hour starts at."""
        return (self.end - timedelta(hours=1)).hour


_ALL_HOURS: Final = (1 << 24) - 1


def hour_spans(since: datetime, until: datetime) -> HourSpans:
    """The hours ``[floor(since), until)`` of a window (an hour counts when it starts before
    ``until``), cut into whole UTC days and ragged ends: what hourly and daily rollups read."""
    hour = timedelta(hours=1)
    first = since.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    end = until.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    if end < until:
        end += hour  # the hour ``until`` falls in starts before it: it counts
    end = max(end, first)
    midnight = first.replace(hour=0)
    days = midnight if midnight == first else midnight + timedelta(days=1)
    days_end = end.replace(hour=0)
    if days_end <= days:
        days = days_end = end
    last_hour = end - hour
    first_day, last_day = midnight, last_hour.replace(hour=0)
    first_mask = _ALL_HOURS & ~((1 << first.hour) - 1)
    last_mask = (1 << (last_hour.hour + 1)) - 1
    return HourSpans(first, days, days_end, end, first_day, first_mask, last_day, last_mask)


_EVENTS_PER_MINUTE = """
SELECT bucket AS start, sum(events)::bigint AS events FROM rollup_events_minute
 WHERE bucket >= $1 AND bucket < $2 GROUP BY bucket ORDER BY bucket
"""
_FAILURES = """
SELECT date_trunc($3, bucket, 'UTC') AS start,
       coalesce(sum(errors) FILTER (WHERE source = 'action'), 0)::bigint AS error_actions,
       coalesce(sum(errors) FILTER (WHERE source = 'execution'), 0)::bigint AS failed_executions,
       coalesce(sum(errors) FILTER (WHERE source = 'transformation'), 0)::bigint
           AS failed_transformations
  FROM rollup_events_minute WHERE bucket >= $1 AND bucket < $2 AND errors > 0
 GROUP BY 1 ORDER BY 1
"""


def _days_and_hours(rollup: str) -> str:
    """A window's rows of a rollup kept per day and per hour (``{rollup}_day``,
    ``{rollup}_hour``): whole days from the daily one, the ragged ends from the hourly
    (:func:`hour_spans`'s ``first, days, days_end, end`` as ``$1`` to ``$4``)."""
    return (
        f"(SELECT * FROM {rollup}_day WHERE bucket >= $2 AND bucket < $3"  # noqa: S608
        f" UNION ALL SELECT * FROM {rollup}_hour"
        " WHERE (bucket >= $1 AND bucket < $2) OR (bucket >= $3 AND bucket < $4)) AS w"
    )


_TOOLS_WINDOW = _days_and_hours("rollup_tools")
"""A window's per-action rows (migration 0007)."""
_ACTION_TOTALS = f"""
SELECT coalesce(sum(events), 0)::bigint AS actions,
       coalesce(sum(events) FILTER (WHERE action_type = 'error'), 0)::bigint AS error_actions
  FROM {_TOOLS_WINDOW}
"""  # noqa: S608 - constants only
_EXECUTIONS_WINDOW = _days_and_hours("rollup_executions")
"""A window's executions rollup rows (the daily one: migration 0011)."""
_EXECUTION_COUNTS = f"""
SELECT coalesce(sum(executions), 0)::bigint AS executions,
       coalesce(sum(executions) FILTER (WHERE status = 'in_progress'), 0)::bigint AS in_progress,
       coalesce(sum(executions) FILTER (WHERE status = 'success'), 0)::bigint AS success,
       coalesce(sum(executions) FILTER (WHERE status = 'failed'), 0)::bigint AS failed,
       coalesce(sum(executions) FILTER (WHERE status = 'cancelled'), 0)::bigint AS cancelled
  FROM {_EXECUTIONS_WINDOW} WHERE ($5::text IS NULL OR agent_name = $5)
"""  # noqa: S608 - constants only
_HISTOGRAM_SUM = ", ".join(
    f"coalesce(sum(duration_hist[{index}]), 0)" for index in range(1, len(DURATION_BOUNDS_MS) + 2)
)
_TOOLS = f"""
SELECT action_name, sum(events)::bigint AS calls, sum(timed)::bigint AS timed,
       sum(duration_sum_ms) AS duration_sum_ms, max(duration_max_ms) AS max_ms,
       ARRAY[{_HISTOGRAM_SUM}]::bigint[] AS hist
  FROM {_TOOLS_WINDOW}
 WHERE action_type = 'tool_call'
 GROUP BY action_name HAVING sum(timed) > 0
"""  # noqa: S608 - constants only
"""The tools' figures; their histograms summed bucket by bucket as plain ``sum`` aggregates
(one per bucket of :data:`DURATION_BOUNDS_MS`, plus the one above the last bound), a single
pass: ``omniclaude_histogram_sum`` (an SQL function per row) took seconds over a month."""
_AGENTS = f"""
SELECT agent_name, sum(executions)::bigint AS runs,
       coalesce(sum(executions) FILTER (WHERE status = 'success'), 0)::bigint AS succeeded,
       coalesce(sum(executions) FILTER (WHERE status = 'failed'), 0)::bigint AS failed,
       sum(duration_sum_ms) / nullif(sum(timed), 0) AS avg_ms
  FROM {_EXECUTIONS_WINDOW}
 GROUP BY agent_name HAVING sum(executions) > 0
 ORDER BY runs DESC, agent_name LIMIT $5
"""  # noqa: S608 - constants only
_CONFIDENCE = """
SELECT confidence_bucket AS bucket, sum(decisions)::bigint AS decisions,
       sum(fallbacks)::bigint AS fallbacks
  FROM rollup_routing_hour WHERE bucket >= $1 AND bucket < $2 GROUP BY 1
"""
_AS_OF = "SELECT max(updated_at) FROM rollup_events_minute WHERE bucket >= $1"


def minute_series(
    counts: Mapping[datetime, int], since: datetime, until: datetime
) -> list[ActivityBucket]:
    """Every minute from ``since``'s to ``until`` (exclusive), zero where ``counts`` has none."""
    out: list[ActivityBucket] = []
    minute = _minute(since)
    while minute < until:
        out.append(ActivityBucket(start=minute, events=counts.get(minute, 0)))
        minute += timedelta(minutes=1)
    return out


async def events_per_minute(
    db: Reader, *, since: datetime, until: datetime
) -> list[ActivityBucket]:
    """Events per minute from ``since`` to ``until``, every minute (zero when idle)."""
    rows = await db.fetch(_EVENTS_PER_MINUTE, _minute(since), until)
    return minute_series({r["start"]: int(r["events"]) for r in rows}, since, until)


async def failures(
    db: Reader, *, since: datetime, until: datetime, per: Granularity = "hour"
) -> list[FailureBucket]:
    """Failures per minute or per hour (buckets without any are left out)."""
    first = _minute(since)
    return rows_as(FailureBucket, await db.fetch(_FAILURES, first, until, per))


async def execution_counts(
    db: Reader, *, since: datetime, until: datetime, agent: str | None = None
) -> ExecutionCounts:
    """Executions first seen in the window (optionally of one agent), by current status."""
    spans = hour_spans(since, until)
    record = await db.fetchrow(
        _EXECUTION_COUNTS, spans.first, spans.days, spans.days_end, spans.end, agent
    )
    return ExecutionCounts.model_validate(dict(record)) if record else ExecutionCounts()


async def overview_totals(db: Reader, *, since: datetime, until: datetime) -> OverviewTotals:
    """The overview's counters: executions (failed, running) and actions (errors)."""
    counts = await execution_counts(db, since=since, until=until)
    spans = hour_spans(since, until)
    actions = await db.fetchrow(_ACTION_TOTALS, spans.first, spans.days, spans.days_end, spans.end)
    return OverviewTotals(
        executions=counts.executions,
        failed=counts.failed,
        running=counts.in_progress,
        actions=int(actions["actions"]) if actions else 0,
        error_actions=int(actions["error_actions"]) if actions else 0,
    )


def estimate_percentile(
    histogram: Sequence[int], quantile: float, *, max_ms: float | None = None
) -> float | None:
    """The ``quantile`` (0..1) of durations counted in ``histogram`` (buckets of
    :data:`DURATION_BOUNDS_MS`), interpolated linearly within its bucket and capped at
    ``max_ms``; None for an empty histogram."""
    total = sum(histogram)
    if total <= 0:
        return None
    rank = quantile * total
    seen = 0
    for index, count in enumerate(histogram):
        if count and seen + count >= rank:
            low = 0.0 if index == 0 else float(DURATION_BOUNDS_MS[index - 1])
            if index < len(DURATION_BOUNDS_MS):
                high = float(DURATION_BOUNDS_MS[index])
            else:
                high = max_ms if max_ms is not None else low * 2
            value = low + (high - low) * (rank - seen) / count
            return min(value, max_ms) if max_ms is not None else value
        seen += count
    return max_ms


async def slowest_tools(
    db: Reader, *, since: datetime, until: datetime, limit: int = 10
) -> list[ToolLatency]:
    """Tools by estimated p95 duration, slowest first."""
    tools: list[ToolLatency] = []
    spans = hour_spans(since, until)
    for r in await db.fetch(_TOOLS, spans.first, spans.days, spans.days_end, spans.end):
        timed = int(r["timed"])
        tools.append(
            ToolLatency(
                action_name=r["action_name"],
                calls=int(r["calls"]),
                avg_ms=float(r["duration_sum_ms"]) / timed if timed else None,
                p95_ms=estimate_percentile(r["hist"] or [], 0.95, max_ms=r["max_ms"]),
                max_ms=r["max_ms"],
            )
        )
    tools.sort(key=lambda t: (-(t.p95_ms or 0.0), t.action_name))
    return tools[:limit]


async def agent_usage(
    db: Reader, *, since: datetime, until: datetime, limit: int = 15
) -> list[AgentUsage]:
    """Agents by executions, busiest first: runs, successes, failures, mean duration."""
    spans = hour_spans(since, until)
    args = (spans.first, spans.days, spans.days_end, spans.end, limit)
    return rows_as(AgentUsage, await db.fetch(_AGENTS, *args))


def confidence_buckets(rows: Iterable[Mapping[str, Any]]) -> list[ConfidenceBucket]:
    """All ten tenths of confidence from rows of ``bucket`` (1..10), ``decisions``,
    ``fallbacks``; empty tenths included."""
    found = {int(r["bucket"]): r for r in rows if r.get("bucket") is not None}
    return [
        ConfidenceBucket(
            low=(b - 1) / 10,
            high=b / 10,
            decisions=int(found[b]["decisions"]) if b in found else 0,
            fallbacks=int(found[b]["fallbacks"]) if b in found else 0,
        )
        for b in range(1, 11)
    ]


async def routing_confidence(
    db: Reader, *, since: datetime, until: datetime
) -> list[ConfidenceBucket]:
    """Routing decisions per tenth of confidence, all ten buckets (0 to 1)."""
    return confidence_buckets([dict(r) for r in await db.fetch(_CONFIDENCE, _hour(since), until)])


async def data_as_of(db: Reader, *, now: datetime) -> datetime | None:
    """When the newest write the rollups include was made (None: nothing in the last day).

    The rollups are updated in the writing transaction, so this is also how fresh the raw
    tables are.
    """
    value: datetime | None = await db.fetchval(_AS_OF, now - timedelta(days=1))
    return value
