"""OTLP metrics end to end: the SDK's OTLPMetricExporter (HTTP protobuf) → the API → Kafka →
consumer → ``agent_metric_points``; a resend adds nothing."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    InMemoryMetricReader,
    MetricExportResult,
    MetricsData,
)
from opentelemetry.sdk.resources import Resource

from omniclaude.hooks.sessions import session_correlation_id
from tests.integration.otel.conftest import OtlpApi

pytestmark = pytest.mark.covers(
    "table:agent_metric_points", "topic:agent-metrics", "event:metric_point"
)


def _reader(temporality: AggregationTemporality) -> InMemoryMetricReader:
    return InMemoryMetricReader(
        preferred_temporality={Counter: temporality, Histogram: temporality}
    )


async def _export(api: OtlpApi, data: MetricsData, *, gzipped: bool = False) -> None:
    result = await api.export(OTLPMetricExporter, "metrics", data, gzipped=gzipped)
    assert result is MetricExportResult.SUCCESS, f"the OTLP metric exporter failed: {result}"


def claude_code_meter(reader: InMemoryMetricReader) -> tuple[MeterProvider, dict[str, Any]]:
    """Claude Code's metrics (as its reference documents them), made with the SDK."""
    provider = MeterProvider(
        resource=Resource.create({"service.name": "claude-code", "service.version": "2.1.0"}),
        metric_readers=[reader],
    )
    meter = provider.get_meter("com.anthropic.claude_code", "2.1.0")
    instruments = {
        "lines": meter.create_counter("claude_code.lines_of_code.count", unit="count"),
        "commits": meter.create_counter("claude_code.commit.count", unit="count"),
        "prs": meter.create_counter("claude_code.pull_request.count", unit="count"),
        "active": meter.create_counter("claude_code.active_time.total", unit="s"),
        "cost": meter.create_counter("claude_code.cost.usage", unit="USD"),
        "duration": meter.create_histogram("gen_ai.client.operation.duration", unit="s"),
    }
    return provider, instruments


def _record_session(instruments: dict[str, Any], session: str, scale: int = 1) -> None:
    at = {"session.id": session}
    instruments["lines"].add(120 * scale, {**at, "type": "added"})
    instruments["lines"].add(30 * scale, {**at, "type": "removed"})
    instruments["commits"].add(2 * scale, at)
    instruments["prs"].add(1 * scale, at)
    instruments["active"].add(95.5 * scale, {**at, "type": "cli"})
    instruments["cost"].add(0.25 * scale, {**at, "model": "claude-sonnet-4-5"})
    instruments["duration"].record(1.5, {**at, "gen_ai.operation.name": "chat"})


@pytest.mark.covers("endpoint:POST /v1/metrics", "feature:otlp-metrics")
@pytest.mark.parametrize("gzipped", [False, True], ids=["plain", "gzip"])
async def test_sdk_metrics_are_stored_as_points_and_a_resend_adds_nothing(
    otlp_api: OtlpApi, gzipped: bool
) -> None:
    """Every point of the SDK's export is a row in the session's trace, with its kind,
    temporality and value; the same export sent again adds no row."""
    reader = _reader(AggregationTemporality.DELTA)
    provider, instruments = claude_code_meter(reader)
    session = f"s-{uuid.uuid4()}"
    _record_session(instruments, session)
    first = reader.get_metrics_data()
    assert first is not None
    await _export(otlp_api, first, gzipped=gzipped)
    cid = str(session_correlation_id(session))
    rows = await otlp_api.stack.wait_for_count("agent_metric_points", cid, 7)
    by = {(r["metric_name"], r["attributes"].get("type")): r for r in rows}
    assert by[("claude_code.lines_of_code.count", "added")]["value"] == 120
    assert by[("claude_code.lines_of_code.count", "removed")]["value"] == 30
    commits = by[("claude_code.commit.count", None)]
    assert (commits["kind"], commits["temporality"], commits["is_monotonic"]) == (
        "sum", "delta", True
    )  # fmt: skip
    assert (commits["value"], commits["session_id"], commits["unit"]) == (2, session, "count")
    assert commits["resource"]["service.name"] == "claude-code"
    histogram = by[("gen_ai.client.operation.duration", None)]
    assert (histogram["kind"], histogram["count"], histogram["value"]) == ("histogram", 1, 1.5)
    assert sum(histogram["buckets"]["counts"]) == 1

    # The same request again, then a marker export: once the marker is stored, the resend
    # (sent before it, on the same partition) has been handled and added nothing.
    await _export(otlp_api, first, gzipped=gzipped)
    instruments["commits"].add(1, {"session.id": session})
    marker = reader.get_metrics_data()
    assert marker is not None
    await _export(otlp_api, marker)
    rows = await otlp_api.stack.wait_for_count("agent_metric_points", cid, 8)
    assert len(rows) == 8, [(r["metric_name"], r["value"]) for r in rows]
    response = await otlp_api.stack.client.get(
        "/overview", params={"range": "24h"}, headers=otlp_api.headers("read")
    )
    assert response.status_code == 200, response.text
    [mine] = [s for s in response.json()["activity_by_session"] if s["key"] == session]
    assert (mine["lines_added"], mine["lines_removed"], mine["commits"]) == (120, 30, 3), mine
    assert (mine["pull_requests"], mine["active_time_s"]) == (1, 95.5), mine
    provider.shutdown()
