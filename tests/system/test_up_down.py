"""``omniclaude up`` / ``status`` / ``down`` as a user runs them: real processes, real ports.

Each test runs the CLI in a subprocess with its own data directory and free ports, then
checks that nothing of the stack is left: no recorded pid alive, and no process whose command
line or environment names the data directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from omniclaude.stack.children import omniclaude_argv
from omniclaude.stack.keys import read_viewer_key
from omniclaude.stack.state import ProcessRef, load_state
from tests.fixtures.waiting import wait_for

PORT_OPTIONS = ["--api-port", "0", "--pg-port", "0", "--kafka-port", "0", "--consumer-port", "0"]
COMPONENTS = {"postgres", "kafka", "consumer", "emitter", "api", "viewer"}


def cli_env(**extra: str) -> dict[str, str]:
    """The environment of a stack test: no external services, so everything is embedded."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNICLAUDE_")}
    env.update(extra)
    return env


def omniclaude(
    *args: str, env: dict[str, str] | None = None, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    """Run the CLI to completion."""
    return subprocess.run(
        omniclaude_argv(*args), env=env or cli_env(), capture_output=True, text=True,
        timeout=timeout, check=False,
    )  # fmt: skip


def stack_processes(data_dir: Path) -> list[str]:
    """Describe every live process whose command line or environment names ``data_dir``."""
    needle = str(data_dir)
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "status"]):
        try:
            if proc.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            cmdline = " ".join(proc.info["cmdline"] or [])
            env_dir = proc.environ().get("OMNICLAUDE_DATA_DIR", "")
        except psutil.Error:
            continue
        if proc.pid != os.getpid() and (needle in cmdline or env_dir == needle):
            found.append(f"{proc.pid}: {cmdline[:120]}")
    return found


def recorded_processes(data_dir: Path) -> list[ProcessRef]:
    """Every process the state file records (supervisor included)."""
    state = load_state(data_dir)
    assert state is not None, "no state file while the stack runs"
    refs = [c.process for c in state.components if c.process is not None]
    return [*refs, *([state.supervisor] if state.supervisor else [])]


async def assert_nothing_left(data_dir: Path, refs: list[ProcessRef]) -> None:
    """Wait (bounded) until no process of the stack remains; fail naming any survivor."""

    async def gone() -> bool:
        return not any(ref.alive() for ref in refs) and not stack_processes(data_dir)

    try:
        await wait_for(gone, what="every stack process to exit", timeout_s=30)
    except AssertionError:
        alive = [r.pid for r in refs if r.alive()]
        raise AssertionError(
            f"stack processes left behind: {alive} {stack_processes(data_dir)}"
        ) from None


def pg_shut_down_cleanly(data_dir: Path) -> bool:
    """True when the PostgreSQL log ends with a clean shutdown."""
    log = data_dir / "postgres" / "postgres.log"
    return log.read_text().rstrip().endswith("database system is shut down")


