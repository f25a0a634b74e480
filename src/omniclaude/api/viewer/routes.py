"""The viewer's routes: page shells, HTML partials and JSON, under ``/viewer``.

* Page shells (``/viewer/``, ``/viewer/traces/{id}``, ``/viewer/overview``) hold no data and
  need no key; their script asks for a ``read`` key once, keeps it in ``sessionStorage`` and
  loads the data with it.
* Partials (``/viewer/partials/...``) are server-rendered HTML fragments (Jinja2, autoescaped,
  redacted) the script inserts; JSON twins live under ``/viewer/api/...``.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Path, Query, Request, status
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic_core import to_jsonable_python

from omniclaude.api.deps import Pool, ReadKey
from omniclaude.api.viewer import queries
from omniclaude.api.viewer.overview import fetch_overview
from omniclaude.api.viewer.params import (
    OVERVIEW_WINDOWS,
    RANGES,
    STATUSES,
    ExecutionsQuery,
    OverviewQuery,
    parse_execution_filter,
    parse_window,
)
from omniclaude.api.viewer.render import redacted, render
from omniclaude.api.viewer.static import static_file
from omniclaude.api.viewer.waterfall import build_waterfall
from omniclaude.events.base import utc_now

__all__ = ["METRICS_URL_STATE", "router"]

METRICS_URL_STATE = "omniclaude_viewer_metrics_url"
"""Name of the ``app.state`` attribute holding the consumer's metrics URL."""

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
_NO_STORE = {"Cache-Control": "no-store", **SECURITY_HEADERS}

TraceId = Annotated[uuid.UUID, Path(description="Correlation id of the execution")]
ListQuery = Annotated[ExecutionsQuery, Query()]
"""Declares the list's parameters; :func:`parse_execution_filter` validates them."""
WindowQuery = Annotated[OverviewQuery, Query()]
"""Declares the overview's parameter; :func:`parse_window` validates it."""


def _html(text: str, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(text, status_code=status_code, headers=_NO_STORE)


def _json(value: Any, status_code: int = 200) -> JSONResponse:
    return JSONResponse(
        to_jsonable_python(value, fallback=str), status_code=status_code, headers=_NO_STORE
    )


def _bad_request(exc: ValueError) -> HTTPException:
    return HTTPException(422, str(exc))


router = APIRouter(prefix="/viewer", include_in_schema=False)
"""Every route of the viewer (mounted by :func:`omniclaude.api.viewer.register`)."""


# ------------------------------------------------------------------ shells
@router.get("")
async def viewer_root() -> RedirectResponse:
    return RedirectResponse("/viewer/", status_code=status.HTTP_307_TEMPORARY_REDIRECT)


@router.get("/")
async def executions_page() -> HTMLResponse:
    page = render("executions.html", page="executions", ranges=list(RANGES), statuses=STATUSES)
    return _html(page)


@router.get("/traces/{correlation_id}")
async def trace_page(correlation_id: TraceId) -> HTMLResponse:
    return _html(render("trace.html", page="trace", correlation_id=str(correlation_id)))


@router.get("/overview")
async def overview_page() -> HTMLResponse:
    return _html(render("overview.html", page="overview", windows=list(OVERVIEW_WINDOWS)))


@router.get("/static/{name}")
async def static(name: str) -> Response:
    found = static_file(name)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "name: no such file")
    body, media_type = found
    return Response(body, media_type=media_type, headers=SECURITY_HEADERS)


# ------------------------------------------------------------------ data
async def executions_data(query: ExecutionsQuery, db: Any) -> dict[str, Any]:
    from omniclaude.storage.queries import encode_cursor

    now = utc_now()
    try:
        flt = parse_execution_filter(query.model_dump(exclude_none=True), now)
    except ValueError as exc:
        raise _bad_request(exc) from exc
    rows, total = await queries.list_executions(db, flt)
    more = len(rows) > flt.limit
    rows = rows[: flt.limit]
    next_cursor = None
    if more and rows:
        next_cursor = encode_cursor(rows[-1]["created_at"], rows[-1]["correlation_id"])
    agents = await queries.list_agents(db, now - timedelta(days=30))
    return {
        "items": redacted(rows),
        "total": total,
        "next_cursor": next_cursor,
        "agents": agents,
        "filter": flt,
        "first_page": flt.before is None,
    }


