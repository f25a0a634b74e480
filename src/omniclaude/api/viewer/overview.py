"""The overview page's figures: activity, errors, slow tools, agents, routing, ingestion.

Database figures come from constant, parameterised SQL bounded to a time window. Ingestion
figures (consumer lag, dead letters, last commit) come from the consumer's Prometheus
``/metrics`` endpoint (``consumer.health_host:health_port``): the consumer already computes
lag per partition, and Tansu cannot answer the admin call that would let us compute it here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from omniclaude.api.viewer.queries import Reader

__all__ = ["IngestFigures", "Overview", "fetch_overview", "parse_ingest_metrics"]

_EVENTS_PER_MINUTE_SQL = """
SELECT date_trunc('minute', created_at) AS minute, count(*) AS events FROM (
    SELECT created_at FROM agent_actions WHERE created_at >= $1
    UNION ALL SELECT created_at FROM agent_execution_events WHERE created_at >= $1
    UNION ALL SELECT created_at FROM agent_routing_decisions WHERE created_at >= $1
    UNION ALL SELECT created_at FROM agent_manifest_injections WHERE created_at >= $1
    UNION ALL SELECT created_at FROM agent_transformation_events WHERE created_at >= $1
) AS e GROUP BY 1 ORDER BY 1
"""

_TOTALS_SQL = """
SELECT count(*) AS executions,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       count(*) FILTER (WHERE status = 'in_progress') AS running,
       (SELECT count(*) FROM agent_actions WHERE created_at >= $1) AS actions,
       (SELECT count(*) FROM agent_actions
         WHERE created_at >= $1 AND action_type = 'error') AS error_actions
  FROM agent_execution_logs WHERE created_at >= $1
"""

_RECENT_ERRORS_SQL = """
(SELECT correlation_id, created_at, agent_name, error_type AS kind, error_message AS message,
        'execution' AS source
   FROM agent_execution_logs WHERE created_at >= $1 AND status = 'failed'
  ORDER BY created_at DESC LIMIT 10)
UNION ALL
(SELECT correlation_id, created_at, agent_name, action_name,
        coalesce(action_details->>'error_message', action_details->>'message',
                 action_details->>'error'), 'action'
   FROM agent_actions WHERE created_at >= $1 AND action_type = 'error'
  ORDER BY created_at DESC LIMIT 10)
ORDER BY created_at DESC LIMIT 10
"""

_SLOWEST_TOOLS_SQL = """
SELECT action_name, count(*) AS calls, avg(duration_ms) AS avg_ms,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95_ms,
       max(duration_ms) AS max_ms,
       count(*) FILTER (WHERE action_type = 'error') AS errors
  FROM agent_actions
 WHERE created_at >= $1 AND action_type = 'tool_call' AND duration_ms IS NOT NULL
 GROUP BY action_name ORDER BY p95_ms DESC LIMIT 10
"""

_AGENT_USAGE_SQL = """
SELECT agent_name, count(*) AS runs,
       count(*) FILTER (WHERE status = 'success') AS succeeded,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       avg(duration_ms) AS avg_ms
  FROM agent_execution_logs WHERE created_at >= $1
 GROUP BY agent_name ORDER BY runs DESC LIMIT 15
"""

_CONFIDENCE_SQL = """
SELECT least(width_bucket(confidence_score::float8, 0.0, 1.0, 10), 10) AS bucket,
       count(*) AS decisions, count(*) FILTER (WHERE is_fallback) AS fallbacks
  FROM agent_routing_decisions WHERE created_at >= $1
 GROUP BY 1 ORDER BY 1
