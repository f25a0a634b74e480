"""The read layer as the viewer uses it, and the viewer's pages, on the real schema."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from omniclaude.api.viewer.waterfall import build_waterfall
from omniclaude.events import (
    ActionType,
    AgentAction,
    AgentAlternative,
    AgentTransformation,
    ExecutionCompleted,
    ExecutionFailed,
    ExecutionStarted,
    ManifestInjection,
    ManifestSection,
    RoutingDecision,
    utc_now,
)
from omniclaude.storage import queries
from omniclaude.storage.writers import write_events

pytestmark = pytest.mark.covers(
    "table:agent_execution_logs",
    "table:agent_actions",
    "table:agent_routing_decisions",
    "table:agent_manifest_injections",
    "table:agent_transformation_events",
    "table:api_keys",
)  # fmt: skip


def _trace_events(root: uuid.UUID, child: uuid.UUID, failed: uuid.UUID) -> list[Any]:
    t0 = utc_now() - timedelta(minutes=5)

    def at(ms: float) -> Any:
        return t0 + timedelta(milliseconds=ms)

    return [
        RoutingDecision(correlation_id=root, timestamp=at(1), user_request="Review the shop",
                        selected_agent="polymorphic-agent", confidence_score=0.71,
                        routing_strategy="enhanced", routing_time_ms=0.8,
                        alternatives=[AgentAlternative(agent_name="code-analyzer",
                                                       confidence=0.5)]),
        ExecutionStarted(correlation_id=root, timestamp=at(2), agent_name="polymorphic-agent",
                         user_prompt="Review the shop: code and tests", session_id="sess-9"),
        ManifestInjection(correlation_id=root, timestamp=at(10), agent_name="polymorphic-agent",
                          sections=[ManifestSection(name="agent_definition", size_bytes=300)],
                          total_query_time_ms=7.5),
        AgentTransformation(correlation_id=root, timestamp=at(12), source_agent="polymorphic-agent",
                            target_agent="code-analyzer", duration_ms=2.0),
        ExecutionStarted(correlation_id=child, timestamp=at(20), agent_name="test-finder",
                         user_prompt="Review the shop: code and tests", parent_correlation_id=root),
        AgentAction(correlation_id=child, timestamp=at(40), action_type=ActionType.TOOL_CALL,
                    action_name="list_files", duration_ms=15.0, agent_name="test-finder",
                    action_details={"params": {"path": "."}, "password": "hunter2"}),
        ExecutionCompleted(correlation_id=child, timestamp=at(50), agent_name="test-finder",
                           parent_correlation_id=root, duration_ms=30.0),
        AgentAction(correlation_id=root, timestamp=at(70), action_type=ActionType.TOOL_CALL,
                    action_name="count_lines", duration_ms=12.0, agent_name="polymorphic-agent"),
        AgentAction(correlation_id=root, timestamp=at(75), action_type=ActionType.DECISION,
                    action_name="summarise", agent_name="polymorphic-agent"),
        ExecutionCompleted(correlation_id=root, timestamp=at(90), agent_name="polymorphic-agent",
                           duration_ms=88.0),
        ExecutionStarted(correlation_id=failed, timestamp=at(100),
                         agent_name="release-notes-writer",
                         user_prompt="Draft the 100% release notes"),
        AgentAction(correlation_id=failed, timestamp=at(130), action_type=ActionType.ERROR,
                    action_name="TransientToolError", duration_ms=20.0,
                    action_details={"error_message": "503"}),
        ExecutionFailed(correlation_id=failed, timestamp=at(140), agent_name="release-notes-writer",
                        error_type="TransientToolError", error_message="503"),
    ]  # fmt: skip


@pytest.fixture
async def recorded(postgres_connection: Any) -> dict[str, uuid.UUID]:
    """A parent with a child, and a failed execution, written as the consumer writes them."""
    ids = {"root": uuid.uuid4(), "child": uuid.uuid4(), "failed": uuid.uuid4()}
    await write_events(postgres_connection, _trace_events(ids["root"], ids["child"], ids["failed"]))
    return ids


async def test_a_trace_holds_every_row_of_the_tree(
    postgres_connection: Any, recorded: dict[str, uuid.UUID]
) -> None:
    """The trace query returns the root, its child and every event of both."""
    trace = await queries.fetch_trace_tree(postgres_connection, recorded["root"])
    assert {e.correlation_id for e in trace.executions} == {recorded["root"], recorded["child"]}
    assert len(trace.actions) == 3, "an action of the tree is missing"
    assert len(trace.routing) == 1
    assert len(trace.manifests) == 1
    assert len(trace.transformations) == 1
    waterfall = build_waterfall(trace)
    action_ids = {s.event_id for s in waterfall.spans if s.source == "action"}
    assert action_ids == {str(a.event_id) for a in trace.actions}
    child_span = next(s for s in waterfall.spans if s.label == "test-finder")
    assert child_span.depth == 1
    unknown = await queries.fetch_trace_tree(postgres_connection, uuid.uuid4())
    assert unknown.empty


async def test_the_list_filters_and_pages(
    postgres_connection: Any, recorded: dict[str, uuid.UUID]
) -> None:
    """Agent, status, text (LIKE wildcards literal), ids, roots and the cursor narrow the list."""
    now = utc_now()

    async def ids(**params: Any) -> list[uuid.UUID]:
        flt = queries.ExecutionFilter.build(now=now, **params)
        page = await queries.list_executions(postgres_connection, flt)
        return [r.correlation_id for r in page.items]

    assert set(await ids()) == set(recorded.values())
    assert await ids(status="failed") == [recorded["failed"]]
    assert await ids(agent="test-finder") == [recorded["child"]]
    assert await ids(text="100%") == [recorded["failed"]], "a % in the search was a wildcard"
    assert await ids(text="release NOTES") == [recorded["failed"]]
    assert await ids(text="503") == [recorded["failed"]], "the error message is not searched"
    assert await ids(text=str(recorded["child"]).upper()) == [recorded["child"]]
    assert await ids(text=str(recorded["child"])[:8]) == [recorded["child"]]
    assert await ids(text="sess-9") == [recorded["root"]]
    assert await ids(session="sess-") == [recorded["root"]], "a session id prefix must match"
    assert recorded["child"] not in await ids(top_level=True)
    flt = queries.ExecutionFilter.build(now=now)
    first = await queries.list_executions(postgres_connection, flt, limit=1)
    assert len(first.items) == 1
    assert first.next_cursor is not None
    rest = await queries.list_executions(postgres_connection, flt, cursor=first.next_cursor)
    assert first.items[0].correlation_id not in {r.correlation_id for r in rest.items}
    assert len(rest.items) == 2
    everything = await queries.list_executions(postgres_connection, flt)
    root_row = next(r for r in everything.items if r.correlation_id == recorded["root"])
    assert root_row.child_count == 1
    assert "test-finder" in await queries.list_agents(postgres_connection)


async def test_a_short_id_resolves_to_its_execution(
    postgres_connection: Any, recorded: dict[str, uuid.UUID]
) -> None:
    """The first 8 hex digits find the execution; an unknown prefix finds nothing."""
    root = recorded["root"]
    assert await queries.resolve_correlation_id(postgres_connection, str(root)[:8]) == root
    assert await queries.resolve_correlation_id(postgres_connection, str(root)[:13]) == root
    unused = next(p for p in ("00000000", "ffffffff") if not str(root).startswith(p))
    assert await queries.resolve_correlation_id(postgres_connection, unused) is None


async def test_event_details_come_from_their_table(
    postgres_connection: Any, recorded: dict[str, uuid.UUID]
) -> None:
    """Every span source reads its full row; an execution's lifecycle is read on its own."""
    trace = await queries.fetch_trace_tree(postgres_connection, recorded["root"])
    for source, rows in (
        ("action", trace.actions),
        ("routing", trace.routing),
        ("manifest", trace.manifests),
        ("transformation", trace.transformations),
        ("lifecycle", trace.lifecycle),
    ):
        row = await queries.fetch_record(postgres_connection, source, rows[0].event_id)
        assert row == rows[0], f"the {source} row read alone differs from the trace's"
    execution = await queries.fetch_record(postgres_connection, "execution", recorded["root"])
    assert execution is not None
    lifecycle = await queries.fetch_lifecycle(postgres_connection, recorded["root"])
    assert [e.event_type for e in lifecycle] == ["execution_started", "execution_completed"]
    assert await queries.fetch_record(postgres_connection, "action", uuid.uuid4()) is None


