"""Every hook event through the real command, the emitter, the broker and the consumer."""

from __future__ import annotations

import asyncpg
import pytest

from omniclaude.consuming import IngestService
from omniclaude.hooks.sessions import session_correlation_id
from tests.fixtures.waiting import wait_for
from tests.integration.hooks.conftest import HookRig, count
from tests.unit.hooks.builders import Session, full_session_script

pytestmark = pytest.mark.covers(
    "table:agent_actions",
    "table:agent_execution_logs",
    "table:agent_routing_decisions",
    "feature:claude-code-hooks",
)


async def run_session(rig: HookRig, session: Session) -> dict[str, object]:
    """Feed a full session through the hook; the parallel batch really runs in parallel."""
    items, expected = full_session_script(session)
    await rig.hooks(items[:2])
    if session.old:
        await rig.hooks(items[2:8])
    else:
        await rig.hooks(items[2:5], parallel=True)  # three PreToolUse at once
        await rig.hooks(items[5:8], parallel=True)  # their results, in any order
    await rig.hooks(items[8:])
    return expected


async def session_closed(conn: asyncpg.Connection, session_id: str) -> bool:
    """The session's execution row has left in_progress."""
    status = await conn.fetchval(
        "SELECT status FROM agent_execution_logs WHERE correlation_id = $1",
        session_correlation_id(session_id),
    )
    return status == "success"


@pytest.mark.parametrize("old", [False, True], ids=["recent-payloads", "old-version-payloads"])
async def test_a_session_lands_as_linked_rows(
    hook_rig: HookRig,
    ingest_service: IngestService,
    postgres_connection: asyncpg.Connection,
    old: bool,
) -> None:
    """One execution per prompt under its session; paired calls with durations; errors;
    decisions; the subagent as a child; success and failure; all linked by correlation id."""
    conn = postgres_connection
    emitter = await hook_rig.start_emitter()
    session = Session(old=old)
    expected = await run_session(hook_rig, session)
    await wait_for(
        lambda: session_closed(conn, session.session_id),
        what="the session row to close",
        timeout_s=60,
    )
    await wait_for(
        lambda: count(
            conn, "SELECT count(*) FROM agent_actions WHERE session_id = $1", session.session_id
        ),
        what="the session's actions",
    )  # fmt: skip
    session_cid = session_correlation_id(session.session_id)

    async def prompts_done() -> list[asyncpg.Record] | None:
        rows = await conn.fetch(
            "SELECT correlation_id, status, prompt_id, user_prompt, agent_name"
            " FROM agent_execution_logs WHERE parent_correlation_id = $1 ORDER BY created_at",
            session_cid,
        )
        return (
            rows
            if len(rows) == expected["prompts"] and all(r["status"] != "in_progress" for r in rows)
            else None
        )

    prompts = await wait_for(prompts_done, what="three closed prompt executions")
    assert [r["status"] for r in prompts] == ["success", "success", "failed"]
    assert (prompts[0]["prompt_id"] is None) is old, "prompt_id not kept as a column"
    assert "dev@example.com" not in prompts[0]["user_prompt"], "PII reached the database"

    agent = await conn.fetchrow(
        "SELECT correlation_id, parent_correlation_id, status, agent_name, claude_agent_id"
        " FROM agent_execution_logs WHERE session_id = $1 AND claude_agent_id IS NOT NULL",
        session.session_id,
    )  # fmt: skip
    assert agent is not None, "the subagent execution is missing"
    assert agent["claude_agent_id"] == expected["agent_id"]
    assert agent["agent_name"] == "Explore"
    assert agent["parent_correlation_id"] == prompts[1]["correlation_id"], (
        "subagent not under its prompt"
    )
    assert agent["status"] == "success"

    rows = await conn.fetch(
        "SELECT a.action_type, a.action_name, a.duration_ms, a.tool_use_id, a.correlation_id,"
        " a.prompt_id, l.correlation_id IS NOT NULL AS linked"
        " FROM agent_actions a LEFT JOIN agent_execution_logs l USING (correlation_id)"
        " WHERE a.session_id = $1", session.session_id,
    )  # fmt: skip
    by_type: dict[str, list[asyncpg.Record]] = {}
    for row in rows:
        by_type.setdefault(row["action_type"], []).append(row)
    assert len(by_type.get("tool_call", [])) == expected["tool_calls"], (
        "a tool call was lost or doubled"
    )
    assert len(by_type.get("error", [])) == expected["errors"]
    assert len(by_type.get("decision", [])) == expected["decisions"]
    assert all(r["linked"] for r in rows), "an action is not linked to an execution"
    assert all(r["duration_ms"] is not None for r in by_type["tool_call"]), (
        "a tool call has no duration"
    )
    grep = next(r for r in by_type["tool_call"] if r["action_name"] == "Grep")
    assert grep["correlation_id"] == agent["correlation_id"], (
        "the subagent's tool call is not its own"
    )
    if not old:
        reads = {
            r["tool_use_id"]: r["duration_ms"]
            for r in by_type["tool_call"]
            if r["action_name"] == "Read"
        }
        ids = expected["parallel_ids"]
        assert reads == {ids[0]: 10, ids[1]: 11, ids[2]: 12}, "parallel calls paired wrongly"  # type: ignore[index]
        assert all(r["prompt_id"] for r in rows if r["correlation_id"] != session_cid)
    else:
        assert all(r["tool_use_id"] is None for r in rows)

    decisions = await count(
        conn,
        "SELECT count(*) FROM agent_routing_decisions WHERE parent_correlation_id = $1",
        session_cid,
    )
    assert decisions == expected["prompts"], "a prompt has no routing decision"
    assert await hook_rig.stop_emitter(emitter) == 0
