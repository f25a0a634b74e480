"""AgentExecutionLogger: the lifecycle, the context manager, ordering errors, linkage."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from omniclaude.errors import EventValidationError
from omniclaude.events import (
    ExecutionCompleted,
    ExecutionFailed,
    ExecutionProgress,
    ExecutionStarted,
    ExecutionStatus,
)
from omniclaude.publishing import ActionLogger, AgentExecutionLogger, ExecutionStateError
from omniclaude.publishing.context import correlation_scope, current_correlation_id
from omniclaude.testing import InMemorySink


@pytest.fixture
def sink() -> InMemorySink:
    """A fresh in-memory sink."""
    return InMemorySink()


async def test_start_progress_complete(sink: InMemorySink) -> None:
    """The lifecycle sends started, progress and completed with one correlation id."""
    execution = AgentExecutionLogger(sink=sink)
    cid = await execution.start(
        "agent-x", "fix the bug", session_id="s1", prompt_id="p1", metadata={"repo": "r"}
    )
    assert current_correlation_id() == cid
    await execution.progress("analysing", 40)
    completed = await execution.complete(quality_score=0.9, result="patched")
    assert current_correlation_id() is None
    assert sink.event_types() == ["execution_started", "execution_progress", "execution_completed"]
    started = sink.of_type(ExecutionStarted)[0]
    assert (started.agent_name, started.user_prompt, started.session_id) == (
        "agent-x", "fix the bug", "s1",
    )  # fmt: skip
    assert {e.correlation_id for e in sink} == {cid}
    assert completed.result == {"value": "patched"}
    assert completed.quality_score == 0.9
    assert completed.duration_ms is not None
    assert execution.status is ExecutionStatus.SUCCESS
    assert not execution.is_open


async def test_start_accepts_a_given_id_as_string(sink: InMemorySink) -> None:
    """A caller-chosen id (str) is used as is."""
    cid = uuid.uuid4()
    assert await AgentExecutionLogger(sink=sink).start("a", "p", str(cid)) == cid


async def test_run_completes_on_normal_exit(sink: InMemorySink) -> None:
    """``run`` logs success when the block ends normally, and actions inside join the trace."""
    actions = ActionLogger(sink=sink)
    async with AgentExecutionLogger(sink=sink).run("agent-x", "do it") as execution:
        await actions.log_tool_call(None, "bash", {"cmd": "ls"})
    assert sink.event_types() == ["execution_started", "agent_action", "execution_completed"]
    assert {e.correlation_id for e in sink} == {execution.correlation_id}


async def test_run_fails_on_exception_and_reraises(sink: InMemorySink) -> None:
    """An exception in the block logs execution_failed with its type, then propagates."""
    with pytest.raises(RuntimeError, match="boom"):
        async with AgentExecutionLogger(sink=sink).run("agent-x", "do it"):
            raise RuntimeError("boom")
    failed = sink.of_type(ExecutionFailed)[0]
    assert (failed.error_type, failed.error_message) == ("RuntimeError", "boom")
    assert failed.traceback is not None
    assert current_correlation_id() is None


async def test_cancellation_is_recorded_as_cancelled(sink: InMemorySink) -> None:
    """A cancelled task ends its execution as 'cancelled', never left open."""
    started = asyncio.Event()

    async def body() -> None:
        async with AgentExecutionLogger(sink=sink).run("agent-x", "long"):
            started.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(body())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    completed = sink.of_type(ExecutionCompleted)[0]
    assert completed.status is ExecutionStatus.CANCELLED


async def test_explicit_complete_inside_run_is_not_repeated(sink: InMemorySink) -> None:
    """Completing inside the block (to give a score) is not followed by a second completion."""
    async with AgentExecutionLogger(sink=sink).run("agent-x", "p") as execution:
        await execution.complete("success", quality_score=0.5)
    assert sink.event_types().count("execution_completed") == 1


async def test_logger_as_context_manager_after_start(sink: InMemorySink) -> None:
    """``async with logger`` after ``start()`` ends the execution on exit."""
    execution = AgentExecutionLogger(sink=sink)
    await execution.start("agent-x", "p")
    async with execution:
        pass
    assert not execution.is_open


async def test_wrong_order_is_refused(sink: InMemorySink) -> None:
    """progress before start, a second start, or complete after fail are clear errors."""
    execution = AgentExecutionLogger(sink=sink)
    with pytest.raises(ExecutionStateError, match="start"):
        await execution.progress("x", 1)
    with pytest.raises(ExecutionStateError):
        async with execution:
            pass
    await execution.start("a", "p")
    with pytest.raises(ExecutionStateError, match="already started"):
        await execution.start("a", "p")
    await execution.fail(ValueError("x"))
    with pytest.raises(ExecutionStateError, match="already ended"):
        await execution.complete()


async def test_bad_values_name_the_field(sink: InMemorySink) -> None:
    """An invalid status, score or percent names the field."""
    execution = AgentExecutionLogger(sink=sink)
    await execution.start("a", "p")
    with pytest.raises(EventValidationError, match="percent"):
        await execution.progress("x", 150)
    with pytest.raises(EventValidationError, match="status"):
        await execution.complete("failed")  # type: ignore[arg-type]
    with pytest.raises(EventValidationError, match="quality_score"):
        await execution.complete(quality_score=2)
    with pytest.raises(EventValidationError, match="agent_name"):
        await AgentExecutionLogger(sink=sink).start("", "p")


async def test_nested_execution_links_to_its_parent(sink: InMemorySink) -> None:
    """A child started inside a parent's scope records parent_correlation_id."""
    async with AgentExecutionLogger(sink=sink).run("parent", "p") as parent:
        async with AgentExecutionLogger(sink=sink).run("child", "c") as child:
            assert current_correlation_id() == child.correlation_id
        assert current_correlation_id() == parent.correlation_id
    assert child.parent_correlation_id == parent.correlation_id
    progress_free = [e for e in sink if not isinstance(e, ExecutionProgress)]
    child_events = [e for e in progress_free if e.correlation_id == child.correlation_id]
    assert all(getattr(e, "parent_correlation_id", None) == parent.correlation_id
               for e in child_events)  # fmt: skip


async def test_explicit_parent(sink: InMemorySink) -> None:
    """An explicit parent id wins over the current scope."""
    parent = uuid.uuid4()
    with correlation_scope():
        await AgentExecutionLogger(sink=sink).start("a", "p", parent_correlation_id=str(parent))
    assert sink.of_type(ExecutionStarted)[0].parent_correlation_id == parent


async def test_fail_with_text(sink: InMemorySink) -> None:
    """fail() takes a message too."""
    execution = AgentExecutionLogger(sink=sink)
    await execution.start("a", "p")
    failed = await execution.fail("gave up")
    assert (failed.error_type, failed.error_message) == ("Error", "gave up")


async def test_complete_from_another_task_restores_context(sink: InMemorySink) -> None:
    """Ending the execution from another task does not corrupt the context."""
    execution = AgentExecutionLogger(sink=sink)
    await execution.start("a", "p")
    await asyncio.create_task(execution.complete())
    assert not execution.is_open
