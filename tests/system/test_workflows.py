"""The spec's five critical workflows, through the HTTP API, checked in the database.

Each request goes to ``POST /execute``; the agent runs in the API process and publishes
through Kafka; the ingestion service writes PostgreSQL. Assertions read the rows.
"""

from __future__ import annotations

from typing import Any

from tests.fixtures.stack import FullStack


def _types(actions: list[dict[str, Any]]) -> list[str]:
    return [a["action_type"] for a in actions]


async def test_simple_execution_one_tool_call(full_stack: FullStack) -> None:
    """A one-file request runs file-reader: exactly one tool call, a decision and a success."""
    accepted = await full_stack.submit_request(
        {"user_prompt": "Read the file and summarise it", "context": {"files": ["main.py"]}}
    )
    cid = accepted["correlation_id"]
    result = await full_stack.wait_for_completion(cid)
    assert result["status"] == "success", f"execution did not complete: {result}"
    assert result["agent_name"] == "file-reader", f"routed to the wrong agent: {result}"
    assert result["result"]["file"] == "main.py"

    row = await full_stack.wait_for_row(cid, status="success")
    assert row["agent_name"] == "file-reader"
    assert row["result"]["lines"]["total"] > 10, "the stored result lost the line counts"
    actions = await full_stack.wait_for_count("agent_actions", cid, 4)
    types = _types(actions)
    assert types.count("tool_call") == 1, f"expected one tool call, stored: {types}"
    assert "decision" in types, f"no decision stored: {types}"
    assert types[-1] == "success", f"the success action is missing or not last: {types}"
    tool = next(a for a in actions if a["action_type"] == "tool_call")
    assert tool["action_name"] == "read_file"
    assert tool["action_details"]["params"] == {"path": "main.py"}
    routing = await full_stack.wait_for_count("agent_routing_decisions", cid, 1)
    manifest = await full_stack.wait_for_count("agent_manifest_injections", cid, 1)
    assert manifest[0]["routing_decision_id"] == routing[0]["event_id"], (
        "manifest not linked to routing"
    )


async def test_complex_execution_several_tool_calls(full_stack: FullStack) -> None:
    """The spec's system test: "Analyze this codebase" completes with an analysis and logs
    tool calls, decisions and a success, all linked to the execution row."""
    response = await full_stack.submit_request(
        {"user_prompt": "Analyze this codebase", "context": {"files": ["main.py"]}}
    )
    correlation_id = response["correlation_id"]
    result = await full_stack.wait_for_completion(correlation_id, timeout=30)
    assert result["status"] == "success", f"execution did not complete: {result}"
    assert "analysis" in result["result"], f"no analysis in the result: {result['result']}"
    analysis = result["result"]["analysis"]
    assert analysis["python"]["functions"] >= 3
    assert analysis["todos"]["count"] == 2

    await full_stack.wait_for_row(correlation_id, status="success")
    events = await full_stack.wait_for_count("agent_actions", correlation_id, 8)
    assert any(e["action_type"] == "tool_call" for e in events)
    assert any(e["action_type"] == "decision" for e in events)
    assert any(e["action_type"] == "success" for e in events)
    tools = {e["action_name"] for e in events if e["action_type"] == "tool_call"}
    assert {"list_files", "count_lines", "parse_python", "read_file"} <= tools, (
        f"tool calls lost: {tools}"
    )
    joined = await full_stack.pool.fetch(
        "SELECT aa.action_type FROM agent_execution_logs ae "
        "JOIN agent_actions aa ON ae.correlation_id = aa.correlation_id "
        "WHERE ae.correlation_id = $1",
        __import__("uuid").UUID(correlation_id),
    )
    assert len(joined) == len(events), "actions not linked to the execution row"
    trace = (
        await full_stack.client.get(f"/traces/{correlation_id}", headers=full_stack.headers("read"))
    ).json()
    assert len(trace["actions"]) == len(events)
    assert trace["routing_decisions"]
    assert trace["manifest_injections"]


async def test_agent_transformation(full_stack: FullStack) -> None:
    """The polymorphic agent transforms into test-finder: start and complete transformation
    events, two routing decisions and two manifests under one correlation id."""
    accepted = await full_stack.submit_request(
        {"user_prompt": "Find the tests for utils", "agent": "polymorphic-agent"}
    )
    cid = accepted["correlation_id"]
    result = await full_stack.wait_for_completion(cid)
    assert result["status"] == "success", f"execution did not complete: {result}"
    assert result["result"]["transformed_from"] == "polymorphic-agent"
    assert result["result"]["agent"] == "test-finder"

    await full_stack.wait_for_row(cid, status="success")
    transformations = await full_stack.wait_for_count("agent_transformation_events", cid, 2)
    phases = [(t["event_type"], t["source_agent"], t["target_agent"]) for t in transformations]
    assert phases == [
        ("transformation_start", "polymorphic-agent", "test-finder"),
        ("transformation_complete", "polymorphic-agent", "test-finder"),
    ], f"transformation events wrong: {phases}"
    assert transformations[1]["success"] is True
    assert transformations[1]["parent_event_id"] == transformations[0]["event_id"]
    routing = await full_stack.wait_for_count("agent_routing_decisions", cid, 2)
    assert [r["routing_strategy"] for r in routing] == ["requested", "transformation"]
    manifests = await full_stack.wait_for_count("agent_manifest_injections", cid, 2)
    assert [m["agent_name"] for m in manifests] == ["polymorphic-agent", "test-finder"]
    assert manifests[1]["routing_decision_id"] == routing[1]["event_id"]
    actions = await full_stack.get_events(cid)
    assert {a["agent_name"] for a in actions if a["action_type"] == "tool_call"} == {"test-finder"}