async def test_activity_lists_rows_stored_after_a_cursor(
    postgres_connection: Any, recorded: dict[str, uuid.UUID]
) -> None:
    """From the start: every row of the tree once; from the last cursor: nothing new, until a
    new action of the child is stored, which comes back alone."""
    root, child = recorded["root"], recorded["child"]
    everything = await queries.trace_activity(postgres_connection, root, after=None)
    assert len(everything.items) == 10, [i.source for i in everything.items]
    assert {i.correlation_id for i in everything.items} == {root, child}
    assert not everything.running
    assert everything.next_cursor is not None
    after = queries.decode_cursor(everything.next_cursor)
    quiet = await queries.trace_activity(postgres_connection, root, after=after)
    assert quiet.items == []
    assert quiet.next_cursor == everything.next_cursor, "an idle poll lost its place"
    late = AgentAction(correlation_id=child, action_type=ActionType.TOOL_CALL,
                       action_name="late_call", agent_name="test-finder")  # fmt: skip
    await write_events(postgres_connection, [late])
    fresh = await queries.trace_activity(postgres_connection, root, after=after)
    assert [(i.event_id, i.source, i.agent_name) for i in fresh.items] == [
        (late.event_id, "action", "test-finder")
    ]


async def test_the_overview_counts_what_was_recorded(
    postgres_connection: Any, recorded: dict[str, uuid.UUID]
) -> None:
    """Totals, slow tools, agent usage, confidence and errors reflect the rows."""
    now = utc_now()
    overview = await queries.fetch_overview(
        postgres_connection, since=now - timedelta(hours=1), until=now
    )
    assert overview.totals.executions == 3
    assert overview.totals.failed == 1
    assert overview.totals.actions == 4
    assert overview.totals.error_actions == 1
    assert {t.action_name for t in overview.slowest_tools} == {"list_files", "count_lines"}
    assert {a.agent_name for a in overview.agents} >= {"polymorphic-agent", "test-finder"}
    assert sum(b.decisions for b in overview.confidence) == 1
    assert overview.confidence[7].decisions == 1, "0.71 belongs in the 0.7-0.8 bucket"
    assert {e.correlation_id for e in overview.recent_errors} == {recorded["failed"]}
    assert sum(b.events for b in overview.activity) == 13


