"""What every OTLP mapper shares: attribute values, times, and what one record became.

* :func:`any_value` / :func:`attributes` turn OTLP ``AnyValue``/``KeyValue`` lists into plain
  JSON values (bytes as hex), so they can sit in an event's JSON details as they are.
* :func:`instant` reads ``*_time_unix_nano`` (0, OTLP's "unset", is refused by name).
* :class:`Mapped` / :class:`Refused`: one record (a span, a log record, a data point) became
  these events, all of which are sent together or none; or it was refused, with the field at
  fault and why. Mappers return both lists; nothing is ever left out of either.
* :func:`records` walks a request's resource → scope → record nesting, with each record's
  place in it (``resourceSpans[0].scopeSpans[1].spans[3]``) for messages.
* Typed readers of attributes (:func:`text_attr`, :func:`int_attr`, :func:`float_attr`) raise
  :class:`RecordError` naming the attribute when its value has the wrong type.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from omniclaude.events import EventBase, ProducerInfo
from omniclaude.events.limits import MAX_ID_CHARS
from omniclaude.hooks.sessions import session_correlation_id
from omniclaude.otel.ids import derived_event_id

__all__ = [
    "LOG_RECORDS",
    "METRICS",
    "SPANS",
    "Layout",
    "Mapped",
    "RecordError",
    "Refused",
    "any_value",
    "attributes",
    "fallback_correlation_id",
    "float_attr",
    "instant",
    "int_attr",
    "producer_of",
    "records",
    "text_attr",
    "uuid_attr",
]

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


class RecordError(ValueError):
    """One OTLP record cannot be mapped; ``field`` names what is wrong inside it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class Mapped:
    """The events one OTLP record became (sent together: all are accepted or none).

    ``where`` locates the record in its request (``resourceSpans[0].scopeSpans[0].spans[3]``).
    """

    where: str
    events: list[EventBase] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Refused:
    """An OTLP record that was not stored: where it is and why (``"<field>: <reason>"``)."""

    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


def any_value(value: Any) -> Any:
    """The plain value of an OTLP ``AnyValue`` (bytes as hex text, unset as None)."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return attributes(value.kvlist_value.values)
    if kind == "bytes_value":
        return bytes(value.bytes_value).hex()
    return getattr(value, kind)


def attributes(pairs: Iterable[Any]) -> dict[str, Any]:
    """An OTLP ``KeyValue`` list as a dict (a repeated key: the last one wins)."""
    return {pair.key: any_value(pair.value) for pair in pairs}


@dataclass(frozen=True, slots=True)
class Layout:
    """Field names of one signal's nesting: protobuf's, and OTLP/JSON's for messages."""

    resources: tuple[str, str]
    scopes: tuple[str, str]
    items: tuple[str, str]


SPANS: Final = Layout(("resource_spans", "resourceSpans"), ("scope_spans", "scopeSpans"),
                      ("spans", "spans"))  # fmt: skip
LOG_RECORDS: Final = Layout(("resource_logs", "resourceLogs"), ("scope_logs", "scopeLogs"),
                            ("log_records", "logRecords"))  # fmt: skip
METRICS: Final = Layout(("resource_metrics", "resourceMetrics"), ("scope_metrics",
                        "scopeMetrics"), ("metrics", "metrics"))  # fmt: skip


def records(
    request: Any, layout: Layout
) -> Iterator[tuple[str, dict[str, Any], dict[str, Any], Any]]:
    """Each record of an export request: ``(where, resource attributes, scope, record)``,
    ``scope`` being ``{"name", "version"}``."""
    for r, resource_item in enumerate(getattr(request, layout.resources[0])):
        resource = attributes(resource_item.resource.attributes)
        for s, scope_item in enumerate(getattr(resource_item, layout.scopes[0])):
            scope = {"name": scope_item.scope.name, "version": scope_item.scope.version}
            for i, record in enumerate(getattr(scope_item, layout.items[0])):
                where = f"{layout.resources[1]}[{r}].{layout.scopes[1]}[{s}].{layout.items[1]}[{i}]"
                yield where, resource, scope, record


