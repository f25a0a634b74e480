"""The viewer's routes, under ``/viewer``: server-rendered pages, a login, one fragment.

* Pages (``/viewer/``, ``/viewer/traces/{id}``, ``/viewer/overview``) are rendered on the
  server from the one read layer (:mod:`omniclaude.storage.queries`), with the API's own
  parameter dependencies: the executions page shows what ``GET /executions`` returns for the
  same query string. They need ``read``: a key header, or the viewer's session cookie.
* ``POST /viewer/login`` trades a ``read`` key for a session (an HttpOnly, SameSite=Strict
  cookie: no script and no URL ever holds it) and ``POST /viewer/logout`` ends it; a page
  asked for without a session answers the login form (401) in its place.
* ``/viewer/partials/events/...`` is the detail panel's HTML fragment. The viewer has no
  JSON of its own: its script polls the documented ``GET /traces/{id}/activity`` for the
  live view and re-reads the page when something new was stored.
* Errors on these paths are pages of the viewer (``error.html``), never raw JSON.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from omniclaude.api.deps import SESSION_COOKIE, Pool, ReadKey, State
from omniclaude.api.filters import (
    ExecutionQuery,
    IdText,
    PageQuery,
    WindowQuery,
    resolve_path_id,
)
from omniclaude.api.routes.overview import overview
from omniclaude.api.viewer.charts import overview_charts
from omniclaude.api.viewer.render import nest_children, redacted, render
from omniclaude.api.viewer.static import static_file
from omniclaude.api.viewer.waterfall import build_waterfall, format_duration
from omniclaude.events import ExecutionStatus
from omniclaude.storage import queries
from omniclaude.storage.api_keys import Scope, scopes_allow
from omniclaude.storage.queries import RANGES, RECORD_SOURCES, encode_cursor

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
NO_STORE = {"Cache-Control": "no-store", **SECURITY_HEADERS}
STATUSES = tuple(s.value for s in ExecutionStatus)
FORM_FIELDS = ("q", "agent", "status", "range", "since", "until", "top_level")
"""The executions page's filter form (shown with the values in use)."""
OVERVIEW_RANGES = ("1h", "24h", "7d", "30d")
MAX_LOGIN_BYTES = 4096


def html(text: str, status_code: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    """An HTML answer with the viewer's security headers (never cached)."""
    return HTMLResponse(text, status_code=status_code, headers={**NO_STORE, **(headers or {})})


router = APIRouter(prefix="/viewer", include_in_schema=False)
"""Every route of the viewer (mounted by :func:`omniclaude.api.viewer.register`)."""


@router.get("")
async def viewer_root() -> RedirectResponse:
    return RedirectResponse("/viewer/", status_code=status.HTTP_307_TEMPORARY_REDIRECT)


@router.get("/static/{name}")
async def static(name: str) -> Response:
    found = static_file(name)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "name: no such file")
    body, media_type = found
    return Response(body, media_type=media_type, headers=SECURITY_HEADERS)


# ------------------------------------------------------------------ session
def safe_next(target: str | None) -> str:
    """Where to go after logging in: a viewer path of this site, else the executions list."""
    if target and target.startswith("/viewer") and not target.startswith("//"):
        return target
    return "/viewer/"


def _ttl_text(state: Any) -> str:
    sessions = getattr(state, "sessions", None)
    ttl_s = float(getattr(sessions, "ttl_s", 12 * 3600))
    return format_duration(ttl_s * 1000)


def login_page(
    request: Request, *, error: str | None = None, status_code: int = 200, retry: bool = False
) -> HTMLResponse:
    """The login form; ``next`` is the page asked for (for a 401 in its place)."""
    target = request.query_params.get("next") if request.url.path == "/viewer/login" else None
    if target is None and request.url.path != "/viewer/login":
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    state = getattr(request.app.state, "omniclaude", None)
    page = render(
        "login.html", page="login", error=error, next=safe_next(target), retry=retry,
        ttl_text=_ttl_text(state),
    )  # fmt: skip
    return html(page, status_code)


@router.get("/login")
async def login_form(request: Request) -> HTMLResponse:
    return login_page(request)


