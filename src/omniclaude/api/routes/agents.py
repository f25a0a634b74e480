"""``GET /agents``: the agent registry."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from omniclaude.api.deps import ReadKey, State
from omniclaude.api.errors import ERROR_RESPONSES
from omniclaude.api.schemas import AgentList

__all__ = ["router"]

router = APIRouter(tags=["agents"], responses=ERROR_RESPONSES)


@router.get("/agents", response_model=AgentList)
async def list_agents(state: State, _: ReadKey) -> dict[str, Any]:
    """The registered agents (name, description, domain, triggers, capabilities, tools) and
    any definition that failed to load, with its path and field. Needs ``read``."""
    return {
        "agents": [agent.summary() for agent in sorted(state.registry, key=lambda a: a.name)],
        "problems": [
            {"field": f"{p.path}: {p.field}", "message": p.message} for p in state.registry.problems
        ],
    }