"""


TOTALS = ("executions", "failed", "running", "actions", "error_actions")
"""The counters of :data:`_TOTALS_SQL`, in order."""


@dataclass(slots=True)
class IngestFigures:
    """What the consumer reports about itself."""

    reachable: bool = False
    lag_by_topic: dict[str, int] = field(default_factory=dict)
    dead_letters_by_topic: dict[str, int] = field(default_factory=dict)
    last_commit_age_s: float | None = None
    paused: bool = False

    @property
    def total_lag(self) -> int:
        """Records not yet committed, over every topic."""
        return sum(self.lag_by_topic.values())

    @property
    def total_dead_letters(self) -> int:
        """Records dead-lettered since the consumer started."""
        return sum(self.dead_letters_by_topic.values())


def parse_ingest_metrics(text: str, now_s: float | None = None) -> IngestFigures:
    """Read the consumer's Prometheus text exposition into :class:`IngestFigures`."""
    from prometheus_client.parser import text_string_to_metric_families

    figures = IngestFigures(reachable=True)
    now_s = time.time() if now_s is None else now_s
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            topic = sample.labels.get("topic", "")
            if sample.name == "omniclaude_ingest_consumer_lag_messages":
                figures.lag_by_topic[topic] = figures.lag_by_topic.get(topic, 0) + int(sample.value)
            elif sample.name == "omniclaude_ingest_dead_letters_total":
                figures.dead_letters_by_topic[topic] = figures.dead_letters_by_topic.get(
                    topic, 0
                ) + int(sample.value)
            elif sample.name == "omniclaude_ingest_last_commit_timestamp_seconds" and sample.value:
                figures.last_commit_age_s = max(0.0, now_s - sample.value)
            elif sample.name == "omniclaude_ingest_paused":
                figures.paused = sample.value > 0
    return figures


async def fetch_ingest_figures(metrics_url: str, timeout_s: float = 1.5) -> IngestFigures:
    """Scrape the consumer's ``/metrics``; an unreachable consumer gives ``reachable=False``."""
    import httpx

    try:
        async with httpx.AsyncClient(timeout=timeout_s) as client:
            response = await client.get(metrics_url)
            response.raise_for_status()
    except httpx.HTTPError:
        return IngestFigures(reachable=False)
    return parse_ingest_metrics(response.text)


@dataclass(slots=True)
class Overview:
    """Everything the overview page shows."""

    window: timedelta
    since: datetime
    per_minute: list[tuple[datetime, int]] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TOTALS, 0))
    recent_errors: list[dict[str, Any]] = field(default_factory=list)
    slowest_tools: list[dict[str, Any]] = field(default_factory=list)
    agents: list[dict[str, Any]] = field(default_factory=list)
    confidence: list[dict[str, Any]] = field(default_factory=list)
    ingest: IngestFigures = field(default_factory=IngestFigures)

    @property
    def per_minute_max(self) -> int:
        """The busiest minute's count (at least 1, for scaling bars)."""
        return max((count for _, count in self.per_minute), default=0) or 1


def _minutes(rows: list[Any], start: datetime, now: datetime) -> list[tuple[datetime, int]]:
    """Fill the per-minute series so minutes without events show as zero."""
    counts = {row["minute"]: int(row["events"]) for row in rows}
    first = start.replace(second=0, microsecond=0)
    out: list[tuple[datetime, int]] = []
    minute = first
    while minute <= now:
        out.append((minute, counts.get(minute, 0)))
        minute += timedelta(minutes=1)
    return out[-60:]


def _confidence_buckets(rows: list[Any]) -> list[dict[str, Any]]:
    found = {int(row["bucket"]): row for row in rows if row["bucket"] is not None}
    buckets = []
    for bucket in range(1, 11):
        row = found.get(bucket)
        buckets.append(
            {
                "low": (bucket - 1) / 10,
                "high": bucket / 10,
                "decisions": int(row["decisions"]) if row else 0,
                "fallbacks": int(row["fallbacks"]) if row else 0,
            }
        )
    return buckets


async def fetch_overview(
    db: Reader, *, now: datetime, window: timedelta, metrics_url: str | None
) -> Overview:
    """Compute the overview for the ``window`` before ``now`` (activity: the last hour)."""
    since = now - window
    hour_ago = now - timedelta(hours=1)
    overview = Overview(window=window, since=since)
    overview.per_minute = _minutes(await db.fetch(_EVENTS_PER_MINUTE_SQL, hour_ago), hour_ago, now)
    totals = await db.fetch(_TOTALS_SQL, since)
    overview.totals = {key: int(value or 0) for key, value in dict(totals[0]).items()}
    overview.recent_errors = [dict(r) for r in await db.fetch(_RECENT_ERRORS_SQL, since)]
    overview.slowest_tools = [dict(r) for r in await db.fetch(_SLOWEST_TOOLS_SQL, since)]
    overview.agents = [dict(r) for r in await db.fetch(_AGENT_USAGE_SQL, since)]
    overview.confidence = _confidence_buckets(await db.fetch(_CONFIDENCE_SQL, since))
    if metrics_url is not None:
        overview.ingest = await fetch_ingest_figures(metrics_url)
    return overview


__all__ += ["fetch_ingest_figures"]
