"""status and down, read from the state file (no supervisor needed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from omniclaude.stack.control import BROKER_NOTE, stack_status, stop_stack
from omniclaude.stack.ports import unused_port
from omniclaude.stack.state import Phase, ProcessRef, StackState, load_state, save_state


def test_no_state_means_not_running(tmp_path: Path) -> None:
    """Without a state file the stack is stopped, with no component, and down is a no-op."""
    report = stack_status(tmp_path)
    assert report["running"] is False
    assert report["components"] == {}
    assert report["notes"] == [BROKER_NOTE]
    assert stop_stack(tmp_path) == []


def test_status_reports_each_component_as_it_really_is(tmp_path: Path) -> None:
    """A recorded process that died shows as dead; external services as external."""
    state = StackState(data_dir=str(tmp_path), supervisor=ProcessRef.of(os.getpid()))
    state.phase = Phase.RUNNING
    pg = state.component("postgres")
    pg.phase, pg.address = Phase.EXTERNAL, "postgresql://u:***@db/x"
    api = state.component("api")
    api.phase, api.address, api.process = (
        Phase.RUNNING,
        "http://127.0.0.1:1",
        ProcessRef(999_999, 1.0),
    )
    consumer = state.component("consumer")
    consumer.phase, consumer.process = Phase.RUNNING, ProcessRef.of(os.getpid())
    consumer.address = f"http://127.0.0.1:{unused_port()}"
    save_state(state)
    report = stack_status(tmp_path)
    assert report["running"] is True
    assert report["components"]["postgres"]["state"] == "external"
    assert report["components"]["api"]["state"] == "dead"
    assert report["components"]["consumer"]["state"] == "unresponsive", "no /health answered"


def test_status_of_a_killed_supervisor_is_stopped(tmp_path: Path) -> None:
    """When the supervisor is gone the stack is not running, whatever the file says."""
    state = StackState(data_dir=str(tmp_path), supervisor=ProcessRef(999_999, 1.0))
    state.phase = Phase.RUNNING
    state.component("kafka").phase = Phase.RUNNING
    save_state(state)
    report = stack_status(tmp_path)
    assert report["running"] is False
    assert report["phase"] == "stopped"
    assert report["components"]["kafka"]["state"] == "stopped"


def test_a_failed_start_is_reported_with_its_reason(tmp_path: Path) -> None:
    """The last start's error is kept for status."""
    state = StackState(data_dir=str(tmp_path), error="port 1 is taken")
    state.phase = Phase.FAILED
    save_state(state)
    report = stack_status(tmp_path)
    assert report["phase"] == "failed"
    assert report["error"] == "port 1 is taken"


def test_down_stops_leftovers_and_removes_the_state(tmp_path: Path) -> None:
    """down stops what a killed supervisor left and forgets the stack."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                               start_new_session=True)  # fmt: skip
    try:
        state = StackState(data_dir=str(tmp_path), supervisor=ProcessRef(999_999, 1.0))
        state.component("emitter").process = ProcessRef.of(sleeper.pid)
        save_state(state)
        assert stop_stack(tmp_path, timeout_s=5) == ["emitter"]
        assert sleeper.wait(timeout=5) is not None
        assert load_state(tmp_path) is None
    finally:
        sleeper.kill()
        sleeper.wait()


def test_down_asks_a_live_supervisor_to_stop(tmp_path: Path) -> None:
    """A live supervisor gets SIGTERM and is waited for."""
    code = (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    supervisor = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    try:
        assert supervisor.stdout is not None
        assert supervisor.stdout.readline().strip() == b"ready"
        save_state(StackState(data_dir=str(tmp_path), supervisor=ProcessRef.of(supervisor.pid)))
        assert stop_stack(tmp_path, timeout_s=10) == ["supervisor"]
        assert supervisor.wait(timeout=5) == 0
    finally:
        supervisor.kill()
        supervisor.wait()
        if supervisor.stdout is not None:
            supervisor.stdout.close()
