"""The stack's state file: round trip, atomic private writes, pid-reuse-proof references."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from omniclaude.stack.state import (
    ComponentState,
    Phase,
    ProcessRef,
    StackState,
    load_state,
    remove_state,
    save_state,
    state_path,
)


def test_state_round_trips_through_the_file(tmp_path: Path) -> None:
    """Everything written is read back the same, components and processes included."""
    state = StackState(data_dir=str(tmp_path), supervisor=ProcessRef(123, 456.5))
    state.phase = Phase.RUNNING
    api = state.component("api")
    api.phase, api.address, api.process = Phase.RUNNING, "http://127.0.0.1:1", ProcessRef(7, 8.0)
    state.api_url = "http://127.0.0.1:1"
    path = save_state(state)
    assert path == state_path(tmp_path)
    loaded = load_state(tmp_path)
    assert loaded == state, "a field of the state was lost on the way through the file"


def test_the_state_file_is_private(tmp_path: Path) -> None:
    """The file may hold a database URL: only its owner can read it."""
    path = save_state(StackState(data_dir=str(tmp_path)))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["state.json"], "a temporary file leaked"


def test_missing_or_damaged_state_reads_as_none(tmp_path: Path) -> None:
    """No file, or a file that is not a state, means no stack."""
    assert load_state(tmp_path) is None
    state_path(tmp_path).parent.mkdir(parents=True)
    state_path(tmp_path).write_text("{not json")
    assert load_state(tmp_path) is None
    remove_state(tmp_path)
    remove_state(tmp_path)  # idempotent
    assert not state_path(tmp_path).exists()


def test_unknown_fields_are_ignored(tmp_path: Path) -> None:
    """A state written by a newer version still loads."""
    state_path(tmp_path).parent.mkdir(parents=True)
    state_path(tmp_path).write_text(
        '{"data_dir": "x", "phase": "running", "future": 1, '
        '"components": [{"name": "api", "phase": "running", "later": 2}]}'
    )
    loaded = load_state(tmp_path)
    assert loaded is not None
    assert loaded.component("api").phase is Phase.RUNNING


def test_component_lookup_adds_missing_ones() -> None:
    """Asking for an unknown component adds it, pending."""
    state = StackState(data_dir="x")
    assert state.component("kafka") == ComponentState(name="kafka")
    assert [c.name for c in state.components] == ["kafka"]


def test_process_ref_tells_our_process_from_a_successor() -> None:
    """A live process is alive; a pid with another start time is not ours."""
    me = ProcessRef.of(os.getpid())
    assert me is not None
    assert me.alive()
    assert not ProcessRef(me.pid, me.create_time - 100).alive(), "a reused pid was taken for ours"


def test_process_ref_of_an_ended_process() -> None:
    """An exited process is not alive, and cannot be referenced."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    ref = ProcessRef.of(child.pid)
    child.wait()
    assert ref is None or not ref.alive()
    assert ProcessRef.of(child.pid) is None
