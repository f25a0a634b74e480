"""Fixtures for the Claude Code integration tests: the real hook command and emitter processes.

``hook_rig`` gives a private spool and data dir, the launcher ``omniclaude hooks install``
writes, an environment pointing at this test's broker and topics, and helpers that run the
real hook command (as Claude Code does: ``sh -c <command>`` with the payload on stdin) and
start/stop/kill real ``omniclaude emitter`` processes. Every process started is gone after
the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from omniclaude.hooks import fast
from omniclaude.hooks.emitter import EmitterLock
from omniclaude.hooks.install import launcher_command, write_launcher
from tests.fixtures.kafka import KafkaService
from tests.fixtures.waiting import wait_for

BIN = Path(sys.executable).parent


@dataclass
class HookRun:
    """One run of the hook command."""

    returncode: int
    seconds: float
    stdout: bytes
    stderr: bytes


@dataclass
class HookRig:
    """The real hook command and emitter processes for one test."""

    root: Path
    env: dict[str, str]
    launcher: str
    emitters: list[asyncio.subprocess.Process] = field(default_factory=list)

    @property
    def spool(self) -> Path:
        """The spool directory."""
        return Path(self.env["OMNICLAUDE_SPOOL_DIR"])

    @property
    def log_text(self) -> str:
        """hook.log so far."""
        path = self.spool / fast.LOG_FILE
        return path.read_text() if path.exists() else ""

    async def hook(
        self, payload: dict[str, Any] | bytes, *, command: str | None = None,
        env: dict[str, str] | None = None,
    ) -> HookRun:  # fmt: skip
        """Run the hook as Claude Code does (``sh -c``), payload on stdin."""
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        started = time.perf_counter()
        proc = await asyncio.create_subprocess_shell(
            command or self.launcher, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env or self.env,
        )  # fmt: skip
        out, err = await proc.communicate(data)
        assert proc.returncode is not None
        return HookRun(proc.returncode, time.perf_counter() - started, out, err)

    async def hooks(self, payloads: Iterable[dict[str, Any]], *, parallel: bool = False) -> None:
        """Run the hook for each payload (in order, or all at once); each must exit 0."""
        items = list(payloads)
        if parallel:
            runs = await asyncio.gather(*(self.hook(p) for p in items))
        else:
            runs = [await self.hook(p) for p in items]
        for payload, run in zip(items, runs, strict=True):
            assert run.returncode == 0, (
                f"hook failed for {payload.get('hook_event_name')}: {run.stderr!r}"
            )

    async def start_emitter(self, *extra: str) -> asyncio.subprocess.Process:
        """Start ``omniclaude emitter`` on the spool and wait until it holds the lock."""
        with (self.root / "emitter.log").open("ab") as log:  # the child keeps its own copy
            proc = await asyncio.create_subprocess_exec(
                str(BIN / "omniclaude"), "emitter", "--spool-dir", str(self.spool), *extra,
                env=self.env, stdout=asyncio.subprocess.DEVNULL, stderr=log,
            )  # fmt: skip
        self.emitters.append(proc)
        lock = EmitterLock(self.spool)

        async def holds_lock() -> bool:
            if proc.returncode is not None:
                raise AssertionError(
                    f"the emitter exited ({proc.returncode}): {self.emitter_log()}"
                )
            return lock.held_by_other() and lock.holder() == proc.pid

        await wait_for(holds_lock, what="the emitter to take its lock", timeout_s=60)
        return proc

    def emitter_log(self) -> str:
        """The emitters' stderr so far (tail)."""
        path = self.root / "emitter.log"
        return path.read_text()[-3000:] if path.exists() else ""

    async def stop_emitter(
        self, proc: asyncio.subprocess.Process, sig: int = signal.SIGTERM
    ) -> int:
        """Signal an emitter and wait for it to exit; return its exit code."""
        if proc.returncode is None:
            proc.send_signal(sig)
        return await asyncio.wait_for(proc.wait(), 30)

    async def close(self) -> None:
        """Kill whatever emitter is still running (ours, or one a hook spawned)."""
        for proc in self.emitters:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        lock = EmitterLock(self.spool)
        pid = lock.holder()
        if pid and lock.held_by_other():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            await wait_for(
                _async(lambda: not lock.held_by_other()), what="the spawned emitter to die"
            )


def _async(fn: Any) -> Any:
    async def call() -> Any:
        return fn()

    return call


@pytest.fixture
async def hook_rig(
    tmp_path: Path, kafka_service: KafkaService, topic_prefix: str
) -> AsyncIterator[HookRig]:
    """A private spool, the installed launcher and an environment aimed at this test's topics."""
    data_dir = tmp_path / "data"
    launcher = data_dir / "bin" / "omniclaude-hook"
    write_launcher(launcher, python=sys.executable, hooks_dir=str(Path(fast.__file__).parent))
    env = {
        key: value for key, value in os.environ.items()
        if not key.startswith(("OMNICLAUDE_", "COVERAGE_"))
    }  # fmt: skip
    env.update(
        OMNICLAUDE_DATA_DIR=str(data_dir),
        OMNICLAUDE_SPOOL_DIR=str(tmp_path / "spool"),
        OMNICLAUDE_KAFKA_BOOTSTRAP=kafka_service.bootstrap,
        OMNICLAUDE_TOPIC_PREFIX=topic_prefix,
        OMNICLAUDE_PRODUCER__LINGER_MS="5",
        OMNICLAUDE_LOG_LEVEL="INFO",
        **{fast.AUTOSTART_ENV: "0"},
    )
    rig = HookRig(
        root=tmp_path, env=env, launcher=launcher_command(launcher, python=sys.executable)
    )
    try:
        yield rig
    finally:
        await rig.close()


async def count(conn: asyncpg.Connection, sql: str, *args: Any) -> int:
    """Run a count query."""
    value = await conn.fetchval(sql, *args)
    return int(value or 0)
