"""OTLP spans into OmniClaude events: the GenAI semantic conventions, Claude Code's beta
spans, and every other span kept as a decision (``docs/otel.md`` has the table).

By ``gen_ai.operation.name`` (Claude Code's spans by their names):

* ``invoke_agent`` / ``invoke_workflow`` / ``claude_code.interaction`` → an execution
  (``execution_started`` at the span's start, ``execution_completed`` or ``execution_failed``
  at its end);
* ``execute_tool`` / ``claude_code.tool`` → a ``tool_call`` action (``gen_ai.tool.call.id`` /
  ``tool_use_id`` kept, arguments and result when present);
* ``chat`` / ``text_completion`` / ``generate_content`` / ``claude_code.llm_request`` → an
  ``llm_call`` (model, tokens, finish reasons; cost ``estimate`` from the price table when the
  model is in it, else ``unpriced``);
* anything else (another GenAI operation, a plain HTTP or database span) → a ``decision``
  action with the span's attributes: never dropped;
* on top: each ``exception`` span event → an ``error`` action; a span with status ERROR and no
  exception event → one ``error`` action.

Correlation (the trace a span lands in): the trace id **is** the correlation id
(:func:`~omniclaude.otel.ids.correlation_id_for_trace`). An execution span with no execution
span above it (within the request) is the trace's root execution; one below another is a child
execution with a derived correlation id and ``parent_correlation_id`` = the enclosing one's.
Every other span belongs to the nearest execution above it, else to the trace's root. The
tree is resolved within one export request (an SDK's batch); a span whose ancestors came in
another request lands in the trace's root execution. Claude Code's spans carrying
``session.id`` use the hook mapper's ids instead (the prompt's, or the subagent's, execution),
so they join the hook-recorded trace; ``omniclaude.correlation_id`` /
``omniclaude.parent_correlation_id`` attributes are honoured as given. A span an OmniClaude
export made (``omniclaude.record``) is read back as the events it was made from
(:mod:`omniclaude.otel.restore`).

Event ids: the span's ``omniclaude.event_id`` attribute when present (a round trip keeps its
ids); an LLM call's from its request or response id (:func:`~omniclaude.events.llm_call_id`,
so a transcript's telling of the same response is the same row); otherwise derived from trace
id, span id and the event's role (:func:`~omniclaude.otel.ids.derived_event_id`). A resent
request therefore gives the same ids, and the consumer stores nothing twice.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from pydantic import ValidationError

from omniclaude.errors import EventValidationError
from omniclaude.events import (
    ActionType,
    AgentAction,
    CostSource,
    EventBase,
    ExecutionCompleted,
    ExecutionFailed,
    ExecutionStarted,
    LlmCall,
    ProducerInfo,
    llm_call_id,
)
from omniclaude.events.codec import invalid_event
from omniclaude.events.limits import MAX_ACTION_NAME_CHARS, MAX_ID_CHARS, MAX_NAME_CHARS
from omniclaude.hooks.sessions import (
    AGENT_NAME as CLAUDE_CODE_AGENT,
)
from omniclaude.hooks.sessions import (
    agent_correlation_id,
    prompt_correlation_id,
    session_correlation_id,
)
from omniclaude.otel.ids import EVENT_ID_ATTRIBUTE, correlation_id_for_trace, derived_event_id
from omniclaude.otel.restore import RECORD_ATTRIBUTE, restore_record
from omniclaude.otel.values import (
    SPANS,
    Mapped,
    RecordError,
    Refused,
    attributes,
    instant,
    int_attr,
    producer_of,
    records,
    text_attr,
    uuid_attr,
)
from omniclaude.pricing import PriceTable

__all__ = [
    "CORRELATION_ATTRIBUTE",
    "EXECUTION_OPERATIONS",
    "INFERENCE_OPERATIONS",
    "PARENT_CORRELATION_ATTRIBUTE",
    "TOOL_OPERATIONS",
    "SpanMapper",
    "SpanRole",
    "role_of",
]

EXECUTION_OPERATIONS: Final = frozenset({"invoke_agent", "invoke_workflow"})
TOOL_OPERATIONS: Final = frozenset({"execute_tool"})
INFERENCE_OPERATIONS: Final = frozenset({"chat", "text_completion", "generate_content"})
CC_INTERACTION: Final = "claude_code.interaction"
CC_LLM_REQUEST: Final = "claude_code.llm_request"
CC_TOOL: Final = "claude_code.tool"

CORRELATION_ATTRIBUTE: Final = "omniclaude.correlation_id"
"""Span attribute naming the correlation id outright (an OmniClaude export's child execution)."""
PARENT_CORRELATION_ATTRIBUTE: Final = "omniclaude.parent_correlation_id"
"""Span attribute naming the parent execution's correlation id outright."""

_SOURCE: Final = "otel"
_STATUS_ERROR: Final = 2
_KINDS: Final = ("unspecified", "internal", "server", "client", "producer", "consumer")
_STATUS: Final = ("unset", "ok", "error")
_MAX_DEPTH: Final = 256
"""Ancestors looked at when finding a span's execution (a cycle or a deeper tree stops here)."""


class SpanRole(StrEnum):
    """What a span becomes."""

    EXECUTION = "execution"
    TOOL = "tool"
    INFERENCE = "inference"
    OTHER = "other"


_CLAUDE_CODE_ROLES: Final = {
    CC_INTERACTION: SpanRole.EXECUTION,
    CC_LLM_REQUEST: SpanRole.INFERENCE,
    CC_TOOL: SpanRole.TOOL,
}
_OPERATION_ROLES: Final = {
    **dict.fromkeys(EXECUTION_OPERATIONS, SpanRole.EXECUTION),
    **dict.fromkeys(TOOL_OPERATIONS, SpanRole.TOOL),
    **dict.fromkeys(INFERENCE_OPERATIONS, SpanRole.INFERENCE),
}


def role_of(name: str, attrs: Mapping[str, Any]) -> SpanRole:
    """The role of a span, from ``gen_ai.operation.name`` (Claude Code's: from the name)."""
    role = _CLAUDE_CODE_ROLES.get(name)
    if role is not None:
        return role
    operation = attrs.get("gen_ai.operation.name")
    return (
        _OPERATION_ROLES.get(operation, SpanRole.OTHER)
        if isinstance(operation, str)
        else (SpanRole.OTHER)
    )


@dataclass(slots=True)
class _Span:
    """One span with its context, ids checked."""

    where: str
    proto: Any
    attrs: dict[str, Any]
    resource: dict[str, Any]
    scope: dict[str, Any]
    role: SpanRole
    trace_id: bytes
    span_id: bytes
    parent_id: bytes

    @property
    def key(self) -> tuple[bytes, bytes]:
        return self.trace_id, self.span_id

    @property
    def claude_code(self) -> bool:
        return str(self.proto.name).startswith("claude_code.")


@dataclass(frozen=True, slots=True)
class _Execution:
    """The execution a span belongs to."""

    correlation_id: uuid.UUID
    parent_correlation_id: uuid.UUID | None
    agent_name: str | None


def _check_id(value: bytes, size: int, field: str, *, optional: bool = False) -> bytes:
    if optional and not value:
        return b""
    if len(value) != size:
        raise RecordError(field, f"must be {size} bytes, got {len(value)}")
    if not any(value):
        raise RecordError(field, "all zero is OTLP's invalid id")
    return value


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _json_or_text(value: Any) -> Any:
    """A tool's arguments/result: JSON text parsed when it is JSON, else as it came."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


class SpanMapper:
    """Map the spans of an ``ExportTraceServiceRequest`` into events (see the module doc).

    Args:
        prices: the price table LLM calls are estimated with (None: every call unpriced).
    """

    def __init__(self, *, prices: PriceTable | None = None) -> None:
        self.prices = prices

    def map_request(self, request: Any) -> tuple[list[Mapped], list[Refused]]:
        """Map every span of ``request``; return what each became, and what was refused."""
        spans: list[_Span] = []
        refused: list[Refused] = []
        for where, resource, scope, span in records(request, SPANS):
            try:
                attrs = attributes(span.attributes)
                spans.append(
                    _Span(
                        where=where, proto=span, attrs=attrs, resource=resource, scope=scope,
                        role=role_of(span.name, attrs),
                        trace_id=_check_id(bytes(span.trace_id), 16, "traceId"),
                        span_id=_check_id(bytes(span.span_id), 8, "spanId"),
                        parent_id=_check_id(
                            bytes(span.parent_span_id), 8, "parentSpanId", optional=True
                        ),
                    )
                )  # fmt: skip
            except RecordError as exc:
                refused.append(Refused(where, str(exc)))
        index = {span.key: span for span in spans}
        resolver = _Resolver(index)
        mapped: list[Mapped] = []
        for span in spans:
            try:
                events = self._map_span(span, resolver)
            except RecordError as exc:
                refused.append(Refused(span.where, str(exc)))
            except EventValidationError as exc:
                refused.append(Refused(span.where, str(exc)))
            else:
                mapped.append(Mapped(span.where, events))
        return mapped, refused

    # ----------------------------------------------------------------- one span
    def _map_span(self, span: _Span, resolver: _Resolver) -> list[EventBase]:
        proto = span.proto
        start = instant(proto.start_time_unix_nano, "startTimeUnixNano")
        end = instant(proto.end_time_unix_nano, "endTimeUnixNano")
        if end < start:
            raise RecordError("endTimeUnixNano", "is before startTimeUnixNano")
        if RECORD_ATTRIBUTE in span.attrs:
            try:
                restored = restore_record(proto, span.attrs, start, end)
            except ValidationError as exc:
                raise invalid_event(f"OmniClaude record of span {proto.name!r}", exc) from exc
            if restored is not None:
                return restored
        execution = resolver.execution_of(span)
        base_id = uuid_attr(span.attrs, EVENT_ID_ATTRIBUTE)
        context = _Context(span, start, end, execution, base_id, producer_of(span.resource))
        try:
            if span.role is SpanRole.EXECUTION:
                events = self._execution(context)
            elif span.role is SpanRole.TOOL:
                events = [self._tool(context)]
            elif span.role is SpanRole.INFERENCE:
                events = [self._inference(context)]
            else:
                events = [self._decision(context)]
            events += self._errors(context)
        except ValidationError as exc:
            raise invalid_event(f"event of span {proto.name!r}", exc) from exc
        return events

    def _execution(self, c: _Context) -> list[EventBase]:
        span, attrs = c.span, c.span.attrs
        agent = c.execution.agent_name or _CLAUDE_CODE_OR_SERVICE(span)
        common: dict[str, Any] = {
            "correlation_id": c.execution.correlation_id,
            "parent_correlation_id": c.execution.parent_correlation_id,
            "agent_name": agent,
            "producer": c.producer,
        }
        started = ExecutionStarted(
            event_id=c.event_id("started", primary=True),
            timestamp=c.start,
            session_id=c.session_id,
            prompt_id=_id_attr(attrs, "prompt.id") if span.claude_code else None,
            claude_agent_id=_id_attr(attrs, "agent_id", "agent.id") if span.claude_code else None,
            metadata=c.details(),
            **common,
        )
        duration = c.duration_ms
        if span.proto.status.code == _STATUS_ERROR:
            error_type = text_attr(attrs, "error.type") or _first_exception_type(span) or "error"
            end: EventBase = ExecutionFailed(
                event_id=c.event_id("failed"),
                timestamp=c.end,
                duration_ms=duration,
                error_type=_clip(error_type, 256),
                error_message=span.proto.status.message or f"span {span.proto.name!r} failed",
                **common,
            )
        else:
            end = ExecutionCompleted(
                event_id=c.event_id("completed"),
                timestamp=c.end,
                duration_ms=duration,
                result={"status": _STATUS[min(span.proto.status.code, 2)]},
                **common,
            )
        return [started, end]

    def _tool(self, c: _Context) -> EventBase:
        attrs = c.span.attrs
        name = text_attr(attrs, "gen_ai.tool.name", "tool_name", "tool.name") or c.span.proto.name
        details = c.details()
        for key, value in (
            ("tool_input", attrs.get("gen_ai.tool.call.arguments")),
            ("tool_response", attrs.get("gen_ai.tool.call.result")),
            ("tool_type", attrs.get("gen_ai.tool.type")),
        ):
            if value is not None:
                details[key] = _json_or_text(value)
        details["success"] = c.span.proto.status.code != _STATUS_ERROR
        return AgentAction(
            event_id=c.event_id("action", primary=True),
            correlation_id=c.execution.correlation_id,
            action_type=ActionType.TOOL_CALL,
            action_name=_clip(name.strip() or "tool", MAX_ACTION_NAME_CHARS),
            tool_use_id=_id_attr(attrs, "gen_ai.tool.call.id", "tool_use_id"),
            **c.action_fields(details),
        )

    def _inference(self, c: _Context) -> EventBase:
        attrs, span = c.span.attrs, c.span
        model = (
            text_attr(attrs, "gen_ai.response.model", "gen_ai.request.model", "model") or "unknown"
        )
        cached = int_attr(attrs, "gen_ai.usage.cache_read.input_tokens", "cache_read_tokens") or 0
        written = (
            int_attr(attrs, "gen_ai.usage.cache_creation.input_tokens", "cache_creation_tokens")
            or 0
        )
        given_input = int_attr(attrs, "gen_ai.usage.input_tokens", "input_tokens") or 0
        # The GenAI conventions count cached tokens inside input_tokens; our input_tokens is
        # the uncached part (as Anthropic reports it, and as Claude Code's spans do).
        uncached = given_input
        if not span.claude_code and given_input >= cached + written:
            uncached = given_input - cached - written
        output = int_attr(attrs, "gen_ai.usage.output_tokens", "output_tokens") or 0
        reasons = attrs.get("gen_ai.response.finish_reasons")
        finish = [str(r) for r in reasons] if isinstance(reasons, list) else (
            [str(reasons)] if reasons is not None else []
        )  # fmt: skip
        request_id = text_attr(attrs, "request_id", "gen_ai.request.id")
        response_id = text_attr(attrs, "gen_ai.response.id")
        priced = (
            self.prices.cost(
                model, input_tokens=uncached, output_tokens=output,
                cache_write_5m_tokens=written, cache_read_tokens=cached,
            )
            if self.prices is not None else None
        )  # fmt: skip
        if c.base_id is not None:
            event_id = c.base_id
        elif request_id or response_id:
            event_id = llm_call_id(request_id=request_id, message_id=response_id)
        else:
            event_id = c.event_id("llm")
        return LlmCall(
            event_id=event_id,
            correlation_id=c.execution.correlation_id,
            producer=c.producer,
            started_at=c.start,
            timestamp=c.end,
            duration_ms=c.duration_ms,
            model=_clip(model, 256),
            provider=text_attr(attrs, "gen_ai.provider.name", "gen_ai.system")
            or ("anthropic" if span.claude_code else None),
            input_tokens=uncached,
            output_tokens=output,
            cache_creation_input_tokens=written,
            cache_read_input_tokens=cached,
            usage={
                key.removeprefix("gen_ai.usage."): value
                for key, value in attrs.items()
                if key.startswith("gen_ai.usage.")
            },
            stop_reason=_clip(finish[0], 128) if finish else None,
            request_id=request_id,
            message_id=response_id,
            cost_usd=float(priced.usd) if priced else None,
            cost_source=CostSource.ESTIMATE if priced else CostSource.UNPRICED,
            pricing_source=priced.source if priced else None,
            source=_SOURCE,
            agent_name=c.agent_name,
            session_id=c.session_id,
            prompt_id=_id_attr(attrs, "prompt.id") if span.claude_code else None,
            claude_agent_id=_id_attr(attrs, "agent_id", "agent.id") if span.claude_code else None,
            metadata={**c.details(), "finish_reasons": finish},
        )

    def _decision(self, c: _Context) -> EventBase:
        name = c.span.proto.name.strip() or "(unnamed span)"
        return AgentAction(
            event_id=c.event_id("action", primary=True),
            correlation_id=c.execution.correlation_id,
            action_type=ActionType.DECISION,
            action_name=_clip(name, MAX_ACTION_NAME_CHARS),
            **c.action_fields(c.details()),
        )

    def _errors(self, c: _Context) -> list[EventBase]:
        span = c.span
        out: list[EventBase] = []
        for position, event in enumerate(span.proto.events):
            if event.name != "exception":
                continue
            attrs = attributes(event.attributes)
            at = instant(event.time_unix_nano, f"events[{position}].timeUnixNano") if (
                event.time_unix_nano
            ) else c.end  # fmt: skip
            kind = text_attr(attrs, "exception.type") or "exception"
            out.append(
                AgentAction(
                    event_id=c.event_id(f"exception.{position}"),
                    correlation_id=c.execution.correlation_id,
                    action_type=ActionType.ERROR,
                    action_name=_clip(kind, MAX_ACTION_NAME_CHARS),
                    **c.action_fields(
                        {
                            "error_type": kind,
                            "message": attrs.get("exception.message"),
                            "stacktrace": attrs.get("exception.stacktrace"),
                            "attributes": attrs,
                            "span": c.span_info(),
                        },
                        start=at,
                        end=at,
                    ),
                )
            )
        if span.proto.status.code == _STATUS_ERROR and not out:
            name = span.proto.name.strip() or "(unnamed span)"
            out.append(
                AgentAction(
                    event_id=c.event_id("error"),
                    correlation_id=c.execution.correlation_id,
                    action_type=ActionType.ERROR,
                    action_name=_clip(name, MAX_ACTION_NAME_CHARS),
                    **c.action_fields(
                        {
                            "error_type": text_attr(span.attrs, "error.type") or "error",
                            "message": span.proto.status.message,
                            "span": c.span_info(),
                        }
                    ),
                )
            )
        return out


# ------------------------------------------------------------------------ helpers
def _CLAUDE_CODE_OR_SERVICE(span: _Span) -> str:  # noqa: N802 - reads as the constant it picks
    if span.claude_code:
        return CLAUDE_CODE_AGENT
    return _agent_of(span) or "otel"


def _agent_of(span: _Span) -> str | None:
    name = text_attr(span.attrs, "gen_ai.agent.name") or text_attr(span.resource, "service.name")
    return _clip(name, MAX_NAME_CHARS) if name and name.strip() else None


def _id_attr(attrs: Mapping[str, Any], *keys: str) -> str | None:
    value = text_attr(attrs, *keys)
    if value is None or not value:
        return None
    if len(value) > MAX_ID_CHARS:
        raise RecordError(f"attributes.{keys[0]}", f"longer than {MAX_ID_CHARS} characters")
    return value


def _first_exception_type(span: _Span) -> str | None:
    for event in span.proto.events:
        if event.name == "exception":
            return text_attr(attributes(event.attributes), "exception.type")
    return None


@dataclass(slots=True)
class _Context:
    """What every event of one span shares."""

    span: _Span
    start: datetime
    end: datetime
    execution: _Execution
    base_id: uuid.UUID | None
    producer: ProducerInfo

    @property
    def duration_ms(self) -> float:
        return (self.end - self.start).total_seconds() * 1000

    @property
    def agent_name(self) -> str | None:
        return self.execution.agent_name or _agent_of(self.span)

    @property
    def session_id(self) -> str | None:
        return _id_attr(self.span.attrs, "session.id")

    def event_id(self, role: str, *, primary: bool = False) -> uuid.UUID:
        if primary and self.base_id is not None:
            return self.base_id
        return derived_event_id("span", self.span.trace_id, self.span.span_id, role)

    def span_info(self) -> dict[str, Any]:
        proto = self.span.proto
        info: dict[str, Any] = {
            "name": proto.name,
            "kind": _KINDS[proto.kind] if 0 <= proto.kind < len(_KINDS) else str(proto.kind),
            "trace_id": self.span.trace_id.hex(),
            "span_id": self.span.span_id.hex(),
            "parent_span_id": self.span.parent_id.hex() or None,
            "status": {
                "code": _STATUS[proto.status.code] if 0 <= proto.status.code < 3 else "unset",
                "message": proto.status.message or None,
            },
            "scope": self.span.scope,
        }
        others = [
            {
                "name": e.name,
                "time_unix_nano": e.time_unix_nano,
                "attributes": attributes(e.attributes),
            }
            for e in proto.events
            if e.name != "exception"
        ]
        if others:
            info["events"] = others
        if proto.links:
            info["links"] = [
                {
                    "trace_id": bytes(link.trace_id).hex(),
                    "span_id": bytes(link.span_id).hex(),
                    "attributes": attributes(link.attributes),
                }
                for link in proto.links
            ]
        return info

    def details(self) -> dict[str, Any]:
        return {
            "span": self.span_info(),
            "attributes": self.span.attrs,
            "resource": self.span.resource,
        }

    def action_fields(
        self,
        details: dict[str, Any],
        *,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> dict[str, Any]:
        begin, finish = start or self.start, end or self.end
        return {
            "producer": self.producer,
            "action_details": details,
            "started_at": begin,
            "timestamp": finish,
            "duration_ms": (finish - begin).total_seconds() * 1000,
            "agent_name": self.agent_name,
            "session_id": self.session_id,
            "prompt_id": _id_attr(self.span.attrs, "prompt.id") if self.span.claude_code else None,
        }


class _Resolver:
    """Find the execution each span belongs to, from the span tree of one request."""

    def __init__(self, index: dict[tuple[bytes, bytes], _Span]) -> None:
        self._index = index
        self._own: dict[tuple[bytes, bytes], _Execution] = {}

    def _enclosing(self, span: _Span) -> _Span | None:
        """The nearest execution span above ``span`` in this request (None: none is)."""
        seen = {span.key}
        parent = span.parent_id
        for _ in range(_MAX_DEPTH):
            if not parent:
                return None
            above = self._index.get((span.trace_id, parent))
            if above is None or above.key in seen:
                return None
            if above.role is SpanRole.EXECUTION:
                return above
            seen.add(above.key)
            parent = above.parent_id
        return None

    def execution_of(self, span: _Span) -> _Execution:
        """The execution ``span`` is (an execution span) or belongs to (any other)."""
        if span.role is SpanRole.EXECUTION:
            return self._own_execution(span, 0)
        given = uuid_attr(span.attrs, CORRELATION_ATTRIBUTE)
        enclosing = self._enclosing(span)
        if given is not None:
            agent = self._own_execution(enclosing, 0).agent_name if enclosing else None
            return _Execution(given, uuid_attr(span.attrs, PARENT_CORRELATION_ATTRIBUTE), agent)
        if span.claude_code and _id_attr(span.attrs, "session.id"):
            return _claude_code_execution(span)
        if enclosing is not None:
            return self._own_execution(enclosing, 0)
        return _Execution(correlation_id_for_trace(span.trace_id), None, None)

    def _own_execution(self, span: _Span, depth: int) -> _Execution:
        found = self._own.get(span.key)
        if found is not None:
            return found
        given = uuid_attr(span.attrs, CORRELATION_ATTRIBUTE)
        agent = _agent_of(span) if not span.claude_code else CLAUDE_CODE_AGENT
        enclosing = self._enclosing(span) if depth < _MAX_DEPTH else None
        parent = self._own_execution(enclosing, depth + 1) if enclosing is not None else None
        if given is not None:
            found = _Execution(
                given,
                uuid_attr(span.attrs, PARENT_CORRELATION_ATTRIBUTE)
                or (parent.correlation_id if parent else None),
                agent,
            )
        elif span.claude_code and _id_attr(span.attrs, "session.id"):
            found = _claude_code_execution(span)
        elif parent is None:
            found = _Execution(correlation_id_for_trace(span.trace_id), None, agent)
        else:
            found = _Execution(
                derived_event_id("span", span.trace_id, span.span_id, "correlation"),
                parent.correlation_id,
                agent,
            )
        self._own[span.key] = found
        return found


def _claude_code_execution(span: _Span) -> _Execution:
    """The hook mapper's execution of a Claude Code span: the subagent's (parent: its
    prompt), else the prompt's (parent: the session), else the session's."""
    session = _id_attr(span.attrs, "session.id") or ""
    agent_id = _id_attr(span.attrs, "agent_id", "agent.id")
    prompt = _id_attr(span.attrs, "prompt.id")
    if agent_id:
        parent = prompt_correlation_id(session, prompt) if prompt else None
        return _Execution(
            agent_correlation_id(session, agent_id),
            parent or session_correlation_id(session),
            CLAUDE_CODE_AGENT,
        )
    if prompt:
        return _Execution(
            prompt_correlation_id(session, prompt), session_correlation_id(session),
            CLAUDE_CODE_AGENT,
        )  # fmt: skip
    return _Execution(session_correlation_id(session), None, CLAUDE_CODE_AGENT)
