"""``POST /route``: choose an agent for a prompt and publish the routing decision."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter

from omniclaude.api.deps import IngestKey, State, http_error
from omniclaude.api.errors import ERROR_RESPONSES
from omniclaude.api.schemas import RouteRequest, RouteResponse

__all__ = ["router"]

router = APIRouter(tags=["routing"], responses=ERROR_RESPONSES)


@router.post("/route", response_model=RouteResponse)
async def route(body: RouteRequest, state: State, _: IngestKey) -> dict[str, Any]:
    """Rank the agents for ``user_prompt`` and return the choice with its confidence, the
    alternatives and the reasoning; the decision is published as a routing decision event.
    Needs ``ingest``."""
    for index, name in enumerate(body.exclude):
        if name not in state.registry:
            raise http_error(422, f"body.exclude[{index}]", f"unknown agent {name!r}")
    result = state.router.route(body.user_prompt, body.context, exclude=body.exclude)
    state.metrics.routing.labels(result.strategy).inc()
    state.metrics.routing_latency.observe(result.routing_time_ms / 1000)
    cid = body.correlation_id or uuid.uuid4()
    event = await state.runner.publisher.publish(
        result.to_event(
            correlation_id=cid,
            user_request=body.user_prompt,
            context=body.context,
            session_id=body.session_id,
            parent_correlation_id=body.parent_correlation_id,
        )
    )
    return {
        "correlation_id": cid,
        "event_id": event.event_id,
        "selected_agent": result.selected,
        "confidence": result.confidence,
        "routing_strategy": result.strategy,
        "is_fallback": result.is_fallback,
        "reasoning": result.reasoning,
        "alternatives": [
            {"agent_name": c.agent, "confidence": c.confidence, "reason": c.reason()}
            for c in result.alternatives
        ],
        "matched_triggers": list(result.chosen.matched_triggers) if result.chosen else [],
        "routing_time_ms": result.routing_time_ms,
        "cache_hit": result.cache_hit,
    }
