"""The broker stage of the Kafka sink: one aiokafka producer, connected with backoff.

:class:`BrokerProducer` knows nothing of events or the outbox: it sends a batch of encoded
records and reports, per record, ``None`` (acknowledged with ``acks=all``) or the exception.
The sink decides what a failure means (:func:`omniclaude.retry.is_retriable`: outbox and
retry; otherwise a dead letter after this one attempt).

Idempotence: with ``idempotence="auto"`` the producer first starts with
``enable_idempotence=True``; a broker that refuses ``InitProducerId`` (Tansu answers
``UnknownError``) makes it fall back, once, to ``acks=all`` without idempotence, logged at
WARNING. Duplicates that retries may then cause are harmless: every table is idempotent on
``event_id``.

Topics: a memory-only broker (Tansu) forgets every topic when it restarts, and then
*acknowledges* produce requests for a topic it no longer has while storing nothing. So the
producer's :class:`~omniclaude.kafka.TopicWatcher` makes sure its topics exist (creating the
missing ones) on every connection, after any broker connection closed and after any failed
batch, before the next batch is sent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from omniclaude.errors import DeliveryError
from omniclaude.events.limits import BROKER_MAX_REQUEST_BYTES
from omniclaude.kafka import KafkaClients, TopicWatcher, close_quietly
from omniclaude.retry import is_retriable
from omniclaude.settings import KafkaSecuritySettings, ProducerSettings

__all__ = ["BrokerProducer", "Idempotence", "SendRequest"]

log = logging.getLogger(__name__)

Idempotence = bool | Literal["auto"]


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
        security: TLS/SASL options of the cluster (default: plaintext).
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
        security: KafkaSecuritySettings = KafkaSecuritySettings(),  # noqa: B008 - frozen
    ) -> None:
        self.clients = KafkaClients(bootstrap_servers, security, client_id)
        self.bootstrap_servers = self.clients.servers
        self.settings = settings
        self.idempotence: Idempotence = idempotence
        self.request_timeout_ms = request_timeout_ms
        self._producer: Any = None
        self.last_error: BaseException | None = None
        self.topics = TopicWatcher(
            self.clients, topics, partitions=partitions, timeout_ms=request_timeout_ms
        )

    @property
    def topic_checks(self) -> int:
        """How many times the topics were checked (tests read it)."""
        return self.topics.checks

    @property
    def connected(self) -> bool:
        """Whether a started producer is held."""
        return self._producer is not None

    @property
    def idempotent(self) -> bool | None:
        """Whether the producer in use is idempotent (None before the first connection)."""
        return None if self.idempotence == "auto" else bool(self.idempotence)

    def _build(self, idempotent: bool) -> Any:
        return self.clients.producer(
            acks="all",
            enable_idempotence=idempotent,
            linger_ms=self.settings.linger_ms,
            max_batch_size=min(self.settings.max_batch_bytes, 16 * 1024 * 1024),
            max_request_size=BROKER_MAX_REQUEST_BYTES,
            request_timeout_ms=self.request_timeout_ms,
            retry_backoff_ms=100,
            metadata_max_age_ms=30_000,
        )

    async def connect(self) -> bool:
        """Start a producer if none is held. Returns whether one is held afterwards."""
        if self._producer is not None:
            return True
        from omniclaude.kafka import KafkaError

        attempt_idempotent = self.idempotence is not False
        producer = self._build(attempt_idempotent)
        self.topics.watch(producer)
        try:
            await producer.start()
        except KafkaError as exc:
            await close_quietly(producer, 5.0)
            name = type(exc).__name__
            if attempt_idempotent and self.idempotence == "auto" and not is_retriable(exc):
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
            await close_quietly(producer, 5.0)
            self.last_error = exc
            return False
        if self.idempotence == "auto":
            self.idempotence = True
        self._producer = producer
        self.topics.invalidate()
        return True

    async def send_batch(self, requests: Sequence[SendRequest]) -> list[BaseException | None]:
        """Produce ``requests`` in order; return per record None (acked) or the exception.

        After a connection-type failure the remaining records are failed at once with the same
        error instead of each waiting out the timeout.
        """
        outcomes: list[BaseException | None] = [None] * len(requests)
        if self._producer is None:
            return [ConnectionError("not connected to the broker")] * len(requests)
        producer = self._producer
        try:
            await self.topics.ensure()
        except Exception as exc:  # noqa: BLE001 - no topics yet: every record waits, retriable
            error = DeliveryError(f"topics not ready: {type(exc).__name__}: {exc}")
            error.__cause__ = exc
            self.last_error = error
            return [error] * len(requests)
        futures: list[tuple[int, asyncio.Future[Any]]] = []
        for index, request in enumerate(requests):
            try:
                future = await producer.send(
                    request.topic, request.value, key=request.key, headers=request.headers or None
                )
            except Exception as exc:  # noqa: BLE001 - reported per record to the caller
                outcomes[index] = exc
                if is_retriable(exc):
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
            if any(is_retriable(o) for o in failures):
                self.topics.invalidate()  # the broker may have restarted without its topics
        return outcomes

    async def close(self, timeout_s: float = 5.0) -> None:
        """Stop the producer (bounded). Idempotent."""
        producer, self._producer = self._producer, None
        if producer is not None:
            await close_quietly(producer, timeout_s)

    async def reconnect(self) -> bool:
        """Drop the producer and build a fresh one (fresh metadata and connections)."""
        await self.close()
        return await self.connect()
