"""An OmniClaude export read back: spans that ``omniclaude export-otlp`` made
(:mod:`omniclaude.otel.export`) become the very events they were made from.

Such a span names its kind of row in ``omniclaude.record`` and carries every column: the
GenAI conventions' attributes where they have one (:data:`~omniclaude.otel.export.
GENAI_ATTRIBUTES`), ``omniclaude.<column>`` for the rest (objects and mixed lists as JSON
text). Read back:

* an execution's span holds one span event per lifecycle event, each with the stored event
  whole (``omniclaude.payload``): those are decoded as they are, ids and times included;
* any other row becomes its event type (``agent_action``, ``llm_call``, ``routing_decision``,
  ``manifest_injection``, ``agent_transformation``) from its columns, ``started_at``/``timestamp``
  from the span's start and end, validated by the same models as every other path.

So an exported trace imported again has the same event ids, correlation ids and values: the
consumer stores it as the same trace (and, into the database it came from, adds nothing).
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any, Final

from omniclaude.events import EventBase, decode_mapping, kind_of
from omniclaude.otel.export import GENAI_ATTRIBUTES, PREFIX, RECORD_ATTRIBUTE
from omniclaude.otel.values import RecordError, attributes

__all__ = ["RECORD_ATTRIBUTE", "restore_record"]

_EVENT_TYPES: Final = {
    "action": "agent_action",
    "llm_call": "llm_call",
    "routing_decision": "routing_decision",
    "manifest_injection": "manifest_injection",
    "transformation": "agent_transformation",
}
_RENAMED: Final = {
    # A transformation row's columns that are named otherwise in its event.
    "agent_transformation": {
        "event_type": "phase",
        "routing_confidence": "confidence",
        "transformation_duration_ms": "duration_ms",
    },
}
_LIFECYCLE: Final = frozenset(
    {"execution_started", "execution_progress", "execution_completed", "execution_failed"}
)


def _wants_json(annotation: Any) -> bool:
    """True when a field holds an object or a list (exported as JSON text)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _wants_json(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return any(_wants_json(arg) for arg in typing.get_args(annotation) if arg is not type(None))
    return annotation in (dict, list) or origin in (dict, list)


@lru_cache(maxsize=16)
def _json_fields(event_type: str) -> frozenset[str]:
    kind = kind_of(event_type)
    if kind is None:
        return frozenset()
    return frozenset(n for n, f in kind.model.model_fields.items() if _wants_json(f.annotation))


def _loads(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise RecordError(where, "not JSON") from None


def _lifecycle(span: Any) -> list[EventBase]:
    out: list[EventBase] = []
    for position, event in enumerate(span.events):
        if event.name not in _LIFECYCLE:
            continue
        payload = attributes(event.attributes).get(PREFIX + "payload")
        where = f"events[{position}].attributes.{PREFIX}payload"
        if not isinstance(payload, str):
            raise RecordError(where, "missing: an exported lifecycle event carries its payload")
        data = _loads(payload, where)
        if not isinstance(data, dict):
            raise RecordError(where, "expected a JSON object")
        out.append(decode_mapping(data))
    return out


def _row_event(
    record: str, attrs: Mapping[str, Any], start: datetime, end: datetime
) -> EventBase | None:
    event_type = _EVENT_TYPES.get(record)
    kind = kind_of(event_type) if event_type else None
    if kind is None or event_type is None:
        return None
    renamed = _RENAMED.get(event_type, {})
    from_genai = {v: k for k, v in GENAI_ATTRIBUTES.get(_genai_kind(record, attrs), {}).items()}
    columns: dict[str, Any] = {
        column: attrs[key] for key, column in from_genai.items() if key in attrs
    }
    for key, value in attrs.items():
        if key.startswith(PREFIX) and key != RECORD_ATTRIBUTE:
            columns[key.removeprefix(PREFIX)] = value
    fields = kind.model.model_fields
    wants_json = _json_fields(event_type)
    data: dict[str, Any] = {}
    for column, value in columns.items():
        name = renamed.get(column, column)
        if name not in fields:
            continue
        if name in wants_json and isinstance(value, str):
            data[name] = _loads(value, f"attributes.{PREFIX}{column}")
        else:
            data[name] = value
    stored = columns.get("metadata")
    if isinstance(stored, str):
        # The row's metadata: the event's own (when it has the field) and, under "extra", its
        # extra fields, which go back to where they were.
        loaded = _loads(stored, f"attributes.{PREFIX}metadata")
        if isinstance(loaded, dict):
            extras = loaded.pop("extra", None)
            if isinstance(extras, dict):
                data = {**{k: v for k, v in extras.items() if k not in fields}, **data}
            if "metadata" in fields:
                data["metadata"] = loaded
            else:
                data.pop("metadata", None)
    data.update(event_type=event_type, started_at=start, timestamp=end)
    return decode_mapping(data)


def _genai_kind(record: str, attrs: Mapping[str, Any]) -> str:
    if record == "action" and attrs.get("gen_ai.operation.name") == "execute_tool":
        return "tool_call"
    return record


def restore_record(
    span: Any, attrs: Mapping[str, Any], start: datetime, end: datetime
) -> list[EventBase] | None:
    """The events an exported span was made from (None: not an OmniClaude record this
    version reads; the span is then mapped as any other).

    Raises:
        RecordError: a column cannot be read (the message names the attribute).
        EventValidationError: the restored event breaks the contract.
    """
    record = attrs.get(RECORD_ATTRIBUTE)
    if not isinstance(record, str):
        return None
    if record == "execution":
        events = _lifecycle(span)
        return events or None
    event = _row_event(record, attrs, start, end)
    return [event] if event is not None else None
