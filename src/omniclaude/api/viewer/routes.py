"""The viewer's routes: page shells and HTML partials, under ``/viewer``.

* Page shells (``/viewer/``, ``/viewer/traces/{id}``, ``/viewer/overview``) hold no data and
  need no key; their script asks for a ``read`` key once, keeps it in ``sessionStorage`` and
  loads the data with it.
* Partials (``/viewer/partials/...``) are server-rendered HTML fragments (Jinja2, autoescaped,
  redacted) the script inserts. They read through the one read layer
  (:mod:`omniclaude.storage.queries`) with the API's own parameter dependencies, so the
  executions partial shows what ``GET /executions`` returns for the same query string. The
  viewer has no JSON of its own: JSON is the documented API's.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from omniclaude.api.deps import Pool, ReadKey, State
from omniclaude.api.filters import (
    ExecutionQuery,
    IdText,
    PageQuery,
    WindowQuery,
    resolve_path_id,
)
from omniclaude.api.routes.overview import overview
from omniclaude.api.viewer.render import redacted, render
from omniclaude.api.viewer.static import static_file
from omniclaude.api.viewer.waterfall import build_waterfall
from omniclaude.events import ExecutionStatus
from omniclaude.storage import queries
from omniclaude.storage.queries import RANGES, RECORD_SOURCES

__all__ = ["SECURITY_HEADERS", "router"]

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
STATUSES = tuple(s.value for s in ExecutionStatus)
OVERVIEW_RANGES = ("1h", "24h", "7d")


def _html(text: str, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(text, status_code=status_code, headers=_NO_STORE)


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
async def trace_page(correlation_id: IdText) -> HTMLResponse:
    return _html(render("trace.html", page="trace", correlation_id=correlation_id))


@router.get("/overview")
async def overview_page() -> HTMLResponse:
    return _html(render("overview.html", page="overview", windows=list(OVERVIEW_RANGES)))


@router.get("/static/{name}")
async def static(name: str) -> Response:
    found = static_file(name)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "name: no such file")
    body, media_type = found
    return Response(body, media_type=media_type, headers=SECURITY_HEADERS)


# ------------------------------------------------------------------ partials
@router.get("/partials/executions")
async def executions_partial(
    request: Request, db: Pool, _key: ReadKey, filters: ExecutionQuery, page: PageQuery
) -> HTMLResponse:
    found = await queries.list_executions(db, filters, limit=page.limit, cursor=page.after)
    agents = await queries.list_agents(db)
    query = {k: v for k, v in request.query_params.items() if k != "cursor" and v}
    next_href = None
    if found.next_cursor:
        next_href = "?" + urlencode({**query, "cursor": found.next_cursor})
    html = render(
        "partials/executions.html",
        items=[redacted(item.model_dump()) for item in found.items],
        agents=agents,
        filter=filters,
        first_page=page.after is None,
        first_href="?" + urlencode(query),
        next_href=next_href,
    )
    return _html(html)


@router.get("/partials/traces/{correlation_id}")
async def trace_partial(db: Pool, correlation_id: IdText, _key: ReadKey) -> HTMLResponse:
    try:
        cid = await resolve_path_id(db, correlation_id)
    except HTTPException as exc:
        if exc.status_code != status.HTTP_404_NOT_FOUND:
            raise
        return _html(render("partials/missing.html", correlation_id=correlation_id), 404)
    tree = await queries.fetch_trace_tree(db, cid)
    if tree.empty:
        return _html(render("partials/missing.html", correlation_id=str(cid)), 404)
    waterfall = build_waterfall(tree)
    return _html(render("partials/trace.html", waterfall=waterfall, live=waterfall.live))


@router.get("/partials/events/{source}/{event_id}")
async def event_partial(db: Pool, source: str, event_id: IdText, _key: ReadKey) -> HTMLResponse:
    if source not in RECORD_SOURCES:
        raise HTTPException(404, f"source: must be one of {', '.join(RECORD_SOURCES)}")
    try:
        record_id = uuid.UUID(event_id)
    except ValueError:
        raise HTTPException(422, "event_id: not a UUID") from None
    row = await queries.fetch_record(db, source, record_id)
    if row is None:
        raise HTTPException(404, f"event_id: no {source} {event_id}")
    lifecycle: list[Any] = []
    if source == "execution":
        lifecycle = [e.model_dump() for e in await queries.fetch_lifecycle(db, record_id)]
    data = redacted({**row.model_dump(), "lifecycle": lifecycle})
    return _html(render("partials/detail.html", source=source, row=data))


@router.get("/partials/overview")
async def overview_partial(
    state: State, db: Pool, window: WindowQuery, _key: ReadKey
) -> HTMLResponse:
    found = await overview(state, db, window)
    errors = [redacted(e.model_dump()) for e in found.recent_errors]
    span = window.until - window.since
    name = next((k for k, v in RANGES.items() if v == span), None) or _span_text(span)
    return _html(render("partials/overview.html", window=name, o=found, recent_errors=errors))


def _span_text(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours:g}h" if hours < 48 else f"{hours / 24:g}d"
