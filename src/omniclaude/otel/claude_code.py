"""Claude Code's OpenTelemetry log events into the events its hooks and transcript give.

:mod:`omniclaude.otel.logs` asks :func:`map_log_record` first; a record is Claude Code's when
its resource's ``service.name`` is ``claude-code``, its scope is Claude Code's, or its event
name is ``claude_code.<name>`` (None otherwise: the generic mapping takes it). Every Claude
Code record becomes at least one event; none is dropped:

* ``api_request`` → an :class:`~omniclaude.events.LlmCall` whose event id is the one the
  transcript follower gives the same response (:func:`~omniclaude.events.llm_call_id` of its
  ``request_id``), with Claude Code's own ``cost_usd`` (else ``cost_usd_micros``) marked
  ``exact``. The writer keeps the first telling's trace and times and lets the better cost
  replace the worse one (``storage/writers.py``), so the transcript's estimate and this exact
  figure are one row, counted once, whichever arrives first.
* ``api_error`` / ``api_refusal`` → an ``error`` action.
* ``tool_result`` / ``tool_decision`` → a ``decision`` action named after the event, with
  ``action_details.telemetry_of`` = the ``tool_use_id`` of the hook-recorded tool call it
  describes (the trace read folds it into that call; see docs/otel.md).
* everything else (``user_prompt``, ``compaction``, ``subagent_completed``, ``hook_execution_*``,
  ``skill_activated``, ...) → a ``decision`` action named after the event.

Each lands in the execution the hooks give it: the prompt's
(:func:`~omniclaude.hooks.sessions.prompt_correlation_id` of ``session.id`` and ``prompt.id``)
when the record names a prompt, else the session's, else the trace :mod:`~omniclaude.otel.logs`
would give it. Event ids other than the LLM call's are derived from the record's bytes, so a
resent export stores nothing new.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Final

from pydantic import ValidationError

from omniclaude.events import ActionType, AgentAction, CostSource, EventBase, LlmCall, llm_call_id
from omniclaude.events.actions import TELEMETRY_OF, TOOL_TELEMETRY_EVENTS
from omniclaude.events.codec import invalid_event
from omniclaude.events.limits import MAX_ACTION_NAME_CHARS, MAX_ID_CHARS, MAX_NAME_CHARS
from omniclaude.hooks.sessions import prompt_correlation_id, session_correlation_id
from omniclaude.otel.ids import EVENT_ID_ATTRIBUTE
from omniclaude.otel.logs import record_correlation_id, record_event_id
from omniclaude.otel.values import (
    RecordError,
    any_value,
    attributes,
    float_attr,
    instant,
    int_attr,
    producer_of,
    text_attr,
    uuid_attr,
)

__all__ = ["SERVICE_NAME", "is_claude_code", "map_log_record"]

SERVICE_NAME: Final = "claude-code"
"""The ``service.name`` Claude Code's resource carries."""

_PREFIX: Final = "claude_code."
_SCOPE_MARK: Final = "claude_code"
_PROVIDER: Final = "anthropic"
_ERRORS: Final = frozenset({"api_error", "api_refusal"})
_MAX_MODEL_CHARS: Final = 256
_MAX_REQUEST_ID_CHARS: Final = 256


def _event_name(record: Any, attrs: Mapping[str, Any]) -> str:
    return (record.event_name or text_attr(attrs, "event.name") or "").strip()


def is_claude_code(resource: Mapping[str, Any], scope: Mapping[str, Any], name: str) -> bool:
    """Whether a log record (of ``resource``, ``scope``, event ``name``) is Claude Code's."""
    return (
        resource.get("service.name") == SERVICE_NAME
        or _SCOPE_MARK in str(scope.get("name") or "")
        or name.startswith(_PREFIX)
    )


def map_log_record(
    resource: Mapping[str, Any], scope: Mapping[str, Any], record: Any
) -> list[EventBase] | None:
    """The events of one Claude Code log record, or None when it is not Claude Code's.

    Raises:
        RecordError: a value cannot be used (the message names the attribute).
        EventValidationError: an event built from it breaks the contract.
    """
    attrs = attributes(record.attributes)
    name = _event_name(record, attrs)
    if not is_claude_code(resource, scope, name):
        return None
    short = name.removeprefix(_PREFIX) or f"log {record.severity_text or 'record'}"
    at = instant(record.time_unix_nano or record.observed_time_unix_nano, "timeUnixNano")
    session = text_attr(attrs, "session.id")
    prompt = text_attr(attrs, "prompt.id")
    for key, value in (("session.id", session), ("prompt.id", prompt)):
        if value is not None and len(value) > MAX_ID_CHARS:
            raise RecordError(f"attributes.{key}", f"longer than {MAX_ID_CHARS} characters")
    correlation = _correlation(resource, attrs, record, session, prompt)
    common: dict[str, Any] = {
        "correlation_id": correlation,
        "timestamp": at,
        "session_id": session or None,
        "prompt_id": prompt or None,
        "producer": producer_of(resource),
    }
    try:
        if short == "api_request":
            return [
                _llm_call(attrs=attrs, common=common, resource=resource, scope=scope, record=record)
            ]
        return [
            _action(
                short, attrs=attrs, common=common, resource=resource, scope=scope, record=record
            )
        ]
    except ValidationError as exc:
        raise invalid_event(f"Claude Code {short} log record", exc) from exc


