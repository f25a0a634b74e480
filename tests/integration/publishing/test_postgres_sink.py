"""The direct PostgreSQL path: the spec's lifecycle and traceability tests, real types,
the execution summary row, pools, and redaction in what is stored."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from omniclaude.publishing import (
    ActionLogger,
    AgentExecutionLogger,
    EventPublisher,
    PostgresSink,
    set_default_sink,
)
from omniclaude.publishing.redaction import REDACTED


async def log_agent_execution(
    *, agent_name: str, user_prompt: str, correlation_id: str, db: Any
) -> uuid.UUID:
    """The spec's helper: start an execution (it stays open)."""
    return await AgentExecutionLogger(db=db).start(agent_name, user_prompt, correlation_id)


async def test_complete_agent_lifecycle_logging(postgres_connection: asyncpg.Connection) -> None:
    """Verify all 4 event types are logged during complete agent lifecycle."""
    logger = ActionLogger(db=postgres_connection)
    correlation_id = str(uuid.uuid4())

    # Simulate complete agent execution
    await logger.log_tool_call(correlation_id, "bash", {"cmd": "ls"})
    await logger.log_decision(correlation_id, "Selected agent-test")
    await logger.log_error(correlation_id, "Connection timeout")
    await logger.log_success(correlation_id, "Task completed")

    # Verify all 4 events exist in database
    result = await postgres_connection.fetch(
        "SELECT action_type FROM agent_actions WHERE correlation_id = $1", correlation_id
    )

    action_types = {row["action_type"] for row in result}
    assert action_types == {"tool_call", "decision", "error", "success"}, "an action type was lost"


async def test_tool_call_traceability(postgres_connection: asyncpg.Connection) -> None:
    """Verify tool calls are properly linked to parent execution."""
    correlation_id = str(uuid.uuid4())

    # Create parent execution
    await log_agent_execution(
        agent_name="test-agent", user_prompt="Test prompt", correlation_id=correlation_id,
        db=postgres_connection,
    )  # fmt: skip

    # Log tool call
    await ActionLogger(db=postgres_connection).log_tool_call(correlation_id, "bash", {"cmd": "ls"})

    # Verify linkage exists
    result = await postgres_connection.fetchrow(
        """
        SELECT ae.correlation_id, ae.status, aa.action_type, aa.action_name
        FROM agent_execution_logs ae
        JOIN agent_actions aa ON ae.correlation_id = aa.correlation_id
        WHERE ae.correlation_id = $1
        """,
        correlation_id,
    )

    assert result is not None, "the tool call is not linked to its execution"
    assert result["action_type"] == "tool_call"
    assert result["action_name"] == "bash"
    assert result["status"] == "in_progress"


async def test_uuid_datetime_decimal_in_details(postgres_connection: asyncpg.Connection) -> None:
    """The spec's UUID bug cannot happen: rich Python values are stored as JSON."""
    ref, when = uuid.uuid4(), datetime(2025, 11, 9, 12, 0, tzinfo=UTC)
    cid = uuid.uuid4()
    await ActionLogger(db=postgres_connection).log_tool_call(
        cid, "query", {"id": ref, "at": when, "cost": Decimal("0.25"), "tags": {"a"}}
    )
    details = await postgres_connection.fetchval(
        "SELECT action_details FROM agent_actions WHERE correlation_id = $1", cid
    )
    assert details["params"] == {
        "id": str(ref), "at": "2025-11-09T12:00:00Z", "cost": "0.25", "tags": ["a"],
    }  # fmt: skip


async def test_execution_lifecycle_rows(postgres_connection: asyncpg.Connection) -> None:
    """run() writes the summary row: success, score, duration; a failure records its error."""
    async with AgentExecutionLogger(db=postgres_connection).run("agent-x", "fix") as execution:
        await execution.progress("editing", 60)
        await execution.complete(quality_score=0.875, result={"files": 2})
    row = await postgres_connection.fetchrow(
        "SELECT * FROM agent_execution_logs WHERE correlation_id = $1", execution.correlation_id
    )
    assert row is not None
    assert (row["status"], row["agent_name"], row["user_prompt"]) == ("success", "agent-x", "fix")
    assert row["quality_score"] == Decimal("0.8750")
    assert row["progress_stage"] == "editing"
    assert row["result"] == {"files": 2}
    assert row["completed_at"] is not None

    with pytest.raises(ZeroDivisionError):
        async with AgentExecutionLogger(db=postgres_connection).run("agent-y", "x") as failing:
            _ = 1 / 0
    row = await postgres_connection.fetchrow(
        "SELECT status, error_type FROM agent_execution_logs WHERE correlation_id = $1",
        failing.correlation_id,
    )
    assert row is not None
    assert (row["status"], row["error_type"]) == ("failed", "ZeroDivisionError")


