"""The viewer's routes: pages need read (a key or the session cookie), the login trades a key
for an HttpOnly session, and every error on a viewer path is a page of the viewer."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from omniclaude.api import viewer
from omniclaude.api.errors import install_error_handlers
from omniclaude.api.routes import keys as keys_routes
from omniclaude.api.routes import traces as traces_routes
from omniclaude.api.state import ApiState
from omniclaude.settings import Settings
from omniclaude.storage import queries
from omniclaude.storage.api_keys import ApiKey
from omniclaude.storage.queries import ExecutionListItem, ExecutionPage, Overview
from omniclaude.storage.queries.overview import OverviewTotals
from tests.unit.viewer.rows import action_row, execution_row, routing_row, trace_of

READ, INGEST, ADMIN = "oc_read", "oc_ingest", "oc_admin"
SOME_ID = "5b0c8f5e-2d1a-4c7e-9a51-3f0d6e2b9c11"  # fixed: xdist workers must collect the same ids


class FakeKeys:
    """Three keys: read, ingest only, admin."""

    async def authenticate(self, key: str) -> ApiKey | None:
        scopes = {READ: ("read",), INGEST: ("ingest",), ADMIN: ("admin",)}.get(key)
        if scopes is None:
            return None
        return ApiKey(uuid.uuid4(), f"key {key}", key, scopes, datetime.now(UTC), None, None)


class FakeSessions:
    """Sessions in a dict, read scope only (as the real store grants)."""

    ttl_s = 3600.0

    def __init__(self) -> None:
        self.live: dict[str, ApiKey] = {}

    async def create(self, key: ApiKey) -> str:
        token = f"ocs_{uuid.uuid4().hex}"
        self.live[token] = ApiKey(key.key_id, key.name, key.prefix, ("read",), key.created_at,
                                  None, None)  # fmt: skip
        return token

    async def authenticate(self, token: str) -> ApiKey | None:
        return self.live.get(token)

    async def end(self, token: str) -> None:
        self.live.pop(token, None)


class Viewer:
    """A client of an app with the viewer (and two API routers) on fake stores."""

    def __init__(self, client: httpx.AsyncClient, sessions: FakeSessions) -> None:
        self.client = client
        self.sessions = sessions

    async def login(self, key: str = READ, next_: str = "/viewer/") -> httpx.Response:
        """POST the login form."""
        return await self.client.post(
            "/viewer/login",
            content=f"key={key}&next={next_}",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )


@pytest.fixture
async def view() -> AsyncIterator[Viewer]:
    """The viewer app with a fake key store and session store."""
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(keys_routes.router)
    app.include_router(traces_routes.router)
    viewer.register(app)
    sessions = FakeSessions()
    app.state.omniclaude = ApiState(
        settings=Settings(), sink=None, registry=None, router=None, runner=None,  # type: ignore[arg-type]
        metrics=None, keys=FakeKeys(), pool=object(), sessions=sessions,  # type: ignore[arg-type]
    )  # fmt: skip
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://viewer.test") as client:
        yield Viewer(client, sessions)


def _auth(key: str = READ) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def data(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Canned read-layer answers: a list of three, one trace, an overview."""
    cid = uuid.UUID(SOME_ID)
    rows = [
        ExecutionListItem.model_validate(execution_row(uuid.uuid4()).model_dump()) for _ in range(3)
    ]
    actions = [action_row(cid), action_row(cid, name="grep", end_ms=70)]
    tree = trace_of(cid, executions=[execution_row(cid)], actions=actions,
                    routing=[routing_row(cid)])  # fmt: skip
    seen: dict[str, Any] = {"rows": rows, "actions": actions, "cid": cid}

    async def listing(db: Any, flt: Any, *, limit: int, cursor: Any) -> ExecutionPage:
        seen["filter"] = flt
        return ExecutionPage(rows[:limit], "abc")

    async def agents(db: Any) -> list[str]:
        return ["code-analyzer"]

    async def resolve(db: Any, text: str, *, field: str = "") -> uuid.UUID | None:
        if text.startswith("aaaaaaaa"):
            raise queries.AmbiguousIdError(field, text, [uuid.UUID(int=1), uuid.UUID(int=2)])
        return cid if SOME_ID.startswith(text) else uuid.UUID(text)

    async def fetch_tree(db: Any, correlation_id: uuid.UUID, **_: Any) -> Any:
        return tree if correlation_id == cid else trace_of(correlation_id)

    async def latest(db: Any, correlation_id: uuid.UUID) -> Any:
        return (datetime.now(UTC), uuid.uuid4())

    async def fake_overview(db: Any, *, since: datetime, until: datetime) -> Overview:
        seen["window"] = until - since
        return Overview(
            since=since, until=until, as_of=until, bucket_s=60, activity=[],
            totals=OverviewTotals(), recent_errors=[], slowest_tools=[], agents=[],
            confidence=[],
        )  # fmt: skip

    async def activity(db: Any, correlation_id: uuid.UUID, **_: Any) -> Any:
        return queries.TraceActivity(items=[], next_cursor=None, running=False)

    async def record(db: Any, source: str, event_id: uuid.UUID) -> Any:
        row = action_row(cid, details={"password": "hunter2"})
        return row if event_id == cid else None

    for name, fake in (("list_executions", listing), ("list_agents", agents),
                       ("resolve_correlation_id", resolve), ("fetch_trace_tree", fetch_tree),
                       ("latest_activity", latest), ("fetch_overview", fake_overview),
                       ("fetch_record", record), ("trace_activity", activity)):  # fmt: skip
        monkeypatch.setattr(queries, name, fake)
    monkeypatch.setattr("omniclaude.api.filters.resolve_correlation_id", resolve)
    return seen


