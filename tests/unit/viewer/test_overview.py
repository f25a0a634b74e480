"""The overview's figures: consumer metrics parsing and series shaping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from omniclaude.api.viewer import overview as ov
from omniclaude.api.viewer.render import render

METRICS = """\
# HELP omniclaude_ingest_consumer_lag_messages Records not yet committed.
# TYPE omniclaude_ingest_consumer_lag_messages gauge
omniclaude_ingest_consumer_lag_messages{partition="0",topic="agent-actions"} 5.0
omniclaude_ingest_consumer_lag_messages{partition="1",topic="agent-actions"} 7.0
omniclaude_ingest_consumer_lag_messages{partition="0",topic="intelligence-events"} 1.0
# HELP omniclaude_ingest_dead_letters_total Dead letters.
# TYPE omniclaude_ingest_dead_letters_total counter
omniclaude_ingest_dead_letters_total{stage="decode",topic="agent-actions"} 2.0
omniclaude_ingest_dead_letters_total{stage="store",topic="agent-actions"} 1.0
# HELP omniclaude_ingest_last_commit_timestamp_seconds Last commit.
# TYPE omniclaude_ingest_last_commit_timestamp_seconds gauge
omniclaude_ingest_last_commit_timestamp_seconds 1000.0
# HELP omniclaude_ingest_paused Paused.
# TYPE omniclaude_ingest_paused gauge
omniclaude_ingest_paused 1.0
"""


def test_metrics_give_lag_dead_letters_and_commit_age() -> None:
    """Lag and dead letters are summed per topic; the commit age is relative to now."""
    figures = ov.parse_ingest_metrics(METRICS, now_s=1012.5)
    assert figures.reachable
    assert figures.lag_by_topic == {"agent-actions": 12, "intelligence-events": 1}
    assert figures.total_lag == 13
    assert figures.dead_letters_by_topic == {"agent-actions": 3}
    assert figures.total_dead_letters == 3
    assert figures.last_commit_age_s == pytest.approx(12.5)
    assert figures.paused


async def test_an_unreachable_consumer_is_reported_not_raised() -> None:
    """No consumer listening: the overview says so instead of failing."""
    from omniclaude.stack.ports import unused_port

    figures = await ov.fetch_ingest_figures(f"http://127.0.0.1:{unused_port()}/metrics")
    assert not figures.reachable


def test_minutes_without_events_count_zero() -> None:
    """The per-minute series has one entry per minute, zeros included, at most 60."""
    now = datetime(2026, 1, 1, 12, 0, 30, tzinfo=UTC)
    start = now - timedelta(hours=1)
    busy = now.replace(second=0) - timedelta(minutes=2)
    series = ov._minutes([{"minute": busy, "events": 4}], start, now)
    assert len(series) == 60
    assert dict(series)[busy] == 4
    assert sum(count for _, count in series) == 4


def test_confidence_buckets_cover_zero_to_one() -> None:
    """Ten buckets of 0.1, empty ones included, fallbacks kept."""
    buckets = ov._confidence_buckets(
        [{"bucket": 10, "decisions": 3, "fallbacks": 1}, {"bucket": None}]
    )
    assert len(buckets) == 10
    assert buckets[-1] == {"low": 0.9, "high": 1.0, "decisions": 3, "fallbacks": 1}
    assert sum(b["decisions"] for b in buckets) == 3


class FakeDB:
    """Answers each overview statement with canned rows."""

    def __init__(self, answers: dict[str, list[dict[str, Any]]]) -> None:
        self.answers = answers

    async def fetch(self, query: str, *args: Any) -> list[dict[str, Any]]:
        return self.answers.get(query, [])

    async def fetchval(self, query: str, *args: Any) -> Any:
        return None


async def test_overview_renders_every_panel() -> None:
    """The overview page shows totals, slow tools, agents, confidence and errors."""
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    db = FakeDB(
        {
            ov._TOTALS_SQL: [{"executions": 4, "failed": 1, "running": 0, "actions": 9,
                              "error_actions": 2}],
            ov._SLOWEST_TOOLS_SQL: [{"action_name": "grep", "calls": 3, "avg_ms": 5.0,
                                     "p95_ms": 9.0, "max_ms": 9.5, "errors": 0}],
            ov._AGENT_USAGE_SQL: [{"agent_name": "code-analyzer", "runs": 4, "succeeded": 3,
                                   "failed": 1, "avg_ms": 80.0}],
            ov._RECENT_ERRORS_SQL: [{"correlation_id": "c", "created_at": now,
                                     "agent_name": "x", "kind": "Boom", "message": "<b>bad</b>"}],
        }
    )  # fmt: skip
    overview = await ov.fetch_overview(db, now=now, window=timedelta(hours=24), metrics_url=None)
    assert overview.totals["executions"] == 4
    assert overview.per_minute_max == 1
    html = render("partials/overview.html", window="24h", o=overview)
    for text in ("grep", "code-analyzer", "Routing confidence", "&lt;b&gt;bad&lt;/b&gt;"):
        assert text in html, text
    assert "consumer metrics unreachable" in html
