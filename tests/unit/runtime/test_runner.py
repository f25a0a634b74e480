"""The runtime end to end on an in-memory sink: what is recorded for every kind of run."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from omniclaude.events import (
    AgentTransformation,
    ExecutionCompleted,
    ExecutionFailed,
    ExecutionStarted,
    ManifestInjection,
    RoutingDecision,
)
from omniclaude.runtime import ExecutionRequest
from omniclaude.testing import InMemorySink
from tests.unit.runtime.conftest import RunnerFactory


def _actions(sink: InMemorySink, cid: uuid.UUID | None = None) -> list[str]:
    return [a.action_type.value for a in sink.actions if cid is None or a.correlation_id == cid]


async def test_routed_execution_records_the_whole_lifecycle(make_runner: RunnerFactory) -> None:
    """Routing decision, start, selection decision, manifest (linked to the decision), tool
    calls, success, completion — in that order, all under one correlation id."""
    runner, sink = make_runner()
    state = await runner.run(
        ExecutionRequest(user_prompt="Analyze this codebase", context={"files": ["main.py"]})
    )
    assert state.status == "success"
    assert state.agent_name == "code-analyzer"
    assert state.result is not None
    assert state.result["analysis"]["todos"]["count"] == 2
    assert {e.correlation_id for e in sink.events} == {state.correlation_id}
    types = sink.event_types()
    assert types[:3] == ["routing_decision", "execution_started", "agent_action"]
    assert types[-2:] == ["agent_action", "execution_completed"]
    decision = sink.of_type(RoutingDecision)[0]
    assert sink.of_type(ManifestInjection)[0].routing_decision_id == decision.event_id
    actions = _actions(sink)
    assert actions[0] == "decision"
    assert actions[-1] == "success"
    assert actions.count("tool_call") >= 4
    assert sink.of_type(ExecutionCompleted)[0].result["analysis"]
    assert runner.get(state.correlation_id) is state
    assert runner.stats["success"] == 1


async def test_failure_is_recorded_and_the_execution_closed(make_runner: RunnerFactory) -> None:
    """A non-retriable tool error: one attempt, a final error action, execution_failed."""
    runner, sink = make_runner()
    state = await runner.run(ExecutionRequest(user_prompt="x", agent="broken-agent"))
    assert state.status == "failed"
    assert state.error == {
        "type": "ValueError",
        "message": "config.yaml: missing key 'name'",
    }
    errors = [a for a in sink.actions if a.action_type == "error"]
    assert len(errors) == 3, "attempt error, final tool failure and execution failure expected"
    assert errors[1].action_details["final"] is True
    assert errors[1].action_details["retriable"] is False
    failed = sink.of_type(ExecutionFailed)
    assert len(failed) == 1
    assert failed[0].error_type == "ValueError"
    assert "success" not in _actions(sink)


async def test_retries_record_each_attempt(make_runner: RunnerFactory) -> None:
    """Two transient failures then success: two errors, two retry decisions, one tool call."""
    runner, sink = make_runner()
    state = await runner.run(
        ExecutionRequest(user_prompt="x", agent="flaky-fetcher", context={"fail_times": 2})
    )
    assert state.status == "success"
    assert state.result is not None
    assert state.result["report"]["attempts"] == 3
    retries = [a for a in sink.actions if a.action_name.startswith("retry fetch_report")]
    assert [r.action_details["attempt"] for r in retries] == [2, 3]
    assert _actions(sink).count("error") == 2
    assert _actions(sink).count("tool_call") == 1


async def test_retries_run_out(make_runner: RunnerFactory) -> None:
    """``max_attempts`` bounds the attempts; the final failure says how many were made."""
    runner, sink = make_runner()
    state = await runner.run(
        ExecutionRequest(
            user_prompt="x", agent="flaky-fetcher", context={"fail_times": 9}, max_attempts=2
        )
    )
    assert state.status == "failed"
    assert state.error is not None
    assert state.error["type"] == "TransientToolError"
    final = [
        a for a in sink.actions if a.action_type == "error" and a.action_details.get("attempts")
    ]
    assert final[0].action_details["attempts"] == 2


async def test_timeout_fails_the_execution(make_runner: RunnerFactory) -> None:
    """An execution longer than its timeout is stopped and recorded as ExecutionTimeoutError."""
    runner, sink = make_runner()
    state = await runner.run(
        ExecutionRequest(
            user_prompt="x", agent="slow-agent", context={"sleep_s": 30}, timeout_s=0.2
        )
    )
    assert state.status == "failed"
    assert state.error is not None
    assert state.error["type"] == "ExecutionTimeoutError"
    assert "timeout_s" in state.error["message"]
    assert sink.of_type(ExecutionFailed)[0].error_type == "ExecutionTimeoutError"


async def test_stop_cancels_running_executions(make_runner: RunnerFactory) -> None:
    """stop() cancels background executions; each is completed as cancelled."""
    runner, sink = make_runner()
    state = runner.submit(
        ExecutionRequest(user_prompt="x", agent="slow-agent", context={"sleep_s": 30})
    )
    assert state.status == "in_progress"
    assert runner.running == 1

    async def started() -> bool:
        return any(isinstance(e, ExecutionStarted) for e in sink.events)

    from tests.fixtures.waiting import wait_for

    await wait_for(started, what="the slow execution to start")
    await runner.stop()
    assert state.status == "cancelled"
    assert runner.running == 0
    completed = sink.of_type(ExecutionCompleted)
    assert completed
    assert completed[0].status == "cancelled"


async def test_tool_not_in_the_definition_is_refused(make_runner: RunnerFactory) -> None:
    """An agent calling a tool its YAML does not list fails with ToolNotAllowedError."""
    runner, _ = make_runner()
    state = await runner.run(ExecutionRequest(user_prompt="x", agent="sneaky-agent"))
    assert state.status == "failed"
    assert state.error is not None
    assert state.error["type"] == "ToolNotAllowedError"


async def test_unknown_agent_is_still_a_recorded_failure(make_runner: RunnerFactory) -> None:
    """Asking for an agent that does not exist opens and fails an execution on record."""
    runner, sink = make_runner()
    state = await runner.run(ExecutionRequest(user_prompt="x", agent="ghost"))
    assert state.status == "failed"
    assert state.error is not None
    assert "unknown agent 'ghost'" in state.error["message"]
    assert sink.event_types()[0] == "execution_started"
    assert sink.event_types()[-1] == "execution_failed"


async def test_transformation_publishes_start_and_complete(make_runner: RunnerFactory) -> None:
    """The polymorphic agent becomes test-finder: transformation start/complete, a second
    routing decision and manifest, and the target's result."""
    runner, sink = make_runner()
    state = await runner.run(
        ExecutionRequest(user_prompt="Find the tests for utils", agent="polymorphic-agent")
    )
    assert state.status == "success"
    assert state.result is not None
    assert state.result["agent"] == "test-finder"
    assert state.result["transformed_from"] == "polymorphic-agent"
    phases = [(t.phase.value, t.success) for t in sink.of_type(AgentTransformation)]
    assert phases == [("transformation_start", None), ("transformation_complete", True)]
    decisions = sink.of_type(RoutingDecision)
    assert [d.routing_strategy for d in decisions] == ["requested", "transformation"]
    assert [m.agent_name for m in sink.of_type(ManifestInjection)] == [
        "polymorphic-agent",
        "test-finder",
    ]


