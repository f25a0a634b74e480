"""Reading and replaying dead letters (behind ``omniclaude dlq list`` / ``dlq replay``).

Two stores: the dead-letter topics on the broker (``<topic><suffix>``, written by the SDK and
by the consumer, headers ``omniclaude.dlq.*`` read with
:class:`~omniclaude.kafka.DeadLetterHeaders`) and the local outbox's dead-letter table
(full payloads, including those too large for the broker). Replaying re-publishes the
original payload to the original topic; the consumer's inserts are idempotent on
``event_id``, so replaying twice adds nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omniclaude.kafka import (
    DeadLetterHeaders,
    Header,
    KafkaClients,
    clients_for,
    close_quietly,
    topic_routes,
)
from omniclaude.publishing.outbox import DeadLetter, Outbox
from omniclaude.settings import TopicSettings

__all__ = [
    "DeadLetterRecord",
    "dead_letter_topics",
    "local_dead_letters",
    "read_dead_letters",
    "replay_local",
    "replay_records",
]


@dataclass(slots=True)
class DeadLetterRecord:
    """One record read from a dead-letter topic."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    default_topic: str = ""
    """The original topic when no header names it (the dead-letter topic without its suffix)."""

    @property
    def info(self) -> DeadLetterHeaders:
        """The dead-letter headers, decoded."""
        return DeadLetterHeaders.decode(self.headers, default_topic=self.default_topic)

    @property
    def original_topic(self) -> str:
        """Where the record was meant to go (header, else the topic without the suffix)."""
        return self.info.original_topic

    @property
    def error_class(self) -> str:
        """The error class name recorded with the dead letter."""
        return self.info.error_class

    @property
    def error_message(self) -> str:
        """Why it was dead-lettered."""
        return self.info.error_message


def dead_letter_topics(topics: TopicSettings, prefix: str = "") -> dict[str, str]:
    """Map every dead-letter topic name to its original topic (catalogue order)."""
    return {route.dead_letter_topic: name for name, route in topic_routes(topics, prefix).items()}


async def read_dead_letters(
    clients: KafkaClients | Sequence[str],
    topics: dict[str, str],
    *,
    limit: int = 100,
    idle_timeout_s: float = 2.0,
) -> list[DeadLetterRecord]:
    """Read up to ``limit`` records from the dead-letter ``topics`` (earliest first).

    Args:
        clients: the cluster (or its bootstrap servers, plaintext).
        topics: dead-letter topic → original topic (from :func:`dead_letter_topics`).
        limit: at most this many records in total.
        idle_timeout_s: stop when no record came for this long.

    Raises:
        aiokafka.errors.KafkaError: the broker is unreachable.
    """
    from omniclaude.kafka import TopicPartition

    consumer = clients_for(clients).consumer(
        client_suffix="-dlq-reader", enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    records: list[DeadLetterRecord] = []
    try:
        existing = await consumer.topics()
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            if topic in existing
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        while len(records) < limit:
            positions = {tp: await consumer.position(tp) for tp in partitions}
            if all(positions[tp] >= ends[tp] for tp in partitions):
                break
            batch = await consumer.getmany(timeout_ms=int(idle_timeout_s * 1000))
            if not batch:
                break
            for items in batch.values():
                records.extend(_record(r, topics.get(r.topic, "")) for r in items)
    finally:
        await close_quietly(consumer)
    records.sort(key=lambda r: (r.topic, r.partition, r.offset))
    return records[:limit]


def _record(r: Any, default_topic: str) -> DeadLetterRecord:
    headers = [(str(k), bytes(v or b"")) for k, v in r.headers or ()]
    return DeadLetterRecord(r.topic, r.partition, r.offset, r.key, r.value, headers, default_topic)


async def replay_records(
    clients: KafkaClients | Sequence[str], records: Sequence[DeadLetterRecord]
) -> int:
    """Re-publish each record's original payload to its original topic; return the count.

    Raises:
        aiokafka.errors.KafkaError: the broker refused or is unreachable.
    """
    todo = [r for r in records if r.original_topic]
    if not todo:
        return 0
    producer = clients_for(clients).producer(client_suffix="-dlq-replay", acks="all")
    await producer.start()
    try:
        headers = [("omniclaude.replayed", b"true")]
        futures = [
            await producer.send(r.original_topic, r.value, key=r.key, headers=headers) for r in todo
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return len(todo)


def local_dead_letters(
    outbox_path: Path, *, include_replayed: bool = True, limit: int = 100
) -> list[DeadLetter]:
    """Return the dead letters kept in the outbox at ``outbox_path`` (none if it is absent)."""
    if not outbox_path.exists():
        return []
    with Outbox(outbox_path) as outbox:
        return outbox.dead_letters(include_replayed=include_replayed, limit=limit)


async def replay_local(
    clients: KafkaClients | Sequence[str], outbox_path: Path, *, limit: int = 100
) -> int:
    """Re-publish the local dead letters not yet replayed; stamp them; return the count.

    Raises:
        aiokafka.errors.KafkaError: the broker refused (for example still too large).
    """
    letters = local_dead_letters(outbox_path, include_replayed=False, limit=limit)
    records = [
        DeadLetterRecord(
            x.topic, -1, x.id or -1, x.key, x.value, [(Header.ORIGINAL_TOPIC, x.topic.encode())]
        )
        for x in letters
    ]
    sent = await replay_records(clients, records)
    with Outbox(outbox_path) as outbox:
        outbox.mark_dead_letters([x.id for x in letters if x.id is not None], column="replayed_at")
    return sent
