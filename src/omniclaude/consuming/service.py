"""The ingestion service: every event topic into its PostgreSQL table, effectively once.

``omniclaude consume`` runs one :class:`IngestService`; tests start one with the
``ingest_service`` fixture. The loop and its delivery protocol are in
:mod:`omniclaude.consuming.runner`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import socket
from collections import Counter
from collections.abc import Mapping
from typing import Any, Final

from omniclaude._lifecycle import AsyncStartStop
from omniclaude.consuming.batcher import BatchPolicy
from omniclaude.consuming.dead_letters import DeadLetterPublisher
from omniclaude.consuming.export import OtlpExport
from omniclaude.consuming.health import HealthServer
from omniclaude.consuming.maintenance import MaintenanceJob
from omniclaude.consuming.metrics import IngestMetrics
from omniclaude.consuming.runner import IngestStats, Runner
from omniclaude.consuming.store import EventStore
from omniclaude.errors import ConfigurationError, DeliveryError
from omniclaude.kafka import (
    ConsumerRebalanceListener,
    KafkaClients,
    KafkaError,
    TopicWatcher,
    all_topics,
    close_quietly,
    topic_routes,
)
from omniclaude.retry import Backoff
from omniclaude.settings import (
    ConsumerSettings,
    KafkaSecuritySettings,
    OtlpExportSettings,
    PartitionSettings,
    RetentionSettings,
    Settings,
    TopicSettings,
)
from omniclaude.storage.partitions import PartitionCache, PartitionPolicy
from omniclaude.storage.retention import RetentionPolicy

__all__ = ["IngestService", "tune_gc"]

log = logging.getLogger(__name__)

DEFAULT_STOP_TIMEOUT_S: Final = 30.0
GC_GEN0_THRESHOLD: Final = 50_000
"""Allocations between two young-generation collections in a consumer process (CPython's
default, 700, makes the collector rescan every batch's objects dozens of times: measured at
about 40% of the consumer's CPU)."""
_REBALANCE_DRAIN_S: Final = 20.0


def tune_gc() -> None:
    """Tune CPython's garbage collector for a long-running consumer process.

    Moves everything allocated so far (modules, schemas, clients) to the permanent generation
    and collects the young generation less often. Process-wide, so :meth:`IngestService.run`
    (the ``omniclaude consume`` process) calls it, not :meth:`IngestService.start`.
    """
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GC_GEN0_THRESHOLD, gen1, gen2)


class _RebalanceListener(ConsumerRebalanceListener):  # type: ignore[misc]
    """Settles fetched batches before partitions are revoked (see ``Runner.drain``)."""

    def __init__(self, service: IngestService) -> None:
        self._service = service

    async def on_partitions_revoked(self, revoked: Any) -> None:
        runner = self._service._runner
        if runner is not None and revoked:
            await runner.drain(_REBALANCE_DRAIN_S)

    async def on_partitions_assigned(self, assigned: Any) -> None:
        runner = self._service._runner
        if runner is not None:
            runner.on_assigned(assigned)
        log.info(
            "assigned partitions: %s", sorted(f"{tp.topic}[{tp.partition}]" for tp in assigned)
        )


