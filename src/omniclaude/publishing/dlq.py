"""Reading and replaying dead letters (behind ``omniclaude dlq list`` / ``dlq replay``).

Two stores: the dead-letter topics on the broker (``<topic><suffix>``, written by the SDK and
by the consumer, headers ``omniclaude.dlq.*``) and the local outbox's dead-letter table
(full payloads, including those too large for the broker). Replaying re-publishes the
original payload to the original topic; the consumer's inserts are idempotent on
``event_id``, so replaying twice adds nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from omniclaude.events import TOPICS
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

_PREFIX = "omniclaude.dlq."


@dataclass(slots=True)
class DeadLetterRecord:
    """One record read from a dead-letter topic."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def original_topic(self) -> str:
        """Where the record was meant to go (header, else the topic without the suffix)."""
        return self.headers.get(f"{_PREFIX}original.topic", "")

    @property
    def error_class(self) -> str:
        """The error class name recorded with the dead letter."""
        return self.headers.get(f"{_PREFIX}error.class", "")

    @property
    def error_message(self) -> str:
        """Why it was dead-lettered."""
        return self.headers.get(f"{_PREFIX}error.message", "")


def dead_letter_topics(topics: TopicSettings, prefix: str = "") -> dict[str, str]:
    """Map every dead-letter topic name to its original topic (catalogue order)."""
    out: dict[str, str] = {}
    for spec in TOPICS:
        original = f"{prefix}{getattr(topics, spec.key)}"
        out[f"{original}{topics.dead_letter_suffix}"] = original
    return out


async def read_dead_letters(
    bootstrap_servers: Sequence[str],
    topics: dict[str, str],
    *,
    limit: int = 100,
    idle_timeout_s: float = 2.0,
) -> list[DeadLetterRecord]:
    """Read up to ``limit`` records from the dead-letter ``topics`` (earliest first).

    Args:
        bootstrap_servers: the brokers.
        topics: dead-letter topic → original topic (from :func:`dead_letter_topics`).
        limit: at most this many records in total.
        idle_timeout_s: stop when no record came for this long.

    Raises:
        aiokafka.errors.KafkaError: the broker is unreachable.
    """
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=list(bootstrap_servers), enable_auto_commit=False,
        auto_offset_reset="earliest",
    )  # fmt: skip
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
                for r in items:
                    headers = {k: bytes(v or b"").decode("utf-8", "replace") for k, v in r.headers}
                    headers.setdefault(f"{_PREFIX}original.topic", topics.get(r.topic, ""))
                    records.append(
                        DeadLetterRecord(r.topic, r.partition, r.offset, r.key, r.value, headers)
                    )
    finally:
        await consumer.stop()
    records.sort(key=lambda r: (r.topic, r.partition, r.offset))
    return records[:limit]


async def replay_records(
    bootstrap_servers: Sequence[str], records: Sequence[DeadLetterRecord]
) -> int:
    """Re-publish each record's original payload to its original topic; return the count.

    Raises:
        aiokafka.errors.KafkaError: the broker refused or is unreachable.
    """
    from aiokafka import AIOKafkaProducer

    todo = [r for r in records if r.original_topic]
    if not todo:
        return 0
    producer = AIOKafkaProducer(bootstrap_servers=list(bootstrap_servers), acks="all")
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
    bootstrap_servers: Sequence[str], outbox_path: Path, *, limit: int = 100
) -> int:
    """Re-publish the local dead letters not yet replayed; stamp them; return the count.

    Raises:
        aiokafka.errors.KafkaError: the broker refused (for example still too large).
    """
    letters = local_dead_letters(outbox_path, include_replayed=False, limit=limit)
    records = [
        DeadLetterRecord(
            x.topic, -1, x.id or -1, x.key, x.value, {f"{_PREFIX}original.topic": x.topic}
        )
        for x in letters
    ]
    sent = await replay_records(bootstrap_servers, records)
    with Outbox(outbox_path) as outbox:
        outbox.mark_dead_letters([x.id for x in letters if x.id is not None], column="replayed_at")
    return sent