@pytest.fixture
async def viewer_client(
    db_pool: Any, tmp_path: Path, database_url: str
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """The real API app on the test database, with a read key made by ensure_viewer_key."""
    from omniclaude.api import create_app
    from omniclaude.settings import Settings
    from omniclaude.stack.keys import ensure_viewer_key
    from omniclaude.testing import InMemorySink

    key, created = await ensure_viewer_key(database_url, tmp_path)
    assert created
    again, created_again = await ensure_viewer_key(database_url, tmp_path)
    assert (again, created_again) == (key, False), "a working key was replaced"
    settings = Settings(database_url=database_url, data_dir=tmp_path)
    app = create_app(settings, sink=InMemorySink(), pool=db_pool, workspace=tmp_path)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://viewer.test") as client:
            yield client, key


@pytest.mark.covers("table:viewer_sessions")
async def test_the_served_viewer_shows_a_trace_redacted(
    viewer_client: tuple[httpx.AsyncClient, str], recorded: dict[str, uuid.UUID]
) -> None:
    """Through the real app, key store and session store: the key is traded for a session
    once, then every page opens with the cookie alone; every action is on the trace page,
    no secret is; a short id opens the same trace."""
    client, key = viewer_client
    assert (await client.get("/")).headers["location"] == "/viewer/"
    assert (await client.get("/viewer/")).status_code == 401
    login = await client.post(
        "/viewer/login", data={"key": key, "next": "/viewer/"}, follow_redirects=False
    )
    assert login.status_code == 303
    assert "httponly" in login.headers["set-cookie"].lower()
    page = await client.get(f"/viewer/traces/{recorded['root']}")
    assert page.status_code == 200, page.text
    trace = (await client.get(f"/traces/{recorded['root']}")).json()
    actions = [a for t in (trace, *trace["children"]) for a in t["actions"]]
    assert len(actions) == 3
    for action in actions:
        assert f'data-event-id="{action["event_id"]}"' in page.text
        detail = await client.get(f"/viewer/partials/events/action/{action['event_id']}")
        assert "hunter2" not in detail.text, "a password reached the detail panel"
    short = await client.get(f"/viewer/traces/{str(recorded['root'])[:8]}")
    assert short.status_code == 200
    assert f'data-correlation-id="{recorded["root"]}"' in short.text
    listing = await client.get("/viewer/?status=failed")
    assert str(recorded["failed"]) in listing.text
    assert (await client.get("/viewer/overview")).status_code == 200
    await client.post("/viewer/logout")
    assert (await client.get("/viewer/overview")).status_code == 401


async def test_the_agent_choices_are_the_agents_that_ran_in_the_window(
    postgres_connection: Any,
) -> None:
    """Each agent that ran in the last 30 days once, in order; one that ran only before, and
    one whose only run is older still, are not offered."""
    now = utc_now()
    runs = [("zeta", 1), ("alpha", 2), ("alpha", 3), ("mid", 29), ("old", 45), ("zeta", 40)]
    await write_events(postgres_connection, [
        ExecutionStarted(correlation_id=uuid.uuid4(), agent_name=agent,
                         timestamp=now - timedelta(days=days))
        for agent, days in runs
    ])  # fmt: skip
    assert await queries.list_agents(postgres_connection) == ["alpha", "mid", "zeta"]
    recent = await queries.list_agents(postgres_connection, window=timedelta(days=2))
    assert recent == ["zeta"]
