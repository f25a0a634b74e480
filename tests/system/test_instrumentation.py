"""Instrumentation completeness: every shipped agent emits every event type it can.

The spec's Issue 2: ``log_error()`` and ``log_success()`` existed but were never called. Here
each agent of the shipped registry (enumerated from the code, so a new agent is checked
without editing this file) runs twice through ``POST /execute`` against the real broker,
consumer and database: once to completion, once past a timeout too short for any agent.
Together the two runs must leave, for that agent, all four action types, a start, a
completion and a failure, a routing decision and a manifest injection — and a
transformation for the polymorphic agent. A logging method that no code path calls fails
this test.
"""

from __future__ import annotations

import uuid

import pytest

from omniclaude.routing.registry import AgentRegistry
from tests.fixtures.stack import FullStack

SHIPPED_AGENTS = AgentRegistry.load(include_defaults=True).names
CONTEXT = {"files": ["main.py"], "query": "slugify", "path": "."}


async def _event_types(stack: FullStack, correlation_id: str) -> set[str]:
    cid = uuid.UUID(correlation_id)
    found = set()
    for table, column in (
        ("agent_execution_events", "event_type"),
        ("agent_actions", "action_type"),
    ):
        rows = await stack.pool.fetch(
            f"SELECT DISTINCT {column} AS t FROM {table} WHERE correlation_id = $1",
            cid,
        )
        found |= {row["t"] for row in rows}
    for table, name in (
        ("agent_routing_decisions", "routing_decision"),
        ("agent_manifest_injections", "manifest_injection"),
        ("agent_transformation_events", "agent_transformation"),
    ):
        count = await stack.pool.fetchval(
            f"SELECT count(*) FROM {table} WHERE correlation_id = $1",
            cid,
        )
        if count:
            found.add(name)
    return found


def test_the_registry_ships_agents() -> None:
    """The enumeration is not empty (an empty registry would make the test vacuous)."""
    assert len(SHIPPED_AGENTS) >= 5, SHIPPED_AGENTS


@pytest.mark.covers("endpoint:POST /execute", "table:agent_execution_logs")
@pytest.mark.parametrize("agent", SHIPPED_AGENTS)
async def test_every_event_type_is_emitted_for_each_shipped_agent(
    full_stack: FullStack, agent: str
) -> None:
    """A completed and a timed-out run of the agent together emit every event type."""
    ok = await full_stack.submit_request(
        {"user_prompt": f"@{agent} analyze this codebase", "agent": agent, "context": CONTEXT}
    )
    done = await full_stack.wait_for_completion(ok["correlation_id"], timeout=60)
    assert done["status"] == "success", f"{agent} did not complete: {done}"
    await full_stack.wait_for_row(ok["correlation_id"], status="success")

    refused = await full_stack.submit_request(
        {
            "user_prompt": f"@{agent} analyze this codebase",
            "agent": agent,
            "context": CONTEXT,
            "timeout_s": 0.000001,
        }
    )
    failed = await full_stack.wait_for_completion(refused["correlation_id"], timeout=60)
    assert failed["status"] == "failed", f"{agent} did not time out: {failed}"
    await full_stack.wait_for_row(refused["correlation_id"], status="failed")

    expected = {
        "execution_started",
        "execution_completed",
        "execution_failed",
        "tool_call",
        "decision",
        "error",
        "success",
        "routing_decision",
        "manifest_injection",
    }
    if agent == "polymorphic-agent":
        expected.add("agent_transformation")

    async def emitted() -> set[str] | None:
        found = await _event_types(full_stack, ok["correlation_id"]) | await _event_types(
            full_stack, refused["correlation_id"]
        )
        return found if expected <= found else None

    from tests.fixtures.waiting import wait_for

    try:
        await wait_for(emitted, what=f"every event type of {agent}", timeout_s=30)
    except AssertionError:
        found = await _event_types(full_stack, ok["correlation_id"]) | await _event_types(
            full_stack, refused["correlation_id"]
        )
        missing = sorted(expected - found)
        raise AssertionError(
            f"{agent} never emitted: {missing} (stored: {sorted(found)})"
        ) from None
