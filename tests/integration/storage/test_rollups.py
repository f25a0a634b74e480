"""Rollups stay exact: whatever the write path, redeliveries, better costs and late events.

The incremental rollups (triggers in the writing transaction) must equal the same
aggregates computed afresh from the raw rows, after any mix of COPY, INSERT, redelivered
batches and LLM calls told twice.
"""

from __future__ import annotations

import asyncio
import importlib
import itertools
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from omniclaude.consuming.batcher import Item
from omniclaude.consuming.store import EventStore
from omniclaude.events import (
    AgentAction,
    AgentTransformation,
    CostSource,
    EventBase,
    ExecutionCompleted,
    ExecutionFailed,
    ExecutionStarted,
    LlmCall,
    ManifestInjection,
    RoutingDecision,
    kind_of,
    llm_call_id,
    utc_now,
)
from omniclaude.kafka import topic_routes
from omniclaude.settings import TopicSettings
from omniclaude.storage import queries
from omniclaude.storage.writers import copy_events, enable_copy, write_events
from tests.unit.consuming.records import record

pytestmark = pytest.mark.covers(
    "table:rollup_events_minute",
    "table:rollup_actions_hour",
    "table:rollup_routing_hour",
    "table:rollup_llm_hour",
    "table:rollup_executions_hour",
    "table:rollup_llm_sums_hour",
    "table:rollup_llm_sums_day",
    "table:rollup_llm_sessions_day",
    "table:rollup_llm_session_sums_day",
    "table:rollup_tools_hour",
    "table:rollup_tools_day",
    "table:rollup_llm_session_cells",
    "table:rollup_executions_day",
    "table:rollup_llm_session_totals",
    "feature:rollups",
)

M = importlib.import_module("omniclaude.storage.migrations.versions.0005_rollups")
M6 = importlib.import_module("omniclaude.storage.migrations.versions.0006_llm_rollups")
M7 = importlib.import_module("omniclaude.storage.migrations.versions.0007_tool_rollups")
M9 = importlib.import_module("omniclaude.storage.migrations.versions.0009_session_cells")
M12 = importlib.import_module("omniclaude.storage.migrations.versions.0012_session_totals")
M10 = importlib.import_module("omniclaude.storage.migrations.versions.0010_llm_session_sums")

EXPECTED = {
    "rollup_actions_hour": (
        M.ACTIONS_SELECT.format(rows="agent_actions"),
        "bucket, agent_name, action_type, action_name, project",
    ),
    "rollup_routing_hour": (
        M.ROUTING_SELECT.format(rows="agent_routing_decisions"),
        "bucket, selected_agent, confidence_bucket",
    ),
    "rollup_llm_hour": (
        M.LLM_SELECT.format(rows="agent_llm_calls"),
        "bucket, model, project, agent_name, session_id",
    ),
    "rollup_llm_sums_hour": (
        M6.sums_select("hour", "agent_llm_calls"),
        "bucket, model, project, agent_name",
    ),
    "rollup_llm_sums_day": (
        M6.sums_select("day", "agent_llm_calls"),
        "bucket, model, project, agent_name",
    ),
    "rollup_llm_session_sums_day": (
        M10.session_sums_select("agent_llm_calls"),
        "bucket, session_id",
    ),
    "rollup_tools_hour": (
        M7.tools_select("hour", "agent_actions"),
        "bucket, action_type, action_name",
    ),
    "rollup_tools_day": (
        M7.tools_select("day", "agent_actions"),
        "bucket, action_type, action_name",
    ),
    "rollup_llm_sessions_day": (
        M6.SESSIONS_SELECT.format(rows="agent_llm_calls"),
        "bucket, dimension, value, session_id",
    ),
    "rollup_llm_session_totals": (
        M12.totals_select("agent_llm_calls"),
        "session_id",
    ),
    "rollup_llm_session_cells": (
        M9.cells_select("rollup_llm_sessions_day") + " ORDER BY 1, 2, 3, 4, 5, 6, 7",
        "dimension, kind, bucket, value, hour, prev_day, prev_hour",
    ),
}
"""Each rollup recomputed from the raw rows (the migration's own backfill statements)."""

_MINUTES_RAW = """
SELECT bucket, source, sum(events)::bigint AS events, sum(errors)::bigint AS errors FROM (
  SELECT date_trunc('minute', created_at, 'UTC') AS bucket, 'action' AS source, 1 AS events,
         (action_type = 'error')::int AS errors FROM agent_actions
  UNION ALL SELECT date_trunc('minute', created_at, 'UTC'), 'execution', 1,
         (event_type = 'execution_failed')::int FROM agent_execution_events
  UNION ALL SELECT date_trunc('minute', created_at, 'UTC'), 'routing', 1, 0
    FROM agent_routing_decisions
  UNION ALL SELECT date_trunc('minute', created_at, 'UTC'), 'manifest', 1, 0
    FROM agent_manifest_injections
  UNION ALL SELECT date_trunc('minute', created_at, 'UTC'), 'transformation', 1,
         (event_type = 'transformation_failed')::int FROM agent_transformation_events
  UNION ALL SELECT date_trunc('minute', created_at, 'UTC'), 'llm', 1, 0 FROM agent_llm_calls
) e GROUP BY 1, 2 ORDER BY 1, 2
"""
_EXECUTIONS_RAW = """
SELECT date_trunc('hour', created_at, 'UTC') AS bucket, agent_name, status,
       coalesce(project_name, project_path, '') AS project,
       parent_correlation_id IS NULL AS is_root, count(*) AS executions,
       count(duration_ms) AS timed, coalesce(sum(duration_ms), 0) AS duration_sum_ms
  FROM agent_execution_logs GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
"""


