"""Trace and list queries on real rows written by the shared writers."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from omniclaude.events import (
    AgentAction,
    CostSource,
    ExecutionCompleted,
    ExecutionFailed,
    ExecutionStarted,
    LlmCall,
    ManifestInjection,
    RoutingDecision,
    utc_now,
)
from omniclaude.storage import queries
from omniclaude.storage.writers import write_events


def _execution(
    agent: str, *, parent: uuid.UUID | None = None, ok: bool = True, ago: timedelta = timedelta()
) -> tuple[uuid.UUID, list[Any]]:
    cid = uuid.uuid4()
    start = utc_now() - ago
    events: list[Any] = [
        ExecutionStarted(
            correlation_id=cid,
            agent_name=agent,
            user_prompt=f"prompt for {agent}",
            parent_correlation_id=parent,
            timestamp=start,
        ),
        AgentAction(
            correlation_id=cid,
            action_type="tool_call",
            action_name="read_file",
            agent_name=agent,
            timestamp=start + timedelta(milliseconds=5),
        ),
    ]
    end = start + timedelta(milliseconds=10)
    if ok:
        events.append(
            ExecutionCompleted(correlation_id=cid, agent_name=agent, result={"n": 1}, timestamp=end)
        )
    else:
        events.append(
            ExecutionFailed(
                correlation_id=cid,
                agent_name=agent,
                error_type="E",
                error_message="m",
                timestamp=end,
            )
        )
    return cid, events


async def test_get_trace_nests_children_and_orders_the_timeline(postgres_connection: Any) -> None:
    """A parent's trace holds its routing, manifest, actions in time order, and its children."""
    parent, events = _execution("polymorphic-agent")
    decision = RoutingDecision(
        correlation_id=parent,
        user_request="u",
        selected_agent="polymorphic-agent",
        confidence_score=1,
        routing_strategy="parallel",
        routing_time_ms=0.1,
    )
    events += [
        decision,
        ManifestInjection(
            correlation_id=parent,
            agent_name="polymorphic-agent",
            total_query_time_ms=1,
            routing_decision_id=decision.event_id,
        ),
    ]
    _, events_a = _execution("code-analyzer", parent=parent)
    _, events_b = _execution("test-finder", parent=parent, ok=False)
    await write_events(postgres_connection, [*events, *events_a, *events_b])

    trace = await queries.get_trace(postgres_connection, parent)
    assert trace is not None
    assert trace.execution is not None
    assert trace.execution.status == "success"
    assert trace.manifest_injections[0].routing_decision_id == decision.event_id
    stamps = [row.started_at for row in trace.timeline]
    assert stamps == sorted(stamps), "the timeline is not in the order things began"
    assert {r.source for r in trace.timeline} >= {"execution", "action", "routing", "manifest"}
    children = {c.execution.agent_name: c for c in trace.children if c.execution}
    assert set(children) == {"code-analyzer", "test-finder"}
    assert children["test-finder"].execution is not None
    assert children["test-finder"].execution.status == "failed"
    assert children["code-analyzer"].actions
    assert {e.source for e in children["code-analyzer"].timeline} >= {"execution", "action"}
    assert await queries.get_trace(postgres_connection, uuid.uuid4()) is None
    assert [c.agent_name for c in await queries.list_children(postgres_connection, parent)] == [
        "code-analyzer",
        "test-finder",
    ]