async def test_failed_transformation_is_published(make_runner: RunnerFactory) -> None:
    """When the target agent fails, transformation_failed is published and the run fails."""
    runner, sink = make_runner()
    state = await runner.run(ExecutionRequest(user_prompt="x", agent="shapeshifter"))
    assert state.status == "failed"
    transformations = sink.of_type(AgentTransformation)
    assert [t.phase.value for t in transformations] == [
        "transformation_start",
        "transformation_failed",
    ]
    assert transformations[1].error_type == "ValueError"
    assert transformations[1].success is False


async def test_parallel_children_link_to_their_parent(make_runner: RunnerFactory) -> None:
    """Agents named in ``agents`` run as children with their own ids and parent links."""
    runner, sink = make_runner()
    state = await runner.run(
        ExecutionRequest(user_prompt="survey", agents=("code-analyzer", "test-finder"))
    )
    assert state.status == "success"
    assert len(state.children) == 2
    starts = {e.correlation_id: e for e in sink.of_type(ExecutionStarted)}
    for child in state.children:
        assert starts[child].parent_correlation_id == state.correlation_id
        assert runner.get(child) is not None
        assert runner.get(child).status == "success"
    child_decisions = [
        d for d in sink.of_type(RoutingDecision) if d.parent_correlation_id == state.correlation_id
    ]
    assert len(child_decisions) == 2
    assert state.result is not None
    assert set(state.result["results"]) == {
        "code-analyzer",
        "test-finder",
    }


