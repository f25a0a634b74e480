"""Migration 0004: the search indexes and the viewer's sessions come and go cleanly."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from omniclaude.storage import migrations


async def _indexes(database_url: str) -> dict[str, str]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'agent_execution_logs'"
        )
        sessions = await conn.fetchval("SELECT to_regclass('viewer_sessions') IS NOT NULL")
    finally:
        await conn.close()
    found = {r["indexname"]: r["indexdef"] for r in rows}
    found["(viewer_sessions)"] = str(sessions)
    return found


@pytest.mark.covers("table:agent_execution_logs", "table:viewer_sessions")
async def test_the_search_indexes_and_sessions_downgrade_and_upgrade(database_url: str) -> None:
    """At head: a trigram GIN on the searched text and a pattern index on session ids; down
    to 0003 they are gone (the plain session index back); up again they return."""
    head = await _indexes(database_url)
    assert "gin_trgm_ops" in head["agent_execution_logs_search_trgm"]
    assert "text_pattern_ops" in head["agent_execution_logs_session"]
    assert head["(viewer_sessions)"] == "True"
    await asyncio.to_thread(migrations.downgrade, database_url, "0003_partitioned_events")
    down = await _indexes(database_url)
    assert "agent_execution_logs_search_trgm" not in down
    assert "text_pattern_ops" not in down["agent_execution_logs_session"]
    assert down["(viewer_sessions)"] == "False"
    await asyncio.to_thread(migrations.upgrade, database_url, "head")
    assert await _indexes(database_url) == head
