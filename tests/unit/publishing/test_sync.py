"""The synchronous wrapper: blocking calls on a private loop, context kept per thread."""

from __future__ import annotations

import uuid

import pytest

from omniclaude.errors import DeliveryError
from omniclaude.events import AgentTransformation
from omniclaude.publishing.context import correlation_scope, current_correlation_id
from omniclaude.publishing.sync import SyncClient
from omniclaude.testing import InMemorySink


def test_sync_logging_round_trip() -> None:
    """Every logger method works from plain synchronous code."""
    sink = InMemorySink()
    with SyncClient(sink) as client:
        log = client.action_logger(agent_name="sync-agent")
        with client.execution_logger().run("sync-agent", "do it") as execution:
            cid = current_correlation_id()
            assert cid == execution.logger.correlation_id
            log.log_tool_call(None, "bash", {"cmd": "ls"})
            log.log_decision(None, "pick")
            log.log_success(None, "ok")
            log.log_error(None, "warn")
            log.log_action(None, "decision", {"x": 1})
            with log.tool_call("Read", {"p": 1}) as call:
                call.result = "text"
            execution.progress("half", 50)
        assert current_correlation_id() is None
        client.publisher().transformation(cid, target_agent="b")
        client.publisher().publish(AgentTransformation(correlation_id=cid, target_agent="c"))
        client.flush()
    assert sink.event_types()[0] == "execution_started"
    assert sink.event_types().count("agent_action") == 6
    assert "execution_completed" in sink.event_types()
    assert {e.correlation_id for e in sink} == {cid}


def test_sync_failures_are_logged_and_reraised() -> None:
    """An exception in a sync block logs error/failed and propagates."""
    sink = InMemorySink()
    client = SyncClient(sink).start()
    try:
        with (
            pytest.raises(ValueError, match="bad"),
            client.execution_logger().run("a", "p"),
            client.action_logger().tool_call("x", {}),
        ):
            raise ValueError("bad")
        with correlation_scope(uuid.uuid4()):
            execution = client.execution_logger()
            execution.start("b", "p")
            execution.fail("gave up")
            other = client.execution_logger()
            other.start("c", "p")
            other.complete("success", 0.5)
    finally:
        client.close()
        client.close()
    assert sink.event_types().count("execution_failed") == 2
    with pytest.raises(DeliveryError, match="closed"):
        client.call(sink.flush)


def test_publisher_routing_and_manifest() -> None:
    """The sync publisher forwards to the async one."""
    sink = InMemorySink()
    with SyncClient(sink) as client:
        publisher = client.publisher()
        cid = uuid.uuid4()
        publisher.routing_decision(
            cid, user_request="u", selected_agent="a", confidence_score=0.5,
            routing_strategy="s", routing_time_ms=1,
        )  # fmt: skip
        publisher.manifest_injection(cid, agent_name="a", total_query_time_ms=1)
    assert sink.event_types() == ["routing_decision", "manifest_injection"]
