"""``GET /export`` against real PostgreSQL: the same bytes as ``omniclaude export`` for every
format, parameters validated into 422s naming them, a bound on exports at once, and a client
that stops reading gives its database connection back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from omniclaude.api import create_app
from omniclaude.settings import ApiSettings, Settings
from omniclaude.storage.api_keys import ApiKeyStore
from omniclaude.testing import InMemorySink
from tests.fixtures.waiting import wait_for
from tests.integration.export.data import SINCE, UNTIL, run_cli, seed, window

pytestmark = pytest.mark.covers("endpoint:GET /export")

API = ApiSettings(exports_at_once=1, export_idle_timeout_s=0.5)


@pytest.fixture
async def api(
    database_url: str, db_pool: Any, tmp_path: Path
) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    """(the app, a client with a read key) over an empty database."""
    _, key = await ApiKeyStore(db_pool).create("export", ["read"])
    settings = Settings(database_url=database_url, data_dir=tmp_path / "d", api=API)
    app = create_app(settings, sink=InMemorySink(), pool=db_pool, workspace=tmp_path)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t",
            headers={"Authorization": f"Bearer {key}"},
        ) as http,
    ):  # fmt: skip
        yield app, http


@pytest.fixture
async def served(
    api: tuple[Any, httpx.AsyncClient], database_url: str
) -> tuple[Any, httpx.AsyncClient]:
    """(the app, a client with a read key) over the seeded database."""
    await seed(database_url)
    return api


def _query(table: str, fmt: str) -> dict[str, str]:
    return {"table": table, "since": SINCE.isoformat(), "until": UNTIL.isoformat(), "format": fmt}


@pytest.mark.parametrize(
    ("table", "fmt"),
    [("agent_actions", "jsonl"), ("agent_routing_decisions", "csv"),
     ("agent_llm_calls", "parquet"), ("agent_execution_logs", "jsonl")],
)  # fmt: skip
async def test_get_export_streams_the_same_bytes_as_the_cli(
    served: tuple[Any, httpx.AsyncClient],
    database_url: str,
    tmp_path: Path,
    table: str,
    fmt: str,
) -> None:
    """The API's export of a table is byte for byte the CLI's file, with its media type and
    a file name."""
    _, http = served
    path = tmp_path / f"cli.{fmt}"
    await run_cli(
        database_url, "export", *window(), "--format", fmt, "--table", table, "-o", str(path)
    )
    response = await http.get("/export", params=_query(table, fmt))
    assert response.status_code == 200, response.text
    assert response.content == path.read_bytes(), f"{table} {fmt}: API and CLI differ"
    assert response.headers["content-type"].split(";")[0] == {
        "jsonl": "application/x-ndjson", "csv": "text/csv",
        "parquet": "application/vnd.apache.parquet",
    }[fmt]  # fmt: skip
    assert f'filename="{table}.{fmt}"' in response.headers["content-disposition"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"table": "api_keys"}, "query.table"),
        ({"table": "viewer_sessions"}, "query.table"),
        ({"table": "agent_actions", "format": "xml"}, "query.format"),
        ({"table": "agent_actions", "since": "yesterday"}, "query.since"),
        ({"table": "agent_actions", "since": "2026-12-02T00:00:00Z",
          "until": "2026-12-01T00:00:00Z"}, "query.since"),
        ({"table": "agent_actions", "range": "2y"}, "query.range"),
        ({}, "query.table"),
    ],
)  # fmt: skip
async def test_bad_parameters_are_422s_naming_them(
    api: tuple[Any, httpx.AsyncClient], params: dict[str, str], field: str
) -> None:
    """Each invalid parameter is refused before anything is read, naming it."""
    _, http = api
    response = await http.get("/export", params=params)
    assert response.status_code == 422, response.text
    assert field in response.text, response.text


async def test_an_export_beyond_the_bound_is_a_429(
    api: tuple[Any, httpx.AsyncClient],
) -> None:
    """With every export place taken, another export is a 429 with Retry-After."""
    app, http = api
    gate = app.state.omniclaude.exports
    async with gate:
        response = await http.get("/export", params=_query("agent_actions", "jsonl"))
    assert response.status_code == 429, response.text
    assert response.headers["retry-after"] == "5"
    after = await http.get("/export", params=_query("agent_actions", "csv"))
    assert after.status_code == 200


async def test_a_client_that_stops_reading_gives_the_connection_back(
    served: tuple[Any, httpx.AsyncClient], db_pool: Any
) -> None:
    """A client that takes the first chunk and then reads nothing: after the idle timeout
    the export ends, its place and its pool connection are free again, and the next export
    runs, while the stalled response is never completed."""
    app, http = served
    state = app.state.omniclaude
    idle_before = db_pool.get_idle_size()
    stalled = asyncio.Event()
    never = asyncio.Event()
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        await never.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and message.get("body"):
            stalled.set()
            await never.wait()  # a client that stops reading: the send never completes

    query = "&".join(f"{k}={v}" for k, v in _query("agent_actions", "jsonl").items())
    key = http.headers["authorization"]
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": "/export", "raw_path": b"/export",
        "query_string": query.replace("+", "%2B").encode(), "root_path": "",
        "headers": [(b"host", b"t"), (b"authorization", key.encode())],
        "client": ("127.0.0.1", 1), "server": ("t", 80),
    }  # fmt: skip
    task = asyncio.create_task(app(scope, receive, send))
    try:
        await wait_for(lambda: _true(stalled.is_set()), what="the first chunk of the export")
        assert sent[0]["status"] == 200
        await wait_for(
            lambda: _true(not state.exports.locked()), what="the stalled export's place back"
        )
        await wait_for(
            lambda: _true(db_pool.get_idle_size() >= idle_before),
            what="the stalled export's connection back in the pool",
        )
        response = await http.get("/export", params=_query("agent_actions", "csv"))
        assert response.status_code == 200, "the next export did not run"
        assert not any(m.get("more_body") is False for m in sent[1:]), "stalled body completed"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _true(value: bool) -> bool | None:
    return True if value else None