@router.post("/login")
async def login(request: Request, state: State) -> Response:
    """Trade a ``read`` key (form field ``key``) for a session cookie, then go to ``next``."""
    # Login CSRF: a browser says where a form came from in Sec-Fetch-Site; Origin is "null"
    # under the viewer's no-referrer policy, so it is compared only when it names a site.
    origin = request.headers.get("origin")
    foreign = request.headers.get("sec-fetch-site") in {"cross-site", "same-site"} or (
        origin not in (None, "null") and origin != f"{request.url.scheme}://{request.url.netloc}"
    )
    if foreign:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "origin: a login must come from this site")
    body = await request.body()
    if len(body) > MAX_LOGIN_BYTES:
        raise HTTPException(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, "body: too large")
    form = parse_qs(body.decode("utf-8", "replace"), max_num_fields=4)
    key = (form.get("key") or [""])[0].strip()
    target = safe_next((form.get("next") or [""])[0])
    if state.keys is None or state.sessions is None:
        raise HTTPException(503, "database: the viewer's sessions need a database")
    found = await state.keys.authenticate(key) if key else None
    if found is None:
        return login_page(request, error="invalid or revoked API key", status_code=401)
    if not scopes_allow(found.scopes, Scope.READ):
        return login_page(request, error="this key has no read scope", status_code=403)
    token = await state.sessions.create(found)
    response = RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER, headers=NO_STORE)
    response.set_cookie(
        SESSION_COOKIE, token, httponly=True, samesite="strict", path="/",
        secure=request.url.scheme == "https",
    )  # fmt: skip
    return response


@router.post("/logout")
async def logout(request: Request, state: State) -> Response:
    """End the session and forget its cookie."""
    token = request.cookies.get(SESSION_COOKIE)
    if token and state.sessions is not None:
        await state.sessions.end(token)
    response = RedirectResponse("/viewer/login", status_code=303, headers=NO_STORE)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


# ------------------------------------------------------------------ pages
@router.get("/")
async def executions_page(
    request: Request, db: Pool, reader: ReadKey, filters: ExecutionQuery, page: PageQuery
) -> HTMLResponse:
    found = await queries.list_executions(db, filters, limit=page.limit, cursor=page.after)
    query = {k: v for k, v in request.query_params.items() if k != "cursor" and v}
    next_href = None
    if found.next_cursor:
        next_href = "?" + urlencode({**query, "cursor": found.next_cursor})
    rows = [(depth, redacted(item.model_dump())) for depth, item in nest_children(found.items)]
    return html(
        render(
            "executions.html",
            page="executions",
            reader=reader,
            ranges=list(RANGES),
            statuses=STATUSES,
            form={name: request.query_params.get(name) for name in FORM_FIELDS},
            items=rows,
            agents=await queries.list_agents(db),
            filter=filters,
            first_page=page.after is None,
            first_href="?" + urlencode(query),
            next_href=next_href,
        )
    )


@router.get("/traces/{correlation_id}")
async def trace_page(db: Pool, reader: ReadKey, correlation_id: IdText) -> HTMLResponse:
    cid = await resolve_path_id(db, correlation_id)
    tree = await queries.fetch_trace_tree(db, cid)
    if tree.empty:
        raise HTTPException(
            404, f"correlation_id: nothing recorded for {cid} yet (its events may still be "
            "on their way: this page checks again)",
        )  # fmt: skip
    after = await queries.latest_activity(db, cid)
    waterfall = build_waterfall(tree)
    return html(
        render(
            "trace.html",
            page="trace",
            reader=reader,
            correlation_id=str(cid),
            waterfall=waterfall,
            live=waterfall.live,
            after=encode_cursor(*after) if after else "",
        )
    )


@router.get("/overview")
async def overview_page(
    state: State, db: Pool, reader: ReadKey, window: WindowQuery
) -> HTMLResponse:
    found = await overview(state, db, window)
    errors = [redacted(e.model_dump()) for e in found.recent_errors]
    span = window.until - window.since
    name = next((k for k, v in RANGES.items() if v == span), "")
    # The selector shows the window the figures are of: a named range it does not offer is
    # added to it, a window of since/until is shown as such (not as the first choice).
    windows = [*([name] if name and name not in OVERVIEW_RANGES else []), *OVERVIEW_RANGES]
    bounds = {"since": window.since.isoformat(), "until": window.until.isoformat()}
    return html(
        render(
            "overview.html",
            page="overview",
            reader=reader,
            windows=windows,
            window=name,
            window_text=f"last {name}"
            if name
            else (f"{window.since:%Y-%m-%d %H:%M} to {window.until:%Y-%m-%d %H:%M} UTC"),
            window_query=urlencode({"range": name} if name else bounds),
            o=found,
            recent_errors=errors,
            **overview_charts(found),
        )
    )


@router.get("/partials/events/{source}/{event_id}")
async def event_partial(db: Pool, source: str, event_id: str, _key: ReadKey) -> HTMLResponse:
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
    return html(render("partials/detail.html", source=source, row=data))
