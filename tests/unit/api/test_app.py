"""The HTTP API without a database: auth, validation messages, routing, execution, events."""

from __future__ import annotations

import uuid

import pytest

from omniclaude.api import create_app
from omniclaude.errors import ConfigurationError
from omniclaude.events import AgentAction, RoutingDecision
from omniclaude.settings import Settings
from tests.fixtures.waiting import wait_for
from tests.unit.api.conftest import Api


async def test_health_is_open_and_ready_reports_checks(api: Api) -> None:
    """/health needs no key; /ready says the database is not configured and the sink is up."""
    assert (await api.client.get("/health")).json()["status"] == "ok"
    ready = await api.client.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {
        "database": "not configured",
        "sink": "ok",
    }


@pytest.mark.parametrize(
    ("headers", "status", "message"),
    [
        ({}, 401, "authorization: missing API key"),
        ({"Authorization": "Bearer nope"}, 401, "authorization: invalid or revoked API key"),
        (
            {"X-API-Key": "key-read"},
            403,
            "scope: this endpoint needs the 'ingest' scope (key has: read)",
        ),
        ({"X-API-Key": "key-ingest"}, 200, None),
        ({"Authorization": "Bearer key-admin"}, 200, None),
    ],
)
async def test_route_auth(
    api: Api, headers: dict[str, str], status: int, message: str | None
) -> None:
    """Missing or bad keys get 401 with a challenge, a wrong scope 403; admin implies ingest."""
    response = await api.client.post(
        "/route", json={"user_prompt": "find the tests"}, headers=headers
    )
    assert response.status_code == status, response.text
    if message:
        assert response.json()["message"].startswith(message)
        assert response.json()["error"] in {"unauthorized", "forbidden"}
    if status == 401:
        assert response.headers["www-authenticate"] == "Bearer"


async def test_route_returns_and_publishes_the_decision(api: Api) -> None:
    """POST /route answers the choice and publishes the same decision as an event."""
    cid = str(uuid.uuid4())
    body = {"user_prompt": "find the tests", "correlation_id": cid, "session_id": "s"}
    response = await api.client.post("/route", json=body, headers=api.auth("ingest"))
    data = response.json()
    assert data["selected_agent"] == "test-finder"
    assert data["correlation_id"] == cid
    assert data["alternatives"]
    assert data["matched_triggers"]
    event = api.sink.of_type(RoutingDecision)[0]
    assert str(event.event_id) == data["event_id"]
    assert event.session_id == "s"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body.user_prompt"),
        ({"user_prompt": ""}, "body.user_prompt"),
        ({"user_prompt": "x", "context": {"a": "b\x00"}}, "body.context"),
        ({"user_prompt": "x", "exclude": ["ghost"]}, "body.exclude[0]"),
        ({"user_prompt": "x", "surprise": 1}, "body.surprise"),
        ({"user_prompt": "x", "context": {"big": "y" * 70_000}}, "body.context"),
    ],
)
async def test_route_validation_names_the_field(
    api: Api, body: dict[str, object], field: str
) -> None:
    """Every 422 names the field at fault, in ``message`` and in ``errors``."""
    response = await api.client.post("/route", json=body, headers=api.auth("ingest"))
    assert response.status_code == 422, response.text
    data = response.json()
    assert data["error"] == "invalid_request"
    assert field in data["message"]
    assert any(e["field"] == field for e in data["errors"])


