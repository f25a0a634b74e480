"""``polymorphic-agent``: the general agent that becomes the right specialised one.

What it does with a request, in order:

1. the request names several agents (``agents``) → run them in parallel as child executions;
2. the prompt has several parts ("... and ...", "...; ...") that route confidently to
   different agents → run those in parallel;
3. the router (without this agent) has a candidate at ``transform_min_confidence`` or more →
   transform into it (transformation events, same execution);
4. otherwise → answer with an overview of the workspace.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from omniclaude.events import ExecutionStatus
from omniclaude.routing.router import RouteResult
from omniclaude.routing.signals import analyze
from omniclaude.runtime.agents._common import count_tree, list_files, target_path
from omniclaude.runtime.context import AgentContext
from omniclaude.runtime.models import ChildExecutionError

__all__ = ["run", "split_request"]

_SPLIT = re.compile(r"\s*(?:;|\band then\b|\bthen\b|\band also\b|\balso\b|\band\b)\s*", re.I)
_MIN_TERMS = 2


def split_request(prompt: str) -> list[str]:
    """Split a multi-part request into parts with at least two content words each."""
    parts = [p.strip(" ,.") for p in _SPLIT.split(prompt)]
    return [p for p in parts if len(analyze(p).terms) >= _MIN_TERMS]


async def _fan_out(ctx: AgentContext, tasks: list[tuple[str, str]], why: str) -> dict[str, Any]:
    await ctx.decide(f"fan out to {len(tasks)} agents: {why}", agents=[a for a, _ in tasks])
    states = await ctx.run_parallel(tasks)
    children: list[dict[str, Any]] = [
        {"agent": s.agent_name, "correlation_id": str(s.correlation_id), "status": s.status,
         "summary": (s.result or {}).get("summary"), "error": s.error}
        for s in states
    ]  # fmt: skip
    failed = [c for c in children if c["status"] != ExecutionStatus.SUCCESS]
    if failed:
        names = ", ".join(
            f"{c['agent']} ({c['error']['type'] if c['error'] else c['status']})" for c in failed
        )
        raise ChildExecutionError(
            f"agents: {len(failed)} of {len(children)} child executions failed: {names}"
        )
    return {
        "children": children,
        "results": {str(s.agent_name): s.result for s in states},
        "summary": f"{len(children)} agents ran in parallel: "
        + "; ".join(f"{c['agent']}: {c['summary']}" for c in children),
    }


def _as_transformation(route: RouteResult) -> RouteResult | None:
    """The route to transform by: the router's choice, or its best candidate after a fallback."""
    if not route.is_fallback:
        return replace(route, strategy="transformation")
    if not route.alternatives:
        return None
    best, *rest = route.alternatives
    return replace(
        route,
        selected=best.agent,
        confidence=best.confidence,
        strategy="transformation",
        is_fallback=False,
        chosen=best,
        alternatives=tuple(rest),
        reasoning=(
            f"polymorphic re-route: {best.agent!r} at {best.confidence:.2f} ({best.reason()})"
        ),
    )


async def run(ctx: AgentContext) -> dict[str, Any]:
    """Handle a request no specialised agent was chosen for (see the module docstring)."""
    if ctx.request.agents:
        return await _fan_out(
            ctx, [(a, ctx.prompt) for a in ctx.request.agents], "the request named them"
        )
    me = {ctx.agent.name}
    parts = split_request(ctx.prompt)
    if len(parts) > 1:
        routes = [(ctx.router.route(p, ctx.context, exclude=me), p) for p in parts]
        tasks = [(r.selected, p) for r, p in routes if not r.is_fallback]
        if len({a for a, _ in tasks}) >= _MIN_TERMS:
            return await _fan_out(ctx, tasks, "the request has several parts")
    route = _as_transformation(ctx.router.route(ctx.prompt, ctx.context, exclude=me))
    threshold = ctx.runner.config.transform_min_confidence
    if route is not None and route.confidence >= threshold:
        await ctx.decide(f"transform into {route.selected}", confidence=round(route.confidence, 4))
        return await ctx.transform(route.selected, reason=route.reasoning, route=route)
    await ctx.decide("no specialised agent fits: report a workspace overview", threshold=threshold)
    files = await list_files(ctx, target_path(ctx))
    counted = await count_tree(ctx, files)
    return {
        "overview": {
            "files": len(files),
            "languages": counted["languages"],
            "lines": counted["lines"],
        },
        "summary": f"no specialised agent fits this request; the workspace has {len(files)} files",
    }
