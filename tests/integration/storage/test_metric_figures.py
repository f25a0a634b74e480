"""The metric read layer adds sums up as their temporality says: delta as told, cumulative by
differences (a drop is a reset, a new start a new series), gauges never."""

from __future__ import annotations

import uuid
from datetime import timedelta

import asyncpg
import pytest

from omniclaude.events import MetricPoint, utc_now
from omniclaude.storage.queries import ActivityGroup, activity_figures
from omniclaude.storage.writers import write_events

pytestmark = pytest.mark.covers("table:agent_metric_points", "feature:otlp-metrics")


async def test_cumulative_sums_add_their_differences_and_deltas_add_as_told(
    postgres_connection: asyncpg.Connection,
) -> None:
    now = utc_now().replace(microsecond=0)
    session = f"s-{uuid.uuid4()}"
    cid = uuid.uuid4()

    def point(name: str, value: float, minutes: int, **fields: object) -> MetricPoint:
        start = fields.pop("start", now - timedelta(hours=1))
        return MetricPoint(
            correlation_id=cid, metric_name=name, value=value, session_id=session,
            timestamp=now - timedelta(minutes=minutes), started_at=start,
            **{"series_key": f"{name}-{session}", "temporality": "cumulative", **fields},
        )  # fmt: skip

    commits = "claude_code.commit.count"
    events = [
        # cumulative 2 -> 5 -> 1 (reset) -> 4: 2 + 3 + 1 + 3 = 9
        point(commits, 2, 40), point(commits, 5, 30), point(commits, 1, 20), point(commits, 4, 10),
        # the same series restarted (another start): counted from its own first value
        point(commits, 6, 5, start=now - timedelta(minutes=6)),
        # delta points: 10 + 15
        point("claude_code.pull_request.count", 10, 30, temporality="delta", series_key="pr"),
        point("claude_code.pull_request.count", 15, 20, temporality="delta", series_key="pr"),
        # a gauge is never added up
        point("claude_code.active_time.total", 99, 20, kind="gauge", temporality=None,
              series_key="g"),
    ]  # fmt: skip
    await write_events(postgres_connection, events)
    since, until = now - timedelta(minutes=35), now + timedelta(minutes=1)
    figures = await activity_figures(
        postgres_connection, since=since, until=until, group=ActivityGroup.SESSION
    )
    [row] = [r for r in figures if r.key == session]
    # the 40-minute point is before the window: the window's first point adds 5 - 2 = 3
    assert (row.commits, row.pull_requests, row.active_time_s) == (3 + 1 + 3 + 6, 15 + 10, 0.0)