async def test_malformed_json_is_a_422(api: Api) -> None:
    """A body that is not JSON is refused with a 422, not a 500."""
    response = await api.client.post(
        "/route",
        content=b"{nope",
        headers={**api.auth("ingest"), "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"].startswith("body")


async def test_execute_returns_202_then_completes(api: Api) -> None:
    """/execute answers 202 with the id at once; GET /executions/{id} reaches success."""
    response = await api.client.post(
        "/execute",
        json={"user_prompt": "Analyze this codebase", "context": {"files": ["main.py"]}},
        headers=api.auth("ingest"),
    )
    assert response.status_code == 202
    cid = response.json()["correlation_id"]
    assert response.headers["location"] == f"/executions/{cid}"

    async def finished() -> dict[str, object] | None:
        body = (await api.client.get(f"/executions/{cid}", headers=api.auth("read"))).json()
        return body if body["status"] != "in_progress" else None

    body = await wait_for(finished, what="the execution to finish")
    assert body["status"] == "success"
    assert body["source"] == "live"
    assert "analysis" in body["result"]  # type: ignore[operator]
    assert {a.action_type.value for a in api.sink.of_type(AgentAction)} >= {
        "tool_call",
        "decision",
        "success",
    }


async def test_execute_parallel_lists_children(api: Api) -> None:
    """A parallel execution's view lists its children with their status."""
    response = await api.client.post(
        "/execute",
        json={
            "user_prompt": "survey",
            "agents": ["file-reader", "test-finder"],
            "context": {"files": ["main.py"]},
        },
        headers=api.auth("admin"),
    )
    cid = response.json()["correlation_id"]

    async def finished() -> dict[str, object] | None:
        body = (await api.client.get(f"/executions/{cid}", headers=api.auth("read"))).json()
        return body if body["status"] != "in_progress" else None

    body = await wait_for(finished, what="the parallel execution to finish")
    assert body["status"] == "success"
    assert sorted(c["agent_name"] for c in body["children"]) == ["file-reader", "test-finder"]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"user_prompt": "x", "agent": "ghost"}, "body.agent"),
        ({"user_prompt": "x", "agents": ["file-reader", "ghost"]}, "body.agents[1]"),
        ({"user_prompt": "x", "agent": "file-reader", "agents": ["test-finder"]}, "body.agents"),
        ({"user_prompt": "x", "context": {"files": ["../../etc/passwd"]}}, "body.context.files[0]"),
        ({"user_prompt": "x", "context": {"files": "main.py"}}, "body.context.files"),
        ({"user_prompt": "x", "context": {"files": [3]}}, "body.context.files[0]"),
        ({"user_prompt": "x", "context": {"path": "/etc"}}, "body.context.path"),
        ({"user_prompt": "x", "context": {"path": 1}}, "body.context.path"),
        ({"user_prompt": "x", "timeout_s": 0}, "body.timeout_s"),
        ({"user_prompt": "x", "max_attempts": 11}, "body.max_attempts"),
    ],
)
async def test_execute_validation_names_the_field(
    api: Api, body: dict[str, object], field: str
) -> None:
    """Bad agents, paths outside the workspace and bad options are 422s naming the field."""
    response = await api.client.post("/execute", json=body, headers=api.auth("ingest"))
    assert response.status_code == 422, response.text
    assert field in response.json()["message"]
    assert response.json()["errors"][0]["field"] == field


async def test_execute_refuses_a_used_correlation_id(api: Api) -> None:
    """Reusing a correlation id of a known execution is a 409."""
    cid = str(uuid.uuid4())
    body = {"user_prompt": "read main.py", "agent": "file-reader", "correlation_id": cid}
    assert (
        await api.client.post("/execute", json=body, headers=api.auth("ingest"))
    ).status_code == 202
    again = await api.client.post("/execute", json=body, headers=api.auth("ingest"))
    assert again.status_code == 409
    assert again.json()["message"].startswith("body.correlation_id:")


async def test_unknown_execution_is_a_404_and_database_routes_are_503(api: Api) -> None:
    """Without a database an unknown execution is 404; list and trace routes say 503."""
    missing = await api.client.get(f"/executions/{uuid.uuid4()}", headers=api.auth("read"))
    assert missing.status_code == 404
    assert missing.json()["message"].startswith("path.correlation_id:")
    listing = await api.client.get("/executions", headers=api.auth("read"))
    assert listing.status_code == 503
    assert listing.json()["message"].startswith("database:")
    bad_id = await api.client.get("/executions/not-a-uuid", headers=api.auth("read"))
    assert bad_id.status_code == 422
    assert bad_id.json()["errors"][0]["field"] == "path.correlation_id"


