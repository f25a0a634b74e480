"""Kafka records to events: liberal in what it accepts, exact about why it refuses.

Accepted: the codec's envelope from any client, and bare JSON objects such as the spec's
``{"correlation_id", "action_type", "action_name", "action_details", "timestamp"}`` on
``agent-actions`` (the topic's default event type applies; on the executions topic the
lifecycle type is inferred from the fields).

Filled in when absent:

* ``event_id`` - a deterministic UUIDv5 of the record's topic, partition and offset (plus a
  digest of its bytes, because a memory-only broker such as Tansu reuses offsets after a
  restart). A redelivery of the same record gets the same id, so it adds no row. A JSON
  ``null`` counts as absent.
* ``timestamp`` - the record's broker timestamp, rather than the time it happened to be read
  (unless that is outside the contract's range).

Never filled in: ``producer``. An event that names none is stored unattributed, not with the
consumer's own identity.

Anything else wrong raises (usually :class:`~omniclaude.errors.EventValidationError`, whose
message names the field); the caller dead-letters the record with that reason.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final, Protocol, cast

import pydantic_core
from pydantic import ValidationError

from omniclaude.errors import EventValidationError
from omniclaude.events import CATALOG, Event, TimedEvent, decode_mapping
from omniclaude.events.base import NUL_FREE_JSON
from omniclaude.events.limits import instant_problem

__all__ = ["EVENT_ID_NAMESPACE", "RecordLike", "decode_record", "decode_value", "derived_event_id"]

EVENT_ID_NAMESPACE: Final = uuid.UUID("0b6a3f5e-8c1d-5a7e-9f42-6d1e2c3b4a59")
"""UUIDv5 namespace of the ids derived for records that carry none (never change it)."""

_VALIDATE_JSON: Final[dict[str, Callable[..., Any]]] = {
    kind.event_type: kind.model.__pydantic_validator__.validate_json for kind in CATALOG
}
"""``Model.model_validate_json`` of each event type without its Python wrapper (a frame per
event on the consumer's hot path)."""
_MISSING: Final = object()


class RecordLike(Protocol):
    """The parts of a Kafka record (``aiokafka.ConsumerRecord``) the consumer reads."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def timestamp(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> Any: ...


def derived_event_id(topic: str, partition: int, offset: int, value: bytes) -> uuid.UUID:
    """Return the deterministic event id of a record that carries none.

    Args:
        topic: the record's topic (prefix included).
        partition: its partition.
        offset: its offset.
        value: its bytes (distinguishes two records at a reused offset).

    Returns:
        A UUIDv5 in :data:`EVENT_ID_NAMESPACE`; the same record always gets the same id.
    """
    digest = hashlib.blake2b(value, digest_size=16).hexdigest()
    return uuid.uuid5(EVENT_ID_NAMESPACE, f"{topic}/{partition}/{offset}/{digest}")


def _decode_generic(value: bytes, default_type: str | None) -> Event:
    try:
        parsed = pydantic_core.from_json(value)
    except ValueError as exc:
        raise EventValidationError(f"(payload): not valid JSON: {exc}") from exc
    if not isinstance(parsed, dict):
        raise EventValidationError(
            f"(payload): expected a JSON object, got {type(parsed).__name__}"
        )
    if parsed.get("event_id", _MISSING) is None:
        del parsed["event_id"]
    return decode_mapping(parsed, default_type=default_type)


def decode_value(value: bytes | None, *, default_type: str | None) -> Event:
    """Decode one record value into an event (ids and timestamps not yet filled in).

    The topic's default type is tried first straight from the bytes (one pass in
    pydantic-core); anything else goes through the codec's general path, whose errors
    name the field at fault.

    Args:
        value: the record's bytes (None for a tombstone).
        default_type: the event type assumed when the object names none.

    Returns:
        The validated event.

    Raises:
        EventValidationError: empty, not JSON, not an object, or not a valid event.
    """
    if value is None or not value:
        raise EventValidationError("(payload): empty message; a tombstone is not an event")
    validate_json = _VALIDATE_JSON.get(default_type) if default_type is not None else None
    if validate_json is not None:
        context = None if b"\\u0000" in value else NUL_FREE_JSON
        try:
            return cast(Event, validate_json(value, context=context))
        except ValidationError:
            pass  # another type, or invalid: the general path says which and why
    return _decode_generic(value, default_type)


def _record_time(timestamp_ms: int) -> datetime | None:
    """The record's broker timestamp, when it is one the contract accepts."""
    if timestamp_ms is None or timestamp_ms <= 0:
        return None
    try:
        when = datetime.fromtimestamp(timestamp_ms / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return when if instant_problem(when) is None else None


def decode_record(record: RecordLike, *, default_type: str | None) -> Event:
    """Decode a Kafka record into a complete event.

    Args:
        record: the consumed record.
        default_type: the event type of the record's topic (None: infer from the fields).

    Returns:
        The event, with a derived ``event_id`` and the record's time when those were absent,
        and no producer when it names none (the consumer never stamps its own identity).

    Raises:
        EventValidationError: the record is not a valid event (the message says why).
    """
    event = decode_value(record.value, default_type=default_type)
    provided = event.__pydantic_fields_set__  # model_fields_set without the property's call
    if "event_id" in provided and "timestamp" in provided and "producer" in provided:
        return event
    update: dict[str, Any] = {}
    if "event_id" not in provided:
        update["event_id"] = derived_event_id(
            record.topic, record.partition, record.offset, record.value or b""
        )
    if "timestamp" not in provided:
        when = _record_time(record.timestamp)
        if when is not None:
            update["timestamp"] = when
            if isinstance(event, TimedEvent) and "started_at" not in provided:
                # The start was filled from the (absent) timestamp: keep its distance to it.
                update["started_at"] = when - (event.timestamp - event.start)
    if "producer" not in provided:
        update["producer"] = None
    return event.model_copy(update=update)
