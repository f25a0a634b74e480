"""The SDK examples of docs/sdk.md, type-checked (mypy --strict) and run against InMemorySink.

mypy checks this file with the rest of the tests' typing gate; pytest runs it so the examples
cannot rot.
"""

from __future__ import annotations

import uuid

from omniclaude.events import ExecutionCompleted
from omniclaude.publishing import (
    ActionLogger,
    AgentExecutionLogger,
    EventPublisher,
    EventSink,
    RedactionRules,
    correlation_scope,
    sanitize_pii,
)
from omniclaude.publishing.sync import SyncClient
from omniclaude.testing import InMemorySink, capture_events


async def test_quick_start() -> None:
    """The five-line quick start of docs/sdk.md works as written."""
    sink: EventSink = InMemorySink()
    async with AgentExecutionLogger(sink=sink).run("agent-x", "fix the bug") as execution:
        log = ActionLogger(sink=sink, agent_name="agent-x")
        async with log.tool_call("Read", {"file_path": "src/app.py"}) as call:
            call.result = {"lines": 120}
        await log.log_decision(None, "patch the parser")
    assert execution.correlation_id is not None
    assert isinstance(sink, InMemorySink)
    assert sink.event_types()[-1] == "execution_completed"


async def test_explicit_ids_and_publishers() -> None:
    """Correlation ids as UUID or str; routing decisions through EventPublisher."""
    sink = InMemorySink()
    cid: uuid.UUID = uuid.uuid4()
    log = ActionLogger(sink=sink)
    await log.log_tool_call(cid, "bash", {"cmd": "ls"}, result="ok", duration_ms=4.2)
    await log.log_error(str(cid), ValueError("bad input"))
    decision = await EventPublisher(sink).routing_decision(
        cid, user_request="add tests", selected_agent="agent-testing",
        confidence_score=0.8, routing_strategy="fuzzy", routing_time_ms=1.5,
    )  # fmt: skip
    assert decision.selected_agent == "agent-testing"


async def test_manual_lifecycle_and_capture() -> None:
    """start/progress/complete by hand, observed with capture_events()."""
    with capture_events() as captured:
        execution = AgentExecutionLogger(sink=InMemorySink())
        cid = await execution.start("agent-x", "summarise", session_id="s-1")
        await execution.progress("reading", 50)
        done: ExecutionCompleted = await execution.complete(quality_score=0.9)
    assert done.correlation_id == cid
    assert len(captured) == 3


def test_redaction_and_sync_client() -> None:
    """sanitize_pii with custom rules; the synchronous client for non-async code."""
    rules = RedactionRules.build(extra_keys=["patient_id"])
    clean: dict[str, str] = sanitize_pii({"patient_id": "p-1", "note": "ok"}, rules)
    assert clean["patient_id"] == "***REDACTED***"
    with SyncClient(InMemorySink()) as client, correlation_scope():
        client.action_logger().log_success(None, "done")