def window_shapes(now: datetime) -> list[tuple[datetime, datetime]]:
    """Windows of every shape a rollup read must get right: the last day, week and month;
    whole days; across midnight; inside one hour; empty; ragged at both ends; before all
    the data (the last one: empty)."""
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return [
        (now - timedelta(hours=24), now),
        (now - timedelta(days=7), now),
        (now - timedelta(days=30), now + timedelta(hours=2)),
        (midnight - timedelta(days=2), midnight),
        (midnight - timedelta(days=2, minutes=30), midnight + timedelta(minutes=1)),
        (midnight - timedelta(hours=3, minutes=10), midnight + timedelta(hours=2, minutes=5)),
        (midnight - timedelta(hours=30), midnight - timedelta(hours=29, minutes=50)),
        (midnight - timedelta(days=1, hours=1), midnight - timedelta(days=1, hours=1)),
        (midnight - timedelta(days=1, hours=-5), midnight - timedelta(hours=5)),
        (now - timedelta(days=2, hours=7), now - timedelta(hours=13, minutes=20)),
        (midnight - timedelta(days=3, hours=11), midnight + timedelta(hours=1)),
        (now - timedelta(days=60), now - timedelta(days=50)),
    ]


def _normal(rows: list[Any]) -> list[tuple[Any, ...]]:
    out = []
    for row in rows:
        values = []
        for value in row.values():
            if isinstance(value, float):
                value = round(value, 6)  # noqa: PLW2901 - float sums in another order
            values.append(value)
        out.append(tuple(values))
    return out


async def assert_rollups_exact(conn: asyncpg.Connection) -> None:
    """Every rollup equals its recomputation from the raw rows (zero rows left out)."""
    for table, (select, key) in EXPECTED.items():
        expected = await conn.fetch(select)
        names = ", ".join(expected[0].keys()) if expected else key
        stored = await conn.fetch(
            f"SELECT {names} FROM {table} WHERE "
            + ("events" if table in {"rollup_actions_hour", "rollup_tools_hour",
                                     "rollup_tools_day"} else
               "decisions" if table == "rollup_routing_hour" else
               "hours" if table == "rollup_llm_sessions_day" else
               "sessions" if table == "rollup_llm_session_cells" else "calls")
            + f" <> 0 ORDER BY {key}"
        )  # fmt: skip
        assert _normal(stored) == _normal(expected), f"{table} drifted from the raw rows"
    minutes = await conn.fetch(
        "SELECT bucket, source, events, errors FROM rollup_events_minute ORDER BY 1, 2"
    )
    assert _normal(minutes) == _normal(await conn.fetch(_MINUTES_RAW)), "minute rollup drifted"
    executions = await conn.fetch(
        "SELECT bucket, agent_name, status, project, is_root, executions, timed, duration_sum_ms"
        " FROM rollup_executions_hour WHERE executions <> 0 ORDER BY 1, 2, 3, 4, 5"
    )
    assert _normal(executions) == _normal(await conn.fetch(_EXECUTIONS_RAW)), (
        "the executions rollup drifted from agent_execution_logs"
    )
    days = await conn.fetch(
        "SELECT bucket, agent_name, status, project, is_root, executions, timed, duration_sum_ms"
        " FROM rollup_executions_day WHERE executions <> 0 ORDER BY 1, 2, 3, 4, 5"
    )
    raw_days = _EXECUTIONS_RAW.replace("date_trunc('hour',", "date_trunc('day',")
    assert _normal(days) == _normal(await conn.fetch(raw_days)), (
        "the daily executions rollup drifted from agent_execution_logs"
    )


