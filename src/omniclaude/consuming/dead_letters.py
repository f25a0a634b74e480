"""Dead letters: records that can never become rows, kept verbatim with the reason.

A dead letter is the original record (same key, same value bytes, original headers kept)
published to ``<topic><dead_letter_suffix>`` with these headers added (UTF-8 text):

========================================  ==============================================
``omniclaude.dlq.error.class``            exception class name (``EventValidationError``,
                                          ``CheckViolationError``, ...)
``omniclaude.dlq.error.message``          why (names the field for validation errors)
``omniclaude.dlq.error.field``            the field at fault, when known
``omniclaude.dlq.stage``                  ``decode`` (not a valid event) or ``store``
                                          (the database refused the row)
``omniclaude.dlq.original.topic``         where the record was read
``omniclaude.dlq.original.partition``     its partition
``omniclaude.dlq.original.offset``        its offset
``omniclaude.dlq.original.timestamp``     its broker timestamp (ms since the epoch)
``omniclaude.dlq.failed_at``              when it was dead-lettered (ISO 8601, UTC)
========================================  ==============================================

Dead letters are sent, and acknowledged by the broker, before the offsets of their batch are
committed, so none is lost; a crash between the two can publish one twice (the original
topic/partition/offset headers identify the copies).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from omniclaude.consuming.decoding import RecordLike

__all__ = [
    "HEADER_PREFIX",
    "DeadLetter",
    "DeadLetterPublisher",
    "Header",
]

HEADER_PREFIX: Final = "omniclaude.dlq."
_MAX_MESSAGE_CHARS: Final = 4000


class Header:
    """Names of the headers a dead letter carries (see the module docstring)."""

    ERROR_CLASS: Final = f"{HEADER_PREFIX}error.class"
    ERROR_MESSAGE: Final = f"{HEADER_PREFIX}error.message"
    ERROR_FIELD: Final = f"{HEADER_PREFIX}error.field"
    STAGE: Final = f"{HEADER_PREFIX}stage"
    ORIGINAL_TOPIC: Final = f"{HEADER_PREFIX}original.topic"
    ORIGINAL_PARTITION: Final = f"{HEADER_PREFIX}original.partition"
    ORIGINAL_OFFSET: Final = f"{HEADER_PREFIX}original.offset"
    ORIGINAL_TIMESTAMP: Final = f"{HEADER_PREFIX}original.timestamp"
    FAILED_AT: Final = f"{HEADER_PREFIX}failed_at"


def _describe(exc: BaseException) -> str:
    text = str(exc) or repr(exc)
    return text if len(text) <= _MAX_MESSAGE_CHARS else text[:_MAX_MESSAGE_CHARS] + "..."


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
            error_message=_describe(exc),
            stage=stage,
            error_field=getattr(exc, "field", None),
        )

    def headers(self) -> list[tuple[str, bytes]]:
        """Return the original headers followed by the dead-letter headers."""
        record = self.record
        ours = [
            (Header.ERROR_CLASS, self.error_class),
            (Header.ERROR_MESSAGE, self.error_message),
            (Header.STAGE, self.stage),
            (Header.ORIGINAL_TOPIC, record.topic),
            (Header.ORIGINAL_PARTITION, str(record.partition)),
            (Header.ORIGINAL_OFFSET, str(record.offset)),
            (Header.ORIGINAL_TIMESTAMP, str(record.timestamp)),
            (Header.FAILED_AT, self.failed_at.isoformat()),
        ]
        if self.error_field:
            ours.append((Header.ERROR_FIELD, self.error_field))
        original = [
            (str(name), bytes(value or b""))
            for name, value in (record.headers or ())
            if not str(name).startswith(HEADER_PREFIX)
        ]
        return original + [(name, value.encode()) for name, value in ours]


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
