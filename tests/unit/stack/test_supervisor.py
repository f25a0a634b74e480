"""The supervisor's logic that needs no database: failed starts and restarts."""

from __future__ import annotations

import fcntl
import os
import signal
import socket
import sys
from pathlib import Path

import pytest

from omniclaude.errors import StackError
from omniclaude.settings import Settings
from omniclaude.stack.children import Child, ChildSpec
from omniclaude.stack.components import lock_held
from omniclaude.stack.config import StackConfig
from omniclaude.stack.preflight import AlreadyRunningError, StackLock
from omniclaude.stack.state import Phase, ProcessRef, StackState, load_state, save_state
from omniclaude.stack.supervisor import Supervisor


def _config(tmp_path: Path, **ports: int) -> StackConfig:
    return StackConfig.from_settings(
        Settings(data_dir=tmp_path),
        **{"pg_port": 0, "kafka_port": 0, "api_port": 0, "consumer_port": 0, **ports},
    )


def test_a_failed_start_leaves_nothing_and_says_why(tmp_path: Path) -> None:
    """A taken port stops the start before any process; the reason is in the state."""
    lines: list[str] = []
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        supervisor = Supervisor(_config(tmp_path, api_port=sock.getsockname()[1]),
                                progress=lines.append)  # fmt: skip
        with pytest.raises(StackError, match="already in use"):
            supervisor.start()
    state = load_state(tmp_path)
    assert state is not None
    assert state.phase is Phase.FAILED
    assert state.error is not None
    assert "--api-port" in state.error
    assert all(c.process is None for c in state.components), "a process was left behind"
    assert not StackLock(tmp_path).held_by_other(), "the lock outlived the failed start"
    supervisor.stop()  # nothing to do after a failed start


def test_run_restores_the_signal_handlers(tmp_path: Path) -> None:
    """After run() (even a failed one) Ctrl-C behaves as before."""
    before = signal.getsignal(signal.SIGINT)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        supervisor = Supervisor(_config(tmp_path, consumer_port=sock.getsockname()[1]))
        with pytest.raises(StackError):
            supervisor.run()
    assert signal.getsignal(signal.SIGINT) is before


def test_a_signal_requests_the_stop(tmp_path: Path) -> None:
    """The handler only records the request (safe in a signal handler)."""
    lines: list[str] = []
    supervisor = Supervisor(_config(tmp_path), progress=lines.append)
    assert not supervisor.stopping
    supervisor._on_signal(signal.SIGTERM, None)
    supervisor._on_signal(signal.SIGTERM, None)
    assert supervisor.stopping
    assert lines == ["received SIGTERM: stopping"]


def test_an_exited_child_is_restarted_after_its_backoff(tmp_path: Path) -> None:
    """A child that exits is marked restarting, then started again and counted."""
    supervisor = Supervisor(_config(tmp_path))
    spec = ChildSpec(
        name="consumer", argv=[sys.executable, "-c", "import sys; sys.exit(4)"],
        env=dict(os.environ), log_file=tmp_path / "consumer.log", ready=lambda: True,
    )  # fmt: skip
    child = Child(spec)
    supervisor._children["consumer"] = child
    first = child.start()
    assert child.popen is not None
    child.popen.wait(timeout=10)
    supervisor.check_once()
    component = supervisor.state.component("consumer")
    assert component.phase is Phase.RESTARTING
    assert "exited with code 4" in (component.detail or "")
    supervisor._restart_at["consumer"] = 0.0
    supervisor.check_once()
    assert component.restarts == 1
    assert component.process is not None
    assert component.process.pid != first.pid
    child.stop()


def test_the_emitter_is_ready_once_it_holds_the_spool_lock(tmp_path: Path) -> None:
    """The emitter's readiness: its spool lock is held (no file, or a free lock: not yet)."""
    path = tmp_path / "emitter.lock"
    probe = lock_held(path)
    assert not probe(), "no lock file yet"
    with path.open("w") as holder:
        assert not probe(), "a lock file nobody holds"
        fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert probe()
        fcntl.flock(holder, fcntl.LOCK_UN)
    assert not probe(), "released again"


def test_a_second_start_never_touches_the_running_stack(tmp_path: Path) -> None:
    """While another supervisor holds the lock, run() fails and leaves its state file as it is."""
    running = StackLock(tmp_path)
    running.acquire()  # the first stack (a lock is per open file, so this stands for it)
    try:
        state = StackState(data_dir=str(tmp_path), supervisor=ProcessRef.of(os.getpid()))
        state.phase = Phase.RUNNING
        state.component("api").phase = Phase.RUNNING
        path = save_state(state)
        before = path.read_bytes()
        lines: list[str] = []
        second = Supervisor(_config(tmp_path), progress=lines.append)
        with pytest.raises(AlreadyRunningError, match="already running"):
            second.run()
        second.stop()
        assert path.read_bytes() == before, "the second start rewrote the running stack's state"
        assert lines == [], f"the second start did something: {lines}"
    finally:
        running.release()
