"""The overview's figures: activity, totals, recent errors, slow tools, agents, routing.

Constant, parameterised statements bounded to a window (the read layer's semantics:
``since <= created_at < until``).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from omniclaude.storage.queries._base import Reader, Row, rows_as

__all__ = [
    "ActivityBucket",
    "AgentUsage",
    "ConfidenceBucket",
    "Overview",
    "OverviewTotals",
    "RecentError",
    "ToolLatency",
    "fetch_overview",
]

_ACTIVITY = """
SELECT date_trunc('minute', created_at) AS start, count(*) AS events FROM (
    SELECT created_at FROM agent_actions WHERE created_at >= $1 AND created_at < $2
    UNION ALL SELECT created_at FROM agent_execution_events WHERE created_at >= $1 AND created_at < $2
    UNION ALL SELECT created_at FROM agent_routing_decisions WHERE created_at >= $1 AND created_at < $2
    UNION ALL SELECT created_at FROM agent_manifest_injections WHERE created_at >= $1 AND created_at < $2
    UNION ALL SELECT created_at FROM agent_transformation_events WHERE created_at >= $1 AND created_at < $2
    UNION ALL SELECT created_at FROM agent_llm_calls WHERE created_at >= $1 AND created_at < $2
) AS e GROUP BY 1 ORDER BY 1
"""  # noqa: E501

_TOTALS = """
SELECT count(*) AS executions,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       count(*) FILTER (WHERE status = 'in_progress') AS running,
       (SELECT count(*) FROM agent_actions WHERE created_at >= $1 AND created_at < $2) AS actions,
       (SELECT count(*) FROM agent_actions
         WHERE created_at >= $1 AND created_at < $2 AND action_type = 'error') AS error_actions
  FROM agent_execution_logs WHERE created_at >= $1 AND created_at < $2
"""

_RECENT_ERRORS = """
(SELECT correlation_id, created_at, agent_name, error_type AS kind, error_message AS message,
        'execution' AS source
   FROM agent_execution_logs WHERE created_at >= $1 AND created_at < $2 AND status = 'failed'
  ORDER BY created_at DESC LIMIT 10)
UNION ALL
(SELECT correlation_id, created_at, agent_name, action_name,
        coalesce(action_details->>'error_message', action_details->>'message',
                 action_details->>'error'), 'action'
   FROM agent_actions WHERE created_at >= $1 AND created_at < $2 AND action_type = 'error'
  ORDER BY created_at DESC LIMIT 10)
ORDER BY created_at DESC LIMIT 10
"""

_SLOWEST_TOOLS = """
SELECT action_name, count(*) AS calls, avg(duration_ms) AS avg_ms,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95_ms,
       max(duration_ms) AS max_ms
  FROM agent_actions
 WHERE created_at >= $1 AND created_at < $2 AND action_type = 'tool_call'
   AND duration_ms IS NOT NULL
 GROUP BY action_name ORDER BY p95_ms DESC LIMIT 10
"""

_AGENTS = """
SELECT agent_name, count(*) AS runs,
       count(*) FILTER (WHERE status = 'success') AS succeeded,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       avg(duration_ms) AS avg_ms
  FROM agent_execution_logs WHERE created_at >= $1 AND created_at < $2
 GROUP BY agent_name ORDER BY runs DESC, agent_name LIMIT 15
"""

_CONFIDENCE = """
SELECT least(width_bucket(confidence_score::float8, 0.0, 1.0, 10), 10) AS bucket,
       count(*) AS decisions, count(*) FILTER (WHERE is_fallback) AS fallbacks
  FROM agent_routing_decisions WHERE created_at >= $1 AND created_at < $2
 GROUP BY 1 ORDER BY 1
"""

ACTIVITY_SPAN = timedelta(hours=1)
"""The activity chart covers the last hour of the window, per minute."""


class ActivityBucket(Row):
    """How many events (rows of any table) ended in one bucket of time."""

    start: datetime
    events: int


class OverviewTotals(Row):
    """Counters over the window."""

    executions: int = 0
    failed: int = 0
    running: int = 0
    actions: int = 0
    error_actions: int = 0


class RecentError(Row):
    """A failed execution or an error action."""

    correlation_id: uuid.UUID
    created_at: datetime
    agent_name: str | None = None
    kind: str | None = None
    message: str | None = None
    source: str = Field(description="execution or action")


class ToolLatency(Row):
    """How long one tool's calls took."""

    action_name: str
    calls: int
    avg_ms: float | None = None
    p95_ms: float | None = None
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


class Overview(BaseModel):
    """Everything the overview shows about the database over one window."""

    since: datetime
    until: datetime
    as_of: datetime = Field(description="When these figures were read.")
    bucket_s: int = Field(description="Width of an activity bucket, in seconds.")
    activity: list[ActivityBucket] = Field(description="Events per bucket, every bucket.")
    totals: OverviewTotals
    recent_errors: list[RecentError]
    slowest_tools: list[ToolLatency] = Field(description="By p95 duration, slowest first.")
    agents: list[AgentUsage] = Field(description="By runs, busiest first.")
    confidence: list[ConfidenceBucket] = Field(description="Ten buckets of 0.1, 0 to 1.")

    @property
    def activity_peak(self) -> int:
        """The busiest bucket's count (at least 1, for scaling bars)."""
        return max((b.events for b in self.activity), default=0) or 1


def _buckets(rows: list[ActivityBucket], start: datetime, end: datetime) -> list[ActivityBucket]:
    """Every minute from ``start`` to ``end``, zero where nothing happened."""
    counts = {row.start: row.events for row in rows}
    minute = start.replace(second=0, microsecond=0)
    out: list[ActivityBucket] = []
    while minute < end:
        out.append(ActivityBucket(start=minute, events=counts.get(minute, 0)))
        minute += timedelta(minutes=1)
    return out[-60:]


def _confidence(rows: list[dict[str, int]]) -> list[ConfidenceBucket]:
    found = {int(r["bucket"]): r for r in rows if r["bucket"] is not None}
    return [
        ConfidenceBucket(
            low=(b - 1) / 10,
            high=b / 10,
            decisions=int(found[b]["decisions"]) if b in found else 0,
            fallbacks=int(found[b]["fallbacks"]) if b in found else 0,
        )
        for b in range(1, 11)
    ]


async def fetch_overview(db: Reader, *, since: datetime, until: datetime) -> Overview:
    """Compute the overview of ``since <= t < until`` (activity: its last hour)."""
    from omniclaude.events import utc_now

    as_of = utc_now()
    recent = max(since, until - ACTIVITY_SPAN)
    activity = rows_as(ActivityBucket, await db.fetch(_ACTIVITY, recent, until))
    totals = await db.fetchrow(_TOTALS, since, until)
    return Overview(
        since=since,
        until=until,
        as_of=as_of,
        bucket_s=60,
        activity=_buckets(activity, recent, until),
        totals=OverviewTotals.model_validate(dict(totals)) if totals else OverviewTotals(),
        recent_errors=rows_as(RecentError, await db.fetch(_RECENT_ERRORS, since, until)),
        slowest_tools=rows_as(ToolLatency, await db.fetch(_SLOWEST_TOOLS, since, until)),
        agents=rows_as(AgentUsage, await db.fetch(_AGENTS, since, until)),
        confidence=_confidence([dict(r) for r in await db.fetch(_CONFIDENCE, since, until)]),
    )