async def test_root_and_bare_viewer_redirect_to_the_list(view: Viewer) -> None:
    """The API's root URL and /viewer open the executions list."""
    for path in ("/", "/viewer"):
        response = await view.client.get(path)
        assert response.status_code == 307
        assert response.headers["location"] == "/viewer/"


async def test_an_existing_root_route_is_kept() -> None:
    """register() does not replace a root route the API already has."""
    app = FastAPI()

    @app.get("/")
    async def mine() -> dict[str, str]:
        return {"root": "api"}

    viewer.register(app)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.get("/")).json() == {"root": "api"}


@pytest.mark.parametrize("path", ["/viewer/", "/viewer/overview", f"/viewer/traces/{SOME_ID}"])
async def test_a_page_without_a_session_answers_the_login_form(view: Viewer, path: str) -> None:
    """No key and no session: the login form in place of the page (401, HTML, strict CSP),
    coming back to the page asked for."""
    response = await view.client.get(path)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert 'action="/viewer/login"' in response.text
    assert f'name="next" value="{path}"' in response.text
    assert 'type="password"' in response.text


async def test_login_sets_an_httponly_strict_session_that_opens_every_page(
    view: Viewer, data: dict[str, Any]
) -> None:
    """A read key is traded for a cookie no script reads; the next page (a new tab) opens
    with it alone; logging out ends it."""
    response = await view.login(next_=f"/viewer/traces/{SOME_ID[:8]}")
    assert response.status_code == 303
    assert response.headers["location"] == f"/viewer/traces/{SOME_ID[:8]}"
    cookie = response.headers["set-cookie"].lower()
    for part in ("omniclaude_viewer=ocs_", "httponly", "samesite=strict", "path=/"):
        assert part in cookie, f"{part!r} missing from {cookie!r}"
    assert READ not in response.headers["set-cookie"], "the key itself went into the cookie"
    page = await view.client.get(f"/viewer/traces/{SOME_ID[:8]}")
    assert page.status_code == 200, page.text
    assert 'action="/viewer/logout"' in page.text
    for action in data["actions"]:
        assert f'data-event-id="{action.event_id}"' in page.text
    assert (await view.client.get("/viewer/")).status_code == 200
    await view.client.post("/viewer/logout")
    assert not view.sessions.live
    assert (await view.client.get("/viewer/")).status_code == 401


async def test_the_session_grants_read_and_nothing_more(view: Viewer, data: dict[str, Any]) -> None:
    """Even from an admin key, the cookie opens read routes only: /keys (admin) refuses it."""
    await view.login(key=ADMIN)
    assert (await view.client.get(f"/traces/{SOME_ID}/activity")).status_code == 200
    assert (await view.client.get("/keys")).status_code == 401


@pytest.mark.parametrize(
    ("key", "code", "text"),
    [("oc_nope", 401, "invalid or revoked"), (INGEST, 403, "no read scope")],
)
async def test_a_bad_key_gets_the_form_again(view: Viewer, key: str, code: int, text: str) -> None:
    """An unknown key, or one without read, is refused on the form; no cookie is set."""
    response = await view.login(key=key)
    assert response.status_code == code
    assert text in response.text
    assert "set-cookie" not in response.headers


async def test_a_login_from_another_site_and_an_outside_next_are_refused(view: Viewer) -> None:
    """A cross-site form post is a 403; ``next`` never leaves the viewer."""
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    response = await view.client.post(
        "/viewer/login", content=f"key={READ}", headers={"Origin": "https://evil.example", **form}
    )
    assert response.status_code == 403
    assert "text/html" in response.headers["content-type"]
    response = await view.client.post(
        "/viewer/login", content=f"key={READ}",
        headers={"Origin": "null", "Sec-Fetch-Site": "cross-site", **form},
    )  # fmt: skip
    assert response.status_code == 403, "a cross-site form with Origin: null got in"
    response = await view.client.post(
        "/viewer/login", content=f"key={READ}",
        headers={"Origin": "null", "Sec-Fetch-Site": "same-origin", **form},
    )  # fmt: skip
    assert response.status_code == 303, "the viewer's own form (Origin: null) was refused"
    response = await view.login(next_="https://evil.example/")
    assert response.headers["location"] == "/viewer/"
    response = await view.login(next_="//evil.example/viewer")
    assert response.headers["location"] == "/viewer/"


