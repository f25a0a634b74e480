"""The consumer's own figures (lag, dead letters, last commit), read from its ``/metrics``.

The consumer already computes lag per partition, and Tansu cannot answer the admin call that
would let the API compute it, so the overview scrapes the consumer's Prometheus endpoint
(``consumer.health_host:health_port``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from omniclaude.api.schemas import IngestFigures

if TYPE_CHECKING:
    from omniclaude.settings import Settings

__all__ = ["consumer_metrics_url", "fetch_ingest_figures", "parse_ingest_metrics"]


def parse_ingest_metrics(text: str, now_s: float | None = None) -> IngestFigures:
    """Read the consumer's Prometheus text exposition into :class:`IngestFigures`."""
    from prometheus_client.parser import text_string_to_metric_families

    lag: dict[str, int] = {}
    dead: dict[str, int] = {}
    last_commit_age_s: float | None = None
    paused = False
    now_s = time.time() if now_s is None else now_s
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            topic = sample.labels.get("topic", "")
            if sample.name == "omniclaude_ingest_consumer_lag_messages":
                lag[topic] = lag.get(topic, 0) + int(sample.value)
            elif sample.name == "omniclaude_ingest_dead_letters_total":
                dead[topic] = dead.get(topic, 0) + int(sample.value)
            elif sample.name == "omniclaude_ingest_last_commit_timestamp_seconds" and sample.value:
                last_commit_age_s = max(0.0, now_s - sample.value)
            elif sample.name == "omniclaude_ingest_paused":
                paused = sample.value > 0
    return IngestFigures(
        reachable=True,
        lag_by_topic=lag,
        dead_letters_by_topic=dead,
        last_commit_age_s=last_commit_age_s,
        paused=paused,
    )


async def fetch_ingest_figures(metrics_url: str | None, timeout_s: float = 1.5) -> IngestFigures:
    """Scrape the consumer's ``/metrics``; no URL or no answer gives ``reachable=False``."""
    import httpx

    if metrics_url is None:
        return IngestFigures(reachable=False)
    try:
        async with httpx.AsyncClient(timeout=timeout_s) as client:
            response = await client.get(metrics_url)
            response.raise_for_status()
    except httpx.HTTPError:
        return IngestFigures(reachable=False)
    return parse_ingest_metrics(response.text)


def consumer_metrics_url(settings: Settings) -> str:
    """Where the consumer of these settings serves its metrics."""
    consumer = settings.consumer
    return f"http://{consumer.health_host}:{consumer.health_port}/metrics"