async def test_events_accept_valid_and_report_invalid_items(api: Api) -> None:
    """Valid items are published; invalid ones are listed with the field; none is dropped."""
    cid = str(uuid.uuid4())
    events = [
        {
            "correlation_id": cid,
            "action_type": "tool_call",
            "action_name": "bash",
            "action_details": {"cmd": "ls"},
        },
        {"correlation_id": cid, "action_type": "nope", "action_name": "x"},
        {"correlation_id": cid, "action_type": "decision", "action_name": "x\x00"},
        {
            "event_type": "routing_decision",
            "correlation_id": cid,
            "user_request": "u",
            "selected_agent": "a",
            "confidence_score": 0.5,
            "routing_strategy": "s",
            "routing_time_ms": 1,
        },
    ]
    response = await api.client.post(
        "/events",
        json={"events": events, "default_type": "agent_action"},
        headers=api.auth("ingest"),
    )
    assert response.status_code == 202, response.text
    data = response.json()
    assert (data["accepted"], data["rejected"]) == (2, 2)
    assert [e["field"] for e in data["errors"]] == [
        "body.events[1].action_type",
        "body.events[2].action_name",
    ]
    assert {str(e.event_id) for e in api.sink.events} == set(data["event_ids"])


async def test_events_all_invalid_is_a_422(api: Api) -> None:
    """A batch with no valid event is a 422 listing every item's problem."""
    response = await api.client.post(
        "/events", json={"events": [{"x": 1}, {"event_type": "bogus"}]}, headers=api.auth("ingest")
    )
    assert response.status_code == 422
    fields = [e["field"] for e in response.json()["errors"]]
    assert fields == ["body.events[0].correlation_id", "body.events[1].event_type"]
    unknown = await api.client.post(
        "/events", json={"events": [{}], "default_type": "bogus"}, headers=api.auth("ingest")
    )
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "body.default_type"
    empty = await api.client.post("/events", json={"events": []}, headers=api.auth("ingest"))
    assert empty.status_code == 422
    assert empty.json()["errors"][0]["field"] == "body.events"


async def test_metrics_count_requests_by_route(api: Api) -> None:
    """/metrics needs read and counts requests by route template and status."""
    await api.client.get(f"/executions/{uuid.uuid4()}", headers=api.auth("read"))
    text = (await api.client.get("/metrics", headers=api.auth("read"))).text
    assert 'route="/executions/{correlation_id}",status="404"' in text
    assert "omniclaude_executions_running" in text
    assert (await api.client.get("/metrics")).status_code == 401


async def test_agents_lists_the_registry(api: Api) -> None:
    """/agents lists the shipped agents."""
    data = (await api.client.get("/agents", headers=api.auth("read"))).json()
    assert {"code-analyzer", "polymorphic-agent"} <= {a["name"] for a in data["agents"]}
    assert data["problems"] == []


async def test_openapi_documents_security_and_errors(api: Api) -> None:
    """The OpenAPI document lists both key schemes and the error responses."""
    doc = (await api.client.get("/openapi.json")).json()
    assert {"HTTPBearer", "APIKeyHeader"} <= set(doc["components"]["securitySchemes"])
    assert {"401", "403", "422"} <= set(doc["paths"]["/route"]["post"]["responses"])


async def test_unknown_path_is_a_json_404(api: Api) -> None:
    """Unknown paths get the error shape too."""
    response = await api.client.get("/nope")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


async def test_app_without_sink_or_database_refuses_to_start(tmp_path: object) -> None:
    """Neither a broker nor a database configured: startup fails naming the variables."""
    app = create_app(Settings())
    with pytest.raises(ConfigurationError, match="OMNICLAUDE_KAFKA_BOOTSTRAP"):
        async with app.router.lifespan_context(app):
            pass