class IngestService(AsyncStartStop):
    """Consumes every event topic and writes each event to its table.

    Args:
        bootstrap_servers: Kafka brokers (``host:port``).
        database_url: the PostgreSQL URL (migrated with ``omniclaude db upgrade``).
        topic_prefix: prepended to every topic name.
        topics: topic names, partition count of created topics, dead-letter suffix.
        consumer: group id, batch size and time, retry backoff, health endpoint address.
        serve_health: serve ``/health``, ``/ready`` and ``/metrics`` on
            ``consumer.health_host:consumer.health_port`` (port 0 picks a free one).
        stop_timeout_s: how long :meth:`stop` waits for the batch in hand (the database may
            be away); what is left is redelivered on the next start.
        client_id: the Kafka client id (default: host and process id).
        security: TLS/SASL options of the cluster (default: plaintext).
        partitions: the layout of the tables' time partitions; the service creates them
            ahead when it starts and after each UTC day boundary (:mod:`.maintenance`).
        retention: what the same daily maintenance drops (nothing unless configured).
        consumer_options: extra ``AIOKafkaConsumer`` keyword arguments, overriding this
            service's defaults (for example ``session_timeout_ms``: Tansu completes a group
            join only after half of it, so tests use 3000).
        otlp_export: the continuous OTLP export of finished traces (off without an
            endpoint; :mod:`.export`).
    """

    def __init__(
        self,
        *,
        bootstrap_servers: list[str],
        database_url: str,
        topic_prefix: str = "",
        topics: TopicSettings = TopicSettings(),  # noqa: B008 - frozen settings object
        consumer: ConsumerSettings = ConsumerSettings(),  # noqa: B008 - frozen settings object
        serve_health: bool = False,
        stop_timeout_s: float = DEFAULT_STOP_TIMEOUT_S,
        client_id: str | None = None,
        consumer_options: Mapping[str, Any] | None = None,
        security: KafkaSecuritySettings = KafkaSecuritySettings(),  # noqa: B008 - frozen
        partitions: PartitionSettings = PartitionSettings(),  # noqa: B008 - frozen
        retention: RetentionSettings = RetentionSettings(),  # noqa: B008 - frozen
        otlp_export: OtlpExportSettings = OtlpExportSettings(),  # noqa: B008 - frozen
    ) -> None:
        self._client_id = client_id or f"omniclaude-ingest-{socket.gethostname()}-{os.getpid()}"
        self.clients = KafkaClients(bootstrap_servers, security, self._client_id)
        self.bootstrap_servers = self.clients.servers
        self.topics = topics
        self.settings = consumer
        self.routes = topic_routes(topics, topic_prefix)
        self._database_url = database_url
        self._serve_health = serve_health
        self._stop_timeout_s = stop_timeout_s
        self.topic_watcher = TopicWatcher(
            self.clients, all_topics(self.routes), partitions=topics.partitions
        )
        self._consumer_options = dict(consumer_options or {})
        self.metrics = IngestMetrics()
        self.stats = IngestStats()
        self.partition_policy = PartitionPolicy(**partitions.model_dump())
        self.maintenance = MaintenanceJob(
            database_url, policy=self.partition_policy, metrics=self.metrics,
            retention=RetentionPolicy.from_settings(retention),
        )  # fmt: skip
        self.otlp_export = (
            OtlpExport(otlp_export, database_url, self.metrics.registry)
            if otlp_export.endpoint is not None
            else None
        )
        self._consumer: Any = None
        self._producer: Any = None
        self._store: EventStore | None = None
        self._runner: Runner | None = None
        self._task: asyncio.Task[None] | None = None
        self._health: HealthServer | None = None
        self._stopped = asyncio.Event()
        self._started = False

    @classmethod
    def from_settings(cls, settings: Settings, *, serve_health: bool = True) -> IngestService:
        """Build the service from :class:`~omniclaude.settings.Settings`, as ``omniclaude
        consume`` does.

        Args:
            settings: the process's settings.
            serve_health: serve ``/health``, ``/ready`` and ``/metrics``.

        Raises:
            ConfigurationError: the Kafka bootstrap or the database URL is not set.
        """
        if not settings.bootstrap_servers:
            raise ConfigurationError("OMNICLAUDE_KAFKA_BOOTSTRAP: not set")
        return cls(
            bootstrap_servers=settings.bootstrap_servers,
            database_url=settings.database_dsn(),
            topic_prefix=settings.topic_prefix,
            topics=settings.topics,
            consumer=settings.consumer,
            serve_health=serve_health,
            security=settings.kafka,
            partitions=settings.partitions,
            retention=settings.retention,
            otlp_export=settings.otlp_export,
        )

    # ------------------------------------------------------------------ read-only state
    @property
    def events_written(self) -> dict[str, int]:
        """Events in committed transactions so far, per topic."""
        return dict(self.stats.events_written)

    @property
    def dead_lettered(self) -> int:
        """Records sent to the dead-letter topics so far."""
        return self.stats.dead_lettered

    @property
    def last_commit_time(self) -> float | None:
        """Unix time of the last offset commit (None before the first)."""
        return self.stats.last_commit_time

    @property
    def health_port(self) -> int | None:
        """The port of the health endpoint, when served."""
        return self._health.port if self._health is not None else None

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Liveness: the consume loop is running."""
        alive = self._task is not None and not self._task.done()
        return alive, {"loop": "running" if alive else "stopped"}

    def ready(self) -> tuple[bool, dict[str, Any]]:
        """Readiness: running, and the database and the broker answered last time."""
        alive, _ = self.health()
        stats = self.stats
        assigned = self._consumer.assignment() if self._consumer is not None else set()
        ok = alive and stats.database_ok and stats.broker_ok
        return ok, {
            "database": "ok" if stats.database_ok else "unavailable",
            "broker": "ok" if stats.broker_ok else "unavailable",
            "assigned_partitions": len(assigned),
            "last_commit_time": stats.last_commit_time,
            "last_error": None if ok else stats.last_error,
        }

    def _count_backdated(self, table: str, events: int) -> None:
        self.metrics.backdated.labels(table=table).inc(events)

    # ------------------------------------------------------------------ lifecycle
    async def _ensure_topics(self) -> list[str]:
        return await self.topic_watcher.ensure(force=True)

    async def start(self) -> None:
        """Create missing topics (and their dead-letter topics), connect, start the loop.

        Raises:
            DeliveryError: the broker could not be reached.
        """
        if self._started:
            return
        self._started = True
        try:
            await self._ensure_topics()
            options: dict[str, Any] = {
                "metadata_max_age_ms": 5_000,
                "heartbeat_interval_ms": min(1_000, self.settings.session_timeout_ms // 3),
                "session_timeout_ms": self.settings.session_timeout_ms,
                # A broker answers a fetch at once when records are there (Kafka), or only
                # after this wait (Tansu): it bounds the event -> row latency at low load.
                "fetch_max_wait_ms": self.settings.fetch_max_wait_ms,
                **self._consumer_options,
                # The delivery protocol depends on these two; they are not options.
                "enable_auto_commit": False,
                "auto_offset_reset": "earliest",
            }
            self._consumer = self.clients.consumer(group_id=self.settings.group_id, **options)
            self._consumer.subscribe(topics=list(self.routes), listener=_RebalanceListener(self))
            self._producer = self.clients.producer(client_suffix="-dlq", acks="all", linger_ms=5)
            # The group join waits on the broker (about half the session timeout on Tansu):
            # the dead-letter producer connects meanwhile instead of after it.
            outcomes = await asyncio.gather(
                self._consumer.start(), self._producer.start(), return_exceptions=True
            )
            for outcome in outcomes:  # both finished: closing either is safe now
                if isinstance(outcome, BaseException):
                    raise outcome
        except (KafkaError, OSError, DeliveryError) as exc:
            await self._close_clients()
            self._started = False
            raise DeliveryError(f"Kafka {','.join(self.bootstrap_servers)}: {exc}") from exc
        self._store = EventStore(
            self._database_url,
            on_conflict=lambda item, _columns: self.metrics.conflicts.labels(item.route.name).inc(),
            partitions=PartitionCache(
                self.partition_policy,
                on_created=self.maintenance.record_created,
                on_backdated=self._count_backdated,
            ),
        )
        self._runner = Runner(
            consumer=self._consumer,
            store=self._store,
            dead_letters=DeadLetterPublisher(self._producer),
            routes=self.routes,
            policy=BatchPolicy(
                self.settings.batch_max_events,
                self.settings.batch_max_ms,
                adaptive=self.settings.batch_adaptive,
            ),
            backoff=Backoff(self.settings.retry_initial_s, self.settings.retry_max_s),
            metrics=self.metrics,
            stats=self.stats,
            ensure_topics=self._ensure_topics,
            on_written=None if self.otlp_export is None else self.otlp_export.offer,
        )
        if self.otlp_export is not None:
            await self.otlp_export.start()
        self._task = asyncio.create_task(self._runner.run(), name="omniclaude-ingest")
        self.maintenance.start()
        if self._serve_health:
            self._health = HealthServer(
                host=self.settings.health_host,
                port=self.settings.health_port,
                health=self.health,
                ready=self.ready,
                metrics=self.metrics.render,
            )
            await self._health.start()
        log.info("consuming %s as group %s", ", ".join(self.routes), self.settings.group_id)

    async def stop(self) -> None:
        """Finish the batch in hand, commit its offsets and close everything. Idempotent.

        Raises:
            Exception: the consume loop had crashed (after everything is closed).
        """
        if not self._started:
            return
        self._started = False
        crashed: BaseException | None = None
        if self._runner is not None and self._task is not None:
            self._runner.request_stop()
            try:
                async with asyncio.timeout(self._stop_timeout_s):
                    await asyncio.shield(self._task)
            except TimeoutError:
                log.warning(
                    "stop: batch not settled in %.0fs; it will be redelivered", self._stop_timeout_s
                )
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self._task
            except Exception as exc:  # noqa: BLE001 - reported after cleanup
                crashed = exc
        await self.maintenance.stop()
        if self.otlp_export is not None:
            await self.otlp_export.stop()
        if self._health is not None:
            await self._health.stop()
        await self._close_clients()
        self._stopped.set()
        if crashed is not None:
            raise crashed

    async def _close_clients(self) -> None:
        consumer, self._consumer = self._consumer, None
        producer, self._producer = self._producer, None
        store, self._store = self._store, None
        for client in (consumer, producer):
            if client is not None:
                await close_quietly(client)
        if store is not None:
            await store.close()

    async def run(self) -> None:
        """Start, run until :meth:`stop`, SIGTERM or SIGINT, then stop cleanly (the CLI).

        Raises:
            Exception: the consume loop crashed.
        """
        loop = asyncio.get_running_loop()
        wake = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, wake.set)
        try:
            await self.start()
            tune_gc()
            assert self._task is not None  # noqa: S101 - set by start()
            waiter = asyncio.create_task(wake.wait())
            stopped = asyncio.create_task(self._stopped.wait())
            await asyncio.wait({self._task, waiter, stopped}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            stopped.cancel()
            if wake.is_set():
                log.info("signal received: finishing the batch in hand")
        finally:
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(signum)
            await self.stop()

    def __repr__(self) -> str:
        written = sum(Counter(self.stats.events_written).values())
        return f"IngestService(group={self.settings.group_id!r}, written={written})"
