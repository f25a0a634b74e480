"""``AgentExecutionLogger``: the lifecycle of one agent execution.

``start`` → ``progress``… → ``complete`` or ``fail``. Used as a context manager it can never be
left open: a normal exit logs ``complete``, an exception logs ``fail`` and re-raises.
``start`` makes the execution's correlation id current (so ``log_*`` calls inside need not
pass it) and ``complete``/``fail`` restore the previous one.
"""

from __future__ import annotations

import asyncio
import time
import traceback
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from contextvars import Token
from types import TracebackType
from typing import Any, Literal, Self

from omniclaude.errors import EventValidationError
from omniclaude.events import (
    ExecutionCompleted,
    ExecutionFailed,
    ExecutionProgress,
    ExecutionStarted,
    ExecutionStatus,
)
from omniclaude.publishing.context import (
    _CURRENT,
    coerce_correlation_id,
    current_correlation_id,
)
from omniclaude.publishing.emitter import Emitter, build_event
from omniclaude.publishing.redaction import Redactor
from omniclaude.publishing.sinks.base import EventSink

__all__ = ["AgentExecutionLogger", "ExecutionStateError", "describe_error"]

_MAX_TRACEBACK = 16_384


class ExecutionStateError(EventValidationError):
    """A lifecycle call came in the wrong order (``progress`` before ``start``, ...)."""


def describe_error(error: str | BaseException) -> dict[str, Any]:
    """Return ``error_type``, ``error_message`` and (for an exception) ``traceback``."""
    if isinstance(error, str):
        return {"error_type": "Error", "error_message": error}
    info: dict[str, Any] = {"error_type": type(error).__name__, "error_message": str(error)}
    if error.__traceback__ is not None:
        text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        info["traceback"] = text[-_MAX_TRACEBACK:]
    return info


