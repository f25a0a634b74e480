"""The Kafka sink: hands events over without waiting, delivers them at least once.

Staged after aiokafka's own producer (facade / accumulator / sender):

1. the facade, :class:`KafkaSink` (the caller's task): ``send(event)`` redacts, encodes and
   routes the event (topic from the catalogue, key = correlation id so one trace stays ordered
   in one partition) and hands the record to the accumulator; nothing here waits on the
   network;
2. the accumulator (:mod:`.accumulator`, pure data): a bounded queue that spills to the
   durable outbox when full, batches for the sender;
3. the sender loop (:mod:`.pump`) over the broker stage (:mod:`omniclaude.publishing.producer`):
   delivers queued batches while the outbox is empty, else spools behind it and re-sends the
   outbox oldest first; a row is deleted only after the broker acknowledged it;
4. the dead-letter stage (:mod:`.dead_letters`): an event the broker refused with a
   non-retriable error is kept in the outbox's dead-letter table and published to
   ``<topic><dead_letter_suffix>`` with its reason. Nothing is dropped silently.

Refused at once: an event that cannot be stored, or larger than the contract's
:data:`~omniclaude.events.limits.MAX_EVENT_BYTES` once redacted and encoded, raises
:class:`~omniclaude.errors.EventValidationError` from ``send`` (``send_durably`` returns it);
the producer's ``max_request_size`` is derived from that limit, so the broker takes every
event accepted here.

``stop()`` flushes within ``flush_timeout_s`` and writes whatever is still unacknowledged to
the outbox, which the next start (of this or another process) re-sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from omniclaude.errors import ConfigurationError, DeliveryError, UnknownEventTypeError
from omniclaude.events import CATALOG, EventBase
from omniclaude.kafka import all_topics, topic_routes
from omniclaude.publishing.outbox import Outbox, OutboxFullPolicy, OutboxRecord
from omniclaude.publishing.producer import BrokerProducer, Idempotence
from omniclaude.publishing.redaction import Redactor
from omniclaude.publishing.sinks.accumulator import Accumulator
from omniclaude.publishing.sinks.base import BaseSink, EventSink, Refusals
from omniclaude.publishing.sinks.dead_letters import DeadLetterStage
from omniclaude.publishing.sinks.pump import Pump
from omniclaude.settings import KafkaSecuritySettings, ProducerSettings, TopicSettings

if TYPE_CHECKING:
    from omniclaude.settings import Settings

__all__ = ["KafkaSink", "sink_from_settings"]

log = logging.getLogger(__name__)

_IDS_PREFIX: Final = b'{"event_id":"'
_IDS_BETWEEN: Final = b'","correlation_id":"'
_ID_AT: Final = len(_IDS_PREFIX)
_KEY_AT: Final = _ID_AT + 36 + len(_IDS_BETWEEN)
_ID_TEXT: Final = slice(_ID_AT, _ID_AT + 36)
_IDS_MIDDLE: Final = slice(_ID_AT + 36, _KEY_AT)
_KEY_TEXT: Final = slice(_KEY_AT, _KEY_AT + 36)
"""Where an encoded event's id and correlation id are (the codec writes them first, as 36
characters each)."""


class KafkaSink(BaseSink):
    """Deliver events to Kafka at least once, durably spooling while the broker is away.

    Args:
        bootstrap_servers: ``host:port`` of the brokers.
        topics: topic names (the catalogue says which event type goes to which).
        topic_prefix: prepended to every topic name.
        spool_dir: directory of the outbox database (``outbox_file`` inside it).
        producer: linger, sizes, flush timeout, queue and outbox caps.
        redactor: applied to every event before it leaves; None means the default rules.
        idempotence: True, False or ``"auto"`` (see :mod:`omniclaude.publishing.producer`).
        request_timeout_ms: how long the broker may take before a send counts as failed.
        outbox_file: the outbox database's file name (one per long-running process is best).
        outbox_full_policy: ``drop_newest`` (default) or ``drop_oldest`` when the cap is hit.
        security: TLS/SASL options of the cluster (default: plaintext).
    """

    def __init__(
        self,
        *,
        bootstrap_servers: Sequence[str],
        topics: TopicSettings = TopicSettings(),  # noqa: B008 - frozen settings model
        topic_prefix: str = "",
        spool_dir: Path,
        producer: ProducerSettings = ProducerSettings(),  # noqa: B008 - frozen settings model
        redactor: Redactor | None = None,
        idempotence: Idempotence = "auto",
        request_timeout_ms: int = 5000,
        outbox_file: str = "outbox.sqlite3",
        outbox_full_policy: OutboxFullPolicy = "drop_newest",
        security: KafkaSecuritySettings = KafkaSecuritySettings(),  # noqa: B008 - frozen
    ) -> None:
        super().__init__(redactor=redactor)
        if not bootstrap_servers:
            raise ConfigurationError("KafkaSink: bootstrap_servers is empty")
        self.settings = producer
        self.topics = topics
        self.topic_prefix = topic_prefix
        self.dead_letter_suffix = topics.dead_letter_suffix
        routes = topic_routes(topics, topic_prefix)
        by_family = {route.spec.key: route.name for route in routes.values()}
        self._topic_for = {kind.event_type: by_family[kind.topic.key] for kind in CATALOG}
        self.outbox = Outbox(
            Path(spool_dir) / outbox_file,
            max_events=producer.outbox_max_events,
            full_policy=outbox_full_policy,
        )
        self.accumulator = Accumulator(queue_max_events=producer.queue_max_events)
        self.dead_letters = DeadLetterStage(
            self.outbox, dead_letter_suffix=topics.dead_letter_suffix
        )
        broker = BrokerProducer(
            bootstrap_servers=bootstrap_servers,
            settings=producer,
            idempotence=idempotence,
            request_timeout_ms=request_timeout_ms,
            topics=all_topics(routes),
            partitions=topics.partitions,
            security=security,
        )
        self._pump = Pump(
            accumulator=self.accumulator, outbox=self.outbox, broker=broker,
            dead_letters=self.dead_letters, on_progress=self._progressed,
            linger_s=producer.linger_ms / 1000,
        )  # fmt: skip
        self._pump_task: asyncio.Task[None] | None = None
        self._progress = asyncio.Event()
        self._topic_by_class = {kind.model: self._topic_for[kind.event_type] for kind in CATALOG}
        """The topic of each catalogue model (its ``event_type`` is a fixed literal)."""

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        redactor: Redactor | None = None,
        bootstrap_servers: Sequence[str] | None = None,
        spool_dir: Path | None = None,
        outbox_file: str = "outbox.sqlite3",
    ) -> KafkaSink:
        """The sink the settings describe (not started).

        Args:
            settings: broker, security, topics, producer tuning and the spool directory.
            redactor: None means the default rules.
            bootstrap_servers: another broker address than the settings' (a stack's broker).
            spool_dir: another outbox directory than the settings' spool dir.
            outbox_file: the outbox database's file name (one per long-running process).

        Raises:
            ConfigurationError: no broker address.
        """
        return cls(
            bootstrap_servers=(
                settings.bootstrap_servers if bootstrap_servers is None else bootstrap_servers
            ),
            topics=settings.topics,
            topic_prefix=settings.topic_prefix,
            spool_dir=settings.effective_spool_dir if spool_dir is None else spool_dir,
            producer=settings.producer,
            redactor=redactor,
            outbox_file=outbox_file,
            security=settings.kafka,
        )

    # ----------------------------------------------------------- lifecycle
    async def start(self) -> None:
        """Open the outbox and start the sender loop; never waits for the broker. Safe twice.

        Events left in the outbox by an earlier run are re-sent first.
        """
        if self._pump_task is not None and not self._pump_task.done():
            return
        await asyncio.to_thread(self.outbox.open)
        await self.dead_letters.load()
        if len(self.outbox):
            log.info("outbox %s holds %d event(s) to re-send", self.outbox.path, len(self.outbox))
        self._pump.halt.clear()
        self._pump_task = asyncio.create_task(self._pump.run(), name="omniclaude-kafka-sink")
        await super().start()

    # ------------------------------------------------------------- state
    @property
    def broker(self) -> BrokerProducer:
        """The broker stage (tests replace it with a scripted one before ``start()``)."""
        return self._pump.broker

    @broker.setter
    def broker(self, value: BrokerProducer) -> None:
        self._pump.broker = value

    @property
    def pending(self) -> int:
        """Events handed over but not yet acknowledged (queue, in flight, outbox, dead letters)."""
        return self.accumulator.unsettled + len(self.outbox) + self.dead_letters.pending

    @property
    def connected(self) -> bool:
        """Whether a producer is connected to the broker right now."""
        return self.broker.connected

    @property
    def delivered(self) -> int:
        """Events the broker acknowledged (dead letters not included)."""
        return self._pump.delivered

    @property
    def dead_lettered(self) -> int:
        """Events this sink dead-lettered."""
        return self.dead_letters.count

    def stats(self) -> dict[str, Any]:
        """Counters for health checks, tests and benchmarks."""
        return {
            "queued": len(self.accumulator.queue),
            "in_flight": len(self.accumulator.in_flight),
            "outbox": len(self.outbox),
            "dead_letters_pending": self.dead_letters.pending,
            "delivered": self.delivered,
            "dead_lettered": self.dead_lettered,
            "dropped": self.outbox.dropped,
            "connected": self.connected,
            "idempotent": self.broker.idempotent,
        }

    # --------------------------------------------------------------- send
    def topic_for(self, event: EventBase) -> str:
        """Return the full topic name for ``event``.

        Raises:
            UnknownEventTypeError: the event's type is not in the catalogue.
        """
        event_type = str(getattr(event, "event_type", ""))
        topic = self._topic_for.get(event_type)
        if topic is None:
            raise UnknownEventTypeError(
                f"event_type: {event_type!r} has no topic in the catalogue", field="event_type"
            )
        return topic

    def _check_open(self) -> None:
        if not self._started:
            raise DeliveryError("KafkaSink: call start() (or use 'async with') before send()")
        if self._stopped:
            raise DeliveryError("KafkaSink: send() after stop()")

    def _encode(self, event: EventBase) -> OutboxRecord:
        """Redact, check and encode ``event`` (one encoding: the one sent).

        Raises:
            EventValidationError: it cannot be stored, or exceeds the contract's size (which
                the producer's ``max_request_size`` is derived from, so the broker takes it).
        """
        event, data = self.prepare_encoded(event)
        topic = self._topic_by_class.get(type(event)) or self.topic_for(event)
        # The codec writes event_id and correlation_id first: the record's id and key (the
        # trace's id) are in the bytes already, as str(uuid) would format them again.
        if data.startswith(_IDS_PREFIX) and data[_IDS_MIDDLE] == _IDS_BETWEEN:
            event_id, key = data[_ID_TEXT].decode(), data[_KEY_TEXT]
        else:
            event_id, key = str(event.event_id), str(event.correlation_id).encode()
        return OutboxRecord(topic, key, data, event_id)

    def prepare(self, event: EventBase) -> EventBase:
        """Redact and check ``event`` as :meth:`send` will (see :meth:`BaseSink.prepare`)."""
        redacted = self.prepare_encoded(event)[0]
        self.topic_for(redacted)
        return redacted

    def _dead_letter(self, record: OutboxRecord, reason: str, error_class: str) -> None:
        """Dead-letter ``record`` now (the stage's step 1) and wake the sender loop."""
        self.dead_letters.record(record, reason, error_class)
        self._pump.poke()

    def _enqueue(self, record: OutboxRecord) -> None:
        spilled = self.accumulator.append(record)
        if spilled:
            # The queue goes to the outbox first so order is kept. This one call waits on the
            # local disk (never on the network).
            self.outbox.append(spilled)
        self._pump.poke()

    def send_nowait(self, event: EventBase) -> None:
        """Redact, check, encode and queue ``event`` (synchronous: nothing here waits, so the
        loggers call this without one more coroutine per event).

        Raises:
            DeliveryError: the sink is not started, or already stopped.
            EventValidationError: the event cannot be stored or is too large (nothing sent).
            UnknownEventTypeError: the event's type has no topic.
        """
        if self._stopped or not self._started:
            self._check_open()
        self._enqueue(self._encode(event))

    async def send(self, event: EventBase) -> None:
        """Redact, check, encode and queue ``event``; returns without waiting on the network
        (:meth:`send_nowait`).

        Raises:
            DeliveryError: the sink is not started, or already stopped.
            EventValidationError: the event cannot be stored or is too large (nothing sent).
            UnknownEventTypeError: the event's type has no topic.
        """
        self.send_nowait(event)

    async def send_many(self, events: Iterable[EventBase]) -> None:
        """Queue several events in order (see :meth:`send`); all are checked before any is
        queued, so a refused one leaves nothing half sent."""
        self._check_open()
        for record in [self._encode(event) for event in events]:
            self._enqueue(record)

    async def send_durably(self, events: Iterable[EventBase]) -> Refusals:
        """Write the events that can be stored to the outbox on the local disk before
        returning; return the refused ones with their index and why.

        For callers that acknowledge to someone else (``POST /events`` answers 202 only after
        this): once it returns, the accepted events survive a crash of this process and are
        sent by the sender loop (or by the next start) like any outbox row. It waits on the
        local disk only, never on the broker or on other callers' events.

        Raises:
            DeliveryError: the sink is not started, or already stopped.
        """
        self._check_open()
        records, refused = self.each(events, self._encode)
        if records:
            await asyncio.to_thread(self.outbox.append, records)
            self._pump.poke()
        return refused

    async def send_durably_grouped(self, groups: Sequence[Sequence[EventBase]]) -> Refusals:
        """:meth:`send_durably`, all or none per group (see
        :meth:`BaseSink.send_durably_grouped`): one outbox write for every accepted group.

        Raises:
            DeliveryError: the sink is not started, or already stopped.
        """
        self._check_open()
        records, refused = self.each_group(groups, self._encode)
        if records:
            await asyncio.to_thread(self.outbox.append, records)
            self._pump.poke()
        return refused

    # ------------------------------------------------------- flush / stop
    def _progressed(self) -> None:
        self._progress.set()

    async def wait_durable(self, timeout_s: float | None = None) -> bool:
        """Wait until every event handed over so far is acknowledged or in the outbox.

        Returns:
            True when nothing lives in memory only any more (``timeout_s`` 0: check now).
        """
        loop = asyncio.get_running_loop()
        deadline = None if timeout_s is None else loop.time() + timeout_s
        while self.accumulator.unsettled:
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return False
            self._progress.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._progress.wait(), remaining)
        return True

    async def flush(self, timeout_s: float | None = None) -> None:
        """Wait until everything handed over so far is acknowledged, or ``timeout_s`` passed.

        Returns normally either way; :attr:`pending` tells what is left (in the outbox, it
        will be re-sent later).
        """
        if not self.started or (self._pump.nothing_pending() and self.accumulator.empty):
            return
        self._pump.poke()
        try:
            await asyncio.wait_for(self._pump.idle.wait(), timeout_s)
        except TimeoutError:
            log.warning("flush: %d event(s) still pending after %ss", self.pending, timeout_s)

    async def stop(self) -> None:
        """Flush (bounded by ``producer.flush_timeout_s``), spool the rest, close. Idempotent.

        1. flush within the timeout; 2. halt the sender loop; 3. write every unacknowledged
        event (queued or in flight) to the outbox; 4. close the producer and the outbox.
        """
        if self._stopped or not self._started:
            self._stopped = True
            return
        await self.flush(self.settings.flush_timeout_s)
        self._pump.halt.set()
        task, self._pump_task = self._pump_task, None
        if task is not None:
            try:
                await asyncio.wait_for(
                    asyncio.shield(task), self.broker.request_timeout_ms / 1000 + 2
                )
            except TimeoutError:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        leftovers = self.accumulator.leftovers()
        if leftovers:
            await asyncio.to_thread(self.outbox.append, leftovers)
        if len(self.outbox):
            log.warning(
                "stopping with %d event(s) in the outbox %s; the next start re-sends them",
                len(self.outbox), self.outbox.path,
            )  # fmt: skip
        await self.broker.close()
        await asyncio.to_thread(self.outbox.close)
        await super().stop()


def sink_from_settings(settings: Settings, *, redactor: Redactor | None = None) -> EventSink:
    """Build the sink the settings describe (not started).

    * ``OMNICLAUDE_KAFKA_BOOTSTRAP`` set: a :class:`KafkaSink` spooling under the spool dir.
    * else ``OMNICLAUDE_DATABASE_URL`` set: a :class:`PostgresSink` that opens its own pool at
      ``start()``. (To share an existing pool instead: ``PostgresSink(db=pool)``.)

    Raises:
        ConfigurationError: neither is configured.
    """
    if settings.kafka_bootstrap:
        return KafkaSink.from_settings(settings, redactor=redactor)
    if settings.database_url is not None:
        from omniclaude.publishing.sinks.postgres import PostgresSink

        return PostgresSink(dsn=settings.database_dsn(), redactor=redactor)
    raise ConfigurationError(
        "no event sink configured: set OMNICLAUDE_KAFKA_BOOTSTRAP (Kafka) or "
        "OMNICLAUDE_DATABASE_URL (direct PostgreSQL); in code: PostgresSink(db=pool)"
    )
