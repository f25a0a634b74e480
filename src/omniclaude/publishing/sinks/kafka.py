"""The Kafka sink: hands events over without waiting, delivers them at least once.

Pipeline (after aiokafka's facade / accumulator / sender split):

1. ``send(event)`` (the caller's task): redact, encode, route (topic from the catalogue, key =
   correlation id so one trace stays ordered in one partition), append to a bounded in-memory
   queue, return. Nothing here waits on the network. A full queue spills to the outbox.
2. The pump (one background task): when the outbox is empty, sends queued events to the
   broker in batches (``acks=all``, bounded linger); a batch the broker did not acknowledge
   goes to the outbox. While the outbox holds anything, new events go behind it, and the
   outbox is re-sent oldest first; a row is deleted only after the broker acknowledged it.
3. ``stop()``: flush within ``flush_timeout_s``; whatever is still unacknowledged is written
   to the outbox, which the next start (of this or another process) re-sends.

Refused at once: an event that cannot be stored, or larger than the contract's
:data:`~omniclaude.events.limits.MAX_EVENT_BYTES` once redacted and encoded, raises
:class:`~omniclaude.errors.EventValidationError` from ``send`` (``send_durably`` returns it);
the producer's ``max_request_size`` is derived from that limit, so the broker takes every
event accepted here.

Dead letters: an event the broker refuses with a permanent error goes to
``<topic><dead_letter_suffix>`` with its reason, error class and original payload in
headers/value; while the broker is away it waits in the outbox's dead-letter table. Nothing is
dropped silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from omniclaude.errors import ConfigurationError, DeliveryError, UnknownEventTypeError
from omniclaude.events import CATALOG, EventBase
from omniclaude.events.codec import encode_checked
from omniclaude.events.limits import MAX_EVENT_BYTES
from omniclaude.kafka import DeadLetterHeaders, all_topics, topic_routes
from omniclaude.publishing.outbox import DeadLetter, Outbox, OutboxFullPolicy, OutboxRecord
from omniclaude.publishing.producer import BrokerProducer, Idempotence, SendRequest
from omniclaude.publishing.redaction import Redactor
from omniclaude.publishing.sinks.base import BaseSink, EventSink, Refusals
from omniclaude.retry import Backoff, is_retriable
from omniclaude.settings import KafkaSecuritySettings, ProducerSettings, TopicSettings

if TYPE_CHECKING:
    from omniclaude.settings import Settings

__all__ = ["KafkaSink", "sink_from_settings"]

log = logging.getLogger(__name__)

_BATCH_MAX_EVENTS: Final = 2000
_OUTBOX_BATCH: Final = 2000
_BACKOFF_INITIAL_S: Final = 0.1
_BACKOFF_MAX_S: Final = 5.0


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
        self.broker = BrokerProducer(
            bootstrap_servers=bootstrap_servers,
            settings=producer,
            idempotence=idempotence,
            request_timeout_ms=request_timeout_ms,
            topics=all_topics(routes),
            partitions=topics.partitions,
            security=security,
        )
        self._queue: deque[OutboxRecord] = deque()
        self._inflight: list[OutboxRecord] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._halt = asyncio.Event()
        self._pump_task: asyncio.Task[None] | None = None
        self._dead_pending = 0
        self._backoff = Backoff(_BACKOFF_INITIAL_S, _BACKOFF_MAX_S)
        self.delivered = 0
        """Events the broker acknowledged (dead letters not included)."""
        self.dead_lettered = 0
        self._down_since: float | None = None

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
        """Open the outbox and start the pump; never waits for the broker. Safe twice.

        Events left in the outbox by an earlier run are re-sent first.
        """
        if self._pump_task is not None and not self._pump_task.done():
            return
        await asyncio.to_thread(self.outbox.open)
        self._dead_pending = await asyncio.to_thread(self.outbox.pending_dead_letters)
        if len(self.outbox):
            log.info("outbox %s holds %d event(s) to re-send", self.outbox.path, len(self.outbox))
        self._halt.clear()
        self._pump_task = asyncio.create_task(self._pump(), name="omniclaude-kafka-sink")
        await super().start()

    @property
    def pending(self) -> int:
        """Events handed over but not yet acknowledged (queue, in flight and outbox)."""
        in_flight = sum(1 for r in self._inflight if r.seq is None)
        return len(self._queue) + in_flight + len(self.outbox) + self._dead_pending

    def stats(self) -> dict[str, Any]:
        """Counters for health checks and tests."""
        return {
            "queued": len(self._queue),
            "in_flight": len(self._inflight),
            "outbox": len(self.outbox),
            "dead_letters_pending": self._dead_pending,
            "delivered": self.delivered,
            "dead_lettered": self.dead_lettered,
            "dropped": self.outbox.dropped,
            "connected": self.broker.connected,
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
        event = self.redact(event)
        return OutboxRecord(
            topic=self.topic_for(event),
            key=str(event.correlation_id).encode(),
            value=encode_checked(event),
            event_id=str(event.event_id),
        )

    def prepare(self, event: EventBase) -> EventBase:
        """Redact and check ``event`` as :meth:`send` will (see :meth:`BaseSink.prepare`)."""
        redacted = self.redact(event)
        encode_checked(redacted)
        self.topic_for(redacted)
        return redacted

    def _enqueue(self, record: OutboxRecord) -> None:
        if len(self._queue) >= self.settings.queue_max_events:
            # Spill: the queue goes to the outbox first so order is kept. This one call
            # waits on the local disk (never on the network).
            spilled = [*self._queue, record]
            self._queue.clear()
            self.outbox.append(spilled)
        else:
            self._queue.append(record)
        self._idle.clear()
        self._wake.set()

    async def send(self, event: EventBase) -> None:
        """Redact, check, encode and queue ``event``; returns without waiting on the network.

        Raises:
            DeliveryError: the sink is not started, or already stopped.
            EventValidationError: the event cannot be stored or is too large (nothing sent).
            UnknownEventTypeError: the event's type has no topic.
        """
        self._check_open()
        self._enqueue(self._encode(event))

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
        sent by the pump (or by the next start) like any outbox row. It waits on the local
        disk only, never on the broker or on other callers' events.

        Raises:
            DeliveryError: the sink is not started, or already stopped.
        """
        self._check_open()
        records, refused = self.each(events, self._encode)
        if records:
            await asyncio.to_thread(self.outbox.append, records)
            self._idle.clear()
            self._wake.set()
        return refused

    # --------------------------------------------------------- dead letters
    def _dead_letter(self, record: OutboxRecord, reason: str, error_class: str) -> None:
        log.error(
            "dead letter: event %s for %s cannot be delivered: %s (%s)",
            record.event_id, record.topic, reason, error_class,
            extra={"event_id": record.event_id, "error_class": error_class},
        )  # fmt: skip
        letter = DeadLetter(
            topic=record.topic, key=record.key, value=record.value, event_id=record.event_id,
            reason=reason, error_class=error_class,
        )  # fmt: skip
        self.outbox.add_dead_letters([letter])
        self._dead_pending += 1
        self.dead_lettered += 1
        self._idle.clear()
        self._wake.set()

    def _dead_letter_request(self, letter: DeadLetter) -> SendRequest:
        limit = MAX_EVENT_BYTES
        value = letter.value[:limit]
        headers = DeadLetterHeaders(
            error_class=letter.error_class, error_message=letter.reason, stage="produce",
            original_topic=letter.topic, event_id=letter.event_id,
            original_size=len(letter.value), truncated=len(value) < len(letter.value),
        ).encode()  # fmt: skip
        return SendRequest(f"{letter.topic}{self.dead_letter_suffix}", letter.key, value, headers)

    async def _publish_dead_letters(self) -> bool:
        letters = await asyncio.to_thread(self.outbox.dead_letters, unpublished_only=True)
        if not letters:
            self._dead_pending = 0
            return True
        outcomes = await self.broker.send_batch([self._dead_letter_request(x) for x in letters])
        done = [
            x.id for x, o in zip(letters, outcomes, strict=True) if o is None or not is_retriable(o)
        ]
        await asyncio.to_thread(self.outbox.mark_dead_letters, [i for i in done if i is not None])
        self._dead_pending = max(self._dead_pending - len(done), 0)
        return len(done) == len(letters)

    # --------------------------------------------------------------- pump
    def _settle(
        self, records: Sequence[OutboxRecord], outcomes: Sequence[BaseException | None]
    ) -> tuple[list[OutboxRecord], list[OutboxRecord]]:
        """Return (done, retry): acknowledged or dead-lettered records, and the rest."""
        done: list[OutboxRecord] = []
        retry: list[OutboxRecord] = []
        for record, outcome in zip(records, outcomes, strict=True):
            if outcome is None:
                self.delivered += 1
                done.append(record)
            elif not is_retriable(outcome):
                reason = str(outcome) or type(outcome).__name__
                self._dead_letter(record, reason, type(outcome).__name__)
                done.append(record)
            else:
                retry.append(record)
        return done, retry

    @staticmethod
    def _requests(records: Sequence[OutboxRecord]) -> list[SendRequest]:
        return [SendRequest(r.topic, r.key, r.value) for r in records]

    async def _spool_queue(self) -> None:
        """Move everything queued to the end of the outbox (keeps the order)."""
        if self._queue:
            records = list(self._queue)
            self._queue.clear()
            self._inflight = records
            try:
                await asyncio.to_thread(self.outbox.append, records)
            finally:
                self._inflight = []

    def _note_down(self, retry: Sequence[OutboxRecord]) -> None:
        if self._down_since is None:
            self._down_since = time.monotonic()
            log.warning(
                "broker unreachable (%s): spooling undelivered events to %s (%d there now); "
                "retrying with backoff",
                self.broker.last_error, self.outbox.path, len(self.outbox) + len(retry),
            )  # fmt: skip

    def _note_up(self) -> None:
        if self._down_since is not None:
            log.info("broker reachable again after %.1fs", time.monotonic() - self._down_since)
            self._down_since = None
        self._backoff.reset()

    async def _pause(self) -> None:
        """Back off before the next attempt; ``stop()`` cuts the wait short."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._halt.wait(), self._backoff.next_delay())

    async def _drain_outbox(self) -> bool:
        """Re-send the outbox oldest first; return False on a retriable failure."""
        while len(self.outbox) and not self._halt.is_set():
            rows = await asyncio.to_thread(self.outbox.peek, _OUTBOX_BATCH)
            if not rows:
                await asyncio.to_thread(self.outbox.count)
                return True
            outcomes = await self.broker.send_batch(self._requests(rows))
            done, retry = self._settle(rows, outcomes)
            await asyncio.to_thread(self.outbox.delete, [r.seq for r in done if r.seq])
            if retry:
                error = str(self.broker.last_error)
                await asyncio.to_thread(
                    self.outbox.mark_failed, [r.seq for r in retry if r.seq], error
                )
                self._note_down(retry)
                return False
            self._note_up()
        return True

    async def _send_direct(self) -> bool:
        """Send one batch from the queue; failures go to the outbox. False on failure."""
        count = min(len(self._queue), _BATCH_MAX_EVENTS)
        batch = [self._queue.popleft() for _ in range(count)]
        self._inflight = batch
        try:
            outcomes = await self.broker.send_batch(self._requests(batch))
            _, retry = self._settle(batch, outcomes)
            if retry:
                await asyncio.to_thread(self.outbox.append, retry)
                self._note_down(retry)
                return False
        finally:
            self._inflight = []
        self._note_up()
        return True

    async def _pump_once(self) -> bool:
        """One step of the pump; returns False when it should back off."""
        if not self.broker.connected and not await self.broker.connect():
            await self._spool_queue()
            self._note_down(())
            return False
        if self._dead_pending and not await self._publish_dead_letters():
            return False
        if len(self.outbox):
            await self._spool_queue()
            return await self._drain_outbox()
        if self._queue:
            return await self._send_direct()
        return True

    def _nothing_pending(self) -> bool:
        return not self._queue and not len(self.outbox) and not self._dead_pending

    async def _pump(self) -> None:
        """The background task: deliver, spool, retry, until ``stop()``."""
        while not self._halt.is_set():
            try:
                healthy = await self._pump_once()
            except Exception:  # the pump must survive anything; the outbox keeps the events
                log.exception("Kafka sink pump failed; retrying")
                healthy = False
            if self._halt.is_set():
                break
            if not healthy:
                await self._pause()
                continue
            if self._nothing_pending():
                self._idle.set()
                self._wake.clear()
                if self._nothing_pending():
                    wake = asyncio.ensure_future(self._wake.wait())
                    halt = asyncio.ensure_future(self._halt.wait())
                    await asyncio.wait({wake, halt}, return_when=asyncio.FIRST_COMPLETED)
                    for waiter in (wake, halt):
                        waiter.cancel()

    # ------------------------------------------------------- flush / stop
    async def flush(self, timeout_s: float | None = None) -> None:
        """Wait until everything handed over so far is acknowledged, or ``timeout_s`` passed.

        Returns normally either way; :attr:`pending` tells what is left (in the outbox, it
        will be re-sent later).
        """
        if not self.started or (self._nothing_pending() and not self._inflight):
            return
        self._idle.clear()
        self._wake.set()
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_s)
        except TimeoutError:
            log.warning("flush: %d event(s) still pending after %ss", self.pending, timeout_s)

    async def stop(self) -> None:
        """Flush (bounded by ``producer.flush_timeout_s``), spool the rest, close. Idempotent.

        1. flush within the timeout; 2. halt the pump; 3. write every unacknowledged event
        (queued or in flight) to the outbox; 4. close the producer and the outbox.
        """
        if self._stopped or not self._started:
            self._stopped = True
            return
        await self.flush(self.settings.flush_timeout_s)
        self._halt.set()
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
        leftovers = [r for r in self._inflight if r.seq is None] + list(self._queue)
        self._queue.clear()
        self._inflight = []
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
