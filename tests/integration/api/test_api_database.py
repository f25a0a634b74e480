"""The API on PostgreSQL (direct sink): each endpoint lands in, or reads from, its tables."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from omniclaude.api import create_app
from omniclaude.settings import Settings
from tests.fixtures.waiting import wait_for


@pytest.mark.covers(
    "endpoint:POST /route",
    "table:agent_routing_decisions",
)
async def test_route_is_stored(
    client: tuple[httpx.AsyncClient, dict[str, str]], db_pool: Any
) -> None:
    """POST /route → a row in agent_routing_decisions with the same choice and confidence."""
    http, auth = client
    data = (
        await http.post("/route", json={"user_prompt": "list the dependencies"}, headers=auth)
    ).json()
    row = await db_pool.fetchrow(
        "SELECT * FROM agent_routing_decisions WHERE event_id = $1", uuid.UUID(data["event_id"])
    )
    assert row["selected_agent"] == "dependency-auditor" == data["selected_agent"]
    assert float(row["confidence_score"]) == pytest.approx(data["confidence"], abs=1e-4)
    assert row["alternatives_count"] == len(data["alternatives"])


@pytest.mark.covers(
    "endpoint:POST /execute",
    "endpoint:GET /executions",
    "endpoint:GET /executions/{correlation_id}",
    "endpoint:GET /traces/{correlation_id}",
    "table:agent_execution_logs",
    "table:agent_actions",
)
async def test_execute_then_read_back(
    client: tuple[httpx.AsyncClient, dict[str, str]], db_pool: Any
) -> None:
    """POST /execute → agent_execution_logs row; GET /executions lists it; /traces returns it."""
    http, auth = client
    body = {
        "user_prompt": "Analyze this codebase",
        "context": {"files": ["main.py"]},
        "session_id": "s-1",
    }
    cid = (await http.post("/execute", json=body, headers=auth)).json()["correlation_id"]

    async def stored() -> Any:
        row = await db_pool.fetchrow(
            "SELECT * FROM agent_execution_logs WHERE correlation_id = $1", uuid.UUID(cid)
        )
        return row if row is not None and row["status"] == "success" else None

    row = await wait_for(stored, what="the execution row")
    assert row["agent_name"] == "code-analyzer"
    assert "analysis" in row["result"]
    assert row["session_id"] == "s-1"
    listed = (
        await http.get(
            "/executions", params={"agent": "code-analyzer", "status": "success"}, headers=auth
        )
    ).json()
    assert [i["correlation_id"] for i in listed["items"]] == [cid]
    assert listed["items"][0]["status"] == "success"
    assert (await http.get("/executions", params={"status": "failed"}, headers=auth)).json()[
        "items"
    ] == []
    trace = (await http.get(f"/traces/{cid}", headers=auth)).json()
    assert trace["execution"]["status"] == "success"
    assert len(trace["actions"]) >= 5
    assert trace["routing_decisions"][0]["selected_agent"] == "code-analyzer"


async def test_execution_is_read_from_the_database_by_another_instance(
    client: tuple[httpx.AsyncClient, dict[str, str]],
    database_url: str,
    tmp_path: Path,
    db_pool: Any,
) -> None:
    """An API instance that did not run an execution answers from the database."""
    http, auth = client
    cid = (
        await http.post(
            "/execute", json={"user_prompt": "read main.py", "agent": "file-reader"}, headers=auth
        )
    ).json()["correlation_id"]

    async def stored() -> Any:
        return await db_pool.fetchval(
            "SELECT status = 'success' FROM agent_execution_logs WHERE correlation_id = $1",
            uuid.UUID(cid),
        )

    await wait_for(stored, what="the execution row")
    other = create_app(
        Settings(database_url=database_url, data_dir=tmp_path / "o"), workspace=tmp_path
    )
    async with (
        other.router.lifespan_context(other),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=other), base_url="http://t") as second,
    ):
        view = (await second.get(f"/executions/{cid}", headers=auth)).json()
        assert view["source"] == "database"
        assert view["status"] == "success"
        assert view["result"]["file"] == "main.py"
        assert (await second.get("/ready")).json()["checks"]["database"] == "ok"


@pytest.mark.covers(
    "endpoint:POST /events",
    "table:agent_actions",
)
async def test_events_land_in_their_tables(
    client: tuple[httpx.AsyncClient, dict[str, str]], db_pool: Any
) -> None:
    """POST /events with the spec's bare action object lands one agent_actions row (idempotent)."""
    http, auth = client
    cid, eid = str(uuid.uuid4()), str(uuid.uuid4())
    event = {
        "event_id": eid,
        "correlation_id": cid,
        "action_type": "tool_call",
        "action_name": "bash",
        "action_details": {"command": "ls"},
        "timestamp": "2026-01-01T00:00:00",
    }
    for _ in range(2):
        response = await http.post(
            "/events", json={"events": [event], "default_type": "agent_action"}, headers=auth
        )
        assert response.status_code == 202
    rows = await db_pool.fetch(
        "SELECT * FROM agent_actions WHERE correlation_id = $1", uuid.UUID(cid)
    )
    assert len(rows) == 1, "a resent event was stored twice"
    assert rows[0]["action_details"] == {"command": "ls"}
    assert str(rows[0]["event_id"]) == eid


