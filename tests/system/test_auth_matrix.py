"""Every API route x {no key, malformed key, unknown key, revoked key, each scope, both
header styles}: 401 for a missing or bad key, 403 for a wrong scope, through otherwise."""

from __future__ import annotations

import uuid
from typing import Any

from omniclaude.api.routes import ROUTERS
from omniclaude.storage.api_keys import ApiKeyStore
from tests.fixtures.stack import SCOPES, FullStack

_ID = str(uuid.uuid4())
_EVENT = {"correlation_id": _ID, "action_type": "decision", "action_name": "matrix"}

#: (method, path) → (required scope or None for open routes, request to send).
ROUTES: dict[tuple[str, str], tuple[str | None, dict[str, Any]]] = {
    ("GET", "/health"): (None, {}),
    ("GET", "/ready"): (None, {}),
    ("GET", "/metrics"): ("read", {}),
    ("POST", "/route"): ("ingest", {"json": {"user_prompt": "find the tests"}}),
    ("POST", "/execute"): (
        "ingest",
        {"json": {"user_prompt": "Read main.py", "agent": "file-reader"}},
    ),
    ("GET", "/executions/{correlation_id}"): ("read", {"path": f"/executions/{_ID}"}),
    ("GET", "/executions"): ("read", {}),
    ("POST", "/events"): ("ingest", {"json": {"events": [_EVENT], "default_type": "agent_action"}}),
    ("GET", "/traces/{correlation_id}"): ("read", {"path": f"/traces/{_ID}"}),
    ("GET", "/traces/{correlation_id}/activity"): ("read", {"path": f"/traces/{_ID}/activity"}),
    ("GET", "/overview"): ("read", {}),
    ("GET", "/usage"): ("read", {}),
    ("GET", "/agents"): ("read", {}),
    ("GET", "/export"): ("read", {"path": "/export?table=agent_actions&range=15m"}),
    ("POST", "/v1/traces"): ("ingest", {"json": {}}),  # an empty OTLP/JSON request
    ("POST", "/v1/logs"): ("ingest", {"json": {}}),
    ("POST", "/v1/metrics"): ("ingest", {"json": {}}),
    ("GET", "/keys"): ("admin", {}),
    ("POST", "/keys"): ("admin", {"json": {"name": "from-matrix", "scopes": ["read"]}}),
    ("DELETE", "/keys/{key_id}"): ("admin", {"path": f"/keys/{_ID}"}),
}


def test_matrix_lists_every_route() -> None:
    """The matrix covers every route the API mounts (a new route must declare its scope)."""
    mounted = {
        (m, r.path) for router in ROUTERS for r in router.routes for m in r.methods if m != "HEAD"
    }
    assert mounted == set(ROUTES), (
        f"routes missing from the matrix: {mounted - set(ROUTES)}; stale: {set(ROUTES) - mounted}"
    )


async def test_auth_matrix(full_stack: FullStack) -> None:
    """Each route answers 401/403/through exactly as its scope says, for every credential."""
    store = ApiKeyStore(full_stack.pool)
    revoked_record, revoked = await store.create("revoked", ["admin"])
    await store.revoke(str(revoked_record.key_id))
    unknown = "oc_0123456789ab_" + "A" * 43
    credentials: dict[str, dict[str, str]] = {
        "none": {},
        "malformed": {"Authorization": "Bearer not-a-key"},
        "unknown": {"Authorization": f"Bearer {unknown}"},
        "revoked": {"X-API-Key": revoked},
        "basic-scheme": {"Authorization": f"Basic {full_stack.keys['admin']}"},
    }
    for scope in SCOPES:
        credentials[f"{scope}(bearer)"] = {"Authorization": f"Bearer {full_stack.keys[scope]}"}
        credentials[f"{scope}(x-api-key)"] = {"X-API-Key": full_stack.keys[scope]}
    problems = []
    for (method, template), (required, request) in ROUTES.items():
        for name, headers in credentials.items():
            response = await full_stack.client.request(
                method, request.get("path", template), json=request.get("json"), headers=headers
            )
            scope = name.split("(")[0]
            if required is None:
                expected = "through"
            elif scope not in SCOPES:
                expected = "401"
            elif scope in (required, "admin"):
                expected = "through"
            else:
                expected = "403"
            got = str(response.status_code) if response.status_code in (401, 403) else "through"
            if response.status_code >= 500 or got != expected:
                problems.append(
                    f"{method} {template} with {name}: expected {expected}, "
                    f"got {response.status_code} {response.text[:120]}"
                )
            if response.status_code == 401:
                assert response.headers.get("www-authenticate") == "Bearer"
                assert response.json()["message"].startswith("authorization:"), response.text
            if response.status_code == 403:
                assert response.json()["message"].startswith("scope:"), response.text
    assert not problems, "auth matrix violations:\n" + "\n".join(problems)
