"""Metric points: one data point of a time series (an OTLP metric's point), stored as told.

One event per data point received on ``POST /v1/metrics`` (Claude Code's ``claude_code.*``,
the GenAI conventions' ``gen_ai.client.*``, any other OTLP metric). A series is the metric
name with its resource, scope and point attributes (:attr:`MetricPoint.series_key`); the
point's ``timestamp`` is its ``time_unix_nano`` and ``started_at`` its ``start_time_unix_nano``
(the start of a cumulative series, or of a delta's interval).

How a reader adds points up (:mod:`omniclaude.storage.queries.metrics`):

* ``delta`` sums: each point is added as it is;
* ``cumulative`` sums: stored as reported; the reader adds each point's difference from the
  previous point of the same series and start (a drop in value is a reset: the new value
  counts whole);
* gauges are never added up (the latest value is what they say).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field

from omniclaude.events.base import Identifier, JsonObject, TimedEvent
from omniclaude.events.limits import INT8_MAX

__all__ = ["MetricKind", "MetricPoint", "Temporality"]


class MetricKind(StrEnum):
    """The OTLP data kind a point came from."""

    SUM = "sum"
    GAUGE = "gauge"
    HISTOGRAM = "histogram"
    EXPONENTIAL_HISTOGRAM = "exponential_histogram"
    SUMMARY = "summary"


class Temporality(StrEnum):
    """OTLP's aggregation temporality of a sum or histogram."""

    DELTA = "delta"
    """Each point covers its own interval: points are added as they are."""
    CUMULATIVE = "cumulative"
    """Each point is the total since the series started: readers add the differences."""


class MetricPoint(TimedEvent):
    """One data point of a metric: its series, kind, temporality and value(s).

    ``correlation_id`` is the Claude Code session the point's ``session.id`` names (the hook
    mapper's id), else a trace of the emitting service. Histograms keep ``count``, ``value``
    (their sum), ``min_value``/``max_value`` and their buckets; summaries their quantiles.
    """

    event_type: Literal["metric_point"] = "metric_point"
    metric_name: str = Field(
        min_length=1, max_length=256, description="e.g. claude_code.commit.count"
    )
    kind: MetricKind = Field(default=MetricKind.SUM, description="sum, gauge, histogram...")
    temporality: Temporality | None = Field(
        default=None, description="delta or cumulative (sums, histograms); null for gauges."
    )
    is_monotonic: bool | None = Field(default=None, description="A sum that only grows.")
    unit: str | None = Field(default=None, max_length=64)
    series_key: Identifier = Field(
        min_length=1,
        description="Identifies the series: name, resource, scope and point attributes.",
    )
    value: float | None = Field(
        default=None, description="A sum's or gauge's value; a histogram's or summary's sum."
    )
    count: int | None = Field(default=None, ge=0, le=INT8_MAX, description="Histogram count.")
    min_value: float | None = None
    max_value: float | None = None
    buckets: JsonObject = Field(
        default_factory=dict,
        description="Histogram bounds and counts, exponential buckets, or summary quantiles.",
    )
    attributes: JsonObject = Field(default_factory=dict, description="The point's attributes.")
    resource: JsonObject = Field(default_factory=dict, description="The resource's attributes.")
    session_id: Identifier | None = None
    source: str = Field(default="otel", min_length=1, max_length=64)
    metadata: JsonObject = Field(default_factory=dict)
