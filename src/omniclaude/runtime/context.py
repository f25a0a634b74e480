"""What an agent's callable receives: :class:`AgentContext`.

An agent is ``async def run(ctx: AgentContext) -> dict``. Through the context it calls tools
(:meth:`AgentContext.tool` — logged through the ``ActionLogger`` context manager, retried
with backoff when the failure is retriable), records decisions (:meth:`decide`), reports
progress, and — for the polymorphic agent — transforms into another agent or runs several in
parallel. It never touches the event sink itself.
"""

from __future__ import annotations

import asyncio
import inspect
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from omniclaude.publishing.loggers import ActionLogger, AgentExecutionLogger
from omniclaude.routing.registry import AgentDefinition
from omniclaude.runtime.manifest import Manifest
from omniclaude.runtime.models import ExecutionRequest, ExecutionState, ToolNotAllowedError
from omniclaude.runtime.retry import RetryPolicy, is_retriable
from omniclaude.runtime.workspace import Workspace

if TYPE_CHECKING:
    from omniclaude.routing.router import Router, RouteResult
    from omniclaude.runtime.runner import AgentRunner

__all__ = ["AgentContext", "summarize"]

_MAX_STRING = 500
_MAX_ITEMS = 20


def summarize(value: Any, depth: int = 0) -> Any:
    """Return a bounded copy of ``value`` for logging (long strings, lists and dicts cut)."""
    if isinstance(value, str):
        return (
            value if len(value) <= _MAX_STRING else value[:_MAX_STRING] + f"… ({len(value)} chars)"
        )
    if depth >= 3:
        return f"<{type(value).__name__}>"
    if isinstance(value, Mapping):
        items = list(value.items())
        out = {str(k): summarize(v, depth + 1) for k, v in items[:_MAX_ITEMS]}
        if len(items) > _MAX_ITEMS:
            out["…"] = f"{len(items) - _MAX_ITEMS} more keys"
        return out
    if isinstance(value, list | tuple | set | frozenset):
        seq = list(value)
        out_list = [summarize(v, depth + 1) for v in seq[:_MAX_ITEMS]]
        if len(seq) > _MAX_ITEMS:
            out_list.append(f"… {len(seq) - _MAX_ITEMS} more")
        return out_list
    return value


class AgentContext:
    """Everything an agent may use while it runs (built by the runner, one per agent run)."""

    def __init__(
        self,
        *,
        runner: AgentRunner,
        agent: AgentDefinition,
        request: ExecutionRequest,
        correlation_id: uuid.UUID,
        manifest: Manifest,
        actions: ActionLogger,
        execution: AgentExecutionLogger,
        state: ExecutionState,
        retry: RetryPolicy,
        routing_decision_id: uuid.UUID | None,
    ) -> None:
        """Assemble the context (the runner does this)."""
        self.runner = runner
        self.agent = agent
        self.request = request
        self.correlation_id = correlation_id
        self.manifest = manifest
        self.actions = actions
        self.execution = execution
        self.state = state
        self.retry = retry
        self.routing_decision_id = routing_decision_id

    @property
    def prompt(self) -> str:
        """The user's request."""
        return self.request.user_prompt

    @property
    def context(self) -> dict[str, Any]:
        """The request context (``files``, ``path``...)."""
        return self.request.context

    @property
    def workspace(self) -> Workspace:
        """The code tree the agent works on."""
        return self.runner.workspace

    @property
    def router(self) -> Router:
        """The router (the polymorphic agent re-routes with it)."""
        return self.runner.router

    async def tool(
        self,
        name: str,
        params: Mapping[str, Any],
        fn: Callable[..., Any],
        *args: Any,
        summary: Callable[[Any], Any] = summarize,
        isolate: bool = False,
        **kwargs: Any,
    ) -> Any:
        """Call a tool: logged as a ``tool_call`` action, retried while the error is retriable.

        ``fn`` may be a coroutine function, or synchronous: then it runs in a worker thread,
        or — with ``isolate=True`` — in a worker process that is killed when the execution's
        time is up (:mod:`omniclaude.runtime.isolation`). A thread cannot be stopped: use
        ``isolate`` for anything that may run long on what a request chose (files, patterns);
        ``fn`` and its arguments must then be picklable.

        Each failed attempt is an ``error`` action (from the logger's context manager), each
        retry a ``decision`` naming the attempt and the delay; when the attempts run out the
        final failure is logged with ``final: true`` and raised.

        Args:
            name: the tool's name (must be in the agent's ``tools`` when that list is set).
            params: what is logged as the call's parameters.
            fn: the function doing the work; ``*args``/``**kwargs`` are passed to it.
            summary: turns the result into what is logged (bounded by default).
            isolate: run a synchronous ``fn`` in the runner's worker processes (in a thread
                when the runner has none: ``RuntimeConfig.tool_processes == 0``).

        Raises:
            ToolNotAllowedError: the agent may not call ``name``.
            Exception: whatever ``fn`` raised on the last attempt.
        """
        if self.agent.tools and name not in self.agent.tools:
            error = ToolNotAllowedError(f"tool: {self.agent.name} may not call {name!r}")
            await self.actions.log_error(self.correlation_id, error, {"tool_name": name})
            raise error
        delays = self.retry.delays()
        attempt = 0
        while True:
            attempt += 1
            try:
                async with self.actions.tool_call(
                    name, params, correlation_id=self.correlation_id
                ) as call:
                    workers = self.runner.workers
                    if inspect.iscoroutinefunction(fn):
                        value = await fn(*args, **kwargs)
                    elif isolate and workers is not None:
                        value = await workers.run(fn, *args, **kwargs)
                    else:
                        value = await asyncio.to_thread(fn, *args, **kwargs)
                    call.result = summary(value)
            except Exception as exc:
                delay = next(delays, None) if is_retriable(exc) else None
                if delay is None:
                    await self.actions.log_error(
                        self.correlation_id,
                        exc,
                        {
                            "tool_name": name,
                            "attempts": attempt,
                            "final": True,
                            "retriable": is_retriable(exc),
                        },
                    )
                    raise
                await self.decide(
                    f"retry {name} (attempt {attempt + 1} of {self.retry.max_attempts})",
                    tool_name=name,
                    attempt=attempt + 1,
                    delay_s=round(delay, 3),
                    error_type=type(exc).__name__,
                )
                await asyncio.sleep(delay)
                continue
            return value

    async def decide(self, decision: str, **details: Any) -> None:
        """Record a choice the agent made (a ``decision`` action)."""
        await self.actions.log_decision(self.correlation_id, decision, details)

    async def progress(self, stage: str, percent: float) -> None:
        """Record that the execution reached ``stage`` (``percent`` of 100)."""
        if self.execution.is_open:
            await self.execution.progress(stage, percent)

    async def transform(
        self, target: str, *, reason: str, route: RouteResult | None = None
    ) -> dict[str, Any]:
        """Hand the request over to another agent within this execution; return its result.

        Publishes ``transformation_start``, then ``transformation_complete`` or
        ``transformation_failed`` (same correlation id), with a routing decision and a manifest
        for the target.
        """
        return await self.runner.transform(self, target, reason=reason, route=route)

    async def run_parallel(self, tasks: Sequence[tuple[str, str]]) -> list[ExecutionState]:
        """Run ``(agent, prompt)`` pairs in parallel as child executions of this one.

        Returns:
            The children's final states (a failed child does not raise here).
        """
        return await self.runner.run_children(self, tasks)
