"""No request can stall the event loop or outlive its timeout (issue 12, item 1).

A catastrophic regular expression (``(=+)+x`` over a long line of ``=``) used to run in a
worker thread holding the GIL: ``/health`` took seconds, doubling per character, and the
execution's ``timeout_s`` could not stop it. Here the API runs in-process, on the test's event
loop, so a stalled loop shows directly as a slow ``/health``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import psutil

from tests.fixtures.stack import FullStack

HEALTH_BOUND_S = 0.1
"""A responsiveness bound (not a benchmark): /health must answer within it meanwhile."""


async def _poll_health_until_done(
    stack: FullStack, correlation_id: str, *, timeout_s: float
) -> tuple[dict[str, Any], list[float]]:
    """Poll /health (and the execution) until the execution ended; return it and latencies."""
    latencies: list[float] = []
    deadline = time.monotonic() + timeout_s
    while True:
        started = time.perf_counter()
        response = await stack.client.get("/health")
        latencies.append(time.perf_counter() - started)
        assert response.status_code == 200, f"/health answered {response.status_code}"
        body = await stack.execution(correlation_id)
        if body["status"] != "in_progress":
            return body, latencies
        assert time.monotonic() < deadline, f"execution {correlation_id} never ended: {body}"
        await asyncio.sleep(0.02)


def _slowest(latencies: list[float]) -> str:
    top = sorted(latencies)[-3:]
    return f"{len(latencies)} polls, slowest {[round(t * 1000, 1) for t in top]} ms"


async def test_no_request_can_stall_the_event_loop(full_stack: FullStack) -> None:
    """A catastrophic regex sent to code-search runs in linear time (RE2): /health answers
    within 100 ms throughout and the execution ends well within its timeout."""
    (full_stack.workspace / "equals.py").write_text("=" * 100_000 + "\n")
    timeout_s = 10.0
    accepted = await full_stack.submit_request(
        {
            "user_prompt": "search the code for the pattern",
            "agent": "code-search",
            "context": {"query": "(=+)+x", "regex": True},
            "timeout_s": timeout_s,
        }
    )
    cid = accepted["correlation_id"]
    body, latencies = await _poll_health_until_done(full_stack, cid, timeout_s=60)
    assert max(latencies) < HEALTH_BOUND_S, f"/health stalled: {_slowest(latencies)}"
    assert body["status"] == "success", f"the search did not complete: {body}"
    assert body["result"]["matches"] == [], f"(=+)+x matched a line of '=': {body['result']}"
    assert body["duration_ms"] < timeout_s * 1000, f"it ran past its timeout: {body}"


async def test_work_that_runs_long_is_killed_at_its_timeout(full_stack: FullStack) -> None:
    """Python's backtracking engine on (=+)+x in an isolated tool: /health answers within
    100 ms meanwhile; at timeout_s the execution fails as a timeout and the worker process
    running the regex is killed."""
    timeout_s = 2.0
    runner = full_stack.app.state.omniclaude.runner
    accepted = await full_stack.submit_request(
        {
            "user_prompt": "backtrack",
            "agent": "backtracker",
            "context": {"length": 64},
            "timeout_s": timeout_s,
        }
    )
    cid = accepted["correlation_id"]
    busy: list[int] = []
    for _ in range(100):  # the call reaches a worker within a few polls
        busy = [w.pid for w in runner.workers._busy]
        if busy:
            break
        await asyncio.sleep(0.02)
    assert busy, "the isolated tool never reached a worker process"
    body, latencies = await _poll_health_until_done(full_stack, cid, timeout_s=60)
    assert max(latencies) < HEALTH_BOUND_S, f"/health stalled: {_slowest(latencies)}"
    assert body["status"] == "failed", f"the execution did not fail at its timeout: {body}"
    assert body["error"]["type"] == "ExecutionTimeoutError", f"not a timeout: {body['error']}"
    assert body["duration_ms"] < (timeout_s + 1.0) * 1000, f"it outlived its timeout: {body}"
    for pid in busy:
        gone = not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"
        assert gone, f"worker {pid} still runs the regex after the timeout"