async def test_list_executions_filters_and_paginates(postgres_connection: Any) -> None:
    """Filters by agent, status, parent, text, top level; pages with a cursor; 24 h window."""
    events: list[Any] = []
    ids = []
    for i in range(5):
        cid, evs = _execution(
            "code-analyzer" if i % 2 == 0 else "test-finder", ok=i != 3, ago=timedelta(minutes=i)
        )
        ids.append(cid)
        events += evs
    old, old_events = _execution("code-analyzer", ago=timedelta(days=2))
    _, child_events = _execution("file-reader", parent=ids[0])
    await write_events(postgres_connection, [*events, *old_events, *child_events])

    def f(**kw: Any) -> queries.ExecutionFilter:
        return queries.ExecutionFilter.build(**kw)

    everything = await queries.list_executions(postgres_connection, f())
    assert [r.correlation_id for r in everything.items][1:] == ids
    assert old not in {r.correlation_id for r in everything.items}, "the 24 h default window leaked"
    widened = await queries.list_executions(
        postgres_connection, f(since=utc_now() - timedelta(days=3))
    )
    assert len(widened.items) == 7
    analyzer = await queries.list_executions(postgres_connection, f(agent="code-analyzer"))
    assert len(analyzer.items) == 3
    failed = await queries.list_executions(postgres_connection, f(status="failed"))
    assert [r.correlation_id for r in failed.items] == [ids[3]]
    assert [
        r.agent_name
        for r in (await queries.list_executions(postgres_connection, f(parent=ids[0]))).items
    ] == ["file-reader"]
    assert next(r for r in everything.items if r.correlation_id == ids[0]).child_count == 1
    assert len((await queries.list_executions(postgres_connection, f(top_level=True))).items) == 5
    assert (
        len((await queries.list_executions(postgres_connection, f(text="FILE-reader"))).items) == 1
    )

    seen: list[str] = []
    cursor = None
    while True:
        page = await queries.list_executions(postgres_connection, f(), limit=2, cursor=cursor)
        seen += [r.correlation_id for r in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [r.correlation_id for r in everything.items], "pagination lost or repeated rows"
    with pytest.raises(queries.InvalidCursorError, match=r"^cursor:"):
        await queries.list_executions(postgres_connection, f(), cursor="bogus!")


async def test_agent_success_rates(postgres_connection: Any) -> None:
    """Finished executions per agent and their success share."""
    events: list[Any] = []
    for ok in (True, True, False):
        events += _execution("code-analyzer", ok=ok)[1]
    await write_events(postgres_connection, events)
    rates = await queries.agent_success_rates(postgres_connection)
    assert rates["code-analyzer"][0] == 3
    assert rates["code-analyzer"][1] == pytest.approx(2 / 3)


@pytest.mark.covers("table:agent_llm_calls")
async def test_the_usage_report_adds_up_tokens_and_priced_cost(postgres_connection: Any) -> None:
    """Per model and per day: calls, tokens and the cost of priced calls; the total row is the
    sum of the groups; unpriced and sidechain calls are counted; the window is half-open."""
    end = utc_now() - timedelta(minutes=5)
    cid = uuid.uuid4()

    def call(model: str, tokens: int, cost: float | None, **extra: Any) -> LlmCall:
        priced = {"cost_usd": cost, "cost_source": CostSource.ESTIMATE} if cost is not None else {}
        fields = {"session_id": "s-usage", "timestamp": end, **priced, **extra}
        return LlmCall(correlation_id=cid, model=model, input_tokens=tokens, output_tokens=1,
                       **fields)  # fmt: skip

    calls = [
        call("claude-a", 100, 0.5),
        call("claude-a", 10, None),
        call("claude-b", 1000, 2.0, is_sidechain=True),
        call("claude-b", 5, 0.25, timestamp=utc_now() - timedelta(days=3)),
    ]
    await write_events(postgres_connection, calls)
    report = await queries.usage_report(
        postgres_connection, queries.UsageQuery.build(group_by="model")
    )
    rows = {r.key: r for r in report.rows}
    assert set(rows) == {"claude-a", "claude-b"}, "the 3-day-old call leaked into 24 h"
    assert (rows["claude-a"].calls, rows["claude-a"].input_tokens) == (2, 110)
    assert rows["claude-a"].cost_usd == pytest.approx(0.5)
    assert rows["claude-a"].unpriced_calls == 1
    assert rows["claude-b"].sidechain_calls == 1
    assert [r.key for r in report.rows] == ["claude-b", "claude-a"], "costliest first"
    assert report.total.calls == 3
    assert report.total.cost_usd == pytest.approx(2.5)
    assert report.total.total_tokens == sum(r.total_tokens for r in report.rows)
    assert report.total.sessions == 1
    daily = await queries.usage_report(
        postgres_connection, queries.UsageQuery.build(group_by="day", range_="7d")
    )
    assert daily.total.calls == 4
    assert [r.key for r in daily.rows] == sorted(r.key for r in daily.rows)
