"""``GET /traces/{correlation_id}``: everything recorded for one execution, in time order."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter

from omniclaude.api.deps import Pool, ReadKey, http_error
from omniclaude.api.errors import ERROR_RESPONSES
from omniclaude.api.schemas import ErrorResponse, TraceResponse
from omniclaude.storage import queries

__all__ = ["router"]

router = APIRouter(tags=["traces"], responses=ERROR_RESPONSES)


@router.get(
    "/traces/{correlation_id}",
    response_model=TraceResponse,
    responses={404: {"model": ErrorResponse}},
)
async def get_trace(correlation_id: uuid.UUID, pool: Pool, _: ReadKey) -> dict[str, Any]:
    """The complete trace: the execution, its lifecycle, routing decisions, manifest
    injections, transformations, actions and LLM calls (each in the order they began; every
    row has ``started_at`` and ``created_at``, when it ended), a merged ``timeline``, and the
    child executions' traces nested under ``children``. Needs ``read``."""
    trace = await queries.get_trace(pool, correlation_id)
    if trace is None:
        raise http_error(404, "correlation_id", f"nothing recorded for {correlation_id}")
    return trace
