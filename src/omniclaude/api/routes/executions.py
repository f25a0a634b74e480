"""``POST /execute``, ``GET /executions/{correlation_id}`` and ``GET /executions``."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from omniclaude.api.deps import IngestKey, Pool, ReadKey, State, http_error
from omniclaude.api.errors import ERROR_RESPONSES
from omniclaude.api.params import QueryAgent, QueryCursor, QueryId, QueryInstant, QuerySearch
from omniclaude.api.schemas import (
    ErrorResponse,
    ExecuteRequest,
    ExecuteResponse,
    ExecutionList,
    ExecutionStatusName,
    ExecutionView,
)
from omniclaude.api.state import ApiState
from omniclaude.runtime import ExecutionRequest, ExecutionState, compile_user_pattern
from omniclaude.storage import queries

__all__ = ["router"]

router = APIRouter(tags=["executions"], responses=ERROR_RESPONSES)

_FROM_DB = {
    "in_progress": "running",
    "success": "completed",
    "failed": "failed",
    "cancelled": "cancelled",
}
_TO_DB = {view: db for db, view in _FROM_DB.items()}


def _check_paths(state: ApiState, context: dict[str, Any]) -> None:
    files = context.get("files")
    if files is not None:
        if not isinstance(files, list):
            raise http_error(422, "body.context.files", "must be a list of relative paths")
        for index, item in enumerate(files):
            field = f"body.context.files[{index}]"
            if not isinstance(item, str):
                raise http_error(422, field, "must be a string")
            state.runner.workspace.resolve(item, field=field)
    path = context.get("path")
    if path is not None:
        if not isinstance(path, str):
            raise http_error(422, "body.context.path", "must be a string")
        state.runner.workspace.resolve(path, field="body.context.path")


def _check_pattern(context: dict[str, Any]) -> None:
    """A ``query`` sent as a regular expression must compile in RE2 (linear-time matching)."""
    query = context.get("query")
    if context.get("regex") and isinstance(query, str) and query:
        compile_user_pattern(query, field="body.context.query")


def _check_agents(state: ApiState, body: ExecuteRequest) -> None:
    if body.agent and body.agents:
        raise http_error(422, "body.agents", "give either agent or agents, not both")
    names = [("body.agent", body.agent)] if body.agent else []
    names += [(f"body.agents[{i}]", name) for i, name in enumerate(body.agents)]
    for field, name in names:
        if name not in state.registry:
            known = ", ".join(state.registry.names)
            raise http_error(422, field, f"unknown agent {name!r} (known: {known})")


@router.post(
    "/execute",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ExecuteResponse,
    responses={409: {"model": ErrorResponse, "description": "correlation_id already used"}},
)
async def execute(
    body: ExecuteRequest, state: State, response: Response, _: IngestKey
) -> dict[str, Any]:
    """Start an execution and return its ``correlation_id`` at once (202). The agent runs in
    the background with a timeout; poll ``GET /executions/{correlation_id}``. Needs ``ingest``."""
    _check_agents(state, body)
    _check_paths(state, body.context)
    _check_pattern(body.context)
    cid = body.correlation_id or uuid.uuid4()
    if body.correlation_id is not None:
        taken = state.runner.get(cid) is not None
        if not taken and state.pool is not None:
            taken = await queries.get_execution(state.pool, cid) is not None
        if taken:
            raise http_error(
                409, "body.correlation_id", f"{cid} is already used by another execution"
            )
    request = ExecutionRequest(
        user_prompt=body.user_prompt,
        context=body.context,
        agent=state.registry.resolve_name(body.agent) if body.agent else None,
        agents=tuple(state.registry.resolve_name(a) or a for a in body.agents),
        session_id=body.session_id,
        parent_correlation_id=body.parent_correlation_id,
        timeout_s=body.timeout_s,
        max_attempts=body.max_attempts,
    )
    state.runner.submit(request, correlation_id=cid)
    location = f"/executions/{cid}"
    response.headers["Location"] = location
    return {
        "correlation_id": cid,
        "status": "running",
        "links": {"self": location, "trace": f"/traces/{cid}"},
    }


_RECORDING = "recording events"
"""``progress_stage`` of an execution that ended while some of its events are not stored yet."""


def _in_flight(view: dict[str, Any]) -> dict[str, Any]:
    """Report an ended execution as running while its events are still on their way."""
    return {
        **view,
        "status": "running",
        "completed_at": None,
        "duration_ms": None,
        "result": None,
        "error": None,
        "progress_stage": _RECORDING,
    }


async def _settle(pool: Any, runner: Any, live: ExecutionState) -> dict[str, Any]:
    """Check whether every event ``live`` emitted is stored (and its children's); mark it
    ``readable`` when so. Returns ``{"emitted", "stored", "pending": {table: missing}}``."""
    emitted = Counter(table for table, _ in live.emitted)
    stored = await queries.stored_events(
        pool, live.correlation_id, [event_id for _, event_id in live.emitted]
    )
    pending = {t: n - stored.get(t, 0) for t, n in emitted.items() if n > stored.get(t, 0)}
    children_ready = True
    for child_id in live.children:
        child = runner.get(child_id)
        if child is not None and not child.readable:
            if not child.done:
                children_ready = False
                continue
            await _settle(pool, runner, child)
            children_ready = children_ready and child.readable
    if live.done and not pending and children_ready:
        live.readable = True
    return {"emitted": sum(emitted.values()), "stored": sum(stored.values()), "pending": pending}


def _from_database(row: dict[str, Any], children: list[dict[str, Any]]) -> dict[str, Any]:
    error = None
    if row.get("error_type") or row.get("error_message"):
        error = {"type": row.get("error_type"), "message": row.get("error_message")}
    return {
        **{
            k: row.get(k)
            for k in (
                "correlation_id",
                "agent_name",
                "user_prompt",
                "parent_correlation_id",
                "created_at",
                "completed_at",
                "duration_ms",
                "result",
                "session_id",
                "quality_score",
                "progress_stage",
                "progress_percent",
            )
        },
        "status": _FROM_DB.get(row["status"], "running"),
        "error": error,
        "children": [
            {
                "correlation_id": c["correlation_id"],
                "agent_name": c["agent_name"],
                "status": _FROM_DB.get(c["status"], "running"),
            }
            for c in children
        ],
        "source": "database",
    }


@router.get(
    "/executions/{correlation_id}",
    response_model=ExecutionView,
    responses={404: {"model": ErrorResponse}},
)
async def get_execution(correlation_id: uuid.UUID, state: State, _: ReadKey) -> dict[str, Any]:
    """Where an execution stands (``running``, ``completed``, ``failed``, ``cancelled``) and,
    once it ended, its ``result`` (the code analyzer's holds ``analysis``) or ``error``.

    Finished means readable: an execution is reported ended only once every event it
    emitted (and its children's) is stored, so ``GET /traces/{id}`` then holds all of them.
    Until then it is ``running`` with ``progress_stage: "recording events"``, and ``events``
    says what is in flight: ``{"emitted": N, "stored": M, "pending": {table: missing}}``.
    Needs ``read``."""
    live = state.runner.get(correlation_id)
    if live is not None:
        view = live.as_json()
        view["children"] = [
            {
                "correlation_id": str(c),
                "agent_name": s.agent_name if s else None,
                "status": s.status if s else "running",
            }
            for c in live.children
            for s in [state.runner.get(c)]
        ]
        view["source"] = "live"
        if live.done and state.pool is not None:
            view["events"] = await _settle(state.pool, state.runner, live)
            if not live.readable:
                return _in_flight(view)
        return view
    if state.pool is not None:
        row = await queries.get_execution(state.pool, correlation_id)
        if row is not None:
            children = await queries.list_children(state.pool, correlation_id)
            view = _from_database(row, children)
            if view["status"] == "running":
                return view
            expected = await queries.final_event_count(state.pool, correlation_id)
            stored = sum((await queries.stored_events(state.pool, correlation_id)).values())
            view["events"] = {"emitted": expected, "stored": stored, "pending": {}}
            if expected is not None and stored < expected:
                return _in_flight(view)
            return view
    raise http_error(404, "correlation_id", f"no execution {correlation_id}")


@router.get("/executions", response_model=ExecutionList)
async def list_executions(
    *,
    pool: Pool,
    _: ReadKey,
    agent: QueryAgent | None = None,
    status_: Annotated[ExecutionStatusName | None, Query(alias="status")] = None,
    since: Annotated[
        QueryInstant | None, Query(description="Default: 24 hours before until.")
    ] = None,
    until: Annotated[QueryInstant | None, Query(description="Default: now.")] = None,
    parent_correlation_id: uuid.UUID | None = None,
    session_id: QueryId | None = None,
    q: Annotated[QuerySearch | None, Query(description="Text in the prompt.")] = None,
    top_level: bool = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: QueryCursor | None = None,
) -> dict[str, Any]:
    """Executions, newest first, filtered by agent, status, time range (the last 24 hours by
    default), parent, session or prompt text; paginate with ``next_cursor``. Every parameter
    is validated before the query (:mod:`omniclaude.api.params`): a bad one is a 422 naming
    it. Needs ``read``."""
    filters = queries.ExecutionFilter(
        agent=agent,
        status=_TO_DB[status_] if status_ else None,
        since=since,
        until=until,
        parent=parent_correlation_id,
        session_id=session_id,
        search=q,
        top_level=top_level,
    )
    window_since, window_until = filters.window()
    if window_since > window_until:
        raise http_error(422, "query.since", "must not be after until")
    try:
        page = await queries.list_executions(pool, filters, limit=limit, cursor=cursor)
    except queries.InvalidCursorError as exc:
        raise http_error(422, "query.cursor", "not a cursor returned by this API") from exc
    for item in page.items:
        item["status"] = _FROM_DB.get(item["status"], item["status"])
    return {
        "items": page.items,
        "next_cursor": page.next_cursor,
        "since": window_since,
        "until": window_until,
    }
