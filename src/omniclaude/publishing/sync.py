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
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Concatenate, ParamSpec, TypeVar

from omniclaude.errors import DeliveryError
from omniclaude.events import (
    EventBase,
    ExecutionCompleted,
    ExecutionFailed,
)
from omniclaude.publishing.context import _CURRENT, resolve_correlation_id
from omniclaude.publishing.execution_logger import AgentExecutionLogger
from omniclaude.publishing.loggers import ActionLogger
from omniclaude.publishing.publishers import EventPublisher
from omniclaude.publishing.sinks.base import EventSink

__all__ = ["SyncActionLogger", "SyncClient", "SyncEventPublisher", "SyncExecutionLogger"]

T = TypeVar("T")
R = TypeVar("R")
P = ParamSpec("P")
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

    def call(self, function: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
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


class _Facade:
    """A synchronous face of one async logger or publisher (``_target``), on a client."""

    def __init__(self, client: SyncClient, target: Any) -> None:
        self._client = client
        self._target = target


def _blocking(
    method: Callable[Concatenate[Any, P], Awaitable[R]],
) -> Callable[Concatenate[_Facade, P], R]:
    """The blocking twin of an async method: the same parameters (``ParamSpec``), so a
    synchronous caller's arguments are type-checked exactly like an async caller's."""
    name = method.__name__

    def call(self: _Facade, /, *args: P.args, **kwargs: P.kwargs) -> R:
        bound: Callable[P, Awaitable[R]] = getattr(self._target, name)
        return self._client.call(bound, *args, **kwargs)

    call.__name__ = name
    call.__qualname__ = f"blocking {method.__qualname__}"
    call.__doc__ = f"Blocking :meth:`~{method.__module__}.{method.__qualname__}` (same arguments)."
    return call


def _same_parameters(
    method: Callable[Concatenate[Any, P], Awaitable[Any]],
) -> Callable[[Callable[..., R]], Callable[Concatenate[Any, P], R]]:
    """Give a hand-written wrapper the parameters of ``method`` (for type checkers)."""

    def apply(wrapper: Callable[..., R]) -> Callable[Concatenate[Any, P], R]:
        wrapper.__doc__ = wrapper.__doc__ or f"See :meth:`{method.__qualname__}`."
        return wrapper

    return apply


class SyncActionLogger(_Facade):
    """:class:`ActionLogger` for synchronous code: the same methods and parameters, blocking."""

    def __init__(self, client: SyncClient, logger: ActionLogger) -> None:
        super().__init__(client, logger)
        self.logger = logger

    log_action = _blocking(ActionLogger.log_action)
    log_tool_call = _blocking(ActionLogger.log_tool_call)
    log_decision = _blocking(ActionLogger.log_decision)
    log_error = _blocking(ActionLogger.log_error)
    log_success = _blocking(ActionLogger.log_success)

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


class SyncExecutionLogger(_Facade):
    """:class:`AgentExecutionLogger` for synchronous code; ``start`` sets the caller's context.

    The same methods and parameters as the async logger, blocking."""

    def __init__(self, client: SyncClient, logger: AgentExecutionLogger) -> None:
        super().__init__(client, logger)
        self.logger = logger
        self._token: contextvars.Token[uuid.UUID | None] | None = None

    @_same_parameters(AgentExecutionLogger.start)
    def start(self, *args: Any, **kwargs: Any) -> uuid.UUID:
        """See :meth:`AgentExecutionLogger.start`; the id becomes current in this thread."""
        cid = self._client.call(self.logger.start, *args, **kwargs)
        self._token = _CURRENT.set(cid)
        return cid

    progress = _blocking(AgentExecutionLogger.progress)

    def _restore(self) -> None:
        token, self._token = self._token, None
        if token is not None:
            try:
                _CURRENT.reset(token)
            except ValueError:
                _CURRENT.set(None)

    @_same_parameters(AgentExecutionLogger.complete)
    def complete(self, *args: Any, **kwargs: Any) -> ExecutionCompleted:
        """See :meth:`AgentExecutionLogger.complete`."""
        try:
            return self._client.call(self.logger.complete, *args, **kwargs)
        finally:
            self._restore()

    @_same_parameters(AgentExecutionLogger.fail)
    def fail(self, *args: Any, **kwargs: Any) -> ExecutionFailed:
        """See :meth:`AgentExecutionLogger.fail`."""
        try:
            return self._client.call(self.logger.fail, *args, **kwargs)
        finally:
            self._restore()

    @_same_parameters(AgentExecutionLogger.start)
    def run(self, *args: Any, **kwargs: Any) -> AbstractContextManager[SyncExecutionLogger]:
        """Start (the parameters of :meth:`start`); on exit complete, or fail on an exception
        (re-raised)."""
        return self._run(*args, **kwargs)

    @contextmanager
    def _run(self, *args: Any, **kwargs: Any) -> Iterator[SyncExecutionLogger]:
        self.start(*args, **kwargs)
        try:
            yield self
        except BaseException as exc:
            if self.logger.is_open:
                self.fail(exc)
            raise
        if self.logger.is_open:
            self.complete()


class SyncEventPublisher(_Facade):
    """:class:`EventPublisher` for synchronous code: the same methods and parameters."""

    def __init__(self, client: SyncClient, publisher: EventPublisher) -> None:
        super().__init__(client, publisher)
        self.publisher = publisher

    def publish(self, event: E) -> E:
        """See :meth:`EventPublisher.publish`."""
        sent: E = self._client.call(self.publisher.publish, event)
        return sent

    routing_decision = _blocking(EventPublisher.routing_decision)
    manifest_injection = _blocking(EventPublisher.manifest_injection)
    transformation = _blocking(EventPublisher.transformation)
