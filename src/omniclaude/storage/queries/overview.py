"""The overview's figures: activity, totals, recent errors, slow tools, agents, routing,
and Claude Code's activity (lines of code, commits, pull requests, active time) per day and
per session, added up from its OTel metrics (:mod:`.metrics`).

Every figure but the recent errors comes from the rollups (:mod:`.rollups`: a few hundred
rows of aggregates, whatever the volume; hourly figures cover whole hours); the recent
errors are the newest ten failed executions and error actions, read through indexes on
exactly those rows. The window is the read layer's (``since <= created_at < until``).
``data_as_of`` says how fresh the figures are: when the newest write they include was made.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from omniclaude.storage.queries._base import Reader, Row, one_connection, rows_as
from omniclaude.storage.queries.metrics import ActivityGroup, ActivityRow, activity_figures
from omniclaude.storage.queries.rollups import (
    ActivityBucket,
    AgentUsage,
    ConfidenceBucket,
    OverviewTotals,
    ToolLatency,
    agent_usage,
    data_as_of,
    events_per_minute,
    overview_totals,
    routing_confidence,
    slowest_tools,
)
from omniclaude.storage.queries.usage import UsageGroup, UsageRow, overview_costs

__all__ = [
    "ActivityBucket",
    "ActivityRow",
    "AgentUsage",
    "ConfidenceBucket",
    "Overview",
    "OverviewTotals",
    "RecentError",
    "ToolLatency",
    "fetch_overview",
]

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

ACTIVITY_SPAN = timedelta(hours=1)
"""The activity chart covers the last hour of the window, per minute."""


class RecentError(Row):
    """A failed execution or an error action."""

    correlation_id: uuid.UUID
    created_at: datetime
    agent_name: str | None = None
    kind: str | None = None
    message: str | None = None
    source: str = Field(description="execution or action")


class Overview(BaseModel):
    """Everything the overview shows about the database over one window."""

    since: datetime
    until: datetime
    as_of: datetime = Field(description="When these figures were read.")
    data_as_of: datetime | None = Field(
        default=None,
        description="When the newest write these figures include was made (how fresh they are).",
    )
    bucket_s: int = Field(description="Width of an activity bucket, in seconds.")
    activity: list[ActivityBucket] = Field(description="Events per bucket, every bucket.")
    totals: OverviewTotals
    recent_errors: list[RecentError]
    slowest_tools: list[ToolLatency] = Field(description="By p95 duration, slowest first.")
    agents: list[AgentUsage] = Field(description="By runs, busiest first.")
    confidence: list[ConfidenceBucket] = Field(description="Ten buckets of 0.1, 0 to 1.")
    cost_by_day: list[UsageRow] = Field(
        default_factory=list, description="LLM tokens and cost per day (UTC), oldest first."
    )
    cost_by_model: list[UsageRow] = Field(default_factory=list, description="Costliest first.")
    cost_by_project: list[UsageRow] = Field(default_factory=list, description="Costliest first.")
    cost_total: UsageRow | None = Field(default=None, description="Every LLM call's sum.")
    activity_by_day: list[ActivityRow] = Field(
        default_factory=list,
        description="Claude Code's lines added/removed, commits, pull requests and active "
        "time per day (UTC), oldest first (from its OTel metrics).",
    )
    activity_by_session: list[ActivityRow] = Field(
        default_factory=list, description="The same per session, most lines changed first."
    )

    @property
    def activity_peak(self) -> int:
        """The busiest bucket's count (at least 1, for scaling bars)."""
        return max((b.events for b in self.activity), default=0) or 1


async def fetch_overview(db: Reader, *, since: datetime, until: datetime) -> Overview:
    """Compute the overview of ``since <= t < until`` (activity: its last hour, per minute)."""
    from omniclaude.events import utc_now

    as_of = utc_now()
    recent = max(since, until - ACTIVITY_SPAN)
    async with one_connection(db) as conn:  # eleven statements: one connection, one reset
        costs, cost_total = await overview_costs(conn, since=since, until=until)
        return Overview(
            since=since,
            until=until,
            as_of=as_of,
            data_as_of=await data_as_of(conn, now=as_of),
            bucket_s=60,
            activity=(await events_per_minute(conn, since=recent, until=until))[-60:],
            totals=await overview_totals(conn, since=since, until=until),
            recent_errors=rows_as(RecentError, await conn.fetch(_RECENT_ERRORS, since, until)),
            slowest_tools=await slowest_tools(conn, since=since, until=until),
            agents=await agent_usage(conn, since=since, until=until),
            confidence=await routing_confidence(conn, since=since, until=until),
            cost_by_day=costs[UsageGroup.DAY],
            cost_by_model=costs[UsageGroup.MODEL],
            cost_by_project=costs[UsageGroup.PROJECT],
            cost_total=cost_total,
            activity_by_day=await activity_figures(
                conn, since=since, until=until, group=ActivityGroup.DAY
            ),
            activity_by_session=await activity_figures(
                conn, since=since, until=until, group=ActivityGroup.SESSION
            ),
        )
