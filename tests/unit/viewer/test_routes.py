"""The viewer's routes: shells without a key, data only with a read key, one-line errors."""

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
from omniclaude.api.state import ApiState
from omniclaude.api.viewer import routes
from omniclaude.settings import Settings
from omniclaude.storage.api_keys import ApiKey
from omniclaude.storage.queries import ExecutionListItem, ExecutionPage, Overview
from omniclaude.storage.queries.overview import OverviewTotals
from tests.unit.viewer.rows import action_row, execution_row, routing_row, trace_of

READ, INGEST = "oc_read", "oc_ingest"
SOME_ID = "5b0c8f5e-2d1a-4c7e-9a51-3f0d6e2b9c11"  # fixed: xdist workers must collect the same ids


class FakeKeys:
    """Two keys: one with the read scope, one with ingest only."""

    async def authenticate(self, key: str) -> ApiKey | None:
        scopes = {READ: ("read",), INGEST: ("ingest",)}.get(key)
        if scopes is None:
            return None
        now = datetime.now(UTC)
        return ApiKey(uuid.uuid4(), "test", key, scopes, now, None, None)


def _state() -> ApiState:
    return ApiState(
        settings=Settings(), sink=None, registry=None, router=None, runner=None,  # type: ignore[arg-type]
        metrics=None, keys=FakeKeys(), pool=object(),  # type: ignore[arg-type]
    )  # fmt: skip


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://viewer.test")


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app with only the viewer mounted and a fake key store."""
    app = FastAPI()
    install_error_handlers(app)
    viewer.register(app)
    app.state.omniclaude = _state()
    async with _client(app) as test_client:
        yield test_client


def _auth(key: str = READ) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_root_and_bare_viewer_redirect_to_the_list(client: httpx.AsyncClient) -> None:
    """The API's root URL and /viewer open the executions list."""
    for path in ("/", "/viewer"):
        response = await client.get(path)
        assert response.status_code == 307
        assert response.headers["location"] == "/viewer/"


async def test_an_existing_root_route_is_kept() -> None:
    """register() does not replace a root route the API already has."""
    app = FastAPI()

    @app.get("/")
    async def mine() -> dict[str, str]:
        return {"root": "api"}

    viewer.register(app)
    async with _client(app) as test_client:
        assert (await test_client.get("/")).json() == {"root": "api"}


@pytest.mark.parametrize("path", ["/viewer/", "/viewer/overview", f"/viewer/traces/{SOME_ID}"])
async def test_page_shells_need_no_key_and_forbid_inline_scripts(
    client: httpx.AsyncClient, path: str
) -> None:
    """Shells load for anyone, with a strict Content-Security-Policy."""
    response = await client.get(path)
    assert response.status_code == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert "<script src=" in response.text


async def test_static_files_are_served_and_others_are_not(client: httpx.AsyncClient) -> None:
    """Only the stylesheet and the script exist under /viewer/static."""
    assert (
        (await client.get("/viewer/static/viewer.js"))
        .headers["content-type"]
        .startswith("text/javascript")
    )
    assert (await client.get("/viewer/static/viewer.css")).status_code == 200
    assert (await client.get("/viewer/static/..%2Fqueries.py")).status_code == 404
    assert (await client.get("/viewer/static/secret.txt")).status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/viewer/partials/executions",
        f"/viewer/partials/traces/{SOME_ID}",
        f"/viewer/partials/events/action/{SOME_ID}",
        "/viewer/partials/overview",
    ],
)
async def test_data_needs_a_read_key(client: httpx.AsyncClient, path: str) -> None:
    """No key or an unknown key: 401; a key without read: 403."""
    assert (await client.get(path)).status_code == 401
    assert (await client.get(path, headers=_auth("oc_nope"))).status_code == 401
    forbidden = await client.get(path, headers=_auth(INGEST))
    assert forbidden.status_code == 403
    assert "read" in forbidden.json()["message"]


