"""The viewer's executions page and ``GET /executions`` show the same executions for the same
query string: the same filters, window, text search and pages (one read layer, one filter)."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from omniclaude.events import ExecutionCompleted, ExecutionFailed, ExecutionStarted, utc_now
from omniclaude.storage.writers import write_events

pytestmark = pytest.mark.covers(
    "endpoint:GET /executions", "table:agent_execution_logs", "table:viewer_sessions"
)

_ROW = re.compile(r'<tr class="row [^"]*" data-href="[^"]*" data-id="([0-9a-f-]{36})"')
_NEXT = re.compile(r'<a href="(\?[^"]*)">Older')
AGENTS = ("code-analyzer", "test-finder", "release-notes-writer")


def _events() -> tuple[list[Any], dict[str, uuid.UUID]]:
    """45 executions over three days: three agents, every status, sessions, children, prompts
    with LIKE wildcards, errors; a few ids named for the checks."""
    now = utc_now()
    events: list[Any] = []
    named: dict[str, uuid.UUID] = {}
    parents: list[uuid.UUID] = []
    for i in range(45):
        cid = uuid.uuid4()
        at = now - timedelta(minutes=37 * i)
        parent = parents[i % len(parents)] if i % 5 == 4 and parents else None
        events.append(
            ExecutionStarted(
                correlation_id=cid, agent_name=AGENTS[i % 3], timestamp=at,
                user_prompt=f"task {i}: {'100% of the_tests' if i % 7 == 0 else 'review the shop'}",
                session_id=f"sess-{i % 4}-{uuid.uuid4().hex[:6]}", parent_correlation_id=parent,
            )
        )  # fmt: skip
        end = at + timedelta(seconds=3)
        if i % 6 == 1:
            failure = {"error_type": "Boom", "error_message": f"disk quota {i}"}
            events.append(ExecutionFailed(correlation_id=cid, timestamp=end, **failure))
        elif i % 6 != 2:
            events.append(ExecutionCompleted(correlation_id=cid, timestamp=end))
        if parent is None:
            parents.append(cid)
        named.setdefault("first", cid)
    return events, named


@pytest.fixture
async def clients(
    db_pool: Any, tmp_path: Path, database_url: str
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient, dict[str, uuid.UUID]]]:
    """(API client with a read key, viewer client logged in with the same key, named ids)."""
    from omniclaude.api import create_app
    from omniclaude.settings import Settings
    from omniclaude.storage.api_keys import ApiKeyStore
    from omniclaude.testing import InMemorySink

    events, named = _events()
    async with db_pool.acquire() as conn:
        await write_events(conn, events)
    _, key = await ApiKeyStore(db_pool).create("same-rows", ["read"])
    settings = Settings(database_url=database_url, data_dir=tmp_path)
    app = create_app(settings, sink=InMemorySink(), pool=db_pool, workspace=tmp_path)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {key}"}
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://t", headers=headers) as api,
            httpx.AsyncClient(transport=transport, base_url="http://t") as browser,
        ):
            login = await browser.post("/viewer/login", data={"key": key})
            assert login.status_code == 303, login.text
            yield api, browser, named


async def _api_ids(api: httpx.AsyncClient, query: dict[str, str]) -> list[str]:
    ids: list[str] = []
    params = dict(query)
    while True:
        response = await api.get("/executions", params=params)
        assert response.status_code == 200, f"GET /executions {params}: {response.text}"
        body = response.json()
        ids += [item["correlation_id"] for item in body["items"]]
        if body["next_cursor"] is None:
            return ids
        params = {**query, "cursor": body["next_cursor"]}


async def _viewer_ids(browser: httpx.AsyncClient, query: dict[str, str]) -> list[str]:
    ids: list[str] = []
    params = dict(query)
    while True:
        page = await browser.get("/viewer/", params=params)
        assert page.status_code == 200, f"GET /viewer/ {params}: {page.text[:300]}"
        ids += _ROW.findall(page.text)
        older = _NEXT.search(page.text)
        if older is None:
            return ids
        params = dict(parse_qsl(urlsplit(older.group(1).replace("&amp;", "&")).query))


QUERIES: list[dict[str, str]] = [
    {},
    {"range": "7d"},
    {"range": "7d", "limit": "7"},
    {"range": "6h"},
    {"range": "7d", "status": "failed"},
    {"range": "7d", "status": "in_progress"},
    {"range": "7d", "agent": "test-finder"},
    {"range": "7d", "top_level": "true"},
    {"range": "7d", "q": "100%"},
    {"range": "7d", "q": "THE_TESTS"},
    {"range": "7d", "q": "quota"},
    {"range": "7d", "q": "sess-2"},
    {"range": "7d", "session_id": "sess-1"},
    {"range": "30d", "agent": "code-analyzer", "status": "success", "limit": "3"},
]


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: "&".join(f"{k}={v}" for k, v in q.items()))
async def test_the_viewer_and_the_api_list_the_same_executions(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient, dict[str, uuid.UUID]],
    query: dict[str, str],
) -> None:
    """Every page of both, for the same query string: the same executions, none twice."""
    api, browser, _ = clients
    from_api = await _api_ids(api, query)
    from_viewer = await _viewer_ids(browser, query)
    assert len(from_viewer) == len(set(from_viewer)), f"the viewer repeats a row for {query}"
    missing, extra = set(from_api) - set(from_viewer), set(from_viewer) - set(from_api)
    assert not missing, f"{query}: in the API, not in the viewer: {sorted(missing)[:5]}"
    assert not extra, f"{query}: in the viewer, not in the API: {sorted(extra)[:5]}"
    assert from_api or query.get("range") == "6h", f"{query} matched nothing: a useless check"


async def test_an_id_prefix_search_finds_the_same_execution(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient, dict[str, uuid.UUID]],
) -> None:
    """The first 8 hex digits of an id, as text search, find that execution in both."""
    api, browser, named = clients
    query = {"range": "7d", "q": str(named["first"])[:8]}
    assert str(named["first"]) in await _api_ids(api, query)
    assert await _api_ids(api, query) == await _viewer_ids(browser, query)
