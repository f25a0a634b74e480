"""The read layer's connections plan every statement for its values (no generic plans).

asyncpg prepares every statement; after five executions PostgreSQL may reuse a generic plan
made without the parameters, which for a text search means scanning the window by time
(bench/reads.py: 0.4 ms became 760 ms at 10M actions). ``storage.pool`` sets
``plan_cache_mode = force_custom_plan`` on every connection it opens, and ``jit = off``: on a
server built with LLVM, the executions page's usage statement (a tree walk the planner
over-estimates) spent 63 of its 65 ms compiling its plan.
"""

from __future__ import annotations

import uuid

import pytest

from omniclaude.events import ExecutionStarted, utc_now
from omniclaude.storage import queries
from omniclaude.storage.pool import connect, create_pool
from omniclaude.storage.writers import write_events

pytestmark = pytest.mark.covers("table:agent_execution_logs", "feature:partitioned-storage")

_PLANS = (
    "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
    " WHERE statement LIKE '%ILIKE%' AND statement LIKE '%agent_execution_logs%'"
    " AND statement NOT LIKE '%pg_prepared_statements%'"
)


async def test_a_search_repeated_on_a_pool_is_planned_for_its_pattern_each_time(
    database_url: str,
) -> None:
    """The same search eight times on one pooled connection: every run a custom plan."""
    pool = await create_pool(database_url, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            await write_events(conn, [
                ExecutionStarted(correlation_id=uuid.uuid4(), agent_name="a",
                                 user_prompt=f"fix pagination {i}", timestamp=utc_now())
                for i in range(20)
            ])  # fmt: skip
        flt = queries.ExecutionFilter.build(text="pagination", range_="7d")
        for _ in range(8):
            page = await queries.list_executions(pool, flt)
            assert len(page.items) == 20
        async with pool.acquire() as conn:
            assert await conn.fetchval("SHOW plan_cache_mode") == "force_custom_plan"
            plans = await conn.fetch(_PLANS)
        assert plans, "the search statement was not prepared on the pool's connection"
        assert [(p["generic_plans"], p["custom_plans"]) for p in plans] == [(0, 8)]
    finally:
        await pool.close()


async def test_a_single_connection_plans_for_its_values_too(database_url: str) -> None:
    """``connect`` (the CLI's, the consumer's) has the same setting; callers' own
    ``server_settings`` add to it."""
    conn = await connect(database_url, server_settings={"application_name": "omniclaude-test"})
    try:
        assert await conn.fetchval("SHOW plan_cache_mode") == "force_custom_plan"
        assert await conn.fetchval("SHOW application_name") == "omniclaude-test"
    finally:
        await conn.close()


async def test_no_connection_compiles_its_plans(database_url: str) -> None:
    """JIT is off on the pool's connections and on a single connection (whatever the
    server's default), so a misestimated index probe is never compiled first."""
    pool = await create_pool(database_url, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            assert await conn.fetchval("SHOW jit") == "off"
    finally:
        await pool.close()
    conn = await connect(database_url, server_settings={"application_name": "omniclaude-test"})
    try:
        assert await conn.fetchval("SHOW jit") == "off"
    finally:
        await conn.close()
