"""The consumer's daily storage maintenance: partitions created ahead, retention applied.

:class:`MaintenanceJob` runs once when the consumer starts and then shortly after each UTC
day boundary, on a connection of its own (never the write path's):

1. create the partitions of today and of the ``ahead_days`` after it, for every event table
   (and finalize any detach an interrupted retention run left pending);
2. when a retention is configured (``OMNICLAUDE_RETENTION__*``), apply it
   (:mod:`omniclaude.storage.retention`: old day partitions detached concurrently and
   dropped, old summaries and rollup rows deleted in batches), at most once per UTC day per
   consumer, counting what went in ``omniclaude_retention_*``;
3. record the run (``omniclaude_storage_maintenance_last_run_timestamp_seconds``).

A failed run is logged, counted and tried again ``retry_s`` later; it never stops the
consumer (whose write path creates a missing partition by itself anyway). Several consumers
may run it at once: partition creation holds an advisory lock per table.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Final

from omniclaude.consuming.metrics import IngestMetrics
from omniclaude.events import utc_now
from omniclaude.storage.partitions import DAY, Created, PartitionPolicy, day_of
from omniclaude.storage.retention import Dropped, RetentionPolicy, RetentionReport

__all__ = ["MaintenanceJob", "seconds_until_next_run"]

log = logging.getLogger(__name__)

AFTER_MIDNIGHT_S: Final = 60.0
"""How long after the UTC day boundary the daily run starts (plus up to as much jitter)."""


def seconds_until_next_run(now: datetime, *, jitter_s: float = 0.0) -> float:
    """Seconds from ``now`` to the next run: ``AFTER_MIDNIGHT_S`` past the next UTC midnight."""
    target = day_of(now) + DAY + timedelta(seconds=AFTER_MIDNIGHT_S + jitter_s)
    return max(0.0, (target - now).total_seconds())


class MaintenanceJob:
    """Daily partition maintenance for one consumer (see the module docstring).

    Args:
        dsn: the PostgreSQL URL.
        policy: the partition layout.
        metrics: where runs and created partitions are counted.
        retention: what to drop daily (None or an empty policy: nothing).
        retry_s: delay before another attempt after a failed run.
        clock: the current time (tests pass their own).
    """

    def __init__(
        self,
        dsn: str,
        *,
        policy: PartitionPolicy,
        metrics: IngestMetrics,
        retention: RetentionPolicy | None = None,
        retry_s: float = 300.0,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._dsn = dsn
        self.policy = policy
        self.retention = retention if retention is not None and retention.configured else None
        self.retention_reports: list[RetentionReport] = []
        """The retention runs of this job (the last few), newest last."""
        self._retention_day: datetime | None = None
        self._metrics = metrics
        self._retry_s = retry_s
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self.runs = 0

    def record_created(self, created: Created) -> None:
        """Count one partition created (by this job or by the write path)."""
        self._metrics.partitions_created.labels(table=created.table).inc()

    def record_dropped(self, dropped: Dropped) -> None:
        """Count one partition retention dropped."""
        self._metrics.retention_partitions.labels(table=dropped.table).inc()
        self._metrics.retention_rows.labels(table=dropped.table).inc(dropped.rows)
        self._metrics.retention_bytes.labels(table=dropped.table).inc(dropped.bytes)

    def record_deleted(self, table: str, rows: int) -> None:
        """Count rows retention deleted from an unpartitioned table."""
        self._metrics.retention_rows.labels(table=table).inc(rows)

    async def run_once(self) -> list[Created]:
        """Run the maintenance now (steps in the module docstring).

        Returns:
            The partitions created.
        """
        from omniclaude.storage.partitions import maintain_partitions
        from omniclaude.storage.pool import connect
        from omniclaude.storage.retention import apply_retention

        now = self._clock()
        conn = await connect(self._dsn, timeout=10)
        try:
            created = await maintain_partitions(conn, policy=self.policy, now=now)
            for item in created:
                self.record_created(item)
            if self.retention is not None and self._retention_day != day_of(now):
                report = await apply_retention(
                    conn, self.retention, now=now,
                    on_dropped=self.record_dropped, on_deleted=self.record_deleted,
                )  # fmt: skip
                if report.skipped is None:
                    self._retention_day = day_of(now)
                    self._metrics.retention_last_run.set(time.time())
                self.retention_reports = [*self.retention_reports[-9:], report]
        finally:
            await conn.close(timeout=5)
        self.runs += 1
        self._metrics.maintenance_last_run.set(time.time())
        return created

    async def _loop(self) -> None:
        rng = random.Random()  # noqa: S311 - spreading consumers' runs, not cryptography
        while True:
            try:
                await self.run_once()
            except Exception as exc:  # noqa: BLE001 - logged and retried; never kills the consumer
                self._metrics.maintenance_failures.inc()
                log.warning(
                    "storage maintenance failed (%s: %s); retrying in %.0fs",
                    type(exc).__name__, exc, self._retry_s,
                )  # fmt: skip
                await asyncio.sleep(self._retry_s)
                continue
            jitter = rng.uniform(0, AFTER_MIDNIGHT_S)
            await asyncio.sleep(seconds_until_next_run(self._clock(), jitter_s=jitter))

    def start(self) -> None:
        """Start running in the background (first run now)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._loop(), name="omniclaude-storage-maintenance")

    async def stop(self) -> None:
        """Stop the background runs (safe to call twice)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