async def test_parallel_child_failure_fails_the_parent(make_runner: RunnerFactory) -> None:
    """A failing child makes the parent fail with ChildExecutionError naming it."""
    runner, _ = make_runner()
    state = await runner.run(
        ExecutionRequest(user_prompt="x", agents=("file-reader", "broken-agent"))
    )
    assert state.status == "failed"
    assert state.error is not None
    assert state.error["type"] == "ChildExecutionError"
    assert "broken-agent" in state.error["message"]


async def test_multi_part_prompt_fans_out(make_runner: RunnerFactory) -> None:
    """The polymorphic agent splits "A and B" into parallel agents when both route confidently."""
    runner, _ = make_runner()
    state = await runner.run(
        ExecutionRequest(
            user_prompt="Analyze this codebase and list the dependencies", agent="polymorphic-agent"
        )
    )
    assert state.status == "success"
    assert len(state.children) == 2
    assert state.result is not None
    assert set(state.result["results"]) == {
        "code-analyzer",
        "dependency-auditor",
    }


async def test_nothing_fits_gives_a_workspace_overview(make_runner: RunnerFactory) -> None:
    """A prompt no agent fits runs the polymorphic agent's overview."""
    runner, _ = make_runner()
    state = await runner.run(ExecutionRequest(user_prompt="Write a haiku about autumn"))
    assert state.agent_name == "polymorphic-agent"
    assert state.status == "success"
    assert state.result is not None
    assert state.result["overview"]["files"] == 5


async def test_tracking_is_bounded(make_runner: RunnerFactory) -> None:
    """Only the newest ``max_tracked`` finished executions are remembered."""
    runner, _ = make_runner(max_tracked=10)
    states = [
        await runner.run(ExecutionRequest(user_prompt="read main.py", agent="file-reader"))
        for _ in range(12)
    ]
    assert runner.get(states[0].correlation_id) is None
    assert runner.get(states[-1].correlation_id) is states[-1]


async def test_recent_loader_feeds_the_manifest(make_runner: RunnerFactory) -> None:
    """The ``recent`` loader's rows appear in the manifest's recent_patterns section."""

    async def recent(agent: str) -> list[dict[str, Any]]:
        return [{"user_prompt": "before"}]

    runner, sink = make_runner(recent=recent)
    await runner.run(ExecutionRequest(user_prompt="read main.py", agent="file-reader"))
    assert "recent_patterns" in [s.name for s in sink.of_type(ManifestInjection)[0].sections]


def test_summarize_bounds_what_is_logged() -> None:
    """Long strings, lists and deep structures are cut for logging."""
    from omniclaude.runtime.context import summarize

    out = summarize({"s": "x" * 600, "l": list(range(30)), "d": {"a": {"b": {"c": {"d": 1}}}}})
    assert out["s"].endswith("(600 chars)")
    assert out["l"][-1] == "… 10 more"
    assert out["d"]["a"]["b"] == "<dict>"
    assert len(summarize({str(i): i for i in range(25)})) == 21


@pytest.mark.parametrize("value", [42, "text", None])
async def test_non_mapping_results_are_wrapped(make_runner: RunnerFactory, value: object) -> None:
    """An agent returning a non-mapping gets ``{"value": ...}`` as its result."""
    runner, _ = make_runner()
    state = await runner.run(
        ExecutionRequest(user_prompt="x", agent="plain-agent", context={"value": value})
    )
    assert state.status == "success"
    assert state.result == {"value": value}


async def test_a_broken_sink_fails_the_state_without_crashing(
    make_runner: RunnerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """When the sink itself refuses events the execution is failed in memory and logged."""
    from omniclaude.errors import StorageError

    runner, sink = make_runner()

    async def refuse(event: object) -> None:
        raise StorageError("database away")

    sink.send = refuse  # type: ignore[method-assign]
    state = await runner.run(ExecutionRequest(user_prompt="read main.py", agent="file-reader"))
    assert state.status == "failed"
    assert state.error == {"type": "StorageError", "message": "recording failed: database away"}
    assert runner.stats["unrecorded"] == 1
    assert "could not be recorded" in caplog.text
