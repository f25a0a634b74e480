"""``POST /execute``, ``GET /executions/{correlation_id}`` and ``GET /executions``."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

from fastapi import APIRouter, Response, status

from omniclaude.api.deps import IngestKey, Pool, ReadKey, State, http_error
from omniclaude.api.errors import ERROR_RESPONSES
from omniclaude.api.filters import ExecutionQuery, IdText, PageQuery, resolve_path_id
from omniclaude.api.schemas import (
    ChildSummary,
    ErrorResponse,
    EventCounts,
    ExecuteRequest,
    ExecuteResponse,
    ExecutionError,
    ExecutionList,
    ExecutionView,
)
from omniclaude.api.state import ApiState
from omniclaude.events import ExecutionStatus
from omniclaude.runtime import ExecutionRequest, ExecutionState, compile_user_pattern
from omniclaude.storage import queries
from omniclaude.storage.queries import ExecutionRow, ExecutionSummary

__all__ = ["router"]

router = APIRouter(tags=["executions"], responses=ERROR_RESPONSES)


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
) -> ExecuteResponse:
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
    return ExecuteResponse(
        correlation_id=cid,
        status=ExecutionStatus.IN_PROGRESS,
        links={"self": location, "trace": f"/traces/{cid}"},
    )


_RECORDING = "recording events"
"""``progress_stage`` of an execution that ended while some of its events are not stored yet."""


def _in_flight(view: ExecutionView) -> ExecutionView:
    """Report an ended execution as in progress while its events are still on their way."""
    return view.model_copy(
        update={
            "status": ExecutionStatus.IN_PROGRESS,
            "completed_at": None,
            "duration_ms": None,
            "result": None,
            "error": None,
            "progress_stage": _RECORDING,
        }
    )


async def _settle(pool: Any, runner: Any, live: ExecutionState) -> EventCounts:
    """Check whether every event ``live`` emitted is stored (and its children's); mark it
    ``readable`` when so. Returns what is emitted, stored and, per table, still missing."""
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
    return EventCounts(emitted=sum(emitted.values()), stored=sum(stored.values()), pending=pending)


def _from_database(row: ExecutionRow, children: list[ExecutionSummary]) -> ExecutionView:
    error = None
    if row.error_type or row.error_message:
        error = ExecutionError(type=row.error_type, message=row.error_message)
    return ExecutionView(
        **row.model_dump(include=set(ExecutionView.model_fields) - {"error", "children"}),
        error=error,
        children=[
            ChildSummary(correlation_id=c.correlation_id, agent_name=c.agent_name, status=c.status)
            for c in children
        ],
        source="database",
    )


def _from_runner(state: ApiState, live: ExecutionState) -> ExecutionView:
    view = live.as_json()
    children = []
    for child in live.children:
        known = state.runner.get(child)
        children.append(
            ChildSummary(
                correlation_id=child,
                agent_name=known.agent_name if known else None,
                status=known.status if known else ExecutionStatus.IN_PROGRESS,
            )
        )
    view.pop("events", None)
    return ExecutionView.model_validate({**view, "children": children, "source": "live"})


@router.get(
    "/executions/{correlation_id}",
    response_model=ExecutionView,
    responses={404: {"model": ErrorResponse}, 409: {"model": ErrorResponse}},
)
async def get_execution(correlation_id: IdText, state: State, _: ReadKey) -> ExecutionView:
    """Where an execution stands (``in_progress``, ``success``, ``failed``, ``cancelled``)
    and, once it ended, its ``result`` (the code analyzer's holds ``analysis``) or ``error``.
    The id may be a short id (its first 8+ hex digits).

    Finished means readable: an execution is reported ended only once every event it
    emitted (and its children's) is stored, so ``GET /traces/{id}`` then holds all of them.
    Until then it is ``in_progress`` with ``progress_stage: "recording events"``, and
    ``events`` says what is in flight: ``{"emitted": N, "stored": M, "pending": {table:
    missing}}``. Needs ``read``."""
    full = _full_uuid(correlation_id)
    live = state.runner.get(full) if full is not None else None
    if live is not None:
        view = _from_runner(state, live)
        if live.done and state.pool is not None:
            view = view.model_copy(update={"events": await _settle(state.pool, state.runner, live)})
            if not live.readable:
                return _in_flight(view)
        return view
    if state.pool is not None:
        cid = await resolve_path_id(state.pool, correlation_id)
        row = await queries.get_execution(state.pool, cid)
        if row is not None:
            children = await queries.list_children(state.pool, cid)
            view = _from_database(row, children)
            if view.status is ExecutionStatus.IN_PROGRESS:
                return view
            expected = await queries.final_event_count(state.pool, cid)
            stored = sum((await queries.stored_events(state.pool, cid)).values())
            view = view.model_copy(
                update={"events": EventCounts(emitted=expected, stored=stored, pending={})}
            )
            if expected is not None and stored < expected:
                return _in_flight(view)
            return view
    raise http_error(404, "path.correlation_id", f"no execution {correlation_id}")


def _full_uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


@router.get("/executions", response_model=ExecutionList)
async def list_executions(
    pool: Pool, _: ReadKey, filters: ExecutionQuery, page: PageQuery
) -> ExecutionList:
    """Executions, newest first, filtered by agent, status, window (the last 24 hours by
    default: ``since <= created_at < until``), parent, session (id or its beginning) or text
    (in the prompt or the error; an id's beginning also matches); paginate with
    ``next_cursor``. The viewer's executions page takes the same parameters and shows the
    same rows. Every parameter is validated before the query: a bad one is a 422 naming it.
    Needs ``read``."""
    found = await queries.list_executions(pool, filters, limit=page.limit, cursor=page.after)
    return ExecutionList(
        items=found.items, next_cursor=found.next_cursor, since=filters.since, until=filters.until
    )
