"""Migration 0002 converts stored rows to the one meaning of time (``started_at`` → end).

The test database is taken back to 0001, given rows in the shapes 0001's producers wrote
(the hook mapper stored a tool call's START in ``created_at``, every other producer its
END), and upgraded again.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from omniclaude.storage import migrations

T0 = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)

_INSERT_ACTION = (
    "INSERT INTO agent_actions (event_id, correlation_id, action_type, action_name, "
    "action_details, duration_ms, created_at) VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7)"
)


async def _migrate(database_url: str, revision: str, *, down: bool = False) -> None:
    step = migrations.downgrade if down else migrations.upgrade
    await asyncio.to_thread(step, database_url, revision)


@pytest.mark.covers("table:agent_actions", "table:agent_routing_decisions")
async def test_stored_rows_get_their_start_and_end(database_url: str) -> None:
    """Hook rows move their end to start + duration; others start duration before their end."""
    await _migrate(database_url, "0001_initial", down=True)
    cid = uuid.uuid4()
    hook_call, hook_error, sdk_call, point, routing = (uuid.uuid4() for _ in range(5))
    conn = await asyncpg.connect(database_url)
    try:
        hook = {"hook_event": "PostToolUse", "tool_input": {"command": "pytest -x"}}
        failed = {"hook_event": "PostToolUseFailure", "error": "Exit code 1"}
        rows = [
            (hook_call, "tool_call", "Bash", hook, 500.0, T0),
            (hook_error, "error", "Bash", failed, 250.0, T0 + timedelta(seconds=1)),
            (sdk_call, "tool_call", "read_file", {"params": {}}, 40.0, T0 + timedelta(seconds=2)),
            (point, "decision", "pick", {"decision": "pick"}, None, T0 + timedelta(seconds=3)),
        ]
        for event_id, kind, name, details, duration, at in rows:
            await conn.execute(
                _INSERT_ACTION, event_id, cid, kind, name, json.dumps(details), duration, at
            )
        await conn.execute(
            "INSERT INTO agent_routing_decisions (event_id, correlation_id, user_request, "
            "user_request_hash, selected_agent, confidence_score, routing_strategy, "
            "routing_time_ms, created_at) VALUES ($1, $2, 'q', 'h', 'a', 0.5, 's', 7.5, $3)",
            routing, cid, T0,
        )  # fmt: skip
    finally:
        await conn.close()

    await _migrate(database_url, "head")

    conn = await asyncpg.connect(database_url)
    try:
        found = {
            r["event_id"]: r
            for r in await conn.fetch(
                "SELECT event_id, started_at, created_at, action_details->>'error_message' AS msg"
                " FROM agent_actions WHERE correlation_id = $1",
                cid,
            )
        }
        route = await conn.fetchrow(
            "SELECT started_at, created_at FROM agent_routing_decisions WHERE event_id = $1",
            routing,
        )
    finally:
        await conn.close()
    ms = timedelta(milliseconds=1)
    assert (found[hook_call]["started_at"], found[hook_call]["created_at"]) == (T0, T0 + 500 * ms)
    second = T0 + timedelta(seconds=1)
    assert (found[hook_error]["started_at"], found[hook_error]["created_at"]) == (
        second,
        second + 250 * ms,
    )
    assert found[hook_error]["msg"] == "Exit code 1", (
        "the hook error text is not where readers look"
    )
    end = T0 + timedelta(seconds=2)
    assert (found[sdk_call]["started_at"], found[sdk_call]["created_at"]) == (end - 40 * ms, end)
    assert found[point]["started_at"] == found[point]["created_at"]
    assert route is not None
    assert (route["started_at"], route["created_at"]) == (T0 - 7.5 * ms, T0)