def _workload(rng: random.Random, now: datetime) -> list[EventBase]:
    """Executions with their actions, routing, manifests, transformations and LLM calls,
    over a few hours, days and one far-past day."""
    events: list[EventBase] = []
    offsets = [timedelta(minutes=rng.randint(0, 180)) for _ in range(12)]
    offsets += [timedelta(days=2, minutes=7), timedelta(days=90)]
    for n, back in enumerate(offsets):
        cid = uuid.uuid4()
        start = now - back
        agent = rng.choice(["alpha", "beta", "gamma"])
        project = rng.choice([None, "omniclaude", "other"])
        events.append(
            ExecutionStarted(correlation_id=cid, agent_name=agent, user_prompt=f"p{n}",
                             timestamp=start, project_name=project)
        )  # fmt: skip
        events.extend(
            AgentAction(
                correlation_id=cid, agent_name=agent, project_name=project,
                action_type=rng.choice(["tool_call", "tool_call", "decision", "error"]),
                action_name=rng.choice(["Bash", "Read", "Edit"]),
                duration_ms=rng.choice([None, rng.uniform(0.2, 3000.0)]),
                timestamp=start + timedelta(seconds=i + 1),
            )
            for i in range(rng.randint(1, 6))
        )  # fmt: skip
        events.append(
            RoutingDecision(correlation_id=cid, user_request=f"p{n}", selected_agent=agent,
                            confidence_score=rng.random(), routing_strategy="enhanced",
                            routing_time_ms=rng.uniform(0, 20), is_fallback=rng.random() < 0.2,
                            timestamp=start)
        )  # fmt: skip
        events.append(
            ManifestInjection(correlation_id=cid, agent_name=agent, sections=[],
                              total_query_time_ms=1.0, timestamp=start)
        )  # fmt: skip
        events.append(
            AgentTransformation(correlation_id=cid, target_agent=agent, source_agent="poly",
                                phase=rng.choice(["transformation_complete",
                                                  "transformation_failed"]),
                                timestamp=start)
        )  # fmt: skip
        request = f"req_{cid.hex}"
        events.append(
            LlmCall(event_id=llm_call_id(request_id=request, message_id=None),
                    correlation_id=cid, model=rng.choice(["claude-a", "claude-b"]),
                    input_tokens=rng.randint(0, 999), output_tokens=rng.randint(0, 99),
                    request_id=request, session_id=f"s{n % 3}", project_name=project,
                    cost_usd=0.01, cost_source=CostSource.ESTIMATE, source="transcript",
                    timestamp=start + timedelta(seconds=2))
        )  # fmt: skip
        end = start + timedelta(seconds=30)
        if rng.random() < 0.3:
            events.append(ExecutionFailed(correlation_id=cid, agent_name=agent,
                                          error_type="Boom", error_message="boom",
                                          timestamp=end))  # fmt: skip
        elif rng.random() < 0.8:
            events.append(ExecutionCompleted(correlation_id=cid, timestamp=end,
                                             duration_ms=30_000.0))  # fmt: skip
    return events


def _exact(call: LlmCall, rng: random.Random) -> LlmCall:
    """OTel's telling of the same call: an exact cost, other tokens, seconds later."""
    return call.model_copy(
        update={"cost_usd": 0.02, "cost_source": CostSource.EXACT, "source": "otel",
                "output_tokens": call.output_tokens + rng.randint(1, 9),
                "timestamp": call.timestamp + timedelta(seconds=3)}
    )  # fmt: skip


def _items(events: list[EventBase]) -> list[Item]:
    """The events as the consumer's store gets them (each from its topic)."""
    routes = {r.spec.table: r for r in topic_routes(TopicSettings()).values()}
    out = []
    for i, event in enumerate(events):
        kind = kind_of(event.event_type)
        assert kind is not None
        route = routes[kind.topic.table]
        out.append(Item.build(event, record(b"{}", offset=i), route))  # type: ignore[arg-type]
    return out


