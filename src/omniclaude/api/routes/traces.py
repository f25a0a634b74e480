"""``GET /traces/{id}``: everything recorded for one execution; ``GET /traces/{id}/activity``:
what was stored for it since a cursor (a live view polls it)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from omniclaude.api.deps import Pool, ReadKey, State, http_error
from omniclaude.api.errors import ERROR_RESPONSES
from omniclaude.api.filters import IdText, resolve_path_id
from omniclaude.api.params import QueryCursor
from omniclaude.api.schemas import ErrorResponse
from omniclaude.storage import queries
from omniclaude.storage.queries import InvalidFilterError, Trace, TraceActivity, decode_cursor

__all__ = ["LIVE_POLL_MS", "router"]

router = APIRouter(tags=["traces"], responses=ERROR_RESPONSES)

LIVE_POLL_MS = 2000
"""How often a live view should ask again (the ``Retry-After``/``X-Poll-After-Ms`` hint)."""

_ID_ERRORS: dict[int | str, dict[str, object]] = {
    404: {"model": ErrorResponse, "description": "Nothing recorded for this id"},
    409: {"model": ErrorResponse, "description": "A short id that several ids start with"},
}


@router.get("/traces/{correlation_id}", response_model=Trace, responses=_ID_ERRORS)
async def get_trace(correlation_id: IdText, pool: Pool, _: ReadKey) -> Trace:
    """The complete trace: the execution, its lifecycle, routing decisions, manifest
    injections, transformations, actions and LLM calls (each in the order they began; every
    row has ``started_at`` and ``created_at``, when it ended), a merged ``timeline``, and the
    child executions' traces nested under ``children``. The id may be a short id (its first
    8+ hex digits); one that several ids start with is a 409 listing some. Needs ``read``."""
    cid = await resolve_path_id(pool, correlation_id)
    trace = await queries.get_trace(pool, cid)
    if trace is None:
        raise http_error(404, "path.correlation_id", f"nothing recorded for {cid}")
    return trace


@router.get(
    "/traces/{correlation_id}/activity",
    response_model=TraceActivity,
    responses={
        **_ID_ERRORS,
        429: {"model": ErrorResponse, "description": "Too many live views at once"},
    },
)
async def trace_activity(
    *,
    correlation_id: IdText,
    state: State,
    pool: Pool,
    _: ReadKey,
    response: Response,
    after: Annotated[
        QueryCursor | None, Query(description="The ``next_cursor`` of the previous answer.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> TraceActivity:
    """The rows stored for a trace (and its children) after ``after``, oldest first: poll it
    every ``X-Poll-After-Ms`` for a live view. ``running`` says whether to keep polling.
    At most a few of these run at once (429 with ``Retry-After`` beyond). Needs ``read``."""
    try:
        position = decode_cursor(after, "after") if after and after.strip() else None
    except InvalidFilterError as exc:
        raise http_error(422, "query.after", str(exc).partition(": ")[2]) from exc
    if state.live_readers.locked():
        raise http_error(429, "service", "too many live views; ask again later", **{
            "Retry-After": str(LIVE_POLL_MS // 1000),
        })  # fmt: skip
    async with state.live_readers:
        cid = await resolve_path_id(pool, correlation_id)
        activity = await queries.trace_activity(pool, cid, after=position, limit=limit)
    response.headers["X-Poll-After-Ms"] = str(LIVE_POLL_MS)
    return activity
