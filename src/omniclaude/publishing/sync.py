"""A thin synchronous wrapper for code that is not async.

:class:`SyncClient` runs a private event loop in a daemon thread, starts the sink there and
runs each call on it, copying the caller's context (so ``correlation_scope`` works). Every
method blocks until the async call finished (for a Kafka sink: until the event is handed
over, not delivered).

Example:
    >>> with SyncClient(PostgresSink(dsn=url)) as client:        # doctest: +SKIP
    ...     log = client.action_logger(agent_name="agent-x")
    ...     with client.execution_logger().run("agent-x", "fix it"):
    ...         log.log_tool_call(None, "bash", {"cmd": "ls"})
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextvars
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from omniclaude.errors import DeliveryError
from omniclaude.events import (
    AgentAction,
    AgentTransformation,
    EventBase,
    ExecutionCompleted,
    ExecutionFailed,
    ExecutionProgress,
    ManifestInjection,
    RoutingDecision,
)
from omniclaude.publishing.context import _CURRENT, resolve_correlation_id
from omniclaude.publishing.execution_logger import AgentExecutionLogger
from omniclaude.publishing.loggers import ActionLogger
from omniclaude.publishing.publishers import EventPublisher
from omniclaude.publishing.sinks.base import EventSink

__all__ = ["SyncActionLogger", "SyncClient", "SyncEventPublisher", "SyncExecutionLogger"]

T = TypeVar("T")
E = TypeVar("E", bound=EventBase)


class SyncClient:
    """Own a background event loop and a sink, for synchronous callers.

    Args:
        sink: the sink (built but not started; it is started on the client's loop). A sink
            tied to another loop, such as a ``PostgresSink`` on an existing asyncpg connection,
            cannot be used: give ``PostgresSink(dsn=...)`` instead.
        call_timeout_s: the longest a call may block (None: no limit).
    """

    def __init__(self, sink: EventSink, *, call_timeout_s: float | None = 60.0) -> None:
        self.sink = sink
        self.call_timeout_s = call_timeout_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._closed = False

    def start(self) -> SyncClient:
        """Start the loop thread and the sink. Safe to call twice."""
        if self._loop is not None:
            return self
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            loop.run_forever()

        self._thread = threading.Thread(target=run, name="omniclaude-sync", daemon=True)
        self._thread.start()
        ready.wait()
        self._loop = loop
        self.call(self.sink.start)
        atexit.register(self.close)
        return self

    def call(self, function: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        """Run ``function(*args, **kwargs)`` on the client's loop and return its result.

        Raises:
            DeliveryError: the client is closed, or the call timed out.
            Exception: whatever the coroutine raised.
        """
        if self._closed:
            raise DeliveryError("SyncClient: closed")
        if self._loop is None:
            self.start()
        loop = self._loop
        assert loop is not None  # noqa: S101 - set by start()
        result: concurrent.futures.Future[T] = concurrent.futures.Future()

        def schedule() -> None:
            async def body() -> T:
                return await function(*args, **kwargs)

            task = loop.create_task(_as_coroutine(body()))

            def done(t: asyncio.Task[T]) -> None:
                if t.cancelled():
                    result.cancel()
                elif (exc := t.exception()) is not None:
                    result.set_exception(exc)
                else:
                    result.set_result(t.result())

            task.add_done_callback(done)

        loop.call_soon_threadsafe(schedule, context=contextvars.copy_context())
        try:
            return result.result(timeout=self.call_timeout_s)
        except TimeoutError as exc:
            raise DeliveryError(f"SyncClient: call timed out after {self.call_timeout_s}s") from exc

    def flush(self, timeout_s: float | None = None) -> None:
        """Flush the sink (see :meth:`EventSink.flush`)."""
        self.call(self.sink.flush, timeout_s)

    def close(self) -> None:
        """Stop the sink (bounded flush) and the loop thread. Idempotent."""
        if self._closed:
            return
        atexit.unregister(self.close)
        if self._loop is not None:
            try:
                self.call(self.sink.stop)
            finally:
                self._closed = True
                self._loop.call_soon_threadsafe(self._loop.stop)
                if self._thread is not None:
                    self._thread.join(timeout=10)
                self._loop.close()
        self._closed = True

    def __enter__(self) -> SyncClient:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def action_logger(self, agent_name: str | None = None) -> SyncActionLogger:
        """Return a synchronous :class:`ActionLogger` on this client's sink."""
        return SyncActionLogger(self, ActionLogger(sink=self.sink, agent_name=agent_name))

    def execution_logger(self) -> SyncExecutionLogger:
        """Return a synchronous :class:`AgentExecutionLogger` (one per execution)."""
        return SyncExecutionLogger(self, AgentExecutionLogger(sink=self.sink))

    def publisher(self) -> SyncEventPublisher:
        """Return a synchronous :class:`EventPublisher`."""
        return SyncEventPublisher(self, EventPublisher(self.sink))


async def _as_coroutine(awaitable: Awaitable[T]) -> T:
    return await awaitable


class SyncActionLogger:
    """:class:`ActionLogger` for synchronous code (same methods, blocking)."""

    def __init__(self, client: SyncClient, logger: ActionLogger) -> None:
        self._client = client
        self.logger = logger

    def log_action(self, correlation_id: uuid.UUID | str | None, *a: Any, **kw: Any) -> AgentAction:
        """See :meth:`ActionLogger.log_action`."""
        return self._client.call(self.logger.log_action, correlation_id, *a, **kw)

    def log_tool_call(
        self, correlation_id: uuid.UUID | str | None, *a: Any, **kw: Any
    ) -> AgentAction:
        """See :meth:`ActionLogger.log_tool_call`."""
        return self._client.call(self.logger.log_tool_call, correlation_id, *a, **kw)

    def log_decision(
        self, correlation_id: uuid.UUID | str | None, *a: Any, **kw: Any
    ) -> AgentAction:
        """See :meth:`ActionLogger.log_decision`."""
        return self._client.call(self.logger.log_decision, correlation_id, *a, **kw)

    def log_error(self, correlation_id: uuid.UUID | str | None, *a: Any, **kw: Any) -> AgentAction:
        """See :meth:`ActionLogger.log_error`."""
        return self._client.call(self.logger.log_error, correlation_id, *a, **kw)

    def log_success(
        self, correlation_id: uuid.UUID | str | None, *a: Any, **kw: Any
    ) -> AgentAction:
        """See :meth:`ActionLogger.log_success`."""
        return self._client.call(self.logger.log_success, correlation_id, *a, **kw)

    @contextmanager
    def tool_call(
        self,
        tool_name: str,
        params: Mapping[str, Any] | None = None,
        *,
        correlation_id: uuid.UUID | str | None = None,
    ) -> Iterator[_SyncToolCall]:
        """Measure a tool call; log it on exit, or an ``error`` action if the body raises."""
        import time

        from omniclaude.events import utc_now

        cid = resolve_correlation_id(correlation_id)
        call = _SyncToolCall()
        started_at = utc_now()  # started_at → timestamp (the end), as the async one does
        started = time.perf_counter()
        try:
            yield call
        except BaseException as exc:
            duration = (time.perf_counter() - started) * 1000
            self.log_error(
                cid, exc, {"tool_name": tool_name, "params": dict(params or {})},
                duration_ms=duration, started_at=started_at,
                timestamp=max(utc_now(), started_at),
            )  # fmt: skip
            raise
        duration = (time.perf_counter() - started) * 1000
        self.log_tool_call(
            cid, tool_name, params, call.result, duration,
            started_at=started_at, timestamp=max(utc_now(), started_at),
        )  # fmt: skip


class _SyncToolCall:
    __slots__ = ("result",)

    def __init__(self) -> None:
        self.result: Any = None


class SyncExecutionLogger:
    """:class:`AgentExecutionLogger` for synchronous code; ``start`` sets the caller's context."""

    def __init__(self, client: SyncClient, logger: AgentExecutionLogger) -> None:
        self._client = client
        self.logger = logger
        self._token: contextvars.Token[uuid.UUID | None] | None = None

    def start(self, agent_name: str, *a: Any, **kw: Any) -> uuid.UUID:
        """See :meth:`AgentExecutionLogger.start`; the id becomes current in this thread."""
        cid = self._client.call(self.logger.start, agent_name, *a, **kw)
        self._token = _CURRENT.set(cid)
        return cid

    def progress(self, stage: str, percent: float) -> ExecutionProgress:
        """See :meth:`AgentExecutionLogger.progress`."""
        return self._client.call(self.logger.progress, stage, percent)

    def _restore(self) -> None:
        token, self._token = self._token, None
        if token is not None:
            try:
                _CURRENT.reset(token)
            except ValueError:
                _CURRENT.set(None)

    def complete(self, *a: Any, **kw: Any) -> ExecutionCompleted:
        """See :meth:`AgentExecutionLogger.complete`."""
        try:
            return self._client.call(self.logger.complete, *a, **kw)
        finally:
            self._restore()

    def fail(self, error: str | BaseException) -> ExecutionFailed:
        """See :meth:`AgentExecutionLogger.fail`."""
        try:
            return self._client.call(self.logger.fail, error)
        finally:
            self._restore()

    @contextmanager
    def run(self, agent_name: str, *a: Any, **kw: Any) -> Iterator[SyncExecutionLogger]:
        """Start; on exit complete (or fail on an exception, re-raised)."""
        self.start(agent_name, *a, **kw)
        try:
            yield self
        except BaseException as exc:
            if self.logger.is_open:
                self.fail(exc)
            raise
        if self.logger.is_open:
            self.complete()


class SyncEventPublisher:
    """:class:`EventPublisher` for synchronous code."""

    def __init__(self, client: SyncClient, publisher: EventPublisher) -> None:
        self._client = client
        self.publisher = publisher

    def publish(self, event: E) -> E:
        """See :meth:`EventPublisher.publish`."""
        sent: E = self._client.call(self.publisher.publish, event)
        return sent

    def routing_decision(self, *a: Any, **kw: Any) -> RoutingDecision:
        """See :meth:`EventPublisher.routing_decision`."""
        return self._client.call(self.publisher.routing_decision, *a, **kw)

    def manifest_injection(self, *a: Any, **kw: Any) -> ManifestInjection:
        """See :meth:`EventPublisher.manifest_injection`."""
        return self._client.call(self.publisher.manifest_injection, *a, **kw)

    def transformation(self, *a: Any, **kw: Any) -> AgentTransformation:
        """See :meth:`EventPublisher.transformation`."""
        return self._client.call(self.publisher.transformation, *a, **kw)
