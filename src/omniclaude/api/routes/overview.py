"""``GET /overview`` and ``GET /usage``: figures over a window, from the read layer."""

from __future__ import annotations

from fastapi import APIRouter

from omniclaude.api.deps import Pool, ReadKey, State
from omniclaude.api.errors import ERROR_RESPONSES
from omniclaude.api.filters import UsageParams, WindowQuery
from omniclaude.api.ingest import consumer_metrics_url, fetch_ingest_figures
from omniclaude.api.schemas import OverviewResponse
from omniclaude.storage import queries
from omniclaude.storage.queries import UsageReport

__all__ = ["overview", "router"]

router = APIRouter(tags=["overview"], responses=ERROR_RESPONSES)


async def overview(state: State, pool: Pool, window: WindowQuery) -> OverviewResponse:
    """The overview of a window, with the consumer's figures (what the viewer shows)."""
    found = await queries.fetch_overview(pool, since=window.since, until=window.until)
    ingest = await fetch_ingest_figures(consumer_metrics_url(state.settings))
    return OverviewResponse(**dict(found), ingest=ingest)


@router.get("/overview", response_model=OverviewResponse)
async def get_overview(
    state: State, pool: Pool, window: WindowQuery, _: ReadKey
) -> OverviewResponse:
    """Activity per minute (the window's last hour), totals, recent errors, the slowest
    tools, agents' runs and routing confidence over the window (``range`` or
    ``since``/``until``; the last 24 hours by default), and the consumer's lag and dead
    letters. Needs ``read``."""
    return await overview(state, pool, window)


@router.get("/usage", response_model=UsageReport)
async def get_usage(pool: Pool, query: UsageParams, _: ReadKey) -> UsageReport:
    """LLM calls, tokens and cost over the window, one row per day (UTC), session, model,
    project or agent (``group_by``), and the total. Costs add up priced calls only;
    ``unpriced_calls`` says how many have no price. Needs ``read``."""
    return await queries.usage_report(pool, query)