async def test_rollups_equal_the_raw_rows_whatever_the_path(database_url: str) -> None:
    """COPY, INSERT, the consumer's store, redelivered batches and better costs: the rollups
    always equal the aggregates of the stored rows (nothing counted twice or lost)."""
    rng = random.Random(15)
    now = utc_now()
    events = _workload(rng, now)
    rng.shuffle(events)
    third = len(events) // 3
    conn = await asyncpg.connect(database_url)
    store = EventStore(database_url)
    try:
        from omniclaude.storage.pool import init_connection

        await init_connection(conn)
        await enable_copy(conn)
        await write_events(conn, events[:third])
        async with conn.transaction():
            await copy_events(conn, events[third : 2 * third])
        assert await store.write(_items(events[2 * third :])) == []
        await assert_rollups_exact(conn)
        # Redeliveries: the same events again, on every path; a COPY fails and is retried.
        assert await store.write(_items(events)) == []
        await write_events(conn, rng.sample(events, len(events) // 2))
        with pytest.raises(asyncpg.UniqueViolationError):
            async with conn.transaction():
                await copy_events(conn, events[:5])
        # Better costs: OTel's exact figures replace the transcript's estimates.
        calls = [e for e in events if isinstance(e, LlmCall)]
        await write_events(conn, [_exact(c, rng) for c in calls[: len(calls) // 2]])
        assert await store.write(_items([_exact(c, rng) for c in calls[len(calls) // 2 :]])) == []
        await assert_rollups_exact(conn)
        for rollup in ("rollup_llm_hour", "rollup_llm_sums_hour", "rollup_llm_sums_day",
                       "rollup_llm_session_sums_day"):  # fmt: skip
            exact = await conn.fetchval(f"SELECT sum(exact_calls) FROM {rollup}")
            assert exact == len(calls), f"an exact cost did not replace its estimate in {rollup}"
    finally:
        await store.close()
        await conn.close()


async def test_the_session_sums_are_rolled_up_from_the_stored_calls(database_url: str) -> None:
    """Calls stored (some with a better cost) before the per-day and session rollup exists:
    its migration rolls them up exactly from ``rollup_llm_hour``; down again, it is gone."""
    from omniclaude.storage import migrations
    from omniclaude.storage.pool import init_connection

    rng = random.Random(9)
    events = _workload(rng, utc_now())
    calls = [e for e in events if isinstance(e, LlmCall)]
    conn = await asyncpg.connect(database_url)
    try:
        await init_connection(conn)
        await asyncio.to_thread(migrations.downgrade, database_url, M10.down_revision)
        assert await conn.fetchval(f"SELECT to_regclass('{M10.TABLE}') IS NULL")
        await write_events(conn, events)
        await write_events(conn, [_exact(c, rng) for c in calls[::2]])
        await asyncio.to_thread(migrations.upgrade, database_url, "head")
        await assert_rollups_exact(conn)
        assert await conn.fetchval(f"SELECT sum(calls) FROM {M10.TABLE}") == len(calls)
    finally:
        await conn.close()


async def test_an_execution_moves_in_the_rollup_as_it_changes(
    postgres_connection: asyncpg.Connection,
) -> None:
    """Started (running), then completed, then an earlier event arrives late: one execution,
    in the hour of its first event, with its final status and duration."""
    conn = postgres_connection
    cid = uuid.uuid4()
    now = utc_now().replace(minute=30)
    await write_events(conn, [ExecutionStarted(correlation_id=cid, agent_name="a", timestamp=now)])
    counts = await queries.execution_counts(
        conn, since=now - timedelta(hours=3), until=now + timedelta(hours=1)
    )
    assert (counts.executions, counts.in_progress) == (1, 1)
    await write_events(
        conn, [ExecutionCompleted(correlation_id=cid, timestamp=now + timedelta(minutes=1),
                                  duration_ms=60_000.0)]
    )  # fmt: skip
    earlier = now - timedelta(hours=2)
    await write_events(conn, [AgentAction(correlation_id=cid, action_type="decision",
                                          action_name="late", timestamp=earlier)])  # fmt: skip
    # A late lifecycle event that started it earlier moves it to that hour.
    from omniclaude.events import ExecutionProgress

    await write_events(
        conn, [ExecutionProgress(correlation_id=cid, stage="s", percent=1, timestamp=earlier)]
    )
    rows = await conn.fetch(
        "SELECT bucket, status, executions, timed, duration_sum_ms FROM rollup_executions_hour"
        " WHERE agent_name = 'a' AND executions <> 0"
    )
    assert [tuple(r) for r in rows] == [
        (earlier.replace(minute=0, second=0, microsecond=0), "success", 1, 1, 60_000.0)
    ]
    usage = await queries.agent_usage(conn, since=earlier - timedelta(hours=1), until=now)
    assert [(u.agent_name, u.runs, u.succeeded, u.avg_ms) for u in usage] == [("a", 1, 1, 60_000.0)]
    await assert_rollups_exact(conn)


async def test_the_read_functions_answer_from_the_rollups(
    postgres_connection: asyncpg.Connection,
) -> None:
    """Per-minute activity, failures, slowest tools, routing and freshness, typed."""
    conn = postgres_connection
    now = utc_now()
    cid = uuid.uuid4()
    at = now - timedelta(minutes=5)
    events: list[EventBase] = [
        AgentAction(correlation_id=cid, action_type="tool_call", action_name="slow",
                    duration_ms=float(ms), timestamp=at)
        for ms in range(100, 1100, 10)
    ]  # fmt: skip
    events += [
        AgentAction(correlation_id=cid, action_type="tool_call", action_name="fast",
                    duration_ms=3.0, timestamp=at),
        AgentAction(correlation_id=cid, action_type="error", action_name="Bash", timestamp=at),
        ExecutionFailed(correlation_id=cid, agent_name="x", error_type="E", error_message="e",
                        timestamp=at),
        RoutingDecision(correlation_id=cid, user_request="q", selected_agent="x",
                        confidence_score=0.71, routing_strategy="s", routing_time_ms=1.0,
                        timestamp=at),
    ]  # fmt: skip
    await write_events(conn, events)
    window = {"since": now - timedelta(hours=1), "until": now}
    activity = await queries.events_per_minute(conn, **window)
    assert sum(b.events for b in activity) == len(events)
    fails = await queries.failures(conn, **window, per="minute")
    assert [(f.error_actions, f.failed_executions) for f in fails] == [(1, 1)]
    tools = await queries.slowest_tools(conn, **window)
    assert [t.action_name for t in tools] == ["slow", "fast"]
    assert tools[0].p95_ms is not None
    assert 500 <= tools[0].p95_ms <= 1090, "p95 of 100..1090 ms lies in its bucket"
    assert tools[0].max_ms == 1090.0
    assert tools[0].avg_ms == pytest.approx(595.0)
    confidence = await queries.routing_confidence(conn, **window)
    assert confidence[7].decisions == 1
    as_of = await queries.data_as_of(conn, now=now)
    assert as_of is not None
    assert as_of <= utc_now()


async def test_the_tools_histograms_add_up_as_the_migrations_aggregate(
    postgres_connection: asyncpg.Connection,
) -> None:
    """Histograms of many rollup rows (hours, agents, projects), summed bucket by bucket by
    the overview's statement, equal ``omniclaude_histogram_sum`` of the same rows, and the
    counts of the raw durations per bucket."""
    from omniclaude.storage.queries import rollups

    conn = postgres_connection
    rng = random.Random(7)
    now = utc_now()
    events: list[EventBase] = [
        AgentAction(correlation_id=uuid.uuid4(), agent_name=rng.choice("abc"),
                    project_name=rng.choice(("p", "q")), action_type="tool_call",
                    action_name=rng.choice(("Bash", "Read")),
                    duration_ms=rng.choice((None, rng.lognormvariate(4, 2))),
                    timestamp=now - timedelta(hours=rng.randint(0, 30), minutes=rng.randint(0, 59)))
        for _ in range(600)
    ]  # fmt: skip
    await write_events(conn, events)
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    windows = [
        (now - timedelta(hours=40), now + timedelta(hours=1)),
        (midnight - timedelta(hours=5, minutes=3), midnight + timedelta(hours=2)),
        (midnight - timedelta(days=1), midnight),
        (now - timedelta(minutes=20), now),
    ]
    for since, until in windows:
        spans = rollups.hour_spans(since, until)
        args = (spans.first, spans.days, spans.days_end, spans.end)
        rows = await conn.fetch(rollups._TOOLS, *args)
        reference = await conn.fetch(
            "SELECT action_name, omniclaude_histogram_sum(duration_hist) AS hist,"
            " sum(events) AS calls, max(duration_max_ms) AS max_ms"
            " FROM rollup_actions_hour WHERE bucket >= $1 AND bucket < $2"
            " AND action_type = 'tool_call' GROUP BY 1 HAVING sum(timed) > 0",
            rollups._hour(since),
            until,
        )
        assert {r["action_name"]: (list(r["hist"]), r["calls"], r["max_ms"]) for r in rows} == {
            r["action_name"]: (list(r["hist"]), r["calls"], r["max_ms"]) for r in reference
        }, f"tools over {since}..{until}"
        totals = await queries.overview_totals(conn, since=since, until=until)
        assert totals.actions == await conn.fetchval(
            "SELECT count(*) FROM agent_actions"
            " WHERE date_trunc('hour', created_at, 'UTC') >= $1 AND created_at < $2",
            rollups._hour(since),
            rollups.hour_spans(since, until).end,
        ), f"action totals over {since}..{until}"
    await assert_rollups_exact(conn)
    spans = rollups.hour_spans(*windows[0])
    tools = await conn.fetch(rollups._TOOLS, spans.first, spans.days, spans.days_end, spans.end)
    summed = {r["action_name"]: list(r["hist"]) for r in tools}
    bounds = rollups.DURATION_BOUNDS_MS
    for name, hist in summed.items():
        durations = [e.duration_ms for e in events
                     if isinstance(e, AgentAction) and e.action_name == name
                     and e.duration_ms is not None]  # fmt: skip
        expected = [0] * (len(bounds) + 1)
        for ms in durations:
            expected[sum(ms >= b for b in bounds)] += 1
        assert hist == expected, name


_RAW_LLM = """(SELECT date_trunc('hour', created_at, 'UTC') AS bucket, model,
       coalesce(project_name, project_path, '') AS project, coalesce(agent_name, '') AS agent_name,
       coalesce(session_id, '') AS session_id, 1 AS calls, input_tokens, output_tokens,
       cache_creation_input_tokens, cache_read_input_tokens, coalesce(cost_usd, 0) AS cost_usd,
       (cost_source = 'unpriced')::int AS unpriced_calls,
       (cost_source = 'estimate')::int AS estimated_calls,
       (cost_source = 'exact')::int AS exact_calls, is_sidechain::int AS sidechain_calls,
       created_at AS first_at, created_at AS last_at FROM agent_llm_calls) AS raw"""
"""Every LLM call as a one-call rollup row: the usage statement over it reads raw rows."""


async def test_the_usage_report_equals_the_raw_calls_for_any_window(
    postgres_connection: asyncpg.Connection,
) -> None:
    """The report and the overview's cost sections, from the session-free rollups (whole
    days, ragged hours, per-day session masks), and the report by session or filtered by
    session, from the per-day and session sums, equal the same report computed from the raw
    calls (some with a better cost told later): windows inside one hour, across midnight, of
    whole days, empty, and a month."""
    from omniclaude.storage.queries import usage

    conn = postgres_connection
    rng = random.Random(6)
    now = utc_now()
    events: list[EventBase] = []
    for n in range(400):
        request = f"req_{n}"
        priced = rng.choice(list(CostSource))
        cost = None if priced == CostSource.UNPRICED else round(rng.uniform(0, 0.5), 6)
        events.append(
            LlmCall(event_id=llm_call_id(request_id=request, message_id=None),
                    correlation_id=uuid.uuid4(), model=rng.choice(["claude-a", "claude-b"]),
                    input_tokens=rng.randint(0, 999), output_tokens=rng.randint(0, 99),
                    cache_read_input_tokens=rng.randint(0, 5000), request_id=request,
                    session_id=rng.choice([None, "", *(f"s{i}" for i in range(25))]),
                    agent_name=rng.choice([None, "alpha", "beta"]),
                    project_name=rng.choice([None, "omniclaude", "other"]),
                    is_sidechain=rng.random() < 0.2,
                    cost_usd=cost, cost_source=priced, source="transcript",
                    timestamp=now - timedelta(minutes=rng.randint(0, 4 * 24 * 60)))
        )  # fmt: skip
    # Token counts beyond 32 bits and odd (sums that float8 would round past 2**53).
    events += [
        LlmCall(event_id=llm_call_id(request_id=f"big_{n}", message_id=None),
                correlation_id=uuid.uuid4(), model="claude-a", input_tokens=2**41 + 2 * n + 1,
                output_tokens=7, cache_read_input_tokens=2**40 + 3, request_id=f"big_{n}",
                session_id="s3", cost_usd=0.1, cost_source=CostSource.ESTIMATE,
                source="transcript", timestamp=now - timedelta(hours=n * 11))
        for n in range(6)
    ]  # fmt: skip
    await write_events(conn, events)
    # Better costs for a third: the update triggers add their difference.
    await write_events(conn, [_exact(c, rng) for c in events[::3] if isinstance(c, LlmCall)])
    windows = window_shapes(now)
    raw_statements = {
        group: usage._statement(group).replace("FROM rollup_llm_hour", f"FROM {_RAW_LLM}")
        for group in usage.UsageGroup
    }

    async def checked(query: usage.UsageQuery) -> list[dict[str, object]]:
        """The report's total and rows, checked against the same report of the raw calls."""
        report = await usage.usage_report(conn, query)
        raw = await conn.fetch(
            raw_statements[query.group_by], query.since, query.until, query.model,
            query.project, query.session,
        )  # fmt: skip
        expected = [
            {**{k: v for k, v in dict(r).items() if k != "is_total"},
             **({"key": "total"} if r["is_total"] else {})}
            for r in raw
        ]  # fmt: skip
        got = [report.total.model_dump(), *(row.model_dump() for row in report.rows)]
        assert got == [usage.UsageRow.model_validate(e).model_dump() for e in expected], (
            f"{query.group_by} of {query.model}/{query.project}/{query.session} over "
            f"{query.since}..{query.until} differs from the raw calls"
        )
        return got

    groups = (usage.UsageGroup.DAY, usage.UsageGroup.MODEL, usage.UsageGroup.PROJECT,
              usage.UsageGroup.AGENT)  # fmt: skip
    for (since, until), (model, project), group in itertools.product(
        windows, [("claude-a", None), (None, "omniclaude"), ("claude-b", "other")], groups
    ):
        await checked(
            usage.UsageQuery(since=since, until=until, group_by=group, model=model,
                             project=project)
        )  # fmt: skip
    for since, until in windows:
        reports = {
            group: await checked(usage.UsageQuery(since=since, until=until, group_by=group))
            for group in groups
        }
        # By session (the per-day and session sums), and filtered by a session (by day or
        # session: the same sums; by another grouping or with a model: rollup_llm_hour).
        await checked(usage.UsageQuery(since=since, until=until, group_by=usage.UsageGroup.SESSION))
        for group, session in itertools.product(usage.UsageGroup, ("s3", "absent")):
            await checked(
                usage.UsageQuery(since=since, until=until, group_by=group, session=session)
            )
        await checked(
            usage.UsageQuery(since=since, until=until, group_by=usage.UsageGroup.SESSION,
                             session="s3", model="claude-a")
        )  # fmt: skip
        costs, cost_total = await usage.overview_costs(conn, since=since, until=until, top=1)
        for group in (usage.UsageGroup.DAY, usage.UsageGroup.MODEL, usage.UsageGroup.PROJECT):
            assert cost_total.model_dump() == reports[group][0], f"total over {since}..{until}"
            rows = reports[group][1:] if group is usage.UsageGroup.DAY else reports[group][1:2]
            assert [row.model_dump() for row in costs[group]] == rows, (
                f"the overview's {group} over {since}..{until} differs from the raw calls"
            )
    assert reports[usage.UsageGroup.DAY][0]["calls"] == 0  # the last window is empty
    overview = await queries.fetch_overview(conn, since=now - timedelta(days=7), until=now)
    by_day = await conn.fetch(
        raw_statements[usage.UsageGroup.DAY], now - timedelta(days=7), now, None, None, None
    )
    assert overview.cost_total is not None
    assert overview.cost_total.sessions == by_day[0]["sessions"] > 0
    assert [r.key for r in overview.cost_by_day] == [r["key"] for r in by_day[1:]]
    assert [r.sessions for r in overview.cost_by_day] == [r["sessions"] for r in by_day[1:]]
    await assert_rollups_exact(conn)


def _session_calls(rng: random.Random, now: datetime, n: int) -> list[LlmCall]:
    """LLM calls of a few sessions spread over five days' hours (gaps of days and hours), in
    random order: every kind of session cell, and rows arriving before their earlier days."""
    calls = []
    for i in range(n):
        request = f"req_cells_{i}"
        calls.append(
            LlmCall(event_id=llm_call_id(request_id=request, message_id=None),
                    correlation_id=uuid.uuid4(), model=rng.choice(["claude-a", "claude-b"]),
                    input_tokens=1, output_tokens=1, request_id=request,
                    session_id=rng.choice(["", *(f"s{k}" for k in range(6))]),
                    project_name=rng.choice([None, "p1", "p2"]), agent_name=rng.choice([None, "a"]),
                    cost_usd=0.01, cost_source=CostSource.ESTIMATE, source="transcript",
                    timestamp=now - timedelta(hours=rng.choice([0, 1, 5, 23, 24, 30, 49, 100]),
                                              minutes=rng.randint(0, 59)))
        )  # fmt: skip
    rng.shuffle(calls)
    return calls


async def test_the_session_cells_stay_exact_whatever_the_order_of_the_calls(
    database_url: str,
) -> None:
    """Calls of the same sessions in small batches, out of order (a day filled in between
    two days already counted, an hour added to a counted day), redelivered, and written by
    two connections at once: the session cells always equal their recomputation from the
    masks, and the session counts the raw calls' (the advisory lock makes concurrent writers
    of one session take turns)."""
    from omniclaude.storage.pool import init_connection
    from omniclaude.storage.queries import usage

    rng = random.Random(9)
    now = utc_now()
    calls = _session_calls(rng, now, 240)
    conns = [await asyncpg.connect(database_url) for _ in range(2)]
    try:
        for conn in conns:
            await init_connection(conn)
            await enable_copy(conn)

        async def writer(conn: asyncpg.Connection, mine: list[LlmCall]) -> None:
            at = 0
            while at < len(mine):
                size = rng.randint(1, 9)
                async with conn.transaction():
                    await write_events(conn, mine[at : at + size])
                at += size

        await writer(conns[0], calls[:60])
        await asyncio.gather(writer(conns[0], calls[60::2]), writer(conns[1], calls[61::2]))
        await writer(conns[1], rng.sample(calls, 40))  # redelivered: nothing changes
        await assert_rollups_exact(conns[0])
        windows = [
            (now - timedelta(days=5), now + timedelta(hours=1)),
            (now - timedelta(hours=30), now - timedelta(hours=2)),
            (now - timedelta(hours=3), now),
            (now - timedelta(hours=25), now),
            (now - timedelta(hours=50), now - timedelta(hours=23, minutes=30)),
        ]
        for (since, until), group in itertools.product(
            windows, (usage.UsageGroup.PROJECT, usage.UsageGroup.SESSION)
        ):
            raw = usage._statement(group).replace("FROM rollup_llm_hour", f"FROM {_RAW_LLM}")
            query = usage.UsageQuery(since=since, until=until, group_by=group)
            report = await usage.usage_report(conns[0], query)
            expected = await conns[0].fetch(raw, since, until, None, None, None)
            got = [report.total, *report.rows]
            assert [(r.key, r.calls, r.sessions, r.first_at, r.last_at) for r in got] == [
                ("total" if r["is_total"] else r["key"], r["calls"], r["sessions"],
                 r["first_at"], r["last_at"])
                for r in expected
            ], f"{group} over {since}..{until} differs from the raw calls"  # fmt: skip
    finally:
        for conn in conns:
            await conn.close()


async def test_two_writers_of_one_session_take_turns_on_its_cells(database_url: str) -> None:
    """Two transactions add two other days of one session at once (no rollup row in
    common): the second waits for the first (the session's advisory lock), so it counts
    its day after the first's; without the lock it would not see it and the cells drift."""
    from omniclaude.storage.partitions import PartitionCache
    from omniclaude.storage.pool import init_connection

    now = utc_now()
    calls = [
        LlmCall(event_id=llm_call_id(request_id=f"req_turns_{days}", message_id=None),
                correlation_id=uuid.uuid4(), model="claude-a", input_tokens=1, output_tokens=1,
                request_id=f"req_turns_{days}", session_id="turns", cost_usd=0.01,
                cost_source=CostSource.ESTIMATE, source="transcript",
                timestamp=now - timedelta(days=days))
        for days in (3, 1)
    ]  # fmt: skip
    first, second = [await asyncpg.connect(database_url) for _ in range(2)]
    try:
        for conn in (first, second):
            await init_connection(conn)
        # Those days' partitions made and known to both first (a writer that makes or checks
        # one holds the table's partition lock to its end: they would take turns anyway).
        warm = [c.model_copy(update={"event_id": uuid.uuid4(), "session_id": "other"})
                for c in calls]  # fmt: skip
        caches = {first: PartitionCache(), second: PartitionCache()}
        for conn, cache in caches.items():
            await write_events(conn, warm, partitions=cache)
        opened = first.transaction()
        await opened.start()
        await write_events(first, calls[:1], partitions=caches[first])

        async def later() -> None:
            async with second.transaction():
                await write_events(second, calls[1:], partitions=caches[second])

        waiting = asyncio.ensure_future(later())
        await asyncio.sleep(0.3)  # the second is blocked now (or, without the lock, done)
        assert not waiting.done(), "the second writer did not wait for the session's lock"
        await opened.commit()
        await waiting
        await assert_rollups_exact(first)
    finally:
        await first.close()
        await second.close()


_EXECUTIONS_IN_WINDOW = """
SELECT agent_name, count(*) AS runs, count(*) FILTER (WHERE status = 'success') AS succeeded,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       count(*) FILTER (WHERE status = 'in_progress') AS in_progress,
       count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
       sum(duration_ms) / nullif(count(duration_ms), 0) AS avg_ms
  FROM agent_execution_logs
 WHERE date_trunc('hour', created_at, 'UTC') >= date_trunc('hour', $1::timestamptz, 'UTC')
   AND date_trunc('hour', created_at, 'UTC') < $2
 GROUP BY ROLLUP (agent_name)
"""
"""The executions a window's figures count, from the summaries: those whose first event's
hour starts in ``[floor(since), until)``, by agent and in all."""


async def test_the_execution_figures_equal_the_summaries_for_any_window(
    postgres_connection: asyncpg.Connection,
) -> None:
    """Execution counts and agents' runs, read from the daily and hourly rollups, equal the
    summaries' figures for windows inside an hour, across midnight, of whole days, with
    ragged ends, empty, and a month; executions that finish or fail days later (moved in
    both rollups) included."""
    conn = postgres_connection
    rng = random.Random(10)
    now = utc_now()
    events: list[EventBase] = []
    for n in range(120):
        cid = uuid.uuid4()
        start = now - timedelta(minutes=rng.randint(0, 4 * 24 * 60))
        agent = rng.choice(["alpha", "beta", "gamma"])
        events.append(ExecutionStarted(correlation_id=cid, agent_name=agent, user_prompt=f"p{n}",
                                       timestamp=start))  # fmt: skip
        end = start + timedelta(minutes=rng.choice([1, 90, 26 * 60]))
        fate = rng.random()
        if fate < 0.3:
            events.append(ExecutionFailed(correlation_id=cid, agent_name=agent, error_type="E",
                                          error_message="e", timestamp=end))  # fmt: skip
        elif fate < 0.8:
            events.append(ExecutionCompleted(correlation_id=cid, timestamp=end,
                                             duration_ms=rng.uniform(1, 9e4)))  # fmt: skip
    rng.shuffle(events)
    for at in range(0, len(events), 25):  # lifecycles told in several statements: moves
        await write_events(conn, events[at : at + 25])
    windows = window_shapes(now)
    for since, until in windows:
        raw = {r["agent_name"]: r for r in await conn.fetch(_EXECUTIONS_IN_WINDOW, since, until)}
        whole = raw.get(None)
        counts = await queries.execution_counts(conn, since=since, until=until)
        assert (counts.executions, counts.success, counts.failed, counts.in_progress,
                counts.cancelled) == (
            (whole["runs"], whole["succeeded"], whole["failed"], whole["in_progress"],
             whole["cancelled"]) if whole else (0, 0, 0, 0, 0)
        ), f"execution counts over {since}..{until}"  # fmt: skip
        beta = await queries.execution_counts(conn, since=since, until=until, agent="beta")
        assert beta.executions == (raw["beta"]["runs"] if "beta" in raw else 0)
        agents = await queries.agent_usage(conn, since=since, until=until)
        assert [(a.agent_name, a.runs, a.succeeded, a.failed) for a in agents] == sorted(
            ((k, r["runs"], r["succeeded"], r["failed"]) for k, r in raw.items() if k),
            key=lambda t: (-t[1], t[0]),
        ), f"agents over {since}..{until}"
        for usage in agents:
            assert usage.avg_ms == pytest.approx(raw[usage.agent_name]["avg_ms"])
    await assert_rollups_exact(conn)


async def test_a_report_by_session_counts_only_the_calls_inside_the_window(
    postgres_connection: asyncpg.Connection,
) -> None:
    """Sessions that began before the window (in the hour before it, and a day before),
    end after it, lie wholly inside, or span it: each row holds only its calls inside the
    window's hours, as the raw calls say (whole sessions from their totals, the others by
    their days and hours)."""
    from omniclaude.storage.queries import usage

    conn = postgres_connection
    now = utc_now().replace(minute=30, second=0, microsecond=0)
    since, until = now - timedelta(hours=30), now - timedelta(hours=2)
    shapes = {
        "early-hour": (-1, 3), "early-day": (-25, 5), "late": (27.9, 28.5), "edge": (-0.5, 2),
        "inside": (1, 20), "spanning": (-3, 12, 29), "after": (28.6, 29),
    }  # hours after since  # fmt: skip
    calls = [
        LlmCall(event_id=llm_call_id(request_id=f"req_{name}_{i}", message_id=None),
                correlation_id=uuid.uuid4(), model="claude-a", input_tokens=100 + i,
                output_tokens=1, request_id=f"req_{name}_{i}", session_id=name, cost_usd=0.01,
                cost_source=CostSource.ESTIMATE, source="transcript",
                timestamp=since + timedelta(hours=at))
        for name, span in shapes.items()
        for i, at in enumerate(span)
    ]  # fmt: skip
    await write_events(conn, calls)
    raw = usage._statement(usage.UsageGroup.SESSION).replace(
        "FROM rollup_llm_hour", f"FROM {_RAW_LLM}"
    )
    report = await usage.usage_report(
        conn, usage.UsageQuery(since=since, until=until, group_by=usage.UsageGroup.SESSION)
    )
    expected = await conn.fetch(raw, since, until, None, None, None)
    assert [(r.key, r.calls, r.input_tokens) for r in [report.total, *report.rows]] == [
        ("total" if r["is_total"] else r["key"], r["calls"], r["input_tokens"]) for r in expected
    ]
    assert {r.key for r in report.rows} == set(shapes) - {"after"}
    assert report.groups == len(report.rows) == len(shapes) - 1
    for group in (usage.UsageGroup.SESSION, usage.UsageGroup.DAY):  # in SQL, and in Python
        query = usage.UsageQuery(since=since, until=until, group_by=group)
        whole = await usage.usage_report(conn, query)
        cut = await usage.usage_report(conn, query.model_copy(update={"limit": 2}))
        assert cut.rows == whole.rows[:2], f"a limit keeps the first rows ({group})"
        assert (cut.groups, cut.total) == (len(whole.rows), whole.total), (
            f"a limit keeps the total and says how many rows there are ({group})"
        )