def _correlation(
    resource: Mapping[str, Any],
    attrs: Mapping[str, Any],
    record: Any,
    session: str | None,
    prompt: str | None,
) -> uuid.UUID:
    if session and prompt:
        return prompt_correlation_id(session, prompt)
    if session:
        return session_correlation_id(session)
    return record_correlation_id(resource, attrs, record)


def _cost(attrs: Mapping[str, Any]) -> float | None:
    cost = float_attr(attrs, "cost_usd")
    if cost is None:
        micros = float_attr(attrs, "cost_usd_micros")
        cost = micros / 1e6 if micros is not None else None
    if cost is not None and cost < 0:
        raise RecordError("attributes.cost_usd", f"must be >= 0, got {cost!r}")
    return cost


_LLM_USED: Final = frozenset({
    "model", "cost_usd", "cost_usd_micros", "duration_ms", "input_tokens", "output_tokens",
    "cache_read_tokens", "cache_creation_tokens", "request_id", "session.id", "prompt.id",
    "event.name",
})  # fmt: skip


def _llm_call(
    *,
    attrs: Mapping[str, Any],
    common: dict[str, Any],
    resource: Mapping[str, Any],
    scope: Mapping[str, Any],
    record: Any,
) -> LlmCall:
    model = text_attr(attrs, "model")
    if not model:
        raise RecordError("attributes.model", "missing: an api_request names its model")
    if len(model) > _MAX_MODEL_CHARS:
        raise RecordError("attributes.model", f"longer than {_MAX_MODEL_CHARS} characters")
    request_id = text_attr(attrs, "request_id") or None
    if request_id is not None and len(request_id) > _MAX_REQUEST_ID_CHARS:
        raise RecordError(
            "attributes.request_id", f"longer than {_MAX_REQUEST_ID_CHARS} characters"
        )
    cost = _cost(attrs)
    agent = text_attr(attrs, "agent.name")
    event_id = (
        uuid_attr(attrs, EVENT_ID_ATTRIBUTE)
        or (llm_call_id(request_id=request_id, message_id=None) if request_id else None)
        or record_event_id(resource, scope, record)
    )
    return LlmCall(
        event_id=event_id,
        model=model,
        provider=_PROVIDER,
        input_tokens=int_attr(attrs, "input_tokens") or 0,
        output_tokens=int_attr(attrs, "output_tokens") or 0,
        cache_creation_input_tokens=int_attr(attrs, "cache_creation_tokens") or 0,
        cache_read_input_tokens=int_attr(attrs, "cache_read_tokens") or 0,
        request_id=request_id,
        duration_ms=float_attr(attrs, "duration_ms"),
        cost_usd=cost,
        cost_source=CostSource.EXACT if cost is not None else CostSource.UNPRICED,
        source="otel",
        agent_name=agent[:MAX_NAME_CHARS] if agent else None,
        metadata={"otel": {k: v for k, v in attrs.items() if k not in _LLM_USED}},
        **common,
    )


def _action(
    short: str,
    *,
    attrs: Mapping[str, Any],
    common: dict[str, Any],
    resource: Mapping[str, Any],
    scope: Mapping[str, Any],
    record: Any,
) -> AgentAction:
    details: dict[str, Any] = {
        "event_name": short,
        "attributes": dict(attrs),
        "body": any_value(record.body),
        "severity_text": record.severity_text or None,
    }
    if short in TOOL_TELEMETRY_EVENTS:
        use_id = text_attr(attrs, "tool_use_id")
        if use_id:
            details[TELEMETRY_OF] = use_id
        duration = float_attr(attrs, "duration_ms")
        if duration is not None:
            details["duration_ms"] = duration
    if short in _ERRORS:
        details["error"] = text_attr(attrs, "error")
        details["status_code"] = text_attr(attrs, "status_code")
    return AgentAction(
        event_id=uuid_attr(attrs, EVENT_ID_ATTRIBUTE) or record_event_id(resource, scope, record),
        action_type=ActionType.ERROR if short in _ERRORS else ActionType.DECISION,
        action_name=short[:MAX_ACTION_NAME_CHARS],
        action_details=details,
        **common,
    )