@contextlib.contextmanager
def private_data_dir() -> Iterator[Path]:
    """A data directory outside pytest's temporary root, removed afterwards.

    Not under ``tmp_path``: pytest resets its root to mode 0700 at every session start (a
    concurrent session included), and the embedded PostgreSQL runs as another user when the
    tests run as root, so it must be able to traverse the parents of its data directory.
    """
    root = Path(tempfile.mkdtemp(prefix="omniclaude-system-"))
    path = root / "data"
    try:
        yield path
    finally:
        if load_state(path) is not None:
            omniclaude("down", "--data-dir", str(path), "--timeout", "20")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A private data directory; whatever a failed test left running is stopped."""
    with private_data_dir() as path:
        yield path


async def test_up_detach_status_down_leaves_nothing(data_dir: Path) -> None:
    """up --detach starts every component; status --json names them; down stops them all."""
    started = omniclaude("up", "--detach", "--data-dir", str(data_dir), *PORT_OPTIONS)
    assert started.returncode == 0, started.stdout + started.stderr
    assert "OmniClaude is up" in started.stdout
    status = omniclaude("status", "--json", "--data-dir", str(data_dir))
    assert status.returncode == 0, status.stdout + status.stderr
    report: dict[str, Any] = json.loads(status.stdout)
    assert report["running"] is True
    assert set(report["components"]) == COMPONENTS, "a component is missing from status"
    states = {name: c["state"] for name, c in report["components"].items()}
    assert set(states.values()) == {"running"}, states
    api = report["components"]["api"]["address"]
    assert api.startswith("http://"), api
    assert report["components"]["viewer"]["address"] == f"{api}/viewer/"
    assert report["components"]["postgres"]["address"].startswith("postgresql://")
    assert any("memory" in note for note in report["notes"]), (
        "the broker's memory-only note is missing"
    )
    async with httpx.AsyncClient(base_url=api) as client:
        assert (await client.get("/health")).status_code == 200
        root = await client.get("/")
        assert root.status_code in (302, 307)
        assert root.headers["location"] == "/viewer/"
        login = await client.get("/viewer/")
        assert login.status_code == 401, "the viewer must ask for a key first"
        assert "<form" in login.text, "the viewer's own login page is missing"
        viewer_key = read_viewer_key(data_dir)
        assert viewer_key, f"up wrote no viewer key ({report['viewer_key_file']})"
        viewer = await client.get("/viewer/", headers={"X-API-Key": viewer_key})
        assert viewer.status_code == 200, viewer.text[:300]
    again = omniclaude("up", "--detach", "--data-dir", str(data_dir), *PORT_OPTIONS)
    assert again.returncode == 1
    assert "already running" in again.stderr
    refs = recorded_processes(data_dir)
    stopped = omniclaude("down", "--data-dir", str(data_dir))
    assert stopped.returncode == 0, stopped.stderr
    await assert_nothing_left(data_dir, refs)
    assert pg_shut_down_cleanly(data_dir), "PostgreSQL was not shut down cleanly"
    after = omniclaude("status", "--json", "--data-dir", str(data_dir))
    assert after.returncode == 3
    assert json.loads(after.stdout)["running"] is False


@dataclass
class ForegroundUp:
    """A foreground ``omniclaude up`` (as ``make run`` starts it) that is ready."""

    process: subprocess.Popen[bytes]
    log: Path

    async def ctrl_c(self) -> str:
        """Send SIGINT, wait (bounded) for up to exit 0; return its output."""
        self.process.send_signal(signal.SIGINT)

        async def exited() -> bool:
            return self.process.poll() is not None

        await wait_for(exited, what="up to exit after Ctrl-C", timeout_s=90, interval_s=0.2)
        assert self.process.returncode == 0, self.log.read_text()
        return self.log.read_text()


@contextlib.asynccontextmanager
async def foreground_up(data_dir: Path, *extra: str) -> AsyncIterator[ForegroundUp]:
    """Start ``omniclaude up`` in the foreground and wait until it is ready; kill it after."""
    log = data_dir.parent / "up.out"
    with log.open("w") as out:
        process = subprocess.Popen(
            omniclaude_argv("up", *extra, "--data-dir", str(data_dir), *PORT_OPTIONS),
            env=cli_env(), stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:

        async def ready() -> bool:
            assert process.poll() is None, f"up exited early: {log.read_text()}"
            return "OmniClaude is up" in log.read_text()

        await wait_for(ready, what="the foreground stack to be up", timeout_s=180, interval_s=0.2)
        yield ForegroundUp(process, log)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


async def test_ctrl_c_stops_the_foreground_stack_cleanly(data_dir: Path) -> None:
    """Ctrl-C (SIGINT) on a foreground up stops every component and PostgreSQL cleanly."""
    async with foreground_up(data_dir) as up:
        refs = recorded_processes(data_dir)
        output = await up.ctrl_c()
    assert "OmniClaude stopped." in output
    await assert_nothing_left(data_dir, refs)
    assert pg_shut_down_cleanly(data_dir), "PostgreSQL was not shut down cleanly"
    assert load_state(data_dir) is None, "the state file outlived the stack"


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 1, result.stdout + result.stderr
    assert len(lines) == 1, result.stderr
    return " ".join(result.stderr.split())


async def test_a_data_dir_of_another_postgres_version_gets_one_line(data_dir: Path) -> None:
    """A cluster from another major version is refused before anything starts."""
    (data_dir / "postgres").mkdir(parents=True)
    (data_dir / "postgres" / "PG_VERSION").write_text("12\n")
    result = omniclaude("up", "--detach", "--data-dir", str(data_dir), *PORT_OPTIONS)
    message = _one_error_line(result)
    assert "PostgreSQL 12" in message
    assert "--data-dir" in message
    await assert_nothing_left(data_dir, [])


async def test_a_component_that_fails_to_start_stops_the_rest(data_dir: Path) -> None:
    """The emitter cannot start (its spool is a file): one line, and nothing left running."""
    spool = data_dir.parent / "not-a-directory"
    spool.write_text("")
    env = cli_env(OMNICLAUDE_SPOOL_DIR=str(spool))
    result = omniclaude("up", "--detach", "--data-dir", str(data_dir), *PORT_OPTIONS, env=env)
    message = _one_error_line(result)
    assert "emitter failed to start" in message
    assert "--no-emitter" in message
    state = load_state(data_dir)
    assert state is not None
    await assert_nothing_left(data_dir, [c.process for c in state.components if c.process])
    assert pg_shut_down_cleanly(data_dir), "PostgreSQL was not shut down cleanly"
    status = json.loads(omniclaude("status", "--json", "--data-dir", str(data_dir)).stdout)
    assert status["phase"] == "failed"
    assert "emitter" in status["error"]


def _status(data_dir: Path) -> dict[str, Any]:
    result = omniclaude("status", "--json", "--data-dir", str(data_dir))
    report: dict[str, Any] = json.loads(result.stdout)
    return report


async def test_second_up_never_touches_the_running_stack(data_dir: Path) -> None:
    """A second up, foreground then detached, fails with the reason and leaves the first
    stack fully manageable: status still shows it, down still stops all of it."""
    started = omniclaude("up", "--detach", "--data-dir", str(data_dir), *PORT_OPTIONS)
    assert started.returncode == 0, started.stdout + started.stderr
    before = _status(data_dir)
    for mode in ([], ["--detach"]):
        again = omniclaude("up", *mode, "--data-dir", str(data_dir), *PORT_OPTIONS)
        assert again.returncode == 1, f"second up {mode}: {again.stdout}{again.stderr}"
        assert "already running" in again.stderr, again.stderr
        assert f"supervisor pid {before['supervisor_pid']}" in again.stderr, again.stderr
        after = _status(data_dir)
        assert after["running"] is True, f"second up {mode} made status lose the stack"
        assert after["supervisor_pid"] == before["supervisor_pid"]
        assert {n: c["pid"] for n, c in after["components"].items()} == {
            n: c["pid"] for n, c in before["components"].items()
        }, f"second up {mode} changed the recorded processes"
    refs = recorded_processes(data_dir)
    stopped = omniclaude("down", "--data-dir", str(data_dir))
    assert stopped.returncode == 0, stopped.stderr
    assert "OmniClaude stopped" in stopped.stdout, stopped.stdout
    await assert_nothing_left(data_dir, refs)


async def _hook_started_emitter(data_dir: Path) -> ProcessRef:
    """Run the hook as Claude Code would, with the stack down; return the emitter it started."""
    env = cli_env(OMNICLAUDE_DATA_DIR=str(data_dir), OMNICLAUDE_HOOK_AUTOSTART="1")
    payload = json.dumps({"session_id": "s1", "hook_event_name": "SessionStart", "cwd": "/w"})
    run = subprocess.run(
        omniclaude_argv("hook"), input=payload, env=env, capture_output=True, text=True,
        timeout=30, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr

    async def registered_emitter() -> ProcessRef | None:
        processes = _status(data_dir)["processes"]
        hooked = [p for p in processes if p["role"] == "emitter" and p["started_by"] == "hook"]
        return ProcessRef.of(hooked[0]["pid"]) if hooked else None

    ref = await wait_for(registered_emitter, what="the hook-started emitter", timeout_s=60)
    hooks = omniclaude("hooks", "status", "--json", env=env)
    report = json.loads(hooks.stdout)
    assert report["emitter_running"] is True, "hooks status says the emitter is not running"
    assert report["emitter_pid"] == ref.pid
    return ref


async def test_down_stops_every_process_of_the_data_dir(data_dir: Path) -> None:
    """An emitter a hook started while the stack was down is listed by status and stopped by
    down; with one running, up takes the spool over; no process of the data dir survives."""
    first = await _hook_started_emitter(data_dir)
    stopped = omniclaude("down", "--data-dir", str(data_dir))
    assert stopped.returncode == 0, stopped.stderr
    assert "OmniClaude stopped" in stopped.stdout, stopped.stdout
    await assert_nothing_left(data_dir, [first])

    second = await _hook_started_emitter(data_dir)
    started = omniclaude("up", "--detach", "--data-dir", str(data_dir), *PORT_OPTIONS)
    assert started.returncode == 0, started.stdout + started.stderr
    assert not second.alive(), "up left the hook-started emitter running beside its own"
    report = _status(data_dir)
    assert report["components"]["emitter"]["state"] == "running"
    assert report["processes"] == [], f"unexpected processes: {report['processes']}"
    refs = recorded_processes(data_dir)
    assert omniclaude("down", "--data-dir", str(data_dir)).returncode == 0
    await assert_nothing_left(data_dir, [*refs, first, second])


async def test_ctrl_c_stops_a_hook_started_emitter(data_dir: Path) -> None:
    """With `up --no-emitter` a hook starts its own emitter; Ctrl-C on up stops it too."""
    async with foreground_up(data_dir, "--no-emitter") as up:
        emitter = await _hook_started_emitter(data_dir)
        refs = [*recorded_processes(data_dir), emitter]
        output = await up.ctrl_c()
    assert "started by hook" in output, "up did not say it stopped the hook's emitter"
    await assert_nothing_left(data_dir, refs)