async def test_key_endpoints(client: tuple[httpx.AsyncClient, dict[str, str]]) -> None:
    """Admins create (the key shown once), list (never the key) and revoke keys over HTTP."""
    http, auth = client
    created = (
        await http.post("/keys", json={"name": "reader", "scopes": ["read"]}, headers=auth)
    ).json()
    reader = {"X-API-Key": created["key"]}
    assert (await http.get("/agents", headers=reader)).status_code == 200
    assert (await http.get("/keys", headers=reader)).status_code == 403
    listed = await http.get("/keys", headers=auth)
    assert created["key"] not in listed.text
    assert created["key_id"] in listed.text
    assert (await http.delete(f"/keys/{created['key_id']}", headers=auth)).json()[
        "revoked_at"
    ] is not None
    assert (await http.get("/agents", headers=reader)).status_code == 401
    assert (await http.delete(f"/keys/{uuid.uuid4()}", headers=auth)).status_code == 404


@pytest.mark.covers(
    "endpoint:GET /traces/{correlation_id}",
    "endpoint:GET /executions/{correlation_id}",
    "endpoint:GET /traces/{correlation_id}/activity",
    "endpoint:GET /overview",
    "endpoint:GET /usage",
    "table:agent_execution_logs",
)
async def test_short_ids_and_the_figures_routes(
    client: tuple[httpx.AsyncClient, dict[str, str]], db_pool: Any
) -> None:
    """A short id opens its trace and execution; one two executions start with is a 409
    naming both; the overview and the usage report answer with their documented shapes."""
    from omniclaude.events import ExecutionStarted
    from omniclaude.storage.writers import write_events

    http, auth = client
    prefix = uuid.uuid4().hex[:8]
    first, second = (uuid.UUID(prefix + uuid.uuid4().hex[8:]) for _ in range(2))
    alone = uuid.uuid4()
    async with db_pool.acquire() as conn:
        await write_events(
            conn,
            [ExecutionStarted(correlation_id=c, agent_name="a") for c in (first, second, alone)],
        )
    short = str(alone)[:8]
    trace = await http.get(f"/traces/{short}", headers=auth)
    assert trace.status_code == 200, trace.text
    assert trace.json()["correlation_id"] == str(alone)
    view = await http.get(f"/executions/{short}", headers=auth)
    assert view.json()["correlation_id"] == str(alone)
    assert view.json()["status"] == "in_progress"
    ambiguous = await http.get(f"/traces/{prefix}", headers=auth)
    assert ambiguous.status_code == 409
    message = ambiguous.json()["message"]
    assert message.startswith("path.correlation_id:")
    assert str(first) in message, message
    assert str(second) in message, message
    assert (await http.get("/traces/0123456", headers=auth)).status_code == 422
    live = await http.get(f"/traces/{short}/activity", headers=auth)
    assert [i["kind"] for i in live.json()["items"]] == ["execution_started"]
    assert live.json()["running"] is True
    assert int(live.headers["x-poll-after-ms"]) > 0
    again = await http.get(
        f"/traces/{short}/activity", params={"after": live.json()["next_cursor"]}, headers=auth
    )
    assert again.json()["items"] == []
    overview = (await http.get("/overview?range=1h", headers=auth)).json()
    assert overview["totals"]["running"] >= 3
    assert overview["ingest"]["reachable"] is False
    usage = await http.get("/usage?group_by=model", headers=auth)
    assert usage.status_code == 200
    assert usage.json()["total"]["key"] == "total"
    assert (await http.get("/usage?group_by=week", headers=auth)).status_code == 422
    refused = await http.get("/usage?limit=0", headers=auth)
    assert refused.status_code == 422
    assert "limit" in refused.text