async def test_the_executions_page_lists_nests_and_pages(
    view: Viewer, data: dict[str, Any]
) -> None:
    """More rows than the limit: a link to the next page keeps the filters."""
    html = (await view.client.get("/viewer/?limit=2&agent=x", headers=_auth())).text
    assert html.count('class="row ') == 2
    assert "cursor=abc" in html
    assert "agent=x" in html
    assert data["filter"].agent == "x"
    assert 'value="x"' in html, "the form does not show the filter in use"


@pytest.mark.parametrize(
    ("path", "code", "text"),
    [
        ("/viewer/?status=done", 422, "query.status"),
        ("/viewer/traces/not-a-uuid", 422, "path.correlation_id"),
        ("/viewer/traces/aaaaaaaa", 409, "00000000-0000-0000-0000-000000000001"),
        (f"/viewer/traces/{uuid.UUID(int=5)}", 404, "nothing recorded"),
        ("/viewer/overview?range=9y", 422, "query.range"),
    ],
)
async def test_errors_are_viewer_pages_not_json(
    view: Viewer, data: dict[str, Any], path: str, code: int, text: str
) -> None:
    """A bad filter, a malformed or unknown id, an ambiguous short id: an HTML page of the
    viewer saying what is wrong (an ambiguous id lists its candidates as links)."""
    response = await view.client.get(path, headers=_auth())
    assert response.status_code == code
    assert response.headers["content-type"].startswith("text/html"), response.text
    assert text in response.text
    assert 'class="top"' in response.text, "not a page of the viewer"
    if code == 409:
        assert 'href="/viewer/traces/00000000-0000-0000-0000-000000000002"' in response.text


async def test_api_errors_stay_json(view: Viewer) -> None:
    """Outside /viewer an error is still the API's JSON."""
    response = await view.client.get("/traces/not-a-uuid", headers=_auth())
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"


async def test_event_details_are_redacted_fragments(view: Viewer, data: dict[str, Any]) -> None:
    """A known row renders redacted; unknown sources and rows are error fragments."""
    html = (
        await view.client.get(f"/viewer/partials/events/action/{SOME_ID}", headers=_auth())
    ).text
    assert "hunter2" not in html
    assert "***REDACTED***" in html
    missing = await view.client.get(f"/viewer/partials/events/nope/{SOME_ID}", headers=_auth())
    assert missing.status_code == 404
    assert 'class="top"' not in missing.text, "a fragment must not be a whole page"
    gone = await view.client.get(f"/viewer/partials/events/action/{uuid.uuid4()}", headers=_auth())
    assert gone.status_code == 404


async def test_the_overview_labels_its_axes_and_values(view: Viewer, data: dict[str, Any]) -> None:
    """The overview page draws both charts with axis titles, tick labels and its freshness."""
    page = await view.client.get("/viewer/overview?range=1h", headers=_auth())
    assert page.status_code == 200
    assert data["window"].total_seconds() == 3600
    for text in ("events / min", "minute (UTC)", "confidence (from)", "decisions", "as of"):
        assert text in page.text, text
    assert page.text.count('class="tick y-tick"') == 6, "each chart has three y ticks"


@pytest.mark.parametrize(
    ("query", "selected"),
    [
        ("range=30d", '<option value="30d" selected>Last 30d</option>'),
        ("range=6h", '<option value="6h" selected>Last 6h</option>'),
        ("", '<option value="24h" selected>Last 24h</option>'),
        (
            "since=2026-11-01T00:00:00Z&until=2026-11-03T12:00:00Z",
            '<option value="" selected disabled>2026-11-01 00:00 to 2026-11-03 12:00 UTC</option>',
        ),
    ],
)
async def test_the_overview_selector_shows_the_window_of_its_figures(
    view: Viewer, data: dict[str, Any], query: str, selected: str
) -> None:
    """Whatever the window (a range it offers, one it does not, since/until), the selector
    shows that window, never its first choice by default."""
    page = await view.client.get(f"/viewer/overview?{query}", headers=_auth())
    assert page.status_code == 200
    assert selected in page.text
    assert page.text.count(" selected") == 1
    if query.startswith("since"):  # the panels say which window, not "last 24h"
        assert "2026-11-01 00:00 to 2026-11-03 12:00 UTC" in page.text.split("</select>")[1]
        assert "last 24h" not in page.text.split("</select>")[1]
