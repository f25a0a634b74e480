"""A killed emitter resumes from its commit: every event lands in the database exactly once."""

from __future__ import annotations

import json
import signal
import uuid

import asyncpg
import pytest

from omniclaude.consuming import IngestService
from omniclaude.events import CATALOG
from omniclaude.hooks.mapping import Mapper
from omniclaude.hooks.payloads import parse_payload
from omniclaude.hooks.shaping import Shaper
from omniclaude.hooks.spool import Spool, SpoolRecord
from omniclaude.publishing.redaction import sanitize_pii
from tests.fixtures.waiting import wait_for
from tests.integration.hooks.conftest import HookRig
from tests.unit.hooks.builders import Session, full_session_script

pytestmark = pytest.mark.covers(
    "table:agent_actions",
    "table:agent_execution_logs",
    "feature:claude-code-emitter",
)

TABLES = sorted({kind.topic.table for kind in CATALOG})


def expected_event_ids(rig: HookRig) -> set[uuid.UUID]:
    """Map the spool in-process: the ids are deterministic, so these are the ids to find."""
    spool = Spool(rig.spool)
    records, _ = spool.read(spool.start(), max_records=100_000, max_bytes=1 << 30)
    mapper = Mapper(shaper=Shaper(redact=sanitize_pii))
    ids: set[uuid.UUID] = set()
    for record in records:
        assert isinstance(record, SpoolRecord), record
        payload = parse_payload(record.payload, key=record.key, received_ns=record.receive_ns)
        ids.update(e.event_id for e in mapper.map(payload))
    return ids


async def stored_ids(conn: asyncpg.Connection, session_ids: list[str]) -> list[uuid.UUID]:
    """Event ids of every row of these sessions, in every table that has them."""
    rows = await conn.fetch(
        "SELECT event_id FROM agent_actions WHERE session_id = ANY($1::text[])"
        " UNION ALL SELECT e.event_id FROM agent_execution_events e"
        "   JOIN agent_execution_logs l USING (correlation_id)"
        "   WHERE l.session_id = ANY($1::text[])"
        " UNION ALL SELECT event_id FROM agent_routing_decisions"
        "   WHERE session_id = ANY($1::text[])",
        session_ids,
    )
    return [r["event_id"] for r in rows]


async def test_killed_emitter_resumes_without_loss_or_duplicates(
    hook_rig: HookRig, ingest_service: IngestService, postgres_connection: asyncpg.Connection
) -> None:
    """SIGKILL the emitter mid-stream with events still spooled; a restart delivers all once."""
    conn = postgres_connection
    # The expected ids are mapped from the spool at the end: keep shipped records until then
    # (a slow run would otherwise have the first ones deleted, 10 s after they were shipped).
    hook_rig.env["OMNICLAUDE_HOOKS__SPOOL_ROTATE_AFTER_S"] = "3600"
    sessions = [Session(old=i % 3 == 2) for i in range(6)]
    scripts = [full_session_script(s)[0] for s in sessions]
    for script in scripts[:4]:
        await hook_rig.hooks(script)
    emitter = await hook_rig.start_emitter()

    async def some_rows() -> int:
        return len(await stored_ids(conn, [s.session_id for s in sessions]))

    await wait_for(some_rows, what="the first rows from the emitter", timeout_s=60)
    assert await hook_rig.stop_emitter(emitter, signal.SIGKILL) == -signal.SIGKILL
    for script in scripts[4:]:  # events arriving while no emitter runs
        await hook_rig.hooks(script)
    restarted = await hook_rig.start_emitter()

    expected = expected_event_ids(hook_rig)
    session_ids = [s.session_id for s in sessions]

    async def all_rows() -> bool:
        return set(await stored_ids(conn, session_ids)) >= expected

    await wait_for(all_rows, what=f"all {len(expected)} events in the database", timeout_s=90)
    ids = await stored_ids(conn, session_ids)
    assert len(ids) == len(set(ids)), "a row was stored twice"
    assert set(ids) == expected, (
        f"lost {len(expected - set(ids))} event(s), unexpected {len(set(ids) - expected)} event(s)"
    )
    calls = await conn.fetch(
        "SELECT tool_use_id, count(*) AS n FROM agent_actions WHERE session_id = ANY($1::text[])"
        " AND tool_use_id IS NOT NULL AND action_type IN ('tool_call', 'error')"
        " GROUP BY tool_use_id HAVING count(*) > 1", session_ids,
    )  # fmt: skip
    assert calls == [], f"tool calls recorded twice: {[dict(c) for c in calls]}"
    assert await hook_rig.stop_emitter(restarted) == 0
    state = json.loads((hook_rig.spool / "emitter.state.json").read_text())
    assert state["records"] >= sum(len(s) for s in scripts[4:])
