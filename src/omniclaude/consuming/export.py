"""The consumer's continuous OTLP export: finished traces to a collector, off the write path.

On when ``OMNICLAUDE_OTLP_EXPORT__ENDPOINT`` is set
(:class:`~omniclaude.settings.OtlpExportSettings`). The runner tells
:meth:`OtlpExport.offer` the events of each committed batch; the exporter
(:class:`~omniclaude.otel.export.ContinuousExporter`) reads each finished trace through the
read layer with a pool of its own (two connections, never the writer's) and sends it in the
background. Its metrics are in the consumer's registry (``omniclaude_otlp_export_*``).
"""

from __future__ import annotations

import logging
from typing import Any

from omniclaude.settings import OtlpExportSettings

__all__ = ["OtlpExport"]

log = logging.getLogger(__name__)


class OtlpExport:
    """The continuous export of one consumer: its pool, sender and background task.

    Args:
        settings: where to and how (``endpoint`` must be set).
        database_url: the database the consumer writes.
        registry: the consumer's Prometheus registry.
    """

    def __init__(self, settings: OtlpExportSettings, database_url: str, registry: Any) -> None:
        from omniclaude.otel.export import ExportMetrics

        if settings.endpoint is None:
            raise ValueError("endpoint: the continuous export needs an endpoint")
        self.settings = settings
        self._database_url = database_url
        self.metrics = ExportMetrics(registry)
        self.exporter: Any = None
        self._pool: Any = None

    async def start(self) -> None:
        """Start the background task (its pool connects on first use: a database away at
        start delays the export, never the consumer)."""
        from omniclaude.otel.export import ContinuousExporter, SpanSender
        from omniclaude.storage.pool import create_pool

        s = self.settings
        assert s.endpoint is not None  # noqa: S101 - checked in __init__
        self._pool = await create_pool(self._database_url, min_size=0, max_size=2)
        sender = SpanSender(
            s.endpoint, s.header_map(), timeout_s=s.timeout_s,
            max_spans=s.max_spans_per_request, compression=s.compression,
        )  # fmt: skip
        self.exporter = ContinuousExporter(
            self._pool, sender, self.metrics, max_queue=s.max_queue_traces, settle_s=s.settle_s
        )
        self.exporter.start()
        log.info("exporting finished traces to %s", sender.shown)

    def offer(self, events: list[Any]) -> None:
        """The runner's ``on_written``: queue the trees the batch finished or added to
        (never blocks)."""
        if self.exporter is not None:
            self.exporter.offer(events)

    async def stop(self) -> None:
        """Stop the task and close the pool (what is queued is left to ``export-otlp``)."""
        exporter, self.exporter = self.exporter, None
        if exporter is not None:
            await exporter.stop()
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()
