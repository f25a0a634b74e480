"""ActionLogger: the four action types, the tool_call context manager, clear errors."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from omniclaude.errors import ConfigurationError, EventValidationError
from omniclaude.events import ActionType, AgentAction
from omniclaude.publishing import ActionLogger, correlation_scope, set_default_sink
from omniclaude.publishing.context import NoCorrelationIdError
from omniclaude.publishing.redaction import REDACTED, RedactionRules, Redactor
from omniclaude.testing import InMemorySink, capture_events


@pytest.fixture
def sink() -> InMemorySink:
    """A fresh in-memory sink."""
    return InMemorySink()


@pytest.fixture
def logger(sink: InMemorySink) -> ActionLogger:
    """An ActionLogger writing to ``sink``."""
    return ActionLogger(sink=sink, agent_name="agent-test")


async def test_all_four_action_types_are_logged(logger: ActionLogger, sink: InMemorySink) -> None:
    """tool_call, decision, error and success each send one action with the same trace."""
    cid = str(uuid.uuid4())
    await logger.log_tool_call(cid, "bash", {"cmd": "ls"})
    await logger.log_decision(cid, "Selected agent-test")
    await logger.log_error(cid, "Connection timeout")
    await logger.log_success(cid, "Task completed")
    assert [a.action_type for a in sink.actions] == list(ActionType)
    assert {a.correlation_id for a in sink.actions} == {uuid.UUID(cid)}
    assert {a.agent_name for a in sink.actions} == {"agent-test"}


async def test_tool_call_details(logger: ActionLogger) -> None:
    """params and result land in action_details; UUID/datetime/Decimal become JSON."""
    when = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    ref = uuid.uuid4()
    action = await logger.log_tool_call(
        uuid.uuid4(), "Read", {"path": "/x", "ref": ref, "at": when},
        result={"cost": Decimal("1.50")}, duration_ms=12.5, tool_use_id="toolu_1",
    )  # fmt: skip
    assert action.action_name == "Read"
    assert action.duration_ms == 12.5
    assert action.tool_use_id == "toolu_1"
    assert action.action_details == {
        "params": {"path": "/x", "ref": str(ref), "at": "2025-01-02T03:04:05Z"},
        "result": {"cost": "1.50"},
    }


async def test_error_from_an_exception_keeps_type_message_and_traceback(
    logger: ActionLogger,
) -> None:
    """log_error(exc) records the class, the message and the traceback."""

    def fail() -> None:
        raise TimeoutError("db took too long")

    try:
        fail()
    except TimeoutError as exc:
        action = await logger.log_error(uuid.uuid4(), exc, {"attempt": 3})
    assert action.action_type is ActionType.ERROR
    assert action.action_name == "TimeoutError"
    details = action.action_details
    assert details["error_type"] == "TimeoutError"
    assert details["error_message"] == "db took too long"
    assert details["attempt"] == 3
    assert "in fail" in details["traceback"]


async def test_error_from_text(logger: ActionLogger) -> None:
    """A plain message is an error of type Error named 'error'."""
    action = await logger.log_error(uuid.uuid4(), "Connection timeout")
    assert action.action_name == "error"
    assert action.action_details == {"error_type": "Error", "error_message": "Connection timeout"}


async def test_decision_and_success_texts(logger: ActionLogger) -> None:
    """The text is the action name and is kept whole in the details."""
    long = "x" * 600
    decision = await logger.log_decision(uuid.uuid4(), long, {"score": 0.9})
    assert len(decision.action_name) == 512
    assert decision.action_details == {"score": 0.9, "decision": long}
    success = await logger.log_success(uuid.uuid4(), "done")
    assert success.action_details == {"message": "done"}


async def test_log_action_generic(logger: ActionLogger) -> None:
    """log_action takes the type as text; the name defaults to the type."""
    action = await logger.log_action(uuid.uuid4(), "decision", {"k": 1})
    assert (action.action_type, action.action_name) == (ActionType.DECISION, "decision")


async def test_bad_arguments_name_the_field(logger: ActionLogger) -> None:
    """Invalid input raises EventValidationError naming the argument at fault."""
    cid = uuid.uuid4()
    cases = [
        (logger.log_action(cid, "thinking", {}), "action_type"),
        (logger.log_tool_call(cid, "", {}), "tool_name"),
        (logger.log_tool_call(cid, "bash", ["ls"]), "params"),  # type: ignore[arg-type]
        (logger.log_decision(cid, "  "), "decision"),
        (logger.log_success(cid, ""), "message"),
        (logger.log_error(cid, 42), "error"),  # type: ignore[arg-type]
        (logger.log_tool_call("not-a-uuid", "bash", {}), "correlation_id"),
        (logger.log_tool_call(cid, "bash", {}, duration_ms=-1), "duration_ms"),
    ]
    for call, field in cases:
        with pytest.raises(EventValidationError, match=field) as info:
            await call
        assert info.value.field == field


async def test_correlation_id_none_uses_the_current_scope(
    logger: ActionLogger, sink: InMemorySink
) -> None:
    """None means the current correlation id; outside a scope it is an error."""
    with correlation_scope() as cid:
        await logger.log_decision(None, "inside")
    assert sink.actions[0].correlation_id == cid
    with pytest.raises(NoCorrelationIdError):
        await logger.log_decision(None, "outside")


async def test_tool_call_context_manager_success(logger: ActionLogger, sink: InMemorySink) -> None:
    """The block's result and duration are logged as one tool_call."""
    with correlation_scope() as cid:
        async with logger.tool_call("Read", {"file_path": "/a"}) as call:
            call.result = {"lines": 3}
    (action,) = sink.actions
    assert call.action == action
    assert action.correlation_id == cid
    assert action.action_type is ActionType.TOOL_CALL
    assert action.action_details == {"params": {"file_path": "/a"}, "result": {"lines": 3}}
    assert action.duration_ms is not None
    assert action.duration_ms >= 0