async def test_executions_list_pages_with_a_cursor(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More rows than the limit: the page shows a link to the next one, filters kept."""
    rows = [
        ExecutionListItem.model_validate(execution_row(uuid.uuid4()).model_dump()) for _ in range(3)
    ]
    seen: dict[str, Any] = {}

    async def fake_list(db: Any, flt: Any, *, limit: int, cursor: Any) -> ExecutionPage:
        seen["filter"] = flt
        return ExecutionPage(rows[:limit], "abc")

    async def fake_agents(db: Any) -> list[str]:
        return ["code-analyzer"]

    monkeypatch.setattr(routes.queries, "list_executions", fake_list)
    monkeypatch.setattr(routes.queries, "list_agents", fake_agents)
    html = (await client.get("/viewer/partials/executions?limit=2&agent=x", headers=_auth())).text
    assert html.count('class="row ') == 2
    assert "cursor=abc" in html
    assert "agent=x" in html
    assert seen["filter"].agent == "x"


async def test_a_bad_filter_is_a_422_naming_it(client: httpx.AsyncClient) -> None:
    """An invalid parameter answers 422 with one line that names it."""
    response = await client.get("/viewer/partials/executions?status=done", headers=_auth())
    assert response.status_code == 422
    assert response.json()["message"].startswith("query.status:")


async def test_the_trace_partial_renders_its_waterfall(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A known trace renders every span; an unknown or malformed id does not."""
    cid = uuid.uuid4()
    actions = [action_row(cid), action_row(cid, name="grep", end_ms=70)]
    trace = trace_of(
        cid, executions=[execution_row(cid)], actions=actions, routing=[routing_row(cid)]
    )

    async def fake_trace(db: Any, correlation_id: uuid.UUID) -> Any:
        return trace if correlation_id == cid else trace_of(correlation_id)

    monkeypatch.setattr(routes.queries, "fetch_trace_tree", fake_trace)
    html = (await client.get(f"/viewer/partials/traces/{cid}", headers=_auth())).text
    for action in actions:
        assert f'data-event-id="{action.event_id}"' in html, "an action is missing"
    other = uuid.uuid4()
    missing = await client.get(f"/viewer/partials/traces/{other}", headers=_auth())
    assert missing.status_code == 404
    assert "Nothing recorded" in missing.text
    bad = await client.get("/viewer/partials/traces/not-a-uuid", headers=_auth())
    assert bad.status_code == 422


async def test_event_detail_routes(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A known row renders redacted; unknown sources and rows are 404s."""
    row = action_row(uuid.uuid4(), details={"password": "hunter2"})

    async def fake_record(db: Any, source: str, event_id: uuid.UUID) -> Any:
        return row if event_id == row.event_id else None

    monkeypatch.setattr(routes.queries, "fetch_record", fake_record)
    html = (
        await client.get(f"/viewer/partials/events/action/{row.event_id}", headers=_auth())
    ).text
    assert "hunter2" not in html
    assert "***REDACTED***" in html
    assert (
        await client.get(f"/viewer/partials/events/nope/{uuid.uuid4()}", headers=_auth())
    ).status_code == 404
    assert (
        await client.get(f"/viewer/partials/events/action/{uuid.uuid4()}", headers=_auth())
    ).status_code == 404


async def test_the_overview_partial(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The overview renders for a window and refuses an unknown one."""
    seen: dict[str, Any] = {}

    async def fake_overview(db: Any, *, since: datetime, until: datetime) -> Overview:
        seen["window"] = until - since
        return Overview(
            since=since, until=until, as_of=until, bucket_s=60, activity=[],
            totals=OverviewTotals(), recent_errors=[], slowest_tools=[], agents=[],
            confidence=[],
        )  # fmt: skip

    monkeypatch.setattr("omniclaude.storage.queries.fetch_overview", fake_overview)
    page = await client.get("/viewer/partials/overview?range=1h", headers=_auth())
    assert "Events per minute" in page.text
    assert seen["window"].total_seconds() == 3600
    bad = await client.get("/viewer/partials/overview?range=9y", headers=_auth())
    assert bad.status_code == 422