async def test_parallel_agents(full_stack: FullStack) -> None:
    """Three agents run in parallel as children: each has its own correlation id linked to
    the parent, its own routing decision and rows; the trace nests them."""
    accepted = await full_stack.submit_request(
        {
            "user_prompt": "Survey the project",
            "agents": ["code-analyzer", "test-finder", "dependency-auditor"],
        }
    )
    parent = accepted["correlation_id"]
    result = await full_stack.wait_for_completion(parent)
    assert result["status"] == "success", f"parent did not complete: {result}"
    assert len(result["children"]) == 3
    assert result["result"]["results"]["dependency-auditor"]["undeclared_imports"] == []

    await full_stack.wait_for_row(parent, status="success")

    async def children() -> list[Any] | None:
        rows = await full_stack.pool.fetch(
            "SELECT correlation_id, agent_name, status FROM agent_execution_logs "
            "WHERE parent_correlation_id = $1 AND status = 'success'",
            __import__("uuid").UUID(parent),
        )
        return rows if len(rows) == 3 else None

    from tests.fixtures.waiting import wait_for

    rows = await wait_for(children, what="3 successful child executions")
    assert {r["agent_name"] for r in rows} == {"code-analyzer", "test-finder", "dependency-auditor"}
    assert len({r["correlation_id"] for r in rows}) == 3, "children share a correlation id"
    for row in rows:
        child = str(row["correlation_id"])
        decisions = await full_stack.wait_for_count("agent_routing_decisions", child, 1)
        assert str(decisions[0]["parent_correlation_id"]) == parent, (
            "child decision not linked to parent"
        )
        actions = await full_stack.wait_for_count("agent_actions", child, 3)
        assert {"tool_call", "success"} <= set(_types(actions)), f"child {child} lost actions"
    trace = (
        await full_stack.client.get(f"/traces/{parent}", headers=full_stack.headers("read"))
    ).json()
    assert sorted(c["execution"]["agent_name"] for c in trace["children"]) == [
        "code-analyzer",
        "dependency-auditor",
        "test-finder",
    ]


async def test_error_recovery_with_retries(full_stack: FullStack) -> None:
    """A tool failing twice with a retriable error succeeds on the third attempt: each failed
    attempt is an error action, each retry a decision, then the tool call and the success."""
    accepted = await full_stack.submit_request(
        {"user_prompt": "fetch the flaky report", "context": {"fail_times": 2}, "max_attempts": 3}
    )
    cid = accepted["correlation_id"]
    result = await full_stack.wait_for_completion(cid)
    assert result["status"] == "success", f"execution did not recover: {result}"
    assert result["result"]["report"]["attempts"] == 3

    await full_stack.wait_for_row(cid, status="success")
    actions = await full_stack.wait_for_count("agent_actions", cid, 7)
    types = _types(actions)
    assert types.count("error") == 2, f"failed attempts not recorded: {types}"
    retries = [
        a
        for a in actions
        if a["action_type"] == "decision" and a["action_name"].startswith("retry")
    ]
    assert [r["action_details"]["attempt"] for r in retries] == [2, 3], "retries not recorded"
    assert types.count("tool_call") == 1
    assert types[-1] == "success"
    assert all(
        a["action_details"]["error_type"] == "TransientToolError"
        for a in actions
        if a["action_type"] == "error"
    )


async def test_error_recovery_gives_up_and_records_final_failure(full_stack: FullStack) -> None:
    """When every attempt fails the final failure is recorded as such and the execution fails."""
    accepted = await full_stack.submit_request(
        {"user_prompt": "fetch the flaky report", "context": {"fail_times": 10}, "max_attempts": 3}
    )
    cid = accepted["correlation_id"]
    result = await full_stack.wait_for_completion(cid)
    assert result["status"] == "failed", result
    assert result["error"]["type"] == "TransientToolError", result

    row = await full_stack.wait_for_row(cid, status="failed")
    assert row["error_type"] == "TransientToolError"
    actions = await full_stack.wait_for_count("agent_actions", cid, 8)
    errors = [a for a in actions if a["action_type"] == "error"]
    finals = [e for e in errors if e["action_details"].get("final")]
    assert len(errors) == 5, (
        f"3 attempts + final tool failure + execution failure expected: {len(errors)}"
    )
    assert next(f["action_details"].get("attempts") for f in finals) == 3
    assert "success" not in _types(actions)
