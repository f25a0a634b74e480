"""OTLP metrics → metric_point events: every point kind, temporality, ids, bad fields named."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.metrics.v1 import metrics_pb2

from omniclaude.events import MetricKind, MetricPoint, Temporality
from omniclaude.hooks.sessions import session_correlation_id
from omniclaude.otel.metrics import map_metrics

T0 = 1_800_000_000_000_000_000
T1 = T0 + 60_000_000_000
DELTA = metrics_pb2.AGGREGATION_TEMPORALITY_DELTA
CUMULATIVE = metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE


def _request(session: str | None = "s-1") -> tuple[ExportMetricsServiceRequest, Any]:
    request = ExportMetricsServiceRequest()
    resource = request.resource_metrics.add()
    attr = resource.resource.attributes.add(key="service.name")
    attr.value.string_value = "claude-code"
    scope = resource.scope_metrics.add()
    scope.scope.name = "com.anthropic.claude_code"
    return request, scope


def _attrs(point: Any, **values: Any) -> None:
    for key, value in values.items():
        kv = point.attributes.add(key=key.replace("_", "."))
        if isinstance(value, str):
            kv.value.string_value = value
        else:
            kv.value.int_value = value


def _points(request: ExportMetricsServiceRequest) -> tuple[list[MetricPoint], list[str]]:
    mapped, refused = map_metrics(request)
    events = [e for m in mapped for e in m.events]
    assert all(isinstance(e, MetricPoint) for e in events)
    return [e for e in events if isinstance(e, MetricPoint)], [str(r) for r in refused]


def test_a_delta_sum_point_joins_its_claude_code_session() -> None:
    request, scope = _request()
    metric = scope.metrics.add(name="claude_code.lines_of_code.count", unit="count")
    metric.sum.aggregation_temporality = DELTA
    metric.sum.is_monotonic = True
    point = metric.sum.data_points.add(as_int=42, start_time_unix_nano=T0, time_unix_nano=T1)
    _attrs(point, session_id="s-1", type="added")
    [event], refused = _points(request)
    assert refused == []
    assert (event.metric_name, event.kind, event.temporality, event.is_monotonic) == (
        "claude_code.lines_of_code.count", MetricKind.SUM, Temporality.DELTA, True
    )  # fmt: skip
    assert (event.value, event.unit, event.session_id) == (42.0, "count", "s-1")
    assert event.correlation_id == session_correlation_id("s-1")
    assert event.attributes == {"session.id": "s-1", "type": "added"}
    assert event.resource == {"service.name": "claude-code"}
    assert event.started_at == datetime.fromtimestamp(T0 / 1e9, UTC)
    assert event.timestamp == datetime.fromtimestamp(T1 / 1e9, UTC)
    assert event.producer is not None
    assert event.producer.name == "claude-code"


def test_series_ids_and_resends() -> None:
    """Same series, same key; another attribute value, another series; a resend gives the
    same event ids, a later point of the series another."""
    request, scope = _request()
    metric = scope.metrics.add(name="claude_code.token.usage")
    metric.sum.aggregation_temporality = CUMULATIVE
    for value, time, kind in ((10, T0, "input"), (20, T1, "input"), (5, T1, "output")):
        point = metric.sum.data_points.add(
            as_int=value, start_time_unix_nano=T0, time_unix_nano=time
        )
        _attrs(point, session_id="s-1", type=kind)
    first, _ = _points(request)
    again, _ = _points(request)
    assert [e.event_id for e in first] == [e.event_id for e in again]
    assert len({e.event_id for e in first}) == 3
    assert first[0].series_key == first[1].series_key != first[2].series_key
    assert first[0].temporality is Temporality.CUMULATIVE


def test_a_gauge_has_no_temporality_and_a_service_trace_without_session() -> None:
    request, scope = _request()
    metric = scope.metrics.add(name="gen_ai.queue.depth")
    metric.gauge.data_points.add(as_double=3.25, time_unix_nano=T1)
    [event], _ = _points(request)
    assert (event.kind, event.temporality, event.value, event.session_id) == (
        MetricKind.GAUGE, None, 3.25, None
    )  # fmt: skip
    assert event.started_at == event.timestamp
    assert event.correlation_id != session_correlation_id("s-1")


def test_histograms_and_summaries_keep_their_shape() -> None:
    request, scope = _request()
    histogram = scope.metrics.add(name="gen_ai.client.operation.duration", unit="s")
    histogram.histogram.aggregation_temporality = DELTA
    histogram.histogram.data_points.add(
        time_unix_nano=T1, count=4, sum=6.5, min=0.5, max=3.0,
        explicit_bounds=[1.0, 2.0], bucket_counts=[1, 2, 1],
    )  # fmt: skip
    exponential = scope.metrics.add(name="latency.exp")
    exponential.exponential_histogram.aggregation_temporality = CUMULATIVE
    point = exponential.exponential_histogram.data_points.add(
        time_unix_nano=T1, count=3, sum=9.0, scale=2, zero_count=1
    )
    point.positive.offset = 1
    point.positive.bucket_counts.extend([1, 1])
    summary = scope.metrics.add(name="rpc.summary")
    point = summary.summary.data_points.add(time_unix_nano=T1, count=10, sum=12.0)
    point.quantile_values.add(quantile=0.5, value=1.0)
    point.quantile_values.add(quantile=0.99, value=4.0)
    hist, exp, summ = _points(request)[0]
    assert (hist.kind, hist.count, hist.value, hist.min_value, hist.max_value) == (
        MetricKind.HISTOGRAM, 4, 6.5, 0.5, 3.0
    )  # fmt: skip
    assert hist.buckets == {"bounds": [1.0, 2.0], "counts": [1, 2, 1]}
    assert (exp.kind, exp.temporality, exp.count) == (
        MetricKind.EXPONENTIAL_HISTOGRAM, Temporality.CUMULATIVE, 3
    )  # fmt: skip
    assert exp.buckets["positive"] == {"offset": 1, "counts": [1, 1]}
    assert exp.buckets["zero_count"] == 1
    assert (summ.kind, summ.temporality, summ.count, summ.value) == (
        MetricKind.SUMMARY, Temporality.CUMULATIVE, 10, 12.0
    )  # fmt: skip
    assert summ.buckets == {"quantiles": [{"quantile": 0.5, "value": 1.0},
                                          {"quantile": 0.99, "value": 4.0}]}  # fmt: skip


def _bool_session(point: Any) -> None:
    point.attributes.add(key="session.id").value.bool_value = True


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (lambda m: m.sum.data_points.add(as_int=1, time_unix_nano=T0),
         "sum.dataPoints[0]: aggregationTemporality: unspecified (0)"),
        (lambda m: (setattr(m.sum, "aggregation_temporality", DELTA),
                    m.sum.data_points.add(as_int=1)),
         "sum.dataPoints[0]: timeUnixNano: missing"),
        (lambda m: m.gauge.data_points.add(time_unix_nano=T0),
         "gauge.dataPoints[0]: value: missing (asDouble or asInt)"),
        (lambda m: m.gauge.data_points.add(as_double=float("nan"), time_unix_nano=T0),
         "gauge.dataPoints[0]: asDouble: not a finite number"),
        (lambda m: m.gauge.data_points.add(as_double=1, time_unix_nano=T0,
                                           start_time_unix_nano=T1),
         "gauge.dataPoints[0]: startTimeUnixNano: after timeUnixNano"),
        (lambda m: (setattr(m.histogram, "aggregation_temporality", DELTA),
                    m.histogram.data_points.add(time_unix_nano=T0, explicit_bounds=[1.0],
                                                bucket_counts=[1])),
         "histogram.dataPoints[0]: bucketCounts: 1 counts for 1 bounds"),
        (lambda m: m.summary.data_points.add(time_unix_nano=T0).quantile_values.add(quantile=2),
         "summary.dataPoints[0]: quantileValues.quantile: 2.0 is not in 0..1"),
        (lambda m: _bool_session(m.gauge.data_points.add(as_double=1, time_unix_nano=T0)),
         "gauge.dataPoints[0]: attributes.session.id: expected a string"),
    ],
    ids=["unspecified-temporality", "no-time", "no-value", "nan", "start-after-time",
         "bucket-count", "quantile", "session-id-type"],
)  # fmt: skip
def test_a_bad_point_is_refused_naming_the_field(build: Any, expected: str) -> None:
    """Each refusal says where the point is and which field is wrong; nothing else of the
    request is lost."""
    request, scope = _request()
    build(scope.metrics.add(name="m"))
    good = scope.metrics.add(name="ok")
    good.gauge.data_points.add(as_double=1.0, time_unix_nano=T0)
    events, refused = _points(request)
    assert [e.metric_name for e in events] == ["ok"]
    [reason] = refused
    assert reason.startswith("resourceMetrics[0].scopeMetrics[0].metrics[0]." + expected), reason


def test_a_metric_without_data_and_without_name_are_refused() -> None:
    request, scope = _request()
    scope.metrics.add(name="empty")
    unnamed = scope.metrics.add(name="")
    unnamed.gauge.data_points.add(as_double=1.0, time_unix_nano=T0)
    events, refused = _points(request)
    assert events == []
    assert refused == [
        (
            "resourceMetrics[0].scopeMetrics[0].metrics[0]: data: none (sum, gauge, histogram, "
            "exponentialHistogram or summary)"
        ),
        (
            "resourceMetrics[0].scopeMetrics[0].metrics[1].gauge.dataPoints[0]: name: missing "
            "(a metric needs a name)"
        ),
    ]