async def test_pool_and_concurrent_tasks(db_pool: Any) -> None:
    """With a pool, concurrent log calls from many tasks all land exactly once."""
    logger = ActionLogger(db=db_pool)
    cid = uuid.uuid4()
    actions = await asyncio.gather(
        *(logger.log_tool_call(cid, "bash", {"i": i}) for i in range(40))
    )
    rows = await db_pool.fetch("SELECT event_id FROM agent_actions WHERE correlation_id = $1", cid)
    assert sorted(r["event_id"] for r in rows) == sorted(a.event_id for a in actions)


async def test_concurrent_tasks_share_one_connection(
    postgres_connection: asyncpg.Connection,
) -> None:
    """A single connection is used one operation at a time (no 'operation in progress')."""
    logger = ActionLogger(db=postgres_connection)
    cid = uuid.uuid4()
    await asyncio.gather(*(logger.log_decision(cid, f"d{i}") for i in range(20)))
    count = await postgres_connection.fetchval(
        "SELECT count(*) FROM agent_actions WHERE correlation_id = $1", cid
    )
    assert count == 20, "decisions were lost under concurrency"


async def test_connection_without_codecs_works(database_url: str) -> None:
    """A bare asyncpg connection (no JSON codecs installed) is prepared by the sink."""
    conn = await asyncpg.connect(database_url)
    try:
        cid = uuid.uuid4()
        await ActionLogger(db=conn).log_tool_call(cid, "bash", {"cmd": "ls"})
        raw = await conn.fetchval(
            "SELECT action_details::text FROM agent_actions WHERE correlation_id = $1", cid
        )
        assert '"cmd"' in raw
    finally:
        await conn.close()


async def test_sink_from_dsn_and_publishers(database_url: str) -> None:
    """PostgresSink(dsn=...) owns its pool; publishers' events land in their tables."""
    async with PostgresSink(dsn=database_url) as sink:
        publisher = EventPublisher(sink)
        cid = uuid.uuid4()
        decision = await publisher.routing_decision(
            cid, user_request="write tests", selected_agent="agent-testing",
            confidence_score=0.9, routing_strategy="fuzzy", routing_time_ms=2.5,
        )  # fmt: skip
        await publisher.manifest_injection(
            cid, agent_name="agent-testing", total_query_time_ms=12,
            sections=[{"name": "patterns", "size_bytes": 100, "query_time_ms": 5}],
            routing_decision_id=decision.event_id,
        )  # fmt: skip
        await publisher.transformation(cid, target_agent="agent-testing", source_agent="poly")
    conn = await asyncpg.connect(database_url)
    try:
        for table in ("agent_routing_decisions", "agent_manifest_injections",
                      "agent_transformation_events"):  # fmt: skip
            count = await conn.fetchval(
                f"SELECT count(*) FROM {table} WHERE correlation_id = $1", cid
            )
            assert count == 1, f"{table}: expected the published event once, got {count}"
    finally:
        await conn.close()


async def test_secrets_never_reach_the_database(postgres_connection: asyncpg.Connection) -> None:
    """Passwords, emails and keys are redacted before the row is written."""
    cid = uuid.uuid4()
    async with AgentExecutionLogger(db=postgres_connection).run(
        "agent-x", "email me at jane@corp.com", cid
    ):
        await ActionLogger(db=postgres_connection).log_tool_call(
            cid, "http", {"Authorization": "Bearer abcdefghijklmnopqrst", "url": "https://x"}
        )
    details = await postgres_connection.fetchval(
        "SELECT action_details FROM agent_actions WHERE correlation_id = $1", cid
    )
    prompt = await postgres_connection.fetchval(
        "SELECT user_prompt FROM agent_execution_logs WHERE correlation_id = $1", cid
    )
    assert details["params"]["Authorization"] == REDACTED
    assert prompt == f"email me at {REDACTED}"


async def test_default_sink_for_module_level_use(postgres_connection: asyncpg.Connection) -> None:
    """A process-wide default sink lets loggers be built without arguments."""
    previous = set_default_sink(PostgresSink(postgres_connection))
    try:
        cid = uuid.uuid4()
        await ActionLogger().log_success(cid, "ok")
    finally:
        set_default_sink(previous)
    assert (
        await postgres_connection.fetchval(
            "SELECT count(*) FROM agent_actions WHERE correlation_id = $1", cid
        )
        == 1
    )
