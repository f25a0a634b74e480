"""The agent runtime: route, build the manifest, run the agent, record everything.

One execution, step by step:

1. route the request (or take the agent it names) and publish the routing decision;
2. ``AgentExecutionLogger.start`` (the execution is now open, and always gets closed);
3. log the selection as a ``decision``; build the manifest within its time budget and
   publish the manifest injection, linked to the routing decision;
4. run the agent's callable under the execution timeout (its tool calls, decisions,
   transformations and child executions are logged as they happen);
5. ``log_success`` + ``complete(result)``, or ``log_error`` (``final``) + ``fail(error)``;
   a cancellation is completed as ``cancelled``.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
import uuid
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from omniclaude._lifecycle import AsyncStartStop
from omniclaude.events import ExecutionStatus, TransformationPhase, utc_now
from omniclaude.logs import bind
from omniclaude.publishing.loggers import ActionLogger, AgentExecutionLogger
from omniclaude.publishing.publishers import EventPublisher
from omniclaude.publishing.sinks.base import EventSink
from omniclaude.routing.registry import AgentDefinition, AgentRegistry, resolve_entrypoint
from omniclaude.routing.router import Router, RouteResult
from omniclaude.runtime.context import AgentContext, summarize
from omniclaude.runtime.isolation import WorkerPool
from omniclaude.runtime.manifest import MANIFEST_VERSION, ManifestBuilder
from omniclaude.runtime.models import (
    ExecutionRequest,
    ExecutionState,
    ExecutionTimeoutError,
    RuntimeConfig,
)
from omniclaude.runtime.recording import RecordingSink
from omniclaude.runtime.workspace import Workspace

__all__ = ["AgentRunner", "requested_route"]

RecentLoader = Callable[[str], Awaitable[list[dict[str, Any]]]]

log = logging.getLogger(__name__)


def requested_route(
    agent: str, *, strategy: str = "requested", reasoning: str | None = None
) -> RouteResult:
    """A routing result for an agent the caller chose (confidence 1)."""
    return RouteResult(
        selected=agent,
        confidence=1.0,
        strategy=strategy,
        is_fallback=False,
        reasoning=reasoning or f"the request asked for {agent!r}",
        alternatives=(),
        chosen=None,
        routing_time_ms=0.0,
    )


class AgentRunner(AsyncStartStop):
    """Runs agents for requests and remembers recent executions.

    Args:
        registry: the agents.
        router: the router over that registry.
        sink: where every event goes (started by the caller).
        workspace: the code tree agents read.
        config: timeouts, retries, manifest budget.
        recent: loads an agent's recent successful executions for its manifest (None: skipped).
    """

    def __init__(
        self,
        *,
        registry: AgentRegistry,
        router: Router,
        sink: EventSink,
        workspace: Workspace,
        config: RuntimeConfig | None = None,
        recent: RecentLoader | None = None,
    ) -> None:
        self.registry = registry
        self.router = router
        self.sink = RecordingSink(sink, self.get, public_text=workspace.hide_paths)
        """``sink``, noting in each execution's state the events sent for it (their error
        texts with no absolute server path)."""
        self.workspace = workspace
        self.config = config or RuntimeConfig()
        self.publisher = EventPublisher(self.sink)
        self.workers: WorkerPool | None = (
            WorkerPool(max_workers=self.config.tool_processes)
            if self.config.tool_processes
            else None
        )
        """Processes for isolated tools (``AgentContext.tool(..., isolate=True)``)."""
        self.manifests = ManifestBuilder(
            workspace,
            recent=recent,
            timeout_s=self.config.manifest_timeout_s,
            workers=self.workers,
        )
        self.stats: Counter[str] = Counter()
        self._states: OrderedDict[uuid.UUID, ExecutionState] = OrderedDict()
        self._tasks: set[asyncio.Task[ExecutionState]] = set()
        self._parallel = asyncio.Semaphore(self.config.max_parallel)

    # ------------------------------------------------------------------ bookkeeping
    def get(self, correlation_id: uuid.UUID) -> ExecutionState | None:
        """Return what this runner knows of an execution, or None."""
        return self._states.get(correlation_id)

    def _track(self, state: ExecutionState) -> ExecutionState:
        self._states[state.correlation_id] = state
        while len(self._states) > self.config.max_tracked:
            oldest, old = next(iter(self._states.items()))
            if not old.done:
                break
            del self._states[oldest]
        return state

    @property
    def running(self) -> int:
        """Executions started by :meth:`submit` and not finished."""
        return len(self._tasks)

    # ------------------------------------------------------------------ entry points
    def submit(
        self, request: ExecutionRequest, *, correlation_id: uuid.UUID | None = None
    ) -> ExecutionState:
        """Start an execution in the background and return its (running) state at once."""
        cid = correlation_id or uuid.uuid4()
        state = self._track(
            ExecutionState(
                cid, request.user_prompt, parent_correlation_id=request.parent_correlation_id
            )
        )
        task = asyncio.create_task(self._execute(request, state), name=f"execution-{cid}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return state

    async def run(
        self, request: ExecutionRequest, *, correlation_id: uuid.UUID | None = None
    ) -> ExecutionState:
        """Run an execution to its end and return its final state."""
        cid = correlation_id or uuid.uuid4()
        state = self._track(
            ExecutionState(
                cid, request.user_prompt, parent_correlation_id=request.parent_correlation_id
            )
        )
        return await self._execute(request, state)

    async def start(self) -> None:
        """Start a tool worker process ahead of the first execution (optional: the first
        isolated tool call starts one otherwise)."""
        if self.workers is not None:
            await self.workers.start()

    async def stop(self, timeout_s: float = 5.0) -> None:
        """Cancel running executions (each is recorded as ``cancelled``), wait for them, and
        stop the tool worker processes. Idempotent."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=timeout_s)
        if self.workers is not None:
            await self.workers.stop()

    # ------------------------------------------------------------------ one execution
    def _route(self, request: ExecutionRequest) -> RouteResult:
        if request.agents:
            fallback = self.router.config.fallback_agent
            return requested_route(
                fallback,
                strategy="parallel",
                reasoning=f"the request asked for {len(request.agents)} agents in parallel",
            )
        if request.agent:
            return requested_route(self.registry.require(request.agent).name)
        return self.router.route(request.user_prompt, request.context)

    async def _execute(self, request: ExecutionRequest, state: ExecutionState) -> ExecutionState:
        """Run one execution; if even recording fails (the sink is broken), say so in the state."""
        self.stats["started"] += 1
        try:
            with bind(correlation_id=state.correlation_id):  # on every line of this execution
                return await self._run_recorded(request, state)
        except asyncio.CancelledError:
            if not state.done:
                state.status, state.completed_at = ExecutionStatus.CANCELLED, utc_now()
            raise
        except Exception as exc:  # the sink failed: nothing more can be recorded
            log.exception("execution %s could not be recorded", state.correlation_id)
            if not state.done:
                state.status, state.completed_at = ExecutionStatus.FAILED, utc_now()
                message = self.workspace.hide_paths(f"recording failed: {exc}")
                state.error = {"type": type(exc).__name__, "message": message}
            self.stats["unrecorded"] += 1
            return state

    async def _run_recorded(
        self, request: ExecutionRequest, state: ExecutionState
    ) -> ExecutionState:
        cid = state.correlation_id
        try:
            route = self._route(request)
            decision = await self.publisher.publish(
                route.to_event(
                    correlation_id=cid,
                    user_request=request.user_prompt,
                    context=request.context,
                    session_id=request.session_id,
                    parent_correlation_id=request.parent_correlation_id,
                )
            )
            agent = self.registry.require(route.selected)
        except Exception as exc:  # noqa: BLE001 - recorded as the execution's failure
            return await self._fail_before_start(request, state, exc)
        state.agent_name = agent.name
        state.routing = {
            "selected_agent": agent.name,
            "confidence": route.confidence,
            "strategy": route.strategy,
        }
        execution = AgentExecutionLogger(sink=self.sink)
        await execution.start(
            agent.name,
            request.user_prompt,
            cid,
            parent_correlation_id=request.parent_correlation_id,
            session_id=request.session_id,
            metadata={"routing_strategy": route.strategy, "routing_confidence": route.confidence},
        )
        actions = ActionLogger(sink=self.sink, agent_name=agent.name)
        timeout = request.timeout_s or agent.timeout_s or self.config.default_timeout_s
        try:
            async with asyncio.timeout(timeout):
                await actions.log_decision(
                    cid,
                    f"selected agent {agent.name}",
                    {
                        "confidence": route.confidence,
                        "strategy": route.strategy,
                        "alternatives": [c.agent for c in route.alternatives],
                        "reasoning": route.reasoning,
                    },
                )
                output = await self._invoke(agent, request, state, execution, decision.event_id)
        except TimeoutError as exc:
            error = ExecutionTimeoutError(f"timeout_s: the execution exceeded {timeout:g} s")
            error.__cause__ = exc
            return await self._record_failure(state, execution, actions, error)
        except asyncio.CancelledError:
            await self._record_cancel(state, execution, actions)
            raise
        except Exception as exc:  # noqa: BLE001 - every failure is recorded, then reported
            return await self._record_failure(state, execution, actions, exc)
        await actions.log_success(
            cid, f"{agent.name} completed", {"summary": output.get("summary")}
        )
        await execution.complete(
            result=output, quality_score=_quality(output), event_count=len(state.emitted) + 1
        )
        state.status, state.result, state.completed_at = ExecutionStatus.SUCCESS, output, utc_now()
        self.stats["success"] += 1
        return state

    async def _invoke(
        self,
        agent: AgentDefinition,
        request: ExecutionRequest,
        state: ExecutionState,
        execution: AgentExecutionLogger,
        routing_decision_id: uuid.UUID | None,
    ) -> dict[str, Any]:
        """Build and publish the manifest, then run ``agent``'s callable; return its result."""
        cid = state.correlation_id
        manifest = await self.manifests.build(agent, request.user_prompt, request.context)
        await self.publisher.manifest_injection(
            cid,
            agent_name=agent.name,
            sections=manifest.sections,
            total_query_time_ms=manifest.total_ms,
            is_fallback=manifest.is_fallback,
            manifest_version=MANIFEST_VERSION,
            generation_source="omniclaude.runtime",
            manifest_size_bytes=manifest.size_bytes,
            routing_decision_id=routing_decision_id,
            warnings=manifest.warnings,
            query_failures=manifest.failures,
            session_id=request.session_id,
        )
        retry = self.config.retry
        if request.max_attempts is not None:
            retry = retry.with_attempts(request.max_attempts)
        elif agent.max_retries is not None:
            retry = retry.with_attempts(agent.max_retries + 1)
        ctx = AgentContext(
            runner=self,
            agent=agent,
            request=request,
            correlation_id=cid,
            manifest=manifest,
            actions=ActionLogger(sink=self.sink, agent_name=agent.name),
            execution=execution,
            state=state,
            retry=retry,
            routing_decision_id=routing_decision_id,
        )
        fn = resolve_entrypoint(agent.entrypoint)
        value = fn(ctx)
        if inspect.isawaitable(value):
            value = await value
        if isinstance(value, Mapping):
            return dict(value)
        return {"value": summarize(value)}

    async def _fail_before_start(
        self, request: ExecutionRequest, state: ExecutionState, exc: Exception
    ) -> ExecutionState:
        """Routing itself failed: still open and close an execution so it is on record."""
        execution = AgentExecutionLogger(sink=self.sink)
        name = request.agent or self.router.config.fallback_agent
        await execution.start(
            name,
            request.user_prompt,
            state.correlation_id,
            parent_correlation_id=request.parent_correlation_id,
        )
        actions = ActionLogger(sink=self.sink, agent_name=name)
        state.agent_name = name
        return await self._record_failure(state, execution, actions, exc)

    async def _record_failure(
        self,
        state: ExecutionState,
        execution: AgentExecutionLogger,
        actions: ActionLogger,
        error: BaseException,
    ) -> ExecutionState:
        await actions.log_error(state.correlation_id, error, {"final": True, "stage": "execution"})
        if execution.is_open:
            await execution.fail(error, event_count=len(state.emitted) + 1)
        state.status, state.completed_at = ExecutionStatus.FAILED, utc_now()
        state.error = {
            "type": type(error).__name__,
            "message": self.workspace.hide_paths(str(error)),
        }
        self.stats["failed"] += 1
        return state

    async def _record_cancel(
        self, state: ExecutionState, execution: AgentExecutionLogger, actions: ActionLogger
    ) -> None:
        state.status, state.completed_at = ExecutionStatus.CANCELLED, utc_now()
        state.error = {"type": "CancelledError", "message": "the execution was cancelled"}
        self.stats["cancelled"] += 1
        try:
            await actions.log_error(state.correlation_id, "execution cancelled", {"final": True})
            if execution.is_open:
                await execution.complete("cancelled", event_count=len(state.emitted) + 1)
        except Exception:  # noqa: BLE001 - shutting down: the sink may be gone
            return

    # ------------------------------------------------------------------ transformation
    async def transform(
        self, ctx: AgentContext, target: str, *, reason: str, route: RouteResult | None = None
    ) -> dict[str, Any]:
        """Turn the agent of ``ctx`` into ``target`` within the same execution (see
        :meth:`AgentContext.transform`)."""
        agent = self.registry.require(target, field="target_agent")
        cid = ctx.correlation_id
        route = route or requested_route(agent.name, strategy="transformation")
        started = time.perf_counter()
        common: dict[str, Any] = {
            "target_agent": agent.name,
            "source_agent": ctx.agent.name,
            "transformation_reason": reason,
            "confidence": round(route.confidence, 4),
            "routing_strategy": route.strategy,
            "user_request": ctx.prompt,
            "session_id": ctx.request.session_id,
        }
        begun = await self.publisher.transformation(cid, phase=TransformationPhase.START, **common)
        decision = await self.publisher.publish(
            route.to_event(
                correlation_id=cid,
                user_request=ctx.prompt,
                context=ctx.context,
                session_id=ctx.request.session_id,
                parent_correlation_id=ctx.request.parent_correlation_id,
            )
        )
        await ctx.decide(f"transform into {agent.name}", reason=reason, confidence=route.confidence)
        try:
            output = await self._invoke(
                agent, ctx.request, ctx.state, ctx.execution, decision.event_id
            )
        except Exception as exc:
            await self.publisher.transformation(
                cid,
                phase=TransformationPhase.FAILED,
                success=False,
                error_type=type(exc).__name__,
                error_message=str(exc),
                duration_ms=(time.perf_counter() - started) * 1000,
                parent_event_id=begun.event_id,
                **common,
            )
            raise
        await self.publisher.transformation(
            cid,
            phase=TransformationPhase.COMPLETE,
            success=True,
            duration_ms=(time.perf_counter() - started) * 1000,
            parent_event_id=begun.event_id,
            **common,
        )
        ctx.state.routing = {**(ctx.state.routing or {}), "transformed_into": agent.name}
        return {**output, "transformed_from": ctx.agent.name, "agent": agent.name}

    # ------------------------------------------------------------------ parallel children
    async def run_children(
        self, ctx: AgentContext, tasks: Sequence[tuple[str, str]]
    ) -> list[ExecutionState]:
        """Run ``(agent, prompt)`` pairs in parallel as children of ``ctx``'s execution."""
        for agent, _ in tasks:
            self.registry.require(agent, field="agents")
        states = []
        for agent, prompt in tasks:
            child = self._track(
                ExecutionState(
                    uuid.uuid4(), prompt, agent_name=agent, parent_correlation_id=ctx.correlation_id
                )
            )
            ctx.state.children.append(child.correlation_id)
            states.append((agent, prompt, child))
        await ctx.decide(
            f"run {len(tasks)} agents in parallel",
            agents=[a for a, _, _ in states],
            children=[str(s.correlation_id) for _, _, s in states],
        )

        async def one(agent: str, prompt: str, child: ExecutionState) -> ExecutionState:
            request = ctx.request.model_copy(
                update={
                    "user_prompt": prompt,
                    "agent": agent,
                    "agents": (),
                    "parent_correlation_id": ctx.correlation_id,
                }
            )
            async with self._parallel:
                return await self._execute(request, child)

        return list(await asyncio.gather(*(one(a, p, s) for a, p, s in states)))


def _quality(output: Mapping[str, Any]) -> float | None:
    score = output.get("quality_score")
    if isinstance(score, int | float) and 0 <= score <= 1:
        return float(score)
    return None
