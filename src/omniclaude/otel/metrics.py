"""OTLP metrics into ``metric_point`` events: one event per data point, stored as told.

:func:`map_metrics` walks an ``ExportMetricsServiceRequest`` (resource → scope → metric →
data point) and turns every point of a Sum, Gauge, Histogram, ExponentialHistogram or
Summary into a :class:`~omniclaude.events.MetricPoint`:

* its **series** (``series_key``): a digest of the metric name, the resource's attributes,
  the scope and the point's attributes: the points of one series share it;
* its **event id** derived from the series, the start and the time
  (:func:`~omniclaude.otel.ids.derived_event_id`): a resent request gives the same ids, which
  the consumer's idempotency turns into nothing new;
* its **trace**: the Claude Code session its ``session.id`` names (point attributes, then the
  resource; the hook mapper's id, so the session's figures join its hooks' trace), else a
  trace of the emitting service (the same one its logs go to);
* **temporality** as reported: delta points are added as they are by the read layer,
  cumulative ones by their differences (:mod:`omniclaude.storage.queries.metrics`); gauges
  are never added; summaries are cumulative by OTLP's definition.

A point that cannot be stored is refused, with the field at fault (``timeUnixNano: missing``,
``aggregationTemporality: unspecified``, ``asDouble: not a finite number``...); the others
of its metric are still stored. Nothing is dropped without an answer.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from typing import Any, Final

from pydantic import ValidationError

from omniclaude.errors import EventValidationError
from omniclaude.events import EventBase, MetricKind, MetricPoint, Temporality
from omniclaude.events.codec import invalid_event
from omniclaude.otel.ids import derived_event_id
from omniclaude.otel.values import (
    METRICS,
    Mapped,
    RecordError,
    Refused,
    attributes,
    fallback_correlation_id,
    instant,
    producer_of,
    records,
)

__all__ = ["MetricMapper", "map_metric_point", "map_metrics", "series_key"]

_KINDS: Final = {
    "sum": (MetricKind.SUM, "sum"),
    "gauge": (MetricKind.GAUGE, "gauge"),
    "histogram": (MetricKind.HISTOGRAM, "histogram"),
    "exponential_histogram": (MetricKind.EXPONENTIAL_HISTOGRAM, "exponentialHistogram"),
    "summary": (MetricKind.SUMMARY, "summary"),
}
"""The protobuf ``data`` field → (kind, its OTLP/JSON name, for messages)."""
_TEMPORALITY: Final = {1: Temporality.DELTA, 2: Temporality.CUMULATIVE}
_NO_RECORDED_VALUE: Final = 1  # DataPointFlags.FLAG_NO_RECORDED_VALUE_MASK


def series_key(
    name: str, resource: Mapping[str, Any], scope: Mapping[str, Any], attrs: Mapping[str, Any]
) -> str:
    """The id of a series: a digest of the metric name, resource, scope and point attributes
    (order of attributes does not matter)."""
    digest = hashlib.blake2b(digest_size=16)
    for part in (
        name,
        sorted((str(k), repr(v)) for k, v in resource.items()),
        (scope.get("name"), scope.get("version")),
        sorted((str(k), repr(v)) for k, v in attrs.items()),
    ):
        text = repr(part).encode()
        digest.update(len(text).to_bytes(8, "big") + text)
    return digest.hexdigest()


def _finite(value: float, field: str) -> float:
    if not math.isfinite(value):
        raise RecordError(field, f"not a finite number ({value!r})")
    return float(value)


def _optional(point: Any, field: str, json_name: str) -> float | None:
    return _finite(getattr(point, field), json_name) if point.HasField(field) else None


def _number(point: Any) -> float | None:
    which = point.WhichOneof("value")
    if which is None:
        if point.flags & _NO_RECORDED_VALUE:
            return None  # a staleness marker: stored without a value
        raise RecordError("value", "missing (asDouble or asInt)")
    if which == "as_int":
        return float(point.as_int)
    return _finite(point.as_double, "asDouble")


def _buckets(kind: MetricKind, point: Any) -> dict[str, Any]:
    if kind is MetricKind.HISTOGRAM:
        bounds = [_finite(b, "explicitBounds") for b in point.explicit_bounds]
        counts = [int(c) for c in point.bucket_counts]
        if counts and len(counts) != len(bounds) + 1:
            raise RecordError(
                "bucketCounts",
                f"{len(counts)} counts for {len(bounds)} bounds (needs one more than the bounds)",
            )
        if any(b >= a for a, b in zip(bounds[1:], bounds, strict=False)):
            raise RecordError("explicitBounds", "must increase")
        return {"bounds": bounds, "counts": counts}
    if kind is MetricKind.EXPONENTIAL_HISTOGRAM:
        return {
            "scale": point.scale,
            "zero_count": int(point.zero_count),
            "zero_threshold": _finite(point.zero_threshold, "zeroThreshold"),
            "positive": {"offset": point.positive.offset,
                         "counts": [int(c) for c in point.positive.bucket_counts]},
            "negative": {"offset": point.negative.offset,
                         "counts": [int(c) for c in point.negative.bucket_counts]},
        }  # fmt: skip
    if kind is MetricKind.SUMMARY:
        quantiles = []
        for q in point.quantile_values:
            if not 0.0 <= q.quantile <= 1.0:
                raise RecordError("quantileValues.quantile", f"{q.quantile!r} is not in 0..1")
            quantiles.append({"quantile": q.quantile, "value": _finite(q.value, "quantileValues")})
        return {"quantiles": quantiles}
    return {}


def _values(kind: MetricKind, point: Any) -> dict[str, Any]:
    if kind in (MetricKind.SUM, MetricKind.GAUGE):
        return {"value": _number(point)}
    if kind is MetricKind.SUMMARY:
        return {"value": _finite(point.sum, "sum"), "count": int(point.count)}
    return {
        "value": _optional(point, "sum", "sum"),
        "count": int(point.count),
        "min_value": _optional(point, "min", "min"),
        "max_value": _optional(point, "max", "max"),
    }


def _temporality(kind: MetricKind, data: Any) -> Temporality | None:
    if kind is MetricKind.GAUGE:
        return None
    if kind is MetricKind.SUMMARY:
        return Temporality.CUMULATIVE  # OTLP: a summary's count and sum are cumulative
    temporality = _TEMPORALITY.get(data.aggregation_temporality)
    if temporality is None:
        raise RecordError(
            "aggregationTemporality",
            f"unspecified ({data.aggregation_temporality}): must be delta (1) or cumulative (2)",
        )
    return temporality


def map_metric_point(
    resource: Mapping[str, Any],
    scope: Mapping[str, Any],
    metric: Any,
    data_field: str,
    point: Any,
) -> MetricPoint:
    """The event of one data point of ``metric`` (whose data is ``data_field``).

    Raises:
        RecordError: a value of the point cannot be used (the message names it).
        EventValidationError: the event breaks the contract (a value cannot be stored).
    """
    kind, _ = _KINDS[data_field]
    data = getattr(metric, data_field)
    name = metric.name.strip()
    if not name:
        raise RecordError("name", "missing (a metric needs a name)")
    attrs = attributes(point.attributes)
    at = instant(point.time_unix_nano, "timeUnixNano")
    start = (
        instant(point.start_time_unix_nano, "startTimeUnixNano")
        if point.start_time_unix_nano
        else at
    )
    if start > at:
        raise RecordError("startTimeUnixNano", "after timeUnixNano")
    correlation, session = fallback_correlation_id(resource, attrs)
    series = series_key(name, resource, scope, attrs)
    metadata: dict[str, Any] = {"scope": dict(scope)}
    if metric.description:
        metadata["description"] = metric.description
    if point.flags & _NO_RECORDED_VALUE:
        metadata["no_recorded_value"] = True
    try:
        return MetricPoint(
            event_id=derived_event_id(
                "metric", series, str(point.start_time_unix_nano), str(point.time_unix_nano)
            ),
            correlation_id=correlation,
            metric_name=name,
            kind=kind,
            temporality=_temporality(kind, data),
            is_monotonic=bool(data.is_monotonic) if kind is MetricKind.SUM else None,
            unit=metric.unit or None,
            series_key=series,
            buckets=_buckets(kind, point),
            attributes=attrs,
            resource=dict(resource),
            session_id=session,
            metadata=metadata,
            started_at=start,
            timestamp=at,
            producer=producer_of(resource),
            **_values(kind, point),
        )
    except ValidationError as exc:
        raise invalid_event("metric data point", exc) from exc


def map_metrics(request: Any) -> tuple[list[Mapped], list[Refused]]:
    """What each data point of an ``ExportMetricsServiceRequest`` became, and what was
    refused (where, and the field at fault). A metric without data is refused whole."""
    mapped: list[Mapped] = []
    refused: list[Refused] = []
    for where, resource, scope, metric in records(request, METRICS):
        data_field = metric.WhichOneof("data")
        if data_field is None:
            refused.append(
                Refused(
                    where, "data: none (sum, gauge, histogram, exponentialHistogram or summary)"
                )
            )
            continue
        json_name = _KINDS[data_field][1]
        for index, point in enumerate(getattr(metric, data_field).data_points):
            at = f"{where}.{json_name}.dataPoints[{index}]"
            try:
                event: EventBase = map_metric_point(resource, scope, metric, data_field, point)
            except (RecordError, EventValidationError) as exc:
                refused.append(Refused(at, str(exc)))
                continue
            mapped.append(Mapped(at, [event]))
    return mapped, refused


class MetricMapper:
    """Map every data point of an ``ExportMetricsServiceRequest`` (:func:`map_metrics`)."""

    def map_request(self, request: Any) -> tuple[list[Mapped], list[Refused]]:
        """What each data point became, and what was refused (with the field at fault)."""
        return map_metrics(request)
