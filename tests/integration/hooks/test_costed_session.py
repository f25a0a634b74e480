"""A Claude Code session told truly and costed: real hook command → spool → emitter → broker →
consumer → PostgreSQL, with the transcripts written as Claude Code writes them.

The session (``tests/unit/hooks/costed_session.py``, from the documented formats): multi-line
API responses, a failing Bash call with a permission request, a foreground and a background
subagent with their own transcripts, bad transcript lines. The database must give: every bar
in order inside its parent; each tool row's label and the error's text; the subagents as
children with their calls; token totals equal to a hand count deduplicated by (message.id,
requestId), parent + sidechains; cost = tokens times the price table; the session's total = its
prompts' + its subagents', once each. Re-running the emitter over the same spool and
transcripts, or importing the transcript twice, adds no row.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from omniclaude.api.viewer.waterfall import Span, build_waterfall
from omniclaude.consuming import IngestService
from omniclaude.hooks.emitter import STATE_FILE, load_state
from omniclaude.hooks.sessions import (
    agent_correlation_id,
    prompt_correlation_id,
    session_correlation_id,
)
from omniclaude.storage.queries import (
    ExecutionFilter,
    execution_usage,
    fetch_overview,
    fetch_trace_tree,
    list_executions,
)
from tests.fixtures.waiting import wait_for
from tests.integration.hooks.conftest import BIN, HookRig
from tests.unit.hooks.costed_session import (
    BG_MODEL,
    EXPECTED_LABELS,
    MODEL,
    CostedSession,
    build,
    hand_count,
    play,
    table_rates,
)

pytestmark = pytest.mark.covers(
    "topic:agent-llm-calls",
    "table:agent_llm_calls",
    "table:agent_actions",
    "table:agent_execution_logs",
    "event:llm_call",
    "feature:claude-code-transcripts",
    "feature:import-transcript",
    "feature:usage-report",
)

TABLES = ("agent_actions", "agent_execution_events", "agent_llm_calls", "agent_routing_decisions")


async def _rows(conn: asyncpg.Connection, session_id: str) -> dict[str, int]:
    counts = {}
    for table in TABLES:
        column = "payload->>'session_id'" if table == "agent_execution_events" else "session_id"
        if table == "agent_execution_events":
            sql = (
                "SELECT count(*) FROM agent_execution_events e JOIN agent_execution_logs l"
                " USING (correlation_id) WHERE l.session_id = $1"
            )
        else:
            sql = f"SELECT count(*) FROM {table} WHERE {column} = $1"
        counts[table] = int(await conn.fetchval(sql, session_id))
    return counts


async def _played(rig: HookRig, session: CostedSession) -> None:
    async def run_hook(payload: dict[str, Any]) -> None:
        await rig.hooks([payload])

    async def pause() -> None:
        await asyncio.sleep(0.004)  # every line its own millisecond, as in a real session

    await play(session, run_hook, time.time_ns, pause)


async def _settled(conn: asyncpg.Connection, session: CostedSession, responses: int) -> None:
    cid = agent_correlation_id(session.session_id, session.agent_b)

    async def done() -> bool:
        calls = await conn.fetchval(
            "SELECT count(*) FROM agent_llm_calls WHERE session_id = $1", session.session_id
        )
        statuses = await conn.fetch(
            "SELECT status FROM agent_execution_logs WHERE correlation_id = ANY($1::uuid[])",
            [session_correlation_id(session.session_id), cid],
        )
        closed = len(statuses) == 2 and all(r["status"] == "success" for r in statuses)
        return calls == responses and closed

    await wait_for(done, what="every LLM call stored and the session closed", timeout_s=90)


def _check_order(spans: list[Span]) -> None:
    """No bar starts before its parent execution or ends after it; siblings in start order."""
    stack: list[Span] = []
    previous_at_depth: dict[int, Span] = {}
    for span in spans:
        while stack and stack[-1].depth >= span.depth:
            stack.pop()
        executions = [s for s in stack if s.source == "execution"]
        if executions:
            parent = executions[-1]
            assert parent.start <= span.start, (
                f"{span.kind} {span.label!r} starts before its execution {parent.label!r}"
            )
            assert span.end <= parent.end, (
                f"{span.kind} {span.label!r} ends after its execution {parent.label!r}"
            )
        if stack:
            assert stack[-1].start <= span.start, (
                f"{span.label!r} starts before {stack[-1].label!r}, which it hangs under"
            )
        sibling = previous_at_depth.get(span.depth)
        if sibling is not None and stack and sibling.start >= stack[-1].start:
            assert sibling.start <= span.start, f"{span.label!r} drawn before {sibling.label!r}"
        previous_at_depth = {d: s for d, s in previous_at_depth.items() if d < span.depth}
        previous_at_depth[span.depth] = span
        stack.append(span)


async def test_a_costed_session_is_told_truly_and_counted_once(
    hook_rig: HookRig,
    ingest_service: IngestService,
    postgres_connection: asyncpg.Connection,
    database_url: str,
    tmp_path: Path,
) -> None:
    """The whole story, in the database, through the real pipeline; re-runs add nothing."""
    conn = postgres_connection
    hook_rig.env["OMNICLAUDE_HOOKS__SPOOL_ROTATE_AFTER_S"] = "3600"  # keep it for the re-run
    session = build(tmp_path / "projects")
    emitter = await hook_rig.start_emitter()
    await _played(hook_rig, session)
    count = hand_count(session)
    await _settled(conn, session, len(count.responses))
    sid = session.session_id
    session_cid = session_correlation_id(sid)
    p1 = prompt_correlation_id(sid, session.ids["p1"])
    p2 = prompt_correlation_id(sid, session.ids["p2"])
    agent_a = agent_correlation_id(sid, session.agent_a)
    agent_b = agent_correlation_id(sid, session.agent_b)

    # Tokens: the hand count (parent + sidechains, each response once); cost = tokens x table.
    totals = await conn.fetchrow(
        "SELECT count(*) AS n, sum(input_tokens) AS i, sum(output_tokens) AS o,"
        " sum(cache_creation_input_tokens) AS w, sum(cache_read_input_tokens) AS r,"
        " sum(cost_usd) AS cost, count(*) FILTER (WHERE cost_source <> 'estimate') AS odd"
        " FROM agent_llm_calls WHERE session_id = $1", sid,
    )  # fmt: skip
    assert totals["n"] == len(count.responses) == 9, "an API response is missing or doubled"
    assert (totals["i"], totals["o"], totals["w"], totals["r"]) == (
        count.total("input_tokens"), count.total("output_tokens"),
        count.total("cache_creation_input_tokens"), count.total("cache_read_input_tokens"),
    )  # fmt: skip
    assert abs(totals["cost"] - count.cost(table_rates())) < Decimal("1e-8")
    assert totals["odd"] == 0

    # Where each call belongs; the session's total = its prompts' + its subagents', once each.
    usage = await execution_usage(conn, [session_cid, p1, p2, agent_a, agent_b])
    own = {name: usage[cid].own.total_tokens if cid in usage else 0
           for name, cid in (("session", session_cid), ("p1", p1), ("p2", p2),
                             ("a", agent_a), ("b", agent_b))}  # fmt: skip
    assert own["session"] == 0
    assert own["a"] == sum(
        count.total(k, "a")
        for k in (
            "input_tokens",
            "output_tokens",
            "cache_creation_input_tokens",
            "cache_read_input_tokens",
        )
    )
    assert usage[p1].total.total_tokens == own["p1"] + own["a"] + own["b"]
    assert usage[session_cid].total.total_tokens == (
        usage[p1].total.total_tokens + usage[p2].total.total_tokens
    )
    assert abs(usage[session_cid].total.cost_usd - float(totals["cost"])) < 1e-9
    assert usage[session_cid].total.models == sorted([MODEL, BG_MODEL])

    # Subagents are children of the prompt, with their own calls; B finished after the turn.
    kids = {r["claude_agent_id"]: r for r in await conn.fetch(
        "SELECT claude_agent_id, parent_correlation_id, agent_name, metadata, completed_at"
        " FROM agent_execution_logs WHERE parent_correlation_id = $1", p1)}  # fmt: skip
    assert set(kids) == {session.agent_a, session.agent_b, None} - {None}
    assert kids[session.agent_a]["agent_name"] == "Explore"
    prompt_end = await conn.fetchval(
        "SELECT completed_at FROM agent_execution_logs WHERE correlation_id = $1", p1
    )
    assert kids[session.agent_b]["completed_at"] > prompt_end, "B should outlive its turn"
    calls = {r["tool_use_id"]: r for r in await conn.fetch(
        "SELECT tool_use_id, correlation_id, action_type, action_details, started_at, created_at"
        " FROM agent_actions WHERE session_id = $1 AND action_type IN ('tool_call', 'error')",
        sid)}  # fmt: skip
    assert calls[session.ids["grep"]]["correlation_id"] == agent_a
    assert calls[session.ids["read"]]["correlation_id"] == agent_b
    labels = {n: calls[session.ids[n]]["action_details"]["label"] for n in EXPECTED_LABELS}
    assert labels == EXPECTED_LABELS
    bash = calls[session.ids["bash"]]
    assert bash["action_type"] == "error"
    assert bash["action_details"]["error_message"].startswith("Exit code 1\nFAILED tests/")

    # The trace, as the viewer lays it out: bars in order inside their parents.
    waterfall = build_waterfall(await fetch_trace_tree(conn, session_cid))
    _check_order(waterfall.spans)
    by_label = {s.label: s for s in waterfall.spans}
    agent_call = by_label[EXPECTED_LABELS["agent_a"]]
    index = waterfall.spans.index(agent_call)
    beneath = waterfall.spans[index + 1]
    assert (beneath.source, beneath.correlation_id) == ("execution", str(agent_a)), (
        "the Explore subagent is not drawn beneath the Agent call that launched it"
    )
    llm_spans = [s for s in waterfall.spans if s.source == "llm"]
    assert len(llm_spans) == 9
    bash_span = by_label[EXPECTED_LABELS["bash"]]
    asked = waterfall.spans[waterfall.spans.index(bash_span) - 1]
    assert asked.source == "llm", "the Bash call is not beneath the LLM call that asked for it"
    assert asked.depth == bash_span.depth - 1
    assert waterfall.usage.total_tokens == usage[session_cid].total.total_tokens

    # Shown where people look: the executions list, the overview, `omniclaude usage`.
    page = await list_executions(conn, ExecutionFilter.build(range_="30d", top_level=True))
    (listed,) = [item for item in page.items if item.correlation_id == session_cid]
    assert listed.total_tokens == usage[session_cid].total.total_tokens
    assert listed.cost_usd is not None
    assert abs(listed.cost_usd - float(totals["cost"])) < 1e-9
    assert listed.cost_exactness == "estimate"
    overview = await fetch_overview(conn, since=datetime.now(UTC) - timedelta(days=2),
                                    until=datetime.now(UTC) + timedelta(minutes=1))  # fmt: skip
    assert {r.key for r in overview.cost_by_model} == {MODEL, BG_MODEL}
    assert overview.cost_total is not None
    assert overview.cost_total.total_tokens == listed.total_tokens
    cli_env = {**hook_rig.env, "OMNICLAUDE_DATABASE_URL": database_url}
    for group in ("daily", "session", "model", "project"):
        done = subprocess.run(
            [str(BIN / "omniclaude"), "usage", group, "--since", "7d", "--json"], env=cli_env,
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        total = report["total"]
        assert (total["calls"], total["input_tokens"], total["output_tokens"],
                total["cache_creation_input_tokens"], total["cache_read_input_tokens"]) == (
            totals["n"], totals["i"], totals["o"], totals["w"], totals["r"]
        ), f"usage {group} --json disagrees with the database"  # fmt: skip
        assert abs(total["cost_usd"] - float(totals["cost"])) < 1e-8
        assert sum(r["total_tokens"] for r in report["rows"]) == total["total_tokens"]
        assert total["sidechain_calls"] == 4
    (session_row,) = json.loads(subprocess.run(
        [str(BIN / "omniclaude"), "usage", "session", "--json"], env=cli_env,
        capture_output=True, text=True, timeout=60, check=True).stdout)["rows"]  # fmt: skip
    assert session_row["key"] == sid

    # Re-run the emitter over the same spool and transcripts: no row is added.
    before = await _rows(conn, sid)
    assert await hook_rig.stop_emitter(emitter) == 0
    first = load_state(hook_rig.spool)
    assert first is not None
    assert first.transcripts["skipped"]["truncated line"] == 1
    (hook_rig.spool / STATE_FILE).unlink()
    consumed = sum(ingest_service.stats.events_consumed.values())
    again = await hook_rig.start_emitter()

    async def resent() -> bool:
        state = load_state(hook_rig.spool)
        if state is None or state.events < first.events:
            return False
        return sum(ingest_service.stats.events_consumed.values()) >= consumed + state.events

    await wait_for(resent, what="the re-run's events consumed", timeout_s=90)
    assert await _rows(conn, sid) == before, "re-running the emitter added rows"
    assert await hook_rig.stop_emitter(again) == 0

    # Import the transcript twice: LLM calls are the live ones; the second import adds nothing.
    env = {**hook_rig.env, "OMNICLAUDE_DATABASE_URL": database_url}
    env.pop("OMNICLAUDE_KAFKA_BOOTSTRAP")
    main = str(session.path("main"))
    for attempt in (1, 2):
        done = subprocess.run(
            [str(BIN / "omniclaude"), "import-transcript", main], env=env,
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "9 LLM call(s)" in done.stdout, done.stdout
        rows = await _rows(conn, sid)
        assert rows["agent_llm_calls"] == before["agent_llm_calls"], "an import counted twice"
        if attempt == 1:
            after_first = rows
    assert rows == after_first, "importing the same transcript twice added rows"


async def test_import_of_a_directory_costs_sessions_never_recorded(
    database_url: str, postgres_connection: asyncpg.Connection, tmp_path: Path
) -> None:
    """``import-transcript DIR`` backfills every session under it, subagents included."""
    root = tmp_path / "projects"
    sessions = [build(root) for _ in range(2)]

    async def no_hook(_: dict[str, Any]) -> None:
        return None

    clock = iter(range(1_795_000_000 * 10**9, 1_796_000_000 * 10**9, 50_000_000))

    async def tick() -> None:
        return None

    for session in sessions:
        await play(session, no_hook, lambda: next(clock), tick)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNICLAUDE_")}
    env |= {"OMNICLAUDE_DATABASE_URL": database_url, "OMNICLAUDE_DATA_DIR": str(tmp_path / "d")}
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-c", "from omniclaude._entry import main; main()",
             "import-transcript", str(root)], env=env, capture_output=True, text=True,
            timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "2 session(s)" in done.stdout, done.stdout
    for session in sessions:
        count = hand_count(session)
        stored = await postgres_connection.fetchrow(
            "SELECT count(*) AS n, sum(total_tokens) AS t FROM agent_llm_calls"
            " WHERE session_id = $1", session.session_id,
        )  # fmt: skip
        expected = sum(count.total(k) for k in ("input_tokens", "output_tokens",
                       "cache_creation_input_tokens", "cache_read_input_tokens"))  # fmt: skip
        assert (stored["n"], stored["t"]) == (len(count.responses), expected)
        agents = await postgres_connection.fetchval(
            "SELECT count(*) FROM agent_execution_logs WHERE session_id = $1"
            " AND claude_agent_id IS NOT NULL", session.session_id,
        )  # fmt: skip
        assert agents == 2, "the subagents' transcripts were not imported"
    assert uuid.UUID(sessions[0].session_id)
