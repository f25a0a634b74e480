"""Isolated tools: a worker process runs them, and a cancellation kills it at once."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import psutil
import pytest

from omniclaude.runtime import ToolProcessError, WorkerPool, Workspace
from omniclaude.runtime.workspace import parse_python


def backtrack(length: int) -> bool:
    """A catastrophic regular expression in Python's backtracking engine (never returns)."""
    import re

    return re.search(r"(=+)+x", "=" * length) is not None


def fail_with(message: str) -> None:
    """Raise a ValueError carrying ``message``."""
    raise ValueError(message)


async def test_a_cancelled_call_kills_its_worker_and_the_loop_stays_free() -> None:
    """A call stuck in a C regex (holding its GIL) is cancelled: its worker dies within a
    second, the event loop was never held meanwhile, and the next call gets a fresh worker."""
    pool = WorkerPool(max_workers=1)
    try:
        assert (await pool.run(parse_python, "def f():\n    pass\n")).functions[0]["name"] == "f"
        (stuck_pid,) = pool.pids
        call = asyncio.create_task(pool.run(backtrack, 60))
        loop = asyncio.get_running_loop()
        worst = 0.0
        for _ in range(20):
            before = loop.time()
            await asyncio.sleep(0.01)
            worst = max(worst, loop.time() - before - 0.01)
        assert worst < 0.5, f"the event loop was held for {worst:.3f} s by an isolated call"
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        deadline = time.monotonic() + 5
        while psutil.pid_exists(stuck_pid) and psutil.Process(stuck_pid).status() != "zombie":
            assert time.monotonic() < deadline, f"worker {stuck_pid} survived its cancellation"
            await asyncio.sleep(0.02)
        assert await pool.run(parse_python, "x = 1") is not None
        assert stuck_pid not in pool.pids, "the killed worker was reused"
        assert pool.stats["killed"] == 1
    finally:
        await pool.stop()


async def test_errors_come_back_with_their_type_and_the_workers_traceback() -> None:
    """An exception raised in the worker is raised to the caller with the worker's traceback
    as its cause; the worker stays usable."""
    pool = WorkerPool(max_workers=1)
    try:
        with pytest.raises(ValueError, match="bad input") as caught:
            await pool.run(fail_with, "bad input")
        assert "fail_with" in str(caught.value.__cause__), "the worker's traceback was lost"
        assert await pool.run(len, "abc") == 3
        assert pool.stats["started"] == 1, "a failing call should not cost a worker"
    finally:
        await pool.stop()


async def test_an_unpicklable_function_is_refused_by_name() -> None:
    """A local function cannot travel to a worker: ToolProcessError names it."""
    pool = WorkerPool(max_workers=1)

    def local() -> int:
        return 1

    try:
        with pytest.raises(ToolProcessError, match="local"):
            await pool.run(local)
    finally:
        await pool.stop()


async def test_stop_leaves_no_process_behind(tmp_path: Path) -> None:
    """After stop() every worker is gone and further calls are refused."""
    pool = WorkerPool(max_workers=2)
    workspace = Workspace(tmp_path)
    (tmp_path / "a.py").write_text("x = 1\n")
    await asyncio.gather(pool.run(workspace.read_text, "a.py"), pool.run(workspace.list_files, "."))
    pids = pool.pids
    assert pids, "no worker was started"
    await pool.stop()
    alive = [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).ppid() == os.getpid()]
    assert not alive, f"workers survived stop(): {alive}"
    with pytest.raises(ToolProcessError, match="stopped"):
        await pool.run(len, "x")
