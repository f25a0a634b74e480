"""OTLP log records into events: a specialised mapper first, a generic one for the rest.

:func:`map_log_record` is the one dispatch. It asks :mod:`omniclaude.otel.claude_code`
(Claude Code's ``api_request``, ``tool_result``, ... events) when that module is installed:
its ``map_log_record(resource, scope, record)`` returns the record's events, or None when the
record is not one it knows. Every other record gets the generic mapping, so none is dropped:

* a ``decision`` action named by the record's event name (``event_name``, else the
  ``event.name`` attribute, else ``log <severity>``), with its body, severity, attributes,
  resource and scope in ``action_details``; at ``time_unix_nano`` (else the observed time);
* in the trace its ``trace_id`` names (:func:`~omniclaude.otel.ids.correlation_id_for_trace`),
  else the Claude Code session its ``session.id`` attribute names (the hook mapper's id), else
  a trace of the emitting service (derived from ``service.name`` and ``service.instance.id``);
* its event id: the ``omniclaude.event_id`` attribute, else derived from the record's own bytes
  and its resource's (a log record has no id of its own), so a resent request stores nothing
  new.
"""

from __future__ import annotations

import hashlib
import importlib
import uuid
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any, Final

from pydantic import ValidationError

from omniclaude.errors import EventValidationError
from omniclaude.events import ActionType, AgentAction, EventBase
from omniclaude.events.codec import invalid_event
from omniclaude.events.limits import MAX_ACTION_NAME_CHARS, MAX_NAME_CHARS
from omniclaude.otel.ids import EVENT_ID_ATTRIBUTE, correlation_id_for_trace, derived_event_id
from omniclaude.otel.values import (
    LOG_RECORDS,
    Mapped,
    RecordError,
    Refused,
    any_value,
    attributes,
    fallback_correlation_id,
    instant,
    producer_of,
    records,
    text_attr,
    uuid_attr,
)

__all__ = [
    "LogMapper",
    "LogRecordMapper",
    "generic_log_events",
    "map_log_record",
    "record_correlation_id",
    "record_event_id",
]

LogRecordMapper = Callable[[Mapping[str, Any], Mapping[str, Any], Any], "list[EventBase] | None"]
"""``(resource attributes, scope {name, version}, LogRecord) -> events | None`` (None: not mine)."""

_SPECIALISED: Final = ("omniclaude.otel.claude_code",)


@lru_cache(maxsize=1)
def specialised_mappers() -> tuple[LogRecordMapper, ...]:
    """The installed specialised mappers (a module of :data:`_SPECIALISED` with a
    ``map_log_record``), asked in order before the generic mapping."""
    found: list[LogRecordMapper] = []
    for name in _SPECIALISED:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise  # the module exists but is broken: say so, never fall back quietly
            continue
        mapper = getattr(module, "map_log_record", None)
        if callable(mapper):
            found.append(mapper)
    return tuple(found)


def map_log_record(
    resource: Mapping[str, Any], scope: Mapping[str, Any], record: Any
) -> list[EventBase]:
    """The events of one OTLP ``LogRecord`` (see the module docstring).

    Raises:
        RecordError: a value of the record cannot be used (the message names it).
        EventValidationError: an event built from it breaks the contract.
    """
    for mapper in specialised_mappers():
        events = mapper(resource, scope, record)
        if events is not None:
            return events
    return generic_log_events(resource, scope, record)


def record_event_id(
    resource: Mapping[str, Any], scope: Mapping[str, Any], record: Any
) -> uuid.UUID:
    """The event id of a log record without one of its own: derived from its bytes and its
    resource's, so a resent request gives the same id."""
    digest = hashlib.sha256(record.SerializeToString(deterministic=True))
    digest.update(repr(sorted((str(k), repr(v)) for k, v in resource.items())).encode())
    digest.update(repr((scope.get("name"), scope.get("version"))).encode())
    return derived_event_id("log", digest.hexdigest())


def record_correlation_id(
    resource: Mapping[str, Any], attrs: Mapping[str, Any], record: Any
) -> uuid.UUID:
    """The trace of a log record: its trace id's, else its ``session.id``'s Claude Code
    session, else its emitting service's."""
    trace_id = bytes(record.trace_id)
    if trace_id:
        try:
            return correlation_id_for_trace(trace_id)
        except ValueError as exc:
            raise RecordError("traceId", str(exc).partition(": ")[2]) from None
    return fallback_correlation_id(resource, attrs)[0]


def generic_log_events(
    resource: Mapping[str, Any], scope: Mapping[str, Any], record: Any
) -> list[EventBase]:
    """One ``decision`` action for a log record no specialised mapper took.

    Raises:
        RecordError: no time, or an id of the wrong size (the message names it).
        EventValidationError: the action breaks the contract (a value cannot be stored).
    """
    attrs = attributes(record.attributes)
    nanos = record.time_unix_nano or record.observed_time_unix_nano
    at = instant(nanos, "timeUnixNano")
    name = (
        record.event_name
        or text_attr(attrs, "event.name")
        or f"log {record.severity_text or record.severity_number or 'record'}"
    ).strip() or "log"
    span_id = bytes(record.span_id)
    if span_id and len(span_id) != 8:
        raise RecordError("spanId", f"must be 8 bytes, got {len(span_id)}")
    service = text_attr(resource, "service.name")
    details = {
        "body": any_value(record.body),
        "severity_text": record.severity_text or None,
        "severity_number": record.severity_number,
        "event_name": record.event_name or None,
        "trace_id": bytes(record.trace_id).hex() or None,
        "span_id": span_id.hex() or None,
        "attributes": attrs,
        "resource": dict(resource),
        "scope": dict(scope),
    }
    session = text_attr(attrs, "session.id")
    try:
        return [
            AgentAction(
                event_id=uuid_attr(attrs, EVENT_ID_ATTRIBUTE)
                or record_event_id(resource, scope, record),
                correlation_id=record_correlation_id(resource, attrs, record),
                action_type=ActionType.DECISION,
                action_name=name[:MAX_ACTION_NAME_CHARS],
                action_details=details,
                started_at=at,
                timestamp=at,
                agent_name=service[:MAX_NAME_CHARS] if service else None,
                session_id=session or None,
                prompt_id=text_attr(attrs, "prompt.id") or None,
                producer=producer_of(resource),
            )
        ]
    except ValidationError as exc:
        raise invalid_event("log record", exc) from exc


class LogMapper:
    """Map every log record of an ``ExportLogsServiceRequest`` (through :func:`map_log_record`)."""

    def map_request(self, request: Any) -> tuple[list[Mapped], list[Refused]]:
        """What each record became, and what was refused (with the field at fault)."""
        mapped: list[Mapped] = []
        refused: list[Refused] = []
        for where, resource, scope, record in records(request, LOG_RECORDS):
            try:
                mapped.append(Mapped(where, map_log_record(resource, scope, record)))
            except (RecordError, EventValidationError) as exc:
                refused.append(Refused(where, str(exc)))
        return mapped, refused