def instant(nanos: int, field_name: str) -> datetime:
    """The aware UTC datetime of a ``*_time_unix_nano`` (microsecond precision).

    Raises:
        RecordError: ``nanos`` is 0 (OTLP's "unset").
    """
    if nanos <= 0:
        raise RecordError(field_name, "missing (0 is unset)")
    return _EPOCH + timedelta(microseconds=nanos // 1000)


def text_attr(attrs: Mapping[str, Any], *keys: str) -> str | None:
    """The first of ``keys`` present in ``attrs`` as text (numbers are written out).

    Raises:
        RecordError: the value is a list, a map or a boolean.
    """
    for key in keys:
        value = attrs.get(key)
        if value is None:
            continue
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        raise RecordError(f"attributes.{key}", f"expected a string, got {_kind(value)}")
    return None


def int_attr(attrs: Mapping[str, Any], *keys: str) -> int | None:
    """The first of ``keys`` present as a whole number ≥ 0 (a numeric string is read).

    Raises:
        RecordError: the value is not a whole number ≥ 0.
    """
    for key in keys:
        value = attrs.get(key)
        if value is None:
            continue
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif (isinstance(value, float) and value.is_integer()) or (
            isinstance(value, str) and value.strip().isdigit()
        ):
            number = int(value)
        if number is None or number < 0:
            raise RecordError(f"attributes.{key}", f"expected a whole number >= 0, got {value!r}")
        return number
    return None


def float_attr(attrs: Mapping[str, Any], *keys: str) -> float | None:
    """The first of ``keys`` present as a finite number (a numeric string is read).

    Raises:
        RecordError: the value is not a finite number.
    """
    for key in keys:
        value = attrs.get(key)
        if value is None:
            continue
        number: float | None = None
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                number = None
        if number is None or number != number or number in (float("inf"), float("-inf")):  # noqa: PLR0124 - NaN test
            raise RecordError(f"attributes.{key}", f"expected a finite number, got {value!r}")
        return number
    return None


def uuid_attr(attrs: Mapping[str, Any], key: str) -> uuid.UUID | None:
    """The attribute ``key`` as a UUID (None when absent).

    Raises:
        RecordError: present but not a UUID.
    """
    value = attrs.get(key)
    if value is None:
        return None
    problem = RecordError(f"attributes.{key}", f"expected a UUID, got {value!r}")
    if not isinstance(value, str):
        raise problem
    try:
        return uuid.UUID(value)
    except ValueError:
        raise problem from None


def fallback_correlation_id(
    resource: Mapping[str, Any], *attribute_maps: Mapping[str, Any]
) -> tuple[uuid.UUID, str | None]:
    """The trace of a record without a trace id, and the session id it names (if any).

    The Claude Code session the first ``session.id`` of ``attribute_maps`` (then of the
    resource) names, with the hook mapper's id (so telemetry joins the hooks' trace); else a
    trace of the emitting service (``service.name`` and ``service.instance.id``).

    Raises:
        RecordError: ``session.id`` is not text or is too long to be an id.
    """
    for where, attrs in (*(("attributes", a) for a in attribute_maps), ("resource", resource)):
        try:
            session = text_attr(attrs, "session.id")
        except RecordError as exc:
            raise RecordError(f"{where}.session.id", exc.message) from None
        if session:
            if len(session) > MAX_ID_CHARS:
                raise RecordError(f"{where}.session.id", f"longer than {MAX_ID_CHARS} characters")
            return session_correlation_id(session), session
    service = text_attr(resource, "service.name") or "unknown_service"
    instance = text_attr(resource, "service.instance.id") or ""
    return derived_event_id("log", "service", service, instance), None


def producer_of(resource: Mapping[str, Any]) -> ProducerInfo:
    """Who produced the telemetry: the resource's service (not the API that received it)."""
    pid = resource.get("process.pid")
    host = resource.get("host.name")
    return ProducerInfo(
        name=str(resource.get("service.name") or "otlp"),
        version=str(resource.get("service.version") or ""),
        host=str(host) if host is not None else None,
        pid=pid if isinstance(pid, int) and not isinstance(pid, bool) else None,
    )


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a map"
    return type(value).__name__
