"""SQL injection through the HTTP API: every query and path parameter, and request bodies.

The parameters are enumerated from the app itself (:func:`tests.fixtures.parameters.targets`:
the OpenAPI document for the API, and the viewer's routes' declared parameters, FastAPI's
dependency tree included), so a new parameter is attacked without editing this file. Proved:
no request is answered with a 5xx; text filters match the injection string literally
(``agent``, ``session_id``, ``q`` find exactly the seeded execution holding it); bodies are
stored verbatim; and nothing else in the database changed (row counts, a canary table,
functions, views, roles, API keys).
"""

from __future__ import annotations

import re
import uuid

import pytest

from omniclaude.events import ExecutionStarted
from omniclaude.storage.writers import write_events
from tests.fixtures.parameters import targets
from tests.fixtures.stack import FullStack
from tests.integration.security.support import (
    INJECTIONS,
    event_cases,
    install_canary,
    snapshot,
    stored_problems,
)
from tests.load.verify import wait_until_stored

pytestmark = pytest.mark.covers(
    "endpoint:GET /executions",
    "endpoint:GET /executions/{correlation_id}",
    "endpoint:GET /traces/{correlation_id}",
    "endpoint:POST /events",
    "endpoint:POST /route",
    "endpoint:POST /execute",
    "endpoint:POST /keys",
)

_VIEWER_ID = re.compile(r'data-href="/viewer/traces/([0-9a-f-]{36})"')


async def _seed(stack: FullStack) -> dict[str, uuid.UUID]:
    """One execution per payload, holding it as agent name, session id and in its prompt."""
    seeded = {f"{text} [seed {i}]": uuid.uuid4() for i, text in enumerate(INJECTIONS)}
    events = [
        ExecutionStarted(correlation_id=cid, agent_name=value, session_id=value,
                         user_prompt=f"prompt {value}")
        for value, cid in seeded.items()
    ]  # fmt: skip
    async with stack.pool.acquire() as conn:
        await write_events(conn, events)
    return seeded


async def _ids(stack: FullStack, url: str, params: dict[str, str]) -> list[str]:
    response = await stack.client.get(url, params=params, headers=stack.headers("read"))
    assert response.status_code == 200, f"GET {url} {params}: {response.status_code}"
    if url.startswith("/viewer/"):
        return _VIEWER_ID.findall(response.text)
    return [item["correlation_id"] for item in response.json()["items"]]


async def test_injection_in_every_query_and_path_parameter_changes_nothing(
    full_stack: FullStack,
) -> None:
    """Each payload in each GET parameter: never a 5xx; text filters match it literally;
    the database is exactly as before."""
    stack = full_stack
    async with stack.pool.acquire() as conn:
        await install_canary(conn)
    seeded = await _seed(stack)
    before = await snapshot(stack.pool)
    found = targets(stack.app)
    server_errors: list[str] = []
    for target in found:
        for value in INJECTIONS:
            url, params = target.request(value)
            response = await stack.client.get(url, params=params, headers=stack.headers("read"))
            if response.status_code >= 500:
                server_errors.append(f"GET {url} {target.name}={value!r}: {response.status_code}")
    assert not server_errors, f"{len(server_errors)} 5xx answers: {server_errors[:5]}"

    wrong: list[str] = []
    for value, cid in seeded.items():
        for url, name in (("/executions", "agent"), ("/executions", "session_id"),
                          ("/executions", "q"), ("/viewer/", "agent"),
                          ("/viewer/", "session_id"),
                          ("/viewer/", "q")):  # fmt: skip
            ids = await _ids(stack, url, {name: value})
            if ids != [str(cid)]:
                wrong.append(f"GET {url}?{name}={value!r} -> {ids}, expected [{cid}]")
    assert not wrong, f"text filters did not match literally: {wrong[:5]}"
    assert await snapshot(stack.pool) == before, "a GET request changed the database"
    assert len(found) >= 15, f"only {len(found)} parameters found: {found}"


async def test_injection_in_request_bodies_is_stored_verbatim(full_stack: FullStack) -> None:
    """Payloads in POST /events (every string of every event type), /route, /execute and
    /keys: stored verbatim through the sink, Kafka and the consumer; nothing else changed."""
    stack = full_stack
    async with stack.pool.acquire() as conn:
        await install_canary(conn)
    before = await snapshot(stack.pool)
    cases = event_cases()
    response = await stack.client.post("/events", json={"events": [p for p, _ in cases]},
                                       headers=stack.headers("ingest"))  # fmt: skip
    assert response.status_code == 202, response.text
    assert response.json()["accepted"] == len(cases), response.json()["errors"][:3]
    prompt, key_name = INJECTIONS[0] + " [route]", INJECTIONS[1] + " [key]"
    routed = await stack.client.post("/route", json={"user_prompt": prompt},
                                     headers=stack.headers("ingest"))  # fmt: skip
    assert routed.status_code == 200, routed.text
    key = await stack.client.post("/keys", json={"name": key_name, "scopes": ["read"]},
                                  headers=stack.headers("admin"))  # fmt: skip
    assert key.status_code == 201, key.text
    execute_prompt = INJECTIONS[2] + " read main.py"
    accepted = await stack.submit_request(
        {"user_prompt": execute_prompt, "agent": "file-reader", "context": {"files": ["main.py"]}}
    )

    expected = {uuid.UUID(p["event_id"]): p["event_type"] for p, _ in cases}
    expected[uuid.UUID(routed.json()["event_id"])] = "routing_decision"
    await wait_until_stored(stack.pool, expected, what="the injected events", timeout_s=60)
    problems = await stored_problems(stack.pool, cases)
    assert not problems, f"{len(problems)} strings not stored verbatim: {problems[:8]}"
    request = await stack.pool.fetchval(
        "SELECT user_request FROM agent_routing_decisions WHERE event_id = $1",
        uuid.UUID(routed.json()["event_id"]),
    )
    assert request == prompt, f"/route prompt stored as {request!r}"
    names = await stack.pool.fetch("SELECT name FROM api_keys WHERE name = $1", key_name)
    assert len(names) == 1, f"/keys name not stored verbatim once: {names}"
    row = await stack.wait_for_row(str(accepted["correlation_id"]), status="success")
    assert row["user_prompt"] == execute_prompt, f"/execute prompt stored as {row['user_prompt']!r}"

    after = await snapshot(stack.pool)
    for key_ in ("canary", "functions", "views", "roles"):
        assert after[key_] == before[key_], f"{key_} changed: {before[key_]} -> {after[key_]}"
    assert after["counts"]["api_keys"] == before["counts"]["api_keys"] + 1
    assert stack.ingest.dead_lettered == 0, "an injected event went to the dead letters"
