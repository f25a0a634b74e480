"""The one codec: events to JSON bytes and back, on every path (Kafka, HTTP, database).

Callers never convert UUIDs, datetimes, Decimals or enums by hand: :func:`encode` and
:func:`dumps` handle them, and :func:`decode` turns any accepted JSON shape back into a model,
or raises :class:`~omniclaude.errors.EventValidationError` naming the field at fault.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, cast

import pydantic_core
from pydantic import ValidationError

from omniclaude.errors import EventValidationError, UnknownEventTypeError
from omniclaude.events.base import EventBase
from omniclaude.events.catalog import CATALOG, Event, kind_of
from omniclaude.events.limits import MAX_EVENT_BYTES
from omniclaude.events.transformations import TransformationPhase

__all__ = [
    "decode",
    "decode_mapping",
    "dumps",
    "encode",
    "encode_checked",
    "infer_execution_type",
    "invalid_event",
    "loads",
    "sized",
]

_PHASES = {phase.value for phase in TransformationPhase}


def dumps(value: Any) -> bytes:
    """Serialize any JSON-like value to compact JSON bytes.

    UUIDs, datetimes, Decimals, enums, sets and pydantic models are converted; anything else
    unknown is written as its ``repr`` rather than failing.
    """
    return pydantic_core.to_json(value, fallback=repr)


def loads(data: bytes | str) -> Any:
    """Parse JSON text (the inverse of :func:`dumps`)."""
    return json.loads(data)


def encode(event: EventBase) -> bytes:
    """Serialize one event to its wire form (JSON bytes, ``event_type`` included)."""
    return event.__pydantic_serializer__.to_json(event, fallback=repr)


def encode_checked(event: EventBase) -> bytes:
    """Encode ``event`` as :func:`encode` does, refusing what could never be delivered.

    Raises:
        EventValidationError: larger than :data:`~omniclaude.events.limits.MAX_EVENT_BYTES`
            once encoded, or holding a value that cannot be written (possible only for an
            event built without validation, e.g. by ``model_copy(update=...)``).
    """
    try:
        data = encode(event)
    except pydantic_core.PydanticSerializationError as exc:
        # Only an unvalidated event gets here: validating it again names the field.
        try:
            type(event).model_validate(event.model_dump())
        except ValidationError as invalid:
            raise invalid_event(type(event).__name__, invalid) from exc
        raise EventValidationError(f"(event): cannot be encoded: {exc}") from exc
    return sized(data)


def sized(data: bytes) -> bytes:
    """Return an encoded event's ``data`` if it is within the contract's size.

    Raises:
        EventValidationError: larger than :data:`~omniclaude.events.limits.MAX_EVENT_BYTES`.
    """
    if len(data) > MAX_EVENT_BYTES:
        raise EventValidationError(
            f"(event): {len(data):,} bytes once encoded; an event may have at most "
            f"{MAX_EVENT_BYTES:,} (what the broker takes in one message)"
        )
    return data


def infer_execution_type(data: Mapping[str, Any]) -> str:
    """Guess the lifecycle event type of a bare execution object from its fields."""
    status = str(data.get("status", "")).lower()
    if "error_type" in data or "error_message" in data or status == "failed":
        return "execution_failed"
    if "stage" in data or "percent" in data:
        return "execution_progress"
    if status in {"success", "completed", "cancelled"} or "quality_score" in data:
        return "execution_completed"
    return "execution_started"


def invalid_event(
    name: str, exc: ValidationError, *, arguments: Mapping[str, str] | None = None
) -> EventValidationError:
    """Turn a model's validation error into the SDK's error, naming every field at fault.

    Args:
        name: what was being validated (an event type or a model name), for the message.
        exc: pydantic's error.
        arguments: the caller's name for a field (``{"action_name": "tool_name"}``): the
            error then names the argument the caller passed rather than the model's field.

    Returns:
        An :class:`EventValidationError` whose ``field`` is the dotted path of the first
        problem (``action_details.a.b``) and whose message lists them all.
    """
    errors = exc.errors(include_url=False)
    problems = []
    paths = []
    for error in errors:
        loc = [str(part) for part in error["loc"]]
        if loc and arguments and loc[0] in arguments:
            loc[0] = arguments[loc[0]]
        field = ".".join(loc) or "(event)"
        paths.append(".".join(loc))
        problems.append(f"{field}: {error['msg']}")
    first = paths[0] if paths else ""
    return EventValidationError(f"invalid {name}: " + "; ".join(problems), field=first or None)


def decode_mapping(data: Mapping[str, Any], *, default_type: str | None = None) -> Event:
    """Validate a mapping into its event model.

    The type comes from ``event_type`` in the data, else ``default_type`` (the topic's
    default); bare execution objects are recognised by their fields. An event without a
    ``producer`` keeps none (it is not attributed to the process decoding it).

    Raises:
        UnknownEventTypeError: the event type is not in the catalogue.
        EventValidationError: a field is missing or wrong; the message names it.
    """
    payload = dict(data)
    event_type = payload.get("event_type")
    if event_type in _PHASES:
        # The reference system's transformation events used event_type for the phase.
        payload.setdefault("phase", event_type)
        event_type = "agent_transformation"
    if event_type is None:
        event_type = default_type
    if event_type is None:
        event_type = infer_execution_type(payload)
    if not isinstance(event_type, str):
        raise EventValidationError("event_type: must be a string", field="event_type")
    kind = kind_of(event_type)
    if kind is None:
        known = ", ".join(k.event_type for k in CATALOG)
        raise UnknownEventTypeError(
            f"event_type: unknown event type {event_type!r} (known: {known})", field="event_type"
        )
    payload["event_type"] = event_type
    # Decoding never stamps the decoder's identity on someone else's event: no producer named
    # means none known (the model's default, this process, is for events made here).
    payload.setdefault("producer", None)
    try:
        return cast(Event, kind.model.model_validate(payload))
    except ValidationError as exc:
        raise invalid_event(f"{event_type} event", exc) from exc


def decode(data: bytes | str | Mapping[str, Any], *, default_type: str | None = None) -> Event:
    """Decode JSON bytes, text or an already-parsed mapping into an event.

    Raises:
        EventValidationError: not JSON, not an object, or not a valid event.
    """
    if isinstance(data, Mapping):
        return decode_mapping(data, default_type=default_type)
    try:
        parsed = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise EventValidationError(f"(payload): not valid JSON: {exc}") from exc
    if not isinstance(parsed, dict):
        raise EventValidationError(
            f"(payload): expected a JSON object, got {type(parsed).__name__}"
        )
    return decode_mapping(parsed, default_type=default_type)
