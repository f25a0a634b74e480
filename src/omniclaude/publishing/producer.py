"""The broker stage of the Kafka sink: one aiokafka producer, connected with backoff.

:class:`BrokerProducer` knows nothing of events or the outbox: it sends a batch of encoded
records and reports, per record, ``None`` (acknowledged with ``acks=all``) or the exception.
The sink decides what a failure means (:func:`is_permanent`: dead letter; else: outbox, retry).

Idempotence: with ``idempotence="auto"`` the producer first starts with
``enable_idempotence=True``; a broker that refuses ``InitProducerId`` (Tansu answers
``UnknownError``) makes it fall back, once, to ``acks=all`` without idempotence, logged at
WARNING. Duplicates that retries may then cause are harmless: every table is idempotent on
``event_id``.

Topics: a memory-only broker (Tansu) forgets every topic when it restarts, and then
*acknowledges* produce requests for a topic it no longer has while storing nothing. So the
producer makes sure its topics exist (creating the missing ones) on every connection and again
after any broker connection closed, before it sends the next batch.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from omniclaude.settings import ProducerSettings

__all__ = ["BrokerProducer", "Idempotence", "SendRequest", "is_permanent"]

log = logging.getLogger(__name__)

Idempotence = bool | Literal["auto"]

PERMANENT_ERRORS: Final = frozenset(
    {
        "MessageSizeTooLargeError", "RecordTooLargeError", "RecordListTooLargeError",
        "RecordBatchTooLargeError", "InvalidTopicError", "CorruptRecordException",
        "InvalidTimestampError", "TopicAuthorizationFailedError", "UnsupportedCodecError",
    }
)  # fmt: skip
"""Errors no retry can fix: the record goes to the dead-letter topic instead."""

_CONNECTION_ERRORS: Final = frozenset(
    {"KafkaConnectionError", "NoBrokersAvailable", "NodeNotReadyError", "KafkaTimeoutError",
     "RequestTimedOutError", "ConnectionError", "OSError", "TimeoutError"}
)  # fmt: skip


_TOPIC_ALREADY_EXISTS: Final = 36


def is_permanent(exc: BaseException) -> bool:
    """Return whether ``exc`` means the record can never be delivered (dead-letter it)."""
    return type(exc).__name__ in PERMANENT_ERRORS


@dataclass(slots=True)
class SendRequest:
    """One record to produce."""

    topic: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]] = field(default_factory=list)


class BrokerProducer:
    """Owns one ``AIOKafkaProducer`` (``acks=all``, bounded linger, bounded timeouts).

    Args:
        bootstrap_servers: ``host:port`` of the brokers.
        settings: linger, batch and message sizes.
        idempotence: True, False or ``"auto"`` (try, fall back if the broker refuses).
        request_timeout_ms: how long a request (and a metadata wait) may take before it fails.
        client_id: the Kafka client id.
        topics: every topic this producer writes to (checked/created before sending).
        partitions: partition count for topics it creates.
    """

    def __init__(
        self,
        *,
        bootstrap_servers: Sequence[str],
        settings: ProducerSettings,
        idempotence: Idempotence = "auto",
        request_timeout_ms: int = 5000,
        client_id: str = "omniclaude-sdk",
        topics: Sequence[str] = (),
        partitions: int = 3,
    ) -> None:
        self.bootstrap_servers = list(bootstrap_servers)
        self.settings = settings
        self.idempotence: Idempotence = idempotence
        self.request_timeout_ms = request_timeout_ms
        self.client_id = client_id
        self._producer: Any = None
        self.last_error: BaseException | None = None
        self.topics = list(topics)
        self.partitions = partitions
        self._topics_verified = False
        self.topic_checks = 0
        """How many times the topics were checked (tests read it)."""

    @property
    def connected(self) -> bool:
        """Whether a started producer is held."""
        return self._producer is not None

    @property
    def idempotent(self) -> bool | None:
        """Whether the producer in use is idempotent (None before the first connection)."""
        return None if self.idempotence == "auto" else bool(self.idempotence)

    def _build(self, idempotent: bool) -> Any:
        from aiokafka import AIOKafkaProducer

        return AIOKafkaProducer(
            bootstrap_servers=self.bootstrap_servers,
            client_id=self.client_id,
            acks="all",
            enable_idempotence=idempotent,
            linger_ms=self.settings.linger_ms,
            max_batch_size=min(self.settings.max_batch_bytes, 16 * 1024 * 1024),
            max_request_size=self.settings.max_message_bytes + 64 * 1024,
            request_timeout_ms=self.request_timeout_ms,
            retry_backoff_ms=100,
            metadata_max_age_ms=30_000,
        )

    async def connect(self) -> bool:
        """Start a producer if none is held. Returns whether one is held afterwards."""
        if self._producer is not None:
            return True
        from aiokafka.errors import KafkaError

        attempt_idempotent = self.idempotence is not False
        producer = self._build(attempt_idempotent)
        self._watch_connections(producer)
        try:
            await producer.start()
        except KafkaError as exc:
            await self._quiet_stop(producer)
            name = type(exc).__name__
            if attempt_idempotent and self.idempotence == "auto" and name not in _CONNECTION_ERRORS:
                log.warning(
                    "broker %s refused an idempotent producer (%s: %s); falling back to "
                    "acks=all without idempotence (duplicates are absorbed by event_id)",
                    ",".join(self.bootstrap_servers), name, exc,
                )  # fmt: skip
                self.idempotence = False
                return await self.connect()
            self.last_error = exc
            return False
        except OSError as exc:
            await self._quiet_stop(producer)
            self.last_error = exc
            return False
        if self.idempotence == "auto":
            self.idempotence = True
        self._producer = producer
        self._topics_verified = False
        return True

    def _watch_connections(self, producer: Any) -> None:
        """Re-check the topics after any broker connection closes (a restart loses them).

        aiokafka calls ``client._on_connection_closed`` from every connection it opens; the
        hook is installed before the first connection exists.
        """
        client = producer.client
        original = client._on_connection_closed

        def on_closed(conn: Any, reason: Any) -> None:
            self._topics_verified = False
            original(conn, reason)

        client._on_connection_closed = on_closed

    async def ensure_topics(self) -> None:
        """Create whichever of :attr:`topics` the broker lacks.

        Raises:
            aiokafka.errors.KafkaError: the broker is unreachable or refused.
        """
        if not self.topics:
            self._topics_verified = True
            return
        from aiokafka.admin import AIOKafkaAdminClient, NewTopic

        admin = AIOKafkaAdminClient(
            bootstrap_servers=self.bootstrap_servers, request_timeout_ms=self.request_timeout_ms
        )
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            missing = [name for name in self.topics if name not in existing]
            if missing:
                response = await admin.create_topics(
                    [NewTopic(name, self.partitions, 1) for name in missing],
                    timeout_ms=self.request_timeout_ms,
                )
                for entry in getattr(response, "topic_errors", ()):
                    if entry[1] not in (0, _TOPIC_ALREADY_EXISTS):
                        log.warning("could not create topic %s: error code %s", entry[0], entry[1])
                log.info("created topics: %s", ", ".join(missing))
        finally:
            await admin.close()
        self.topic_checks += 1
        self._topics_verified = True

    async def _quiet_stop(self, producer: Any, timeout_s: float = 5.0) -> None:
        try:
            await asyncio.wait_for(producer.stop(), timeout_s)
        except Exception as exc:  # noqa: BLE001 - closing a broken client must not raise
            log.debug("closing the Kafka producer failed: %s", exc)

    async def send_batch(self, requests: Sequence[SendRequest]) -> list[BaseException | None]:
        """Produce ``requests`` in order; return per record None (acked) or the exception.

        After a connection-type failure the remaining records are failed at once with the same
        error instead of each waiting out the timeout.
        """
        outcomes: list[BaseException | None] = [None] * len(requests)
        if self._producer is None:
            error = ConnectionError("not connected to the broker")
            return [error] * len(requests)
        producer = self._producer
        if not self._topics_verified:
            try:
                await self.ensure_topics()
            except Exception as exc:  # noqa: BLE001 - broker away: every record fails, retriable
                self.last_error = exc
                return [exc] * len(requests)
        futures: list[tuple[int, asyncio.Future[Any]]] = []
        for index, request in enumerate(requests):
            try:
                future = await producer.send(
                    request.topic, request.value, key=request.key, headers=request.headers or None
                )
            except Exception as exc:  # noqa: BLE001 - reported per record to the caller
                outcomes[index] = exc
                if not is_permanent(exc):
                    for rest in range(index + 1, len(requests)):
                        outcomes[rest] = exc
                    break
                continue
            futures.append((index, future))
        if futures:
            results = await asyncio.gather(*(f for _, f in futures), return_exceptions=True)
            for (index, _), result in zip(futures, results, strict=True):
                if isinstance(result, BaseException):
                    outcomes[index] = result
        failures = [o for o in outcomes if o is not None]
        if failures:
            self.last_error = failures[0]
        return outcomes

    async def close(self, timeout_s: float = 5.0) -> None:
        """Stop the producer (bounded). Idempotent."""
        producer, self._producer = self._producer, None
        if producer is not None:
            await self._quiet_stop(producer, timeout_s)

    async def reconnect(self) -> bool:
        """Drop the producer and build a fresh one (fresh metadata and connections)."""
        await self.close()
        return await self.connect()
