"""The overview's figures: consumer metrics parsing, series shaping, rendering."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from omniclaude.api import ingest
from omniclaude.api.schemas import IngestFigures, OverviewResponse
from omniclaude.api.viewer.charts import nice_ceiling, overview_charts
from omniclaude.api.viewer.render import render
from omniclaude.storage.queries import overview as ov
from omniclaude.storage.queries import rollups

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
    figures = ingest.parse_ingest_metrics(METRICS, now_s=1012.5)
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

    figures = await ingest.fetch_ingest_figures(f"http://127.0.0.1:{unused_port()}/metrics")
    assert not figures.reachable


def test_minutes_without_events_count_zero() -> None:
    """The per-minute series has one entry per minute, zeros included, at most 60."""
    now = datetime(2026, 1, 1, 12, 0, 30, tzinfo=UTC)
    start = now - timedelta(hours=1)
    busy = now.replace(second=0) - timedelta(minutes=2)
    series = rollups.minute_series({busy: 4}, start, now)
    assert len(series) == 61, "the minute of the window's start counts too"
    series = series[-60:]
    assert {b.start: b.events for b in series}[busy] == 4
    assert sum(b.events for b in series) == 4


def test_confidence_buckets_cover_zero_to_one() -> None:
    """Ten buckets of 0.1, empty ones included, fallbacks kept."""
    buckets = rollups.confidence_buckets(
        [{"bucket": 10, "decisions": 3, "fallbacks": 1}, {"bucket": None}]
    )
    assert len(buckets) == 10
    assert buckets[-1].model_dump() == {"low": 0.9, "high": 1.0, "decisions": 3, "fallbacks": 1}
    assert sum(b.decisions for b in buckets) == 3


def test_overview_renders_every_panel() -> None:
    """The overview page shows totals, slow tools, agents, confidence and errors."""
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    overview = OverviewResponse(
        since=now - timedelta(hours=24), until=now, as_of=now, bucket_s=60,
        activity=rollups.minute_series({}, now - timedelta(hours=1), now),
        totals=ov.OverviewTotals(executions=4, failed=1, actions=9, error_actions=2),
        recent_errors=[], slowest_tools=[
            ov.ToolLatency(action_name="grep", calls=3, avg_ms=5.0, p95_ms=9.0, max_ms=9.5)
        ],
        agents=[ov.AgentUsage(agent_name="code-analyzer", runs=4, succeeded=3, failed=1)],
        confidence=rollups.confidence_buckets([]), ingest=IngestFigures(reachable=False),
    )  # fmt: skip
    errors: list[dict[str, Any]] = [
        {"correlation_id": "c", "created_at": now, "agent_name": "x", "kind": "Boom",
         "message": "<b>bad</b>"}
    ]  # fmt: skip
    assert overview.activity_peak == 1
    html = render(
        "partials/overview.html", window="24h", window_text="last 24h",
        window_query="range=24h", o=overview, recent_errors=errors,
        **overview_charts(overview),
    )  # fmt: skip
    for text in ("grep", "code-analyzer", "Routing confidence", "&lt;b&gt;bad&lt;/b&gt;"):
        assert text in html, text
    assert "consumer metrics unreachable" in html
    assert "No event stored in the last day" in html
    fresh = overview.model_copy(update={"data_as_of": now - timedelta(seconds=3)})
    html = render(
        "partials/overview.html", window="24h", window_text="last 24h",
        window_query="range=24h", o=fresh, recent_errors=errors,
        **overview_charts(fresh),
    )  # fmt: skip
    assert "Data as of" in html, "the overview must say how fresh its figures are"


@pytest.mark.parametrize(
    ("value", "top"), [(0, 1), (1, 1), (7, 10), (13, 20), (24, 25), (260, 500)]
)
def test_an_axis_ends_at_a_round_number(value: float, top: int) -> None:
    """The y axis' top is the next 1, 2, 2.5 or 5 times a power of ten."""
    assert nice_ceiling(value) == top


def test_percentiles_are_interpolated_within_their_bucket_and_capped() -> None:
    """A histogram's p95 lies in the right bucket, never above the slowest call."""
    hist = [0] * (len(rollups.DURATION_BOUNDS_MS) + 1)
    hist[6] = 95  # 50..100 ms
    hist[9] = 5  # 500..1000 ms
    p95 = rollups.estimate_percentile(hist, 0.95, max_ms=800.0)
    assert p95 is not None
    assert 50 <= p95 <= 100
    p99 = rollups.estimate_percentile(hist, 0.99, max_ms=800.0)
    assert p99 is not None
    assert 500 <= p99 <= 800
    assert rollups.estimate_percentile([0] * len(hist), 0.5) is None
    slowest = [0] * len(hist)
    slowest[-1] = 1  # 10 minutes or more
    assert rollups.estimate_percentile(slowest, 0.5, max_ms=900_000.0) == pytest.approx(750_000.0)


def test_counts_are_shown_with_thousands_separators() -> None:
    """The overview's counters read 9,992,867, not 9992867 (and an unknown one a dash)."""
    from omniclaude.api.viewer.render import environment

    template = environment().from_string("{{ a|count }} {{ b|count }}")
    assert template.render(a=9_992_867, b=None) == "9,992,867 —"
