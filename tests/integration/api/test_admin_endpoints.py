"""Keys, agents, health, readiness and metrics over HTTP, on the real PostgreSQL."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from omniclaude.routing.registry import AgentRegistry


@pytest.mark.covers(
    "endpoint:POST /keys",
    "endpoint:GET /keys",
    "endpoint:DELETE /keys/{key_id}",
    "table:api_keys",
)
async def test_keys_are_created_listed_and_revoked_in_the_database(
    client: tuple[httpx.AsyncClient, dict[str, str]], db_pool: Any
) -> None:
    """POST /keys stores only a hash; GET /keys lists it; DELETE revokes it for good."""
    http, admin = client
    created = await http.post("/keys", json={"name": "ci", "scopes": ["read"]}, headers=admin)
    assert created.status_code == 201, created.text
    body = created.json()
    key_id, secret = uuid.UUID(body["key_id"]), body["key"]
    row = await db_pool.fetchrow("SELECT * FROM api_keys WHERE key_id = $1", key_id)
    assert row is not None, "the created key is not in api_keys"
    assert secret not in {str(v) for v in dict(row).values()}, "the key is stored in clear"

    listed = (await http.get("/keys", headers=admin)).json()
    assert key_id in {uuid.UUID(k["key_id"]) for k in listed}
    assert all("key" not in k for k in listed), "GET /keys returned a secret"

    reader = {"Authorization": f"Bearer {secret}"}
    assert (await http.get("/agents", headers=reader)).status_code == 200
    revoked = await http.delete(f"/keys/{key_id}", headers=admin)
    assert revoked.status_code == 200, revoked.text
    assert await db_pool.fetchval("SELECT revoked_at FROM api_keys WHERE key_id = $1", key_id)
    assert (await http.get("/agents", headers=reader)).status_code == 401, "revoked key works"
    missing = await http.delete(f"/keys/{uuid.uuid4()}", headers=admin)
    assert missing.status_code == 404


@pytest.mark.covers("endpoint:GET /agents")
async def test_agents_lists_the_registry(client: tuple[httpx.AsyncClient, dict[str, str]]) -> None:
    """GET /agents returns every shipped agent of the registry."""
    http, admin = client
    data = (await http.get("/agents", headers=admin)).json()
    names = {agent["name"] for agent in data["agents"]}
    assert set(AgentRegistry.load().names) <= names, f"agents missing from /agents: {names}"


@pytest.mark.covers("endpoint:GET /health", "endpoint:GET /ready", "endpoint:GET /metrics")
async def test_health_ready_and_metrics(client: tuple[httpx.AsyncClient, dict[str, str]]) -> None:
    """/health needs no key; /ready checks the real database; /metrics is Prometheus text."""
    http, admin = client
    assert (await http.get("/health")).status_code == 200
    ready = await http.get("/ready")
    assert ready.status_code == 200, f"not ready against a live database: {ready.text}"
    await http.post("/route", json={"user_prompt": "list the dependencies"}, headers=admin)
    metrics = await http.get("/metrics", headers=admin)
    assert metrics.status_code == 200
    assert "# TYPE" in metrics.text, "not Prometheus exposition format"


@pytest.mark.parametrize("name", ["", " ", "\t\n"])
async def test_a_blank_key_name_is_a_422_naming_the_field(
    client: tuple[httpx.AsyncClient, dict[str, str]], name: str
) -> None:
    """A blank name is refused with 422 naming body.name (schemathesis found a 500 here)."""
    http, admin = client
    response = await http.post("/keys", json={"name": name, "scopes": ["read"]}, headers=admin)
    assert response.status_code == 422, response.text
    assert "name" in response.text