def _result(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return dict(value)
    return {"value": value}


class AgentExecutionLogger(Emitter):
    """Log one execution's lifecycle (one logger per execution).

    Args:
        db: an asyncpg connection or pool (direct PostgreSQL sink).
        sink: any :class:`EventSink` instead.
        redactor: extra redaction before the sink's own.

    Example:
        >>> async with AgentExecutionLogger(db=conn).run("agent-x", "fix the bug") as ex:
        ...     await ex.progress("analysing", 50)  # doctest: +SKIP
    """

    def __init__(
        self, db: Any = None, *, sink: EventSink | None = None, redactor: Redactor | None = None
    ) -> None:
        super().__init__(db, sink=sink, redactor=redactor)
        self.correlation_id: uuid.UUID | None = None
        self.agent_name: str | None = None
        self.parent_correlation_id: uuid.UUID | None = None
        self.status: ExecutionStatus | None = None
        self._started_at = 0.0
        self._token: Token[uuid.UUID | None] | None = None
        self._previous: uuid.UUID | None = None

    @property
    def is_open(self) -> bool:
        """Whether the execution started and has not completed or failed."""
        return self.status is ExecutionStatus.IN_PROGRESS

    async def start(
        self,
        /,
        agent_name: str,
        user_prompt: str | None = None,
        correlation_id: uuid.UUID | str | None = None,
        *,
        parent_correlation_id: uuid.UUID | str | None = None,
        session_id: str | None = None,
        prompt_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> uuid.UUID:
        """Log ``execution_started`` and make its correlation id current.

        Args:
            agent_name: the agent running.
            user_prompt: the prompt it runs for.
            correlation_id: the execution's id; None creates one.
            parent_correlation_id: the parent execution; None means the current correlation
                id if one is active (a nested execution links itself to its parent).
            session_id: the Claude Code session, if any.
            prompt_id: the prompt within the session, if any.
            metadata: JSON-like metadata kept on the execution row.
            **fields: other :class:`ExecutionStarted` fields (``project_path``, ...).

        Returns:
            The execution's correlation id.

        Raises:
            ExecutionStateError: this logger already started an execution.
            EventValidationError: an argument is invalid; the message names it.
        """
        if self.status is not None:
            raise ExecutionStateError(
                f"start: execution {self.correlation_id} already started", field="start"
            )
        cid = uuid.uuid4() if correlation_id is None else coerce_correlation_id(correlation_id)
        current = current_correlation_id()
        if parent_correlation_id is not None:
            parent: uuid.UUID | None = coerce_correlation_id(
                parent_correlation_id, field="parent_correlation_id"
            )
        else:
            parent = current if current is not None and current != cid else None
        event = build_event(
            ExecutionStarted,
            correlation_id=cid,
            agent_name=agent_name,
            user_prompt=user_prompt,
            parent_correlation_id=parent,
            session_id=session_id,
            prompt_id=prompt_id,
            metadata=dict(metadata or {}),
            **fields,
        )
        await self.emit(event)
        self.correlation_id, self.agent_name, self.parent_correlation_id = cid, agent_name, parent
        self.status = ExecutionStatus.IN_PROGRESS
        self._started_at = time.perf_counter()
        self._previous = current
        self._token = _CURRENT.set(cid)
        return cid

    def _require_open(self, what: str) -> uuid.UUID:
        if self.correlation_id is None or self.status is None:
            raise ExecutionStateError(f"{what}: call start() first", field=what)
        if self.status is not ExecutionStatus.IN_PROGRESS:
            raise ExecutionStateError(
                f"{what}: execution {self.correlation_id} already ended ({self.status.value})",
                field=what,
            )
        return self.correlation_id

    def _common(self) -> dict[str, Any]:
        return {
            "agent_name": self.agent_name,
            "parent_correlation_id": self.parent_correlation_id,
        }

    async def progress(self, stage: str, percent: float) -> ExecutionProgress:
        """Log that the execution reached ``stage`` (``percent`` in 0..100).

        Raises:
            ExecutionStateError: not started, or already ended.
            EventValidationError: ``stage`` is empty or ``percent`` out of range.
        """
        cid = self._require_open("progress")
        event = build_event(
            ExecutionProgress, correlation_id=cid, stage=stage, percent=percent, **self._common()
        )
        return await self.emit(event)

    def _duration_ms(self) -> float:
        return (time.perf_counter() - self._started_at) * 1000

    def _close(self, status: ExecutionStatus) -> None:
        self.status = status
        token, self._token = self._token, None
        if token is None:
            return
        try:
            _CURRENT.reset(token)
        except ValueError:
            # Ended from another context (another task): restore by value where we can.
            if _CURRENT.get() == self.correlation_id:
                _CURRENT.set(self._previous)

    async def complete(
        self,
        status: Literal["success", "cancelled"] | ExecutionStatus = "success",
        quality_score: float | None = None,
        result: Any = None,
        *,
        event_count: int | None = None,
    ) -> ExecutionCompleted:
        """Log ``execution_completed`` (``success`` or ``cancelled``) and end the execution.

        Args:
            status: ``"success"`` or ``"cancelled"``.
            quality_score: 0..1.
            result: a JSON-like result (a non-mapping is stored as ``{"value": ...}``).
            event_count: how many events were emitted for the execution, this one included
                (readers then know when its trace is complete).

        Raises:
            ExecutionStateError: not started, or already ended.
            EventValidationError: ``status`` or ``quality_score`` is invalid.
        """
        cid = self._require_open("complete")
        if str(status) not in {ExecutionStatus.SUCCESS.value, ExecutionStatus.CANCELLED.value}:
            raise EventValidationError(
                f"status: {status!r} is not 'success' or 'cancelled' (use fail() for errors)",
                field="status",
            )
        event = build_event(
            ExecutionCompleted,
            correlation_id=cid,
            status=ExecutionStatus(str(status)),
            quality_score=quality_score,
            result=_result(result),
            duration_ms=self._duration_ms(),
            event_count=event_count,
            **self._common(),
        )
        sent = await self.emit(event)
        self._close(ExecutionStatus(str(status)))
        return sent

    async def fail(
        self, error: str | BaseException, *, event_count: int | None = None
    ) -> ExecutionFailed:
        """Log ``execution_failed`` with the error's type, message and traceback; end it.

        Args:
            error: the error (an exception, or a message).
            event_count: as for :meth:`complete`.

        Raises:
            ExecutionStateError: not started, or already ended.
        """
        cid = self._require_open("fail")
        info = describe_error(error)
        event = build_event(
            ExecutionFailed,
            correlation_id=cid,
            duration_ms=self._duration_ms(),
            event_count=event_count,
            **info,
            **self._common(),
        )
        sent = await self.emit(event)
        self._close(ExecutionStatus.FAILED)
        return sent

    async def __aenter__(self) -> Self:
        self._require_open("__aenter__")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self.is_open:
            return  # the body ended it explicitly
        if exc is None:
            await self.complete()
        elif isinstance(exc, asyncio.CancelledError):
            await self.complete("cancelled")
        else:
            await self.fail(exc)

    @asynccontextmanager
    async def run(
        self,
        agent_name: str,
        user_prompt: str | None = None,
        correlation_id: uuid.UUID | str | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[Self]:
        """Start an execution and end it when the block exits (``complete`` or ``fail``).

        Takes the arguments of :meth:`start`. The body may call ``complete(...)`` itself to
        record a quality score or result; otherwise a normal exit logs ``success``.
        """
        await self.start(agent_name, user_prompt, correlation_id, **kwargs)
        async with self:
            yield self