async def test_tool_call_context_manager_failure(logger: ActionLogger, sink: InMemorySink) -> None:
    """An exception in the block logs an error action and propagates unchanged."""
    cid = uuid.uuid4()
    with pytest.raises(KeyError):
        async with logger.tool_call("Grep", {"pattern": "x"}, correlation_id=cid):
            raise KeyError("missing")
    (action,) = sink.actions
    assert action.action_type is ActionType.ERROR
    assert action.action_name == "KeyError"
    assert action.action_details["tool_name"] == "Grep"
    assert action.action_details["params"] == {"pattern": "x"}
    assert action.duration_ms is not None


async def test_a_failing_sink_does_not_mask_the_body_error() -> None:
    """If logging the failure fails too, the body's exception still propagates."""

    class Broken(InMemorySink):
        async def send(self, event: object) -> None:  # type: ignore[override]
            raise RuntimeError("sink down")

    logger = ActionLogger(sink=Broken())
    with pytest.raises(ValueError, match="body"):
        async with logger.tool_call("x", {}, correlation_id=uuid.uuid4()):
            raise ValueError("body")


async def test_sink_redacts_what_it_receives(logger: ActionLogger, sink: InMemorySink) -> None:
    """Secrets in params and results never reach the sink; the returned event is unredacted."""
    action = await logger.log_tool_call(
        uuid.uuid4(), "curl", {"password": "hunter2", "url": "https://x"}, result="mail a@b.com"
    )
    assert action.action_details["params"]["password"] == "hunter2"
    stored = sink.actions[0]
    assert stored.action_details["params"] == {"password": REDACTED, "url": "https://x"}
    assert stored.action_details["result"] == f"mail {REDACTED}"


async def test_logger_redactor_applies_before_the_sink() -> None:
    """A logger-level redactor with extra rules redacts what the logger returns too."""
    sink = InMemorySink()
    logger = ActionLogger(sink=sink, redactor=Redactor(RedactionRules.build(extra_keys=["cwd"])))
    action = await logger.log_tool_call(uuid.uuid4(), "bash", {"cwd": "/home/ann"})
    assert action.action_details["params"]["cwd"] == REDACTED


def test_db_and_sink_together_are_refused() -> None:
    """Only one destination may be given."""
    with pytest.raises(ConfigurationError, match="not both"):
        ActionLogger(db=object(), sink=InMemorySink())


async def test_default_sink_and_missing_sink() -> None:
    """Without db/sink the process default is used; with none configured, a clear error."""
    logger = ActionLogger()
    with pytest.raises(ConfigurationError, match="no event sink"):
        await logger.log_decision(uuid.uuid4(), "x")
    default = InMemorySink()
    previous = set_default_sink(default)
    try:
        await logger.log_decision(uuid.uuid4(), "x")
    finally:
        set_default_sink(previous)
    assert len(default) == 1


async def test_capture_events_sees_everything_emitted() -> None:
    """capture_events() records events of any logger, even one without a sink."""
    sink = InMemorySink()
    with capture_events() as captured:
        await ActionLogger(sink=sink).log_decision(uuid.uuid4(), "a")
        await ActionLogger().log_success(uuid.uuid4(), "b")  # no sink: captured only
    assert [type(e) for e in captured] == [AgentAction, AgentAction]
    assert captured.event_types() == ["agent_action", "agent_action"]
    assert len(sink) == 1
    captured.clear()
    assert len(captured) == 0
