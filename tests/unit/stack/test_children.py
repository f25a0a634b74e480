"""Child processes: start, readiness, failure messages, and stopping whole groups."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from omniclaude.stack.children import (
    Child,
    ChildSpec,
    ComponentStartError,
    log_tail,
    omniclaude_argv,
    stop_process,
)
from omniclaude.stack.state import ProcessRef


def _spec(tmp_path: Path, code: str, ready: object = lambda: True, **kw: object) -> ChildSpec:
    return ChildSpec(
        name="worker",
        argv=[sys.executable, "-c", code],
        env=dict(os.environ),
        log_file=tmp_path / "logs" / "worker.log",
        ready=ready,  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


def test_log_tail_keeps_the_last_meaningful_lines(tmp_path: Path) -> None:
    """Blank lines and Rich panel frames are dropped; the last lines are joined."""
    log = tmp_path / "x.log"
    assert log_tail(log) == ""
    log.write_text(
        "first\n\n╭──── Error ────╮\n│ No such command 'api'. │\n╰───────────────╯\nlast\n"
    )
    assert log_tail(log, lines=2) == "No such command 'api'. | last"


def test_omniclaude_argv_runs_this_interpreter() -> None:
    """Children run the CLI with the interpreter of the running command."""
    argv = omniclaude_argv("consume", "--health")
    assert argv[0] == sys.executable
    assert argv[-2:] == ["consume", "--health"]


def test_a_ready_child_runs_in_its_own_session_and_stops(tmp_path: Path) -> None:
    """The child gets its own session (Ctrl-C reaches only the supervisor) and stops."""
    child = Child(_spec(tmp_path, "import time; print('hi', flush=True); time.sleep(60)"))
    ref = child.start()
    try:
        child.wait_ready()
        assert os.getsid(ref.pid) == ref.pid, "the child shares the terminal's session"
        assert child.exit_code() is None
    finally:
        child.stop()
    assert not ref.alive(), "the child outlived stop()"
    assert child.exit_code() is not None


def test_a_child_that_exits_fails_with_its_log_and_hint(tmp_path: Path) -> None:
    """The error names the component, the exit code, the log's last line and what to do."""
    code = "import sys; print('cannot bind the port', flush=True); sys.exit(3)"
    child = Child(_spec(tmp_path, code, ready=lambda: False, hint="try --no-worker"))
    child.start()
    with pytest.raises(ComponentStartError) as caught:
        child.wait_ready()
    child.stop()
    message = str(caught.value)
    assert caught.value.component == "worker"
    assert "exited with code 3" in message
    assert "cannot bind the port" in message
    assert "try --no-worker" in message
    assert str(tmp_path / "logs" / "worker.log") in message


def test_a_child_never_ready_times_out(tmp_path: Path) -> None:
    """Readiness is bounded: a child that never answers fails after its timeout."""
    child = Child(_spec(tmp_path, "import time; time.sleep(60)", ready=lambda: False,
                        ready_timeout_s=0.3))  # fmt: skip
    child.start()
    try:
        with pytest.raises(ComponentStartError, match="not ready after"):
            child.wait_ready()
    finally:
        child.stop()


def test_an_interrupted_start_is_reported(tmp_path: Path) -> None:
    """A stop request during the wait ends it at once."""
    child = Child(_spec(tmp_path, "import time; time.sleep(60)", ready=lambda: False))
    child.start()
    try:
        with pytest.raises(ComponentStartError, match="interrupted"):
            child.wait_ready(should_abort=lambda: True)
    finally:
        child.stop()


def test_a_missing_executable_is_a_start_error(tmp_path: Path) -> None:
    """An executable that cannot run fails with one line naming the component."""
    spec = _spec(tmp_path, "")
    spec.argv = [str(tmp_path / "no-such-binary")]
    with pytest.raises(ComponentStartError, match="worker could not be started"):
        Child(spec).start()


def test_stop_process_escalates_to_sigkill(tmp_path: Path) -> None:
    """A process ignoring SIGTERM is killed after the timeout, its group with it."""
    code = (
        "import signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    child = Child(_spec(tmp_path, code))
    ref = child.start()
    assert child.popen is not None
    deadline = time.monotonic() + 10
    while "ready" not in (tmp_path / "logs" / "worker.log").read_text():
        assert time.monotonic() < deadline, "the test child never started"
        time.sleep(0.02)
    import psutil

    grandchildren = [ProcessRef.of(p.pid) for p in psutil.Process(ref.pid).children()]
    assert stop_process(ref, timeout_s=0.3)
    child.stop()
    assert not ref.alive()
    assert all(g is None or not g.alive() for g in grandchildren), "a grandchild was orphaned"


def test_stop_process_leaves_a_stranger_alone() -> None:
    """A reference whose pid now belongs to another process is not signalled."""
    me = ProcessRef.of(os.getpid())
    assert me is not None
    assert stop_process(ProcessRef(me.pid, me.create_time - 50), timeout_s=0.1)
    assert me.alive()
