"""``ActionLogger``: tool calls, decisions, errors and successes of an agent.

Every method accepts the correlation id as a :class:`uuid.UUID`, its string form, or None
(the current one from :func:`~omniclaude.publishing.context.correlation_scope` or
:meth:`AgentExecutionLogger.start`), and returns the :class:`AgentAction` it sent.

Example:
    >>> logger = ActionLogger(db=conn)                      # doctest: +SKIP
    >>> await logger.log_tool_call(cid, "bash", {"cmd": "ls"})  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Final

from omniclaude.errors import EventValidationError
from omniclaude.events import ActionType, AgentAction, utc_now
from omniclaude.events.limits import MAX_ACTION_NAME_CHARS
from omniclaude.publishing.context import resolve_correlation_id
from omniclaude.publishing.emitter import Emitter
from omniclaude.publishing.execution_logger import AgentExecutionLogger, describe_error
from omniclaude.publishing.redaction import Redactor
from omniclaude.publishing.sinks.base import EventSink

__all__ = ["ActionLogger", "AgentExecutionLogger", "ToolCall"]

_log = logging.getLogger(__name__)
_MAX_NAME: Final = MAX_ACTION_NAME_CHARS

# The model refuses an empty or blank name (and names its field ``action_name``): errors name
# the argument the caller passed instead.
_TOOL: Final = {"action_name": "tool_name"}
_DECISION: Final = {"action_name": "decision"}
_SUCCESS: Final = {"action_name": "message"}
_ACTION: Final[dict[str, str]] = {}
_TOOL_CALL, _DECISION_TYPE, _ERROR, _SUCCESS_TYPE = (
    ActionType.TOOL_CALL,
    ActionType.DECISION,
    ActionType.ERROR,
    ActionType.SUCCESS,
)  # fmt: skip - enum members read once (a class attribute read costs a descriptor call)


def _fit(name: Any) -> Any:
    """Truncate a long name to the contract's length (the one place names are cut); the
    model refuses anything else that is wrong with it."""
    if type(name) is str and len(name) > _MAX_NAME:
        return name[: _MAX_NAME - 1] + "…"
    return name


def _mapping(details: Mapping[str, Any] | None, field: str) -> Mapping[str, Any]:
    """``details`` itself (not copied: the event's JSON conversion is the one copy)."""
    if details is None:
        return {}
    if not isinstance(details, Mapping):
        raise EventValidationError(
            f"{field}: expected a mapping, got {type(details).__name__}", field=field
        )
    return details


class ToolCall:
    """The handle yielded by :meth:`ActionLogger.tool_call`; set :attr:`result` in the body."""

    __slots__ = ("action", "correlation_id", "duration_ms", "params", "result", "tool_name")

    def __init__(self, tool_name: str, params: Mapping[str, Any], correlation_id: uuid.UUID):
        self.tool_name = tool_name
        self.params = params
        self.correlation_id = correlation_id
        self.result: Any = None
        self.duration_ms: float | None = None
        self.action: AgentAction | None = None
        """The action logged when the block ended (tool_call, or error if it raised)."""


class ActionLogger(Emitter):
    """Log an agent's actions: ``tool_call``, ``decision``, ``error``, ``success``.

    Args:
        db: an asyncpg connection or pool: each awaited ``log_*`` returns once the row is
            committed (the spec's ``ActionLogger(db=conn)``).
        sink: any :class:`EventSink` instead (for example a started ``KafkaSink``).
        agent_name: the agent written on every action unless a call passes its own.
        redactor: extra redaction before the sink's own.

    Raises:
        ConfigurationError: both ``db`` and ``sink`` were given.
    """

    def __init__(
        self,
        db: Any = None,
        *,
        sink: EventSink | None = None,
        agent_name: str | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        super().__init__(db, sink=sink, redactor=redactor)
        self.agent_name = agent_name

    def _fields(
        self,
        fields: dict[str, Any],
        correlation_id: uuid.UUID | str | None,
        action_type: ActionType | str,
        name: Any,
        details: Mapping[str, Any],
    ) -> dict[str, Any]:
        """The :class:`AgentAction` fields of one call (``fields``: the caller's extras)."""
        fields.setdefault("agent_name", self.agent_name)
        fields["correlation_id"] = (
            correlation_id
            if type(correlation_id) is uuid.UUID
            else resolve_correlation_id(correlation_id)
        )
        fields["action_type"] = action_type
        fields["action_name"] = _fit(name)
        fields["action_details"] = details
        return fields

    async def log_action(
        self,
        /,
        correlation_id: uuid.UUID | str | None,
        action_type: ActionType | str,
        details: Mapping[str, Any] | None = None,
        *,
        action_name: str | None = None,
        duration_ms: float | None = None,
        **fields: Any,
    ) -> AgentAction:
        """Log one action of any type.

        Args:
            correlation_id: the trace; None means the current one.
            action_type: ``tool_call``, ``decision``, ``error`` or ``success``.
            details: JSON-like details (UUIDs, datetimes, Decimals are converted).
            action_name: defaults to the action type.
            duration_ms: how long the action took.
            **fields: other :class:`AgentAction` fields (``tool_use_id``, ``session_id``,
                ``started_at``...). The action's ``timestamp`` (default: now) is when it
                ended; without ``started_at`` it began ``duration_ms`` before that.

        Returns:
            The action sent.

        Raises:
            EventValidationError: an argument is invalid; the message names it.
            NoCorrelationIdError: ``correlation_id`` is None outside any scope.
        """
        fields["duration_ms"] = duration_ms
        name = action_type if action_name is None else action_name
        details = _mapping(details, "details")
        fields = self._fields(fields, correlation_id, action_type, name, details)
        return await self.emit_fields(AgentAction, fields, arguments=_ACTION)

    async def log_tool_call(
        self,
        /,
        correlation_id: uuid.UUID | str | None,
        tool_name: str,
        params: Mapping[str, Any] | None = None,
        result: Any = None,
        duration_ms: float | None = None,
        **fields: Any,
    ) -> AgentAction:
        """Log a tool call: ``action_details = {"params": ..., "result": ...}``.

        Raises:
            EventValidationError: ``tool_name`` is empty or ``params`` is not a mapping.
        """
        details: dict[str, Any] = {
            "params": params if type(params) is dict else _mapping(params, "params")
        }
        if result is not None:
            details["result"] = result
        fields["duration_ms"] = duration_ms
        fields = self._fields(fields, correlation_id, _TOOL_CALL, tool_name, details)
        return await self.emit_fields(AgentAction, fields, arguments=_TOOL)

    async def log_decision(
        self,
        /,
        correlation_id: uuid.UUID | str | None,
        decision: str,
        details: Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> AgentAction:
        """Log a decision; the text is the action name and ``details["decision"]``.

        Raises:
            EventValidationError: ``decision`` is empty.
        """
        payload = {**_mapping(details, "details"), "decision": decision}
        fields = self._fields(fields, correlation_id, _DECISION_TYPE, decision, payload)
        return await self.emit_fields(AgentAction, fields, arguments=_DECISION)

    async def log_error(
        self,
        /,
        correlation_id: uuid.UUID | str | None,
        error: str | BaseException,
        details: Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> AgentAction:
        """Log an error: a message, or an exception (its type, message and traceback).

        The action name is the exception's class name (``"error"`` for a plain message);
        details hold ``error_type``, ``error_message`` and, for exceptions, ``traceback``.

        Raises:
            EventValidationError: ``error`` is neither a string nor an exception.
        """
        if not isinstance(error, str | BaseException):
            raise EventValidationError(
                f"error: expected str or exception, got {type(error).__name__}", field="error"
            )
        info = describe_error(error)
        name = info["error_type"] if isinstance(error, BaseException) else "error"
        payload = {**_mapping(details, "details"), **info}
        fields = self._fields(fields, correlation_id, _ERROR, name, payload)
        return await self.emit_fields(AgentAction, fields, arguments=_ACTION)

    async def log_success(
        self,
        /,
        correlation_id: uuid.UUID | str | None,
        message: str,
        details: Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> AgentAction:
        """Log a success; the message is the action name and ``details["message"]``.

        Raises:
            EventValidationError: ``message`` is empty.
        """
        payload = {**_mapping(details, "details"), "message": message}
        fields = self._fields(fields, correlation_id, _SUCCESS_TYPE, message, payload)
        return await self.emit_fields(AgentAction, fields, arguments=_SUCCESS)

    @asynccontextmanager
    async def tool_call(
        self,
        tool_name: str,
        params: Mapping[str, Any] | None = None,
        *,
        correlation_id: uuid.UUID | str | None = None,
    ) -> AsyncIterator[ToolCall]:
        """Measure a tool call; log it on exit (or an ``error`` action if the body raises).

        Example:
            >>> async with logger.tool_call("Read", {"file_path": p}) as call:  # doctest: +SKIP
            ...     call.result = {"lines": 10}

        Raises:
            NoCorrelationIdError: no ``correlation_id`` and no current scope.
            EventValidationError: ``tool_name`` is empty or ``params`` is not a mapping.
        """
        cid = resolve_correlation_id(correlation_id)
        call = ToolCall(_fit(tool_name), _mapping(params, "params"), cid)
        # The one meaning of time: the action starts when the block starts and its
        # timestamp is when the block ended (see omniclaude.events.TimedEvent).
        started_at = utc_now()
        started = time.perf_counter()
        try:
            yield call
        except BaseException as exc:
            call.duration_ms = (time.perf_counter() - started) * 1000
            try:
                call.action = await self.log_error(
                    cid,
                    exc,
                    {"tool_name": call.tool_name, "params": call.params},
                    duration_ms=call.duration_ms,
                    started_at=started_at,
                    timestamp=max(utc_now(), started_at),
                )
            except Exception:  # noqa: BLE001 - never mask the body's exception with a logging failure
                _log.exception("could not log the failure of tool call %s", call.tool_name)
            raise
        call.duration_ms = (time.perf_counter() - started) * 1000
        call.action = await self.log_tool_call(
            cid, call.tool_name, call.params, call.result, call.duration_ms,
            started_at=started_at, timestamp=max(utc_now(), started_at),
        )  # fmt: skip
