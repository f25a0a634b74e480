"""Load: 100+ concurrent clients on the API and the hook path for a bounded time.

The API (uvicorn), the consumer and the hook emitter run as real processes (see
``conftest.py``). Clients are closed-loop: each waits for its answer before its next request,
as an agent or a CI job would. Bounded by ``OMNICLAUDE_LOAD_SECONDS`` (CI: 15; full run: 60);
sizes by ``OMNICLAUDE_LOAD_CLIENTS`` (API clients, default 100) and
``OMNICLAUDE_LOAD_HOOK_CLIENTS`` (Claude Code sessions, default 12).

Proves: no 5xx and no transport error; every accepted event (by id) is in the database once;
every accepted execution ends stored as a success; every tool call the hook accepted is
stored (by its derived id) and every session closed; no PII in any column afterwards. The
figures (throughput, p50/p95/p99, errors, drain time) go to ``test-output/load.json``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from typing import Any

import psutil

from tests.fixtures.waiting import wait_for
from tests.load.clients import ApiClient, HookClient, Ledger
from tests.load.conftest import LoadStack
from tests.load.http import RawHttpClient
from tests.load.pii import scan_database
from tests.load.report import LatencyRecorder, load_seconds, write_report
from tests.load.verify import duplicates, sample, wait_until_stored

API_CLIENTS = int(os.environ.get("OMNICLAUDE_LOAD_CLIENTS", "100"))
HOOK_CLIENTS = int(os.environ.get("OMNICLAUDE_LOAD_HOOK_CLIENTS", "12"))
DRAIN_TIMEOUT_S = 180.0


async def _run_traffic(stack: LoadStack, seconds: float) -> tuple[LatencyRecorder, Ledger, float]:
    recorder, ledger = LatencyRecorder(), Ledger()
    headers = {"Authorization": f"Bearer {stack.api_key}"}
    loop = asyncio.get_running_loop()
    async with contextlib.AsyncExitStack() as clients:
        # One keep-alive connection per client, as separate agents would have; a raw client
        # because httpx costs ~4 ms of CPU per request and would measure itself.
        api = [
            ApiClient(
                await clients.enter_async_context(RawHttpClient(stack.api_url, headers)),
                recorder, ledger, seed=i,
            )
            for i in range(API_CLIENTS)
        ]  # fmt: skip
        commands = list(stack.hook_commands.items())
        hooks = [
            HookClient(
                commands[i % 2][1], stack.hook_env, recorder, ledger, label=commands[i % 2][0]
            )
            for i in range(HOOK_CLIENTS)
        ]
        started = loop.time()
        deadline = started + seconds
        await asyncio.gather(*(c.run(deadline) for c in [*api, *hooks]))
    return recorder, ledger, loop.time() - started


def _cpu_seconds(stack: LoadStack) -> dict[str, float]:
    """CPU time used so far by each process of the stack and by this test process."""
    used = {"load-generator": sum(psutil.Process().cpu_times()[:2])}
    for name, proc in stack.processes.items():
        if proc.pid is not None and proc.running:
            tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
            used[name] = sum(sum(p.cpu_times()[:2]) for p in tree)
    return used


async def _executions_done(pool: Any, cids: set[uuid.UUID]) -> dict[str, Any]:
    rows = await pool.fetch(
        "SELECT correlation_id, status, error_type, error_message FROM agent_execution_logs"
        " WHERE correlation_id = ANY($1::uuid[])",
        list(cids),
    )
    ended = {r["correlation_id"]: r for r in rows if r["status"] != "in_progress"}
    return {"ended": ended, "missing": cids - set(ended)}


async def test_mixed_load_loses_nothing_duplicates_nothing_and_never_5xx(
    load_stack: LoadStack,
) -> None:
    """100+ concurrent clients (routes, executions, event batches, reads, Claude Code hooks):
    no 5xx; every accepted event id stored exactly once; every execution and session closed."""
    stack, pool = load_stack, load_stack.pool
    seconds = load_seconds()
    cpu_before = _cpu_seconds(stack)
    recorder, ledger, traffic_s = await _run_traffic(stack, seconds)
    cpu = {k: round(v - cpu_before.get(k, 0.0), 1) for k, v in _cpu_seconds(stack).items()}
    drain_started = time.monotonic()

    # 1. Events accepted by POST /events and POST /route: each stored, by id.
    await wait_until_stored(pool, ledger.events, what="events accepted by the API",
                            timeout_s=DRAIN_TIMEOUT_S)  # fmt: skip

    # 2. Executions accepted by POST /execute: each ends, stored, as a success.
    state: dict[str, Any] = {}

    async def executions_ended() -> bool:
        state.update(await _executions_done(pool, ledger.executions))
        return not state["missing"]

    try:
        await wait_for(executions_ended, what="accepted executions to end in the database",
                       timeout_s=DRAIN_TIMEOUT_S, interval_s=0.25)  # fmt: skip
    except AssertionError:
        raise AssertionError(
            f"{len(state['missing'])} of {len(ledger.executions)} accepted executions never"
            f" ended in agent_execution_logs, e.g. {sample(state['missing'])}\n{stack.logs()}"
        ) from None
    failed = {c: (r["error_type"], r["error_message"]) for c, r in state["ended"].items()
              if r["status"] != "success"}  # fmt: skip
    assert not failed, f"{len(failed)} executions did not succeed: {list(failed.items())[:3]}"

    # 3. The hook path: every accepted tool call stored by its derived id; sessions closed.
    tool_calls = {
        s.tool_call_event_id(u): "agent_action" for s in ledger.sessions for u in s.tool_use_ids
    }
    await wait_until_stored(pool, tool_calls, what="tool calls the hook accepted",
                            timeout_s=DRAIN_TIMEOUT_S)  # fmt: skip
    sessions = {s.correlation_id for s in ledger.sessions}

    async def sessions_closed() -> bool:
        rows = await pool.fetch(
            "SELECT correlation_id FROM agent_execution_logs"
            " WHERE correlation_id = ANY($1::uuid[]) AND status = 'success'",
            list(sessions),
        )
        return len(rows) == len(sessions)

    await wait_for(sessions_closed, what="every hook session closed as a success",
                   timeout_s=DRAIN_TIMEOUT_S, interval_s=0.25)  # fmt: skip
    drain_s = time.monotonic() - drain_started

    # 4. Exactly once, and nothing stored twice anywhere.
    doubled = await duplicates(pool)
    assert not doubled, f"{len(doubled)} event ids stored more than once: {sample(doubled)}"
    hook_log = stack.spool_dir / "hook.log"
    dropped = [
        line for line in (hook_log.read_text().splitlines() if hook_log.exists() else [])
        if "payload dropped" in line or "payload lost" in line
    ]  # fmt: skip

    # 5. No PII left anywhere after the load (the clients sent some on purpose).
    leaks, scanned = await scan_database(pool)

    summary = recorder.summary(traffic_s)
    report = {
        "seconds": round(traffic_s, 2),
        "clients": {"api": API_CLIENTS, "hook_sessions": HOOK_CLIENTS},
        "requests": summary,
        "events": {
            "accepted": len(ledger.events),
            "stored": len(ledger.events),
            "lost": 0,
            "duplicates": len(doubled),
            "retried_batches": ledger.retried_batches,
            "per_s": round(len(ledger.events) / traffic_s, 1),
        },
        "executions": {"accepted": len(ledger.executions), "succeeded": len(state["ended"])},
        "hooks": {
            "sessions": len(ledger.sessions),
            "tool_calls_stored": len(tool_calls),
            "dropped_payloads": len(dropped),
        },
        "ingest_drain_s": round(drain_s, 2),
        "cpu_seconds_during_traffic": cpu,
        "pii": {
            "strings_sent": ledger.pii_strings,
            "values_scanned": scanned,
            "leaks": len(leaks),
        },
        "server_errors": recorder.server_errors,
    }
    write_report(report)
    assert recorder.server_errors == 0, f"5xx responses: {recorder.failures[:5]}"
    assert not recorder.failures, f"failed requests: {recorder.failures[:5]}\n{stack.logs()}"
    assert not dropped, f"the hook dropped payloads: {dropped[:3]}"
    assert not leaks, f"{len(leaks)} unredacted values, e.g. {[str(x) for x in leaks[:5]]}"
