"""`omniclaude import-transcript` records a past session; importing it again adds nothing."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from omniclaude.consuming import IngestService
from omniclaude.hooks.sessions import session_correlation_id
from tests.fixtures.waiting import wait_for
from tests.integration.hooks.conftest import BIN, HookRig
from tests.unit.hooks.transcripts import write_transcript

pytestmark = pytest.mark.covers(
    "table:agent_actions",
    "table:agent_execution_logs",
    "feature:import-transcript",
)

ROWS = (
    "SELECT (SELECT count(*) FROM agent_actions WHERE session_id = $1)"
    " + (SELECT count(*) FROM agent_execution_events e JOIN agent_execution_logs l"
    "    USING (correlation_id) WHERE l.session_id = $1)"
    " + (SELECT count(*) FROM agent_routing_decisions WHERE session_id = $1)"
)


async def import_once(rig: HookRig, path: str) -> str:
    """Run the real CLI; return its output."""
    proc = await asyncio.create_subprocess_exec(
        str(BIN / "omniclaude"), "import-transcript", path, env=rig.env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, out.decode()
    return out.decode()


async def test_import_is_recorded_once(
    hook_rig: HookRig, ingest_service: IngestService, postgres_connection: asyncpg.Connection
) -> None:
    """A transcript becomes a session with its prompts and calls; a second import adds no row."""
    path = hook_rig.root / "session.jsonl"
    expected = write_transcript(path)
    sid = expected["session_id"]
    out = await import_once(hook_rig, str(path))
    assert sid in out
    assert "skipped 1 line(s): line is not JSON" in out

    async def closed() -> bool:
        status = await postgres_connection.fetchval(
            "SELECT status FROM agent_execution_logs WHERE correlation_id = $1",
            session_correlation_id(sid),
        )
        return status == "success"

    await wait_for(closed, what="the imported session", timeout_s=60)
    first = await wait_for(lambda: postgres_connection.fetchval(ROWS, sid), what="rows")
    written = sum(ingest_service.events_written.values())
    assert written == first, "rows do not match the events consumed"
    await import_once(hook_rig, str(path))

    async def consumed_again() -> bool:
        return sum(ingest_service.events_written.values()) >= 2 * first

    await wait_for(consumed_again, what="the second import to be consumed")
    assert await postgres_connection.fetchval(ROWS, sid) == first, "the second import added rows"
    calls = await postgres_connection.fetch(
        "SELECT tool_use_id, action_type, duration_ms FROM agent_actions WHERE session_id = $1"
        " ORDER BY created_at", sid,
    )  # fmt: skip
    assert [(c["tool_use_id"], c["action_type"]) for c in calls] == [
        (expected["tool_use_ids"][0], "tool_call"),
        (expected["failed"], "error"),
    ]
    assert [c["duration_ms"] for c in calls] == [250.0, 2500.0]
    prompts = await postgres_connection.fetchval(
        "SELECT count(*) FROM agent_execution_logs WHERE parent_correlation_id = $1",
        session_correlation_id(sid),
    )
    assert prompts == expected["prompts"]
