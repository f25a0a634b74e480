"""The dead-letter header codec: one shape for the SDK's, the consumer's and the CLI's letters.

A dead letter is a record that can never be delivered or stored, published to
``<topic><dead_letter_suffix>`` with its original key and value (cut to fit when the SDK
dead-letters a record too large for the broker) and these headers (UTF-8 text):

========================================  ==============================================
``omniclaude.dlq.error.class``            exception class name (``EventValidationError``,
                                          ``CheckViolationError``, ``MessageSizeTooLargeError``)
``omniclaude.dlq.error.message``          why (names the field for validation errors)
``omniclaude.dlq.error.field``            the field at fault, when known
``omniclaude.dlq.stage``                  ``produce`` (the SDK could not deliver it),
                                          ``decode`` (not a valid event) or ``store`` (the
                                          database refused the row)
``omniclaude.dlq.original.topic``         where the record was meant to go / was read
``omniclaude.dlq.original.partition``     its partition (consumer stages)
``omniclaude.dlq.original.offset``        its offset (consumer stages)
``omniclaude.dlq.original.timestamp``     its broker timestamp, ms since the epoch (consumer)
``omniclaude.dlq.original.size``          the payload's full size in bytes (``produce``)
``omniclaude.dlq.truncated``              ``true`` when the value was cut to fit (``produce``)
``omniclaude.dlq.event_id``               the event's id, when known
``omniclaude.dlq.failed_at``              when it was dead-lettered (ISO 8601, UTC)
========================================  ==============================================

The error class name is API: dashboards and ``omniclaude dlq list`` group by it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

__all__ = ["HEADER_PREFIX", "DeadLetterHeaders", "Header", "describe_error", "foreign_headers"]

HEADER_PREFIX: Final = "omniclaude.dlq."
MAX_MESSAGE_CHARS: Final = 4000


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
    ORIGINAL_SIZE: Final = f"{HEADER_PREFIX}original.size"
    TRUNCATED: Final = f"{HEADER_PREFIX}truncated"
    EVENT_ID: Final = f"{HEADER_PREFIX}event_id"
    FAILED_AT: Final = f"{HEADER_PREFIX}failed_at"


def describe_error(exc: BaseException) -> str:
    """The error's message for a dead letter (its repr when empty), bounded in length."""
    text = str(exc) or repr(exc)
    return _bounded(text)


def _bounded(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE_CHARS else text[:MAX_MESSAGE_CHARS] + "..."


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def foreign_headers(headers: Iterable[tuple[str, bytes | None]] | None) -> list[tuple[str, bytes]]:
    """The record's own headers, without dead-letter headers left by an earlier round."""
    return [
        (str(name), bytes(value or b""))
        for name, value in (headers or ())
        if not str(name).startswith(HEADER_PREFIX)
    ]


@dataclass(frozen=True, slots=True)
class DeadLetterHeaders:
    """Why a record was dead-lettered and where it came from (the headers, decoded)."""

    error_class: str
    error_message: str
    stage: str
    """``produce``, ``decode`` or ``store``."""
    original_topic: str
    failed_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    error_field: str | None = None
    original_partition: int | None = None
    original_offset: int | None = None
    original_timestamp: int | None = None
    original_size: int | None = None
    truncated: bool | None = None
    event_id: str | None = None

    def encode(self) -> list[tuple[str, bytes]]:
        """The Kafka headers, in a stable order; absent fields are left out."""
        items: list[tuple[str, str | None]] = [
            (Header.ERROR_CLASS, self.error_class),
            (Header.ERROR_MESSAGE, _bounded(self.error_message)),
            (Header.STAGE, self.stage),
            (Header.ORIGINAL_TOPIC, self.original_topic),
            (Header.ORIGINAL_PARTITION, _text(self.original_partition)),
            (Header.ORIGINAL_OFFSET, _text(self.original_offset)),
            (Header.ORIGINAL_TIMESTAMP, _text(self.original_timestamp)),
            (Header.FAILED_AT, self.failed_at.isoformat()),
            (Header.ORIGINAL_SIZE, _text(self.original_size)),
            (Header.TRUNCATED, None if self.truncated is None else str(self.truncated).lower()),
            (Header.EVENT_ID, self.event_id),
            (Header.ERROR_FIELD, self.error_field),
        ]
        return [(name, value.encode()) for name, value in items if value]

    @classmethod
    def decode(
        cls, headers: Iterable[tuple[str, bytes | None]] | None, *, default_topic: str = ""
    ) -> DeadLetterHeaders:
        """Read the dead-letter headers of a record (missing ones are empty or None).

        Args:
            headers: the record's headers.
            default_topic: the original topic when the header is absent (the dead-letter
                topic's name without its suffix).
        """
        text = {
            str(name): bytes(value or b"").decode("utf-8", "replace")
            for name, value in (headers or ())
            if str(name).startswith(HEADER_PREFIX)
        }
        failed_at = datetime.now(UTC)
        if Header.FAILED_AT in text:
            with contextlib.suppress(ValueError):
                failed_at = datetime.fromisoformat(text[Header.FAILED_AT])
        truncated = text.get(Header.TRUNCATED)
        return cls(
            error_class=text.get(Header.ERROR_CLASS, ""),
            error_message=text.get(Header.ERROR_MESSAGE, ""),
            stage=text.get(Header.STAGE, ""),
            original_topic=text.get(Header.ORIGINAL_TOPIC) or default_topic,
            failed_at=failed_at,
            error_field=text.get(Header.ERROR_FIELD),
            original_partition=_int(text.get(Header.ORIGINAL_PARTITION)),
            original_offset=_int(text.get(Header.ORIGINAL_OFFSET)),
            original_timestamp=_int(text.get(Header.ORIGINAL_TIMESTAMP)),
            original_size=_int(text.get(Header.ORIGINAL_SIZE)),
            truncated=None if truncated is None else truncated == "true",
            event_id=text.get(Header.EVENT_ID),
        )


def _text(value: int | None) -> str | None:
    return None if value is None else str(value)
