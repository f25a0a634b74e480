"""A trace is read within its window: its days' partitions only, every row of it found.

Every event table is partitioned by day, so a read by correlation id alone probes every
partition of the retention period; the read layer bounds a trace's reads (its sections, its
timeline, a page's LLM usage) by the trace's window (``trace_window``: its executions' first
to last event, or now while one runs, a day either side).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta

import asyncpg
import pytest

from omniclaude.events import (
    AgentAction,
    EventBase,
    ExecutionCompleted,
    ExecutionStarted,
    LlmCall,
    RoutingDecision,
    utc_now,
)
from omniclaude.storage import queries
from omniclaude.storage.queries import traces
from omniclaude.storage.queries.filters import TRACE_SLACK, trace_window
from omniclaude.storage.queries.usage import execution_usage
from omniclaude.storage.writers import write_events

pytestmark = pytest.mark.covers(
    "table:agent_actions", "table:agent_llm_calls", "feature:partitioned-storage"
)


def _llm(cid: uuid.UUID, at: datetime, tokens: int) -> LlmCall:
    return LlmCall(correlation_id=cid, model="claude-sonnet-4-5", input_tokens=tokens,
                   cost_usd=0.01, cost_source="estimate", timestamp=at)  # fmt: skip


def _trace(root: uuid.UUID, child: uuid.UUID, start: datetime) -> list[EventBase]:
    """Routed just before it starts, a child after midnight, both across two days."""
    later = start + timedelta(minutes=30)
    return [
        RoutingDecision(correlation_id=root, user_request="fix it", selected_agent="a",
                        confidence_score=0.9, routing_strategy="s", routing_time_ms=5.0,
                        timestamp=start - timedelta(seconds=2)),
        ExecutionStarted(correlation_id=root, agent_name="a", user_prompt="fix it",
                         timestamp=start),
        AgentAction(correlation_id=root, action_type="tool_call", action_name="Bash",
                    duration_ms=5.0, timestamp=start + timedelta(seconds=1)),
        _llm(root, start + timedelta(seconds=3), 100),
        ExecutionStarted(correlation_id=child, parent_correlation_id=root, agent_name="b",
                         timestamp=later),
        AgentAction(correlation_id=child, action_type="tool_call", action_name="Read",
                    duration_ms=2.0, timestamp=later + timedelta(seconds=1)),
        _llm(child, later + timedelta(seconds=2), 50),
        ExecutionCompleted(correlation_id=child, parent_correlation_id=root,
                           timestamp=later + timedelta(seconds=5)),
        ExecutionCompleted(correlation_id=root, timestamp=later + timedelta(seconds=9)),
    ]  # fmt: skip


def _relations(plan: object) -> set[str]:
    """Every relation an EXPLAIN (FORMAT JSON) plan reads."""
    found: set[str] = set()
    if isinstance(plan, dict):
        if "Relation Name" in plan:
            found.add(plan["Relation Name"])
        for value in plan.values():
            found |= _relations(value)
    elif isinstance(plan, list):
        for value in plan:
            found |= _relations(value)
    return found


async def test_a_trace_across_midnight_is_read_whole_from_its_days_partitions(
    postgres_connection: asyncpg.Connection,
) -> None:
    """Every row of a trace spanning two days (routed before it started, a child after
    midnight) is read; the statements visit the window's partitions, not the days of
    other traces; a page's usage counts the child's calls in the root's total."""
    conn = postgres_connection
    midnight = (utc_now() - timedelta(days=10)).replace(hour=0, minute=0, second=0,
                                                         microsecond=0)  # fmt: skip
    root, child = uuid.uuid4(), uuid.uuid4()
    events = _trace(root, child, midnight - timedelta(minutes=10))
    others = [
        AgentAction(correlation_id=uuid.uuid4(), action_type="tool_call", action_name="Grep",
                    timestamp=midnight + timedelta(days=offset))
        for offset in (-6, -4, 4, 6)
    ]  # fmt: skip
    await write_events(conn, events + others)

    trace = await queries.get_trace(conn, root)
    assert trace is not None
    read = {r.event_id for r in trace.routing_decisions + trace.actions + trace.llm_calls}
    read |= {r.event_id for r in trace.lifecycle}
    kid = trace.children[0]
    read |= {r.event_id for r in kid.actions + kid.llm_calls + kid.lifecycle}
    assert read == {e.event_id for e in events}, "a row of the trace was not read"
    assert len(trace.timeline) + len(kid.timeline) == len(events)

    tree = await traces.fetch_trace_tree(conn, root)
    window = trace_window((e.created_at, e.last_event_at, False) for e in tree.executions)
    assert window[0] <= midnight - timedelta(minutes=10) - TRACE_SLACK
    plan = await conn.fetchval(
        "EXPLAIN (FORMAT JSON) " + traces._SECTIONS["actions"][1], [root, child], *window
    )
    visited = _relations(json.loads(plan) if isinstance(plan, str) else plan)
    days = {f"agent_actions_p{(midnight + timedelta(days=d)):%Y%m%d}" for d in (-2, -1, 0, 1)}
    assert visited, plan
    assert visited <= days, f"partitions outside the trace's window read: {visited - days}"

    usage = await execution_usage(conn, [root], window=window)
    assert (usage[root].own.calls, usage[root].total.calls) == (1, 2)
    assert usage[root].total.input_tokens == 150
    page = await queries.list_executions(
        conn, queries.ExecutionFilter.build(since=midnight - timedelta(days=1),
                                            until=midnight + timedelta(days=1), top_level=True)
    )  # fmt: skip
    assert [(i.correlation_id, i.llm_calls) for i in page.items] == [(root, 2)]


async def test_a_running_trace_reads_its_rows_up_to_now(
    postgres_connection: asyncpg.Connection,
) -> None:
    """While an execution runs its window reaches now (and a day past): the newest rows are
    read, and the live view's activity and cursor see them."""
    conn = postgres_connection
    cid = uuid.uuid4()
    start = utc_now() - timedelta(days=3)
    late = AgentAction(correlation_id=cid, action_type="tool_call", action_name="Edit",
                       timestamp=utc_now())  # fmt: skip
    await write_events(conn, [ExecutionStarted(correlation_id=cid, agent_name="a",
                                               timestamp=start), late])  # fmt: skip
    trace = await queries.get_trace(conn, cid)
    assert trace is not None
    assert [a.event_id for a in trace.actions] == [late.event_id]
    activity = await queries.trace_activity(conn, cid, after=None)
    assert late.event_id in {i.event_id for i in activity.items}
    assert activity.running
    assert await queries.latest_activity(conn, cid) is not None


def test_the_window_of_a_trace() -> None:
    """First event to last a day either side; to now while one runs; unknown: every day."""
    t0 = utc_now() - timedelta(days=5)
    t1 = t0 + timedelta(hours=2)
    assert trace_window([(t0, t1, False)]) == (t0 - TRACE_SLACK, t1 + TRACE_SLACK)
    now = utc_now()
    assert trace_window([(t0, t1, False), (t0, None, True)], now=now)[1] == now + TRACE_SLACK
    assert trace_window([]) == traces.EVERYWHEN
