"""Prometheus metrics of one ingestion service, in a registry of its own.

Each :class:`IngestMetrics` has its own ``CollectorRegistry`` (never the global one), so
several services - in tests, or several consumers in one process - report separately.

=================================================  ==========================================
metric                                             meaning
=================================================  ==========================================
``omniclaude_ingest_events_consumed_total``        records read from the topic (label
                                                   ``topic``), valid or not
``omniclaude_ingest_events_written_total``         events in committed transactions (label
                                                   ``topic``); a redelivered event counts again
                                                   although it adds no row
``omniclaude_ingest_dead_letters_total``           records sent to ``<topic>-dlq`` (labels
                                                   ``topic``, ``stage``: decode/store)
``omniclaude_ingest_batch_size_events``            histogram: records per batch
``omniclaude_ingest_write_seconds``                histogram: duration of a batch's successful
                                                   database transaction
``omniclaude_ingest_consumer_lag_messages``        per ``topic``/``partition``: records on the
                                                   broker not yet committed by this group
``omniclaude_ingest_last_commit_timestamp_seconds``  Unix time of the last offset commit
``omniclaude_ingest_store_retries_total``          transient database failures (each is retried)
``omniclaude_ingest_commit_failures_total``        offset commits refused (e.g. after a rebalance;
                                                   harmless: the batch is in the database)
``omniclaude_ingest_paused``                       1 while fetching is paused (database away)
``omniclaude_ingest_event_id_conflicts_total``     events whose ``event_id`` was already stored
                                                   with other content (label ``topic``); the
                                                   stored version is kept, each is logged
``omniclaude_ingest_backdated_events_total``       events older than the daily partitions
                                                   (label ``table``): stored in a partition of
                                                   their month (a backfill, a clock far off)
``omniclaude_storage_partitions_created_total``    partitions created (label ``table``), ahead
                                                   of time or for a row that needed one
``omniclaude_storage_maintenance_last_run_``       Unix time of the last successful daily
``timestamp_seconds``                              maintenance (partitions ahead, retention)
``omniclaude_storage_maintenance_failures_total``  maintenance runs that failed (retried later)
``omniclaude_retention_partitions_dropped_total``  day partitions dropped by retention (label
                                                   ``table``)
``omniclaude_retention_rows_dropped_total``        rows dropped or deleted by retention (label
                                                   ``table``; partitions: the planner's estimate)
``omniclaude_retention_bytes_dropped_total``       bytes of the partitions dropped (label
                                                   ``table``; indexes included)
``omniclaude_retention_last_run_timestamp_``       Unix time of the last completed retention
``seconds``                                        run (only when a retention is configured)
``omniclaude_otlp_export_traces_total``            with the continuous OTLP export on: finished
                                                   traces sent (label ``outcome``: sent/failed)
``omniclaude_otlp_export_spans_total``             their spans (label ``outcome``)
``omniclaude_otlp_export_traces_dropped_total``    finished traces not sent: the export queue
                                                   was full (the collector down or slow)
``omniclaude_otlp_export_queue_traces``            finished traces waiting to be sent
=================================================  ==========================================
"""

from __future__ import annotations

from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["CONTENT_TYPE", "IngestMetrics"]

CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
"""The Prometheus text exposition format."""

_BATCH_BUCKETS: Final = (1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 50000)
_WRITE_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class IngestMetrics:
    """The consumer's counters, gauges and histograms.

    Args:
        registry: where to register them; None creates a fresh registry.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        r = self.registry
        self.consumed = Counter(
            "omniclaude_ingest_events_consumed", "Records read, per topic.", ["topic"], registry=r
        )
        self.written = Counter(
            "omniclaude_ingest_events_written",
            "Events in committed database transactions, per topic.",
            ["topic"],
            registry=r,
        )
        self.dead_letters = Counter(
            "omniclaude_ingest_dead_letters",
            "Records sent to the dead-letter topic, per original topic and stage.",
            ["topic", "stage"],
            registry=r,
        )
        self.batch_size = Histogram(
            "omniclaude_ingest_batch_size_events",
            "Records per batch.",
            buckets=_BATCH_BUCKETS,
            registry=r,
        )
        self.write_seconds = Histogram(
            "omniclaude_ingest_write_seconds",
            "Duration of a batch's database transaction.",
            buckets=_WRITE_BUCKETS,
            registry=r,
        )
        self.lag = Gauge(
            "omniclaude_ingest_consumer_lag_messages",
            "Records on the broker not yet committed by this consumer group.",
            ["topic", "partition"],
            registry=r,
        )
        self.last_commit = Gauge(
            "omniclaude_ingest_last_commit_timestamp_seconds",
            "Unix time of the last successful offset commit.",
            registry=r,
        )
        self.store_retries = Counter(
            "omniclaude_ingest_store_retries", "Transient database failures.", registry=r
        )
        self.commit_failures = Counter(
            "omniclaude_ingest_commit_failures", "Offset commits the broker refused.", registry=r
        )
        self.paused = Gauge("omniclaude_ingest_paused", "1 while fetching is paused.", registry=r)
        self.conflicts = Counter(
            "omniclaude_ingest_event_id_conflicts",
            "Events whose event_id was already stored with other content, per topic.",
            ["topic"],
            registry=r,
        )
        self.backdated = Counter(
            "omniclaude_ingest_backdated_events",
            "Events older than the daily partitions (stored in a partition of their month).",
            ["table"],
            registry=r,
        )
        self.partitions_created = Counter(
            "omniclaude_storage_partitions_created",
            "Time partitions created, per table.",
            ["table"],
            registry=r,
        )
        self.maintenance_last_run = Gauge(
            "omniclaude_storage_maintenance_last_run_timestamp_seconds",
            "Unix time of the last successful storage maintenance run.",
            registry=r,
        )
        self.maintenance_failures = Counter(
            "omniclaude_storage_maintenance_failures",
            "Storage maintenance runs that failed (each is retried later).",
            registry=r,
        )

        self.retention_partitions = Counter(
            "omniclaude_retention_partitions_dropped",
            "Day partitions dropped by retention, per table.",
            ["table"],
            registry=r,
        )
        self.retention_rows = Counter(
            "omniclaude_retention_rows_dropped",
            "Rows dropped (partitions: estimated) or deleted by retention, per table.",
            ["table"],
            registry=r,
        )
        self.retention_bytes = Counter(
            "omniclaude_retention_bytes_dropped",
            "Bytes of the partitions retention dropped, per table.",
            ["table"],
            registry=r,
        )
        self.retention_last_run = Gauge(
            "omniclaude_retention_last_run_timestamp_seconds",
            "Unix time of the last completed retention run.",
            registry=r,
        )

    def render(self) -> bytes:
        """Return every metric in the Prometheus text format."""
        return generate_latest(self.registry)
