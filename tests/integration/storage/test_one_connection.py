"""A read of several statements takes one connection from the pool, not one per statement.

A pool's ``fetch`` takes a connection and gives it back, and giving it back runs asyncpg's
reset (one more round trip): a trace read of eight statements paid eight (bench/reads.py at
10M actions, 13% of the API's busy time under ``GET /traces/{id}``). The read layer's
multi-statement reads use :func:`~omniclaude.storage.queries._base.one_connection`.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest

from omniclaude.events import (
    AgentAction,
    ExecutionCompleted,
    ExecutionStarted,
    ExecutionStatus,
    LlmCall,
    utc_now,
)
from omniclaude.storage import queries
from omniclaude.storage.pool import create_pool
from omniclaude.storage.writers import write_events

pytestmark = pytest.mark.covers("table:agent_execution_logs", "table:agent_actions")


class CountingPool:
    """A pool that counts what its callers take from it."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self.acquired = 0
        self.direct = 0

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[Any]:
        self.acquired += 1
        async with self.pool.acquire() as conn:
            yield conn

    async def fetch(self, query: str, *args: Any) -> list[Any]:
        self.direct += 1
        return list(await self.pool.fetch(query, *args))

    async def fetchrow(self, query: str, *args: Any) -> Any:
        self.direct += 1
        return await self.pool.fetchrow(query, *args)

    async def fetchval(self, query: str, *args: Any) -> Any:
        self.direct += 1
        return await self.pool.fetchval(query, *args)


async def test_trace_list_and_live_reads_each_take_one_connection(database_url: str) -> None:
    root, child = uuid.uuid4(), uuid.uuid4()
    now = utc_now()
    pool = await create_pool(database_url, min_size=1, max_size=2)
    try:
        async with pool.acquire() as conn:
            await write_events(conn, [
                ExecutionStarted(correlation_id=root, agent_name="a", user_prompt="fix it",
                                 timestamp=now - timedelta(seconds=30)),
                AgentAction(correlation_id=root, action_type="tool_call", action_name="Bash",
                            duration_ms=5.0, timestamp=now - timedelta(seconds=29)),
                LlmCall(correlation_id=root, model="claude-sonnet-4-5", input_tokens=10,
                        timestamp=now - timedelta(seconds=28)),
                ExecutionStarted(correlation_id=child, parent_correlation_id=root,
                                 agent_name="b", timestamp=now - timedelta(seconds=20)),
                ExecutionCompleted(correlation_id=child, parent_correlation_id=root,
                                   agent_name="b", status=ExecutionStatus.SUCCESS,
                                   timestamp=now - timedelta(seconds=10)),
            ])  # fmt: skip
        counting = CountingPool(pool)
        trace = await queries.get_trace(counting, root)
        assert trace is not None
        assert [c.correlation_id for c in trace.children] == [child]
        assert len(trace.actions) == 1
        assert len(trace.llm_calls) == 1
        assert (counting.acquired, counting.direct) == (1, 0)

        counting = CountingPool(pool)
        page = await queries.list_executions(counting, queries.ExecutionFilter.build())
        assert {i.correlation_id for i in page.items} == {root, child}
        assert next(i for i in page.items if i.correlation_id == root).llm_calls == 1
        assert (counting.acquired, counting.direct) == (1, 0)

        counting = CountingPool(pool)
        activity = await queries.trace_activity(counting, root, after=None)
        assert len(activity.items) == 5
        assert activity.running
        assert await queries.latest_activity(counting, root) is not None
        assert (counting.acquired, counting.direct) == (2, 0)
    finally:
        await pool.close()
