"""Prometheus metrics of one API instance (its own registry, so tests can run several)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

__all__ = ["ApiMetrics", "MetricsMiddleware"]

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class _RuntimeCollector(Collector):
    """Reads the runner's counters at scrape time."""

    def __init__(self, stats: Callable[[], Mapping[str, int]], running: Callable[[], int]) -> None:
        self._stats = stats
        self._running = running

    def collect(self) -> Iterator[Any]:
        """Yield the execution counters and the running gauge."""
        executions = CounterMetricFamily(
            "omniclaude_executions", "Executions run by this API, by outcome", labels=["outcome"]
        )
        for outcome, count in sorted(self._stats().items()):
            executions.add_metric([outcome], count)
        yield executions
        yield GaugeMetricFamily(
            "omniclaude_executions_running", "Executions running now", value=self._running()
        )


class ApiMetrics:
    """Request, routing and event counters of one API."""

    def __init__(self) -> None:
        """Create the metrics in a fresh registry."""
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "omniclaude_api_requests",
            "HTTP requests",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "omniclaude_api_request_seconds",
            "HTTP request latency",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.routing = Counter(
            "omniclaude_routing_decisions",
            "Routing decisions",
            ["strategy"],
            registry=self.registry,
        )
        self.routing_latency = Histogram(
            "omniclaude_routing_seconds",
            "Time to route a prompt",
            buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05),
            registry=self.registry,
        )
        self.events = Counter(
            "omniclaude_api_events",
            "Events received on POST /events",
            ["result"],
            registry=self.registry,
        )

    def watch_runtime(
        self, stats: Callable[[], Mapping[str, int]], running: Callable[[], int]
    ) -> None:
        """Expose the runner's execution counters."""
        self.registry.register(_RuntimeCollector(stats, running))

    def render(self) -> bytes:
        """The metrics in Prometheus text format."""
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Pure ASGI middleware counting requests by route template (not raw path) and status."""

    def __init__(self, app: Any, metrics: Callable[[], ApiMetrics | None]) -> None:
        """Wrap ``app``; ``metrics`` returns the live metrics (None before startup)."""
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Time the request and count its final status."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def tap(message: Any) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, tap)
        finally:
            metrics = self.metrics()
            if metrics is not None:
                route = getattr(scope.get("route"), "path", None) or "(unmatched)"
                metrics.requests.labels(scope["method"], route, str(status["code"])).inc()
                metrics.latency.labels(route).observe(time.perf_counter() - started)
