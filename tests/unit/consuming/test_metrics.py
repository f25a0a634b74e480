"""Each service has its own metrics registry."""

from __future__ import annotations

from omniclaude.consuming.metrics import IngestMetrics


def test_two_services_count_separately() -> None:
    """Registries are per service, so several can run in one process (tests, workers)."""
    one, two = IngestMetrics(), IngestMetrics()
    one.consumed.labels(topic="t").inc(5)
    assert b'omniclaude_ingest_events_consumed_total{topic="t"} 5.0' in one.render()
    assert b"omniclaude_ingest_events_consumed_total{" not in two.render()


def test_every_documented_metric_is_exported() -> None:
    """The names operators alert on exist from the start."""
    text = IngestMetrics().render().decode()
    for name in (
        "omniclaude_ingest_batch_size_events",
        "omniclaude_ingest_write_seconds",
        "omniclaude_ingest_consumer_lag_messages",
        "omniclaude_ingest_last_commit_timestamp_seconds",
        "omniclaude_ingest_store_retries_total",
        "omniclaude_ingest_commit_failures_total",
        "omniclaude_ingest_paused",
    ):
        assert name in text, f"metric {name} is missing"