@router.get("/partials/executions")
async def executions_partial(query: ListQuery, db: Pool, _key: ReadKey) -> HTMLResponse:
    data = await executions_data(query, db)
    kept = query.model_dump(exclude_none=True, exclude={"before"})
    first_href = "?" + urlencode(kept)
    next_href = None
    if data["next_cursor"]:
        next_href = "?" + urlencode({**kept, "before": data["next_cursor"]})
    page = render("partials/executions.html", first_href=first_href, next_href=next_href, **data)
    return _html(page)


@router.get("/api/executions")
async def executions_json(query: ListQuery, db: Pool, _key: ReadKey) -> JSONResponse:
    data = await executions_data(query, db)
    return _json({k: data[k] for k in ("items", "total", "next_cursor")})


async def trace_data(db: Any, correlation_id: uuid.UUID) -> dict[str, Any]:
    trace = await queries.fetch_trace(db, correlation_id)
    if trace.empty:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"correlation_id: nothing recorded for {correlation_id} (yet)",
        )
    waterfall = build_waterfall(trace)
    live = any(e.get("status") == "in_progress" for e in trace.executions)
    return {"waterfall": waterfall, "trace": trace, "live": live}


@router.get("/partials/traces/{correlation_id}")
async def trace_partial(db: Pool, correlation_id: TraceId, _key: ReadKey) -> HTMLResponse:
    try:
        data = await trace_data(db, correlation_id)
    except HTTPException as exc:
        if exc.status_code != status.HTTP_404_NOT_FOUND:
            raise
        page = render("partials/missing.html", correlation_id=str(correlation_id))
        return _html(page, status.HTTP_404_NOT_FOUND)
    return _html(render("partials/trace.html", **data))


@router.get("/api/traces/{correlation_id}")
async def trace_json(db: Pool, correlation_id: TraceId, _key: ReadKey) -> JSONResponse:
    data = await trace_data(db, correlation_id)
    return _json({**data["waterfall"].as_json(), "live": data["live"]})


async def event_data(db: Any, source: str, event_id: uuid.UUID) -> dict[str, Any]:
    if source not in queries.EVENT_SOURCES:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"source: must be one of {', '.join(queries.EVENT_SOURCES)}",
        )
    row = await queries.fetch_event(db, source, event_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"event_id: no {source} {event_id}")
    return redacted(row)  # type: ignore[no-any-return]


@router.get("/partials/events/{source}/{event_id}")
async def event_partial(db: Pool, source: str, event_id: uuid.UUID, _key: ReadKey) -> HTMLResponse:
    row = await event_data(db, source, event_id)
    return _html(render("partials/detail.html", source=source, row=row))


@router.get("/api/events/{source}/{event_id}")
async def event_json(db: Pool, source: str, event_id: uuid.UUID, _key: ReadKey) -> JSONResponse:
    return _json(await event_data(db, source, event_id))


async def overview_data(request: Request, query: OverviewQuery, db: Any) -> Any:
    try:
        name, window = parse_window(query.model_dump(exclude_none=True))
    except ValueError as exc:
        raise _bad_request(exc) from exc
    metrics_url = getattr(request.app.state, METRICS_URL_STATE, None)
    overview = await fetch_overview(db, now=utc_now(), window=window, metrics_url=metrics_url)
    return name, overview


@router.get("/partials/overview")
async def overview_partial(
    request: Request, query: WindowQuery, db: Pool, _key: ReadKey
) -> HTMLResponse:
    name, overview = await overview_data(request, query, db)
    overview.recent_errors = redacted(overview.recent_errors)
    return _html(render("partials/overview.html", window=name, o=overview))


@router.get("/api/overview")
async def overview_json(
    request: Request, query: WindowQuery, db: Pool, _key: ReadKey
) -> JSONResponse:
    _, overview = await overview_data(request, query, db)
    overview.recent_errors = redacted(overview.recent_errors)
    return _json(overview)
