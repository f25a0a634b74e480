"""The consumer's dead letters: records that can never become rows, kept verbatim with why.

A dead letter is the original record (same key, same value bytes, original headers kept)
published to ``<topic><dead_letter_suffix>`` with the ``omniclaude.dlq.*`` headers of
:mod:`omniclaude.kafka.dead_letters` added: stage ``decode`` (not a valid event) or ``store``
(the database refused the row), plus the original topic, partition, offset and timestamp.

Dead letters are sent, and acknowledged by the broker, before the offsets of their batch are
committed, so none is lost; a crash between the two can publish one twice (the original
topic/partition/offset headers identify the copies).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from omniclaude.consuming.decoding import RecordLike
from omniclaude.kafka.dead_letters import (
    HEADER_PREFIX,
    DeadLetterHeaders,
    Header,
    describe_error,
    foreign_headers,
)

__all__ = ["HEADER_PREFIX", "DeadLetter", "DeadLetterPublisher", "Header"]


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One record that will not be written, where it goes, and why."""

    record: RecordLike
    topic: str
    """The dead-letter topic it is published to."""
    error_class: str
    error_message: str
    stage: str
    error_field: str | None = None
    failed_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @classmethod
    def from_exception(
        cls, record: RecordLike, topic: str, exc: BaseException, *, stage: str
    ) -> DeadLetter:
        """Build the dead letter of ``record`` refused with ``exc``.

        Args:
            record: the original record.
            topic: the dead-letter topic.
            exc: the error that refused it (its class name is recorded).
            stage: ``decode`` or ``store``.

        Returns:
            The dead letter, timestamped now.
        """
        return cls(
            record=record,
            topic=topic,
            error_class=type(exc).__name__,
            error_message=describe_error(exc),
            stage=stage,
            error_field=getattr(exc, "field", None),
        )

    def headers(self) -> list[tuple[str, bytes]]:
        """Return the original headers followed by the dead-letter headers."""
        record = self.record
        ours = DeadLetterHeaders(
            error_class=self.error_class,
            error_message=self.error_message,
            stage=self.stage,
            original_topic=record.topic,
            original_partition=record.partition,
            original_offset=record.offset,
            original_timestamp=record.timestamp,
            failed_at=self.failed_at,
            error_field=self.error_field,
        )
        return foreign_headers(record.headers) + ours.encode()


class DeadLetterPublisher:
    """Publishes dead letters with a Kafka producer and waits for the broker's acks.

    Args:
        producer: a started ``aiokafka.AIOKafkaProducer`` (owned by the caller).
    """

    def __init__(self, producer: Any) -> None:
        self._producer = producer

    async def publish(self, letters: Sequence[DeadLetter]) -> None:
        """Send every letter and return once the broker acknowledged all of them.

        Raises:
            aiokafka.errors.KafkaError: the broker refused or could not be reached; the
                caller retries (sending twice is harmless: headers identify the original).
        """
        if not letters:
            return
        pending = [
            await self._producer.send(
                letter.topic,
                value=letter.record.value,
                key=letter.record.key,
                headers=letter.headers(),
            )
            for letter in letters
        ]
        await asyncio.gather(*pending)
