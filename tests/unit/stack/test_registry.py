"""The process registry: every process of a data directory, whoever started it, is stoppable."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from omniclaude.stack.control import stack_status, stop_stack
from omniclaude.stack.registry import register, registered, registry_dir, stop_registered
from omniclaude.stack.state import ProcessRef

_CHILD = """
import sys, time
from pathlib import Path
from omniclaude.stack.registry import register
with register(Path(sys.argv[1]), "emitter", started_by="hook", spool_dir=Path(sys.argv[2])):
    print("registered", flush=True)
    time.sleep(120)
"""


@pytest.fixture
def registered_child(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """A process (like a hook-started emitter) that registered itself for ``tmp_path``."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(tmp_path), str(tmp_path / "spool")],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "registered"
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    proc.stdout.close()


def test_a_registration_is_listed_while_it_lives_and_removed_on_exit(tmp_path: Path) -> None:
    """register() writes a private entry with pid and start time; closing removes it."""
    with register(tmp_path, "emitter", started_by="user", spool_dir=tmp_path / "s") as reg:
        [entry] = registered(tmp_path)
        assert entry.process == reg.process
        assert entry.spool_dir == str(tmp_path / "s")
        reg.update("waiting for a Kafka broker")
        assert registered(tmp_path, role="emitter")[0].detail == "waiting for a Kafka broker"
        assert registered(tmp_path, role="api") == []
        assert (reg.path.stat().st_mode & 0o777) == 0o600
    assert registered(tmp_path) == []
    assert list(registry_dir(tmp_path).iterdir()) == []


def test_the_entry_of_a_killed_process_is_pruned(tmp_path: Path) -> None:
    """An entry whose process is gone (or whose pid was reused) is dropped when read."""
    directory = registry_dir(tmp_path)
    directory.mkdir(parents=True)
    (directory / "emitter-999999.json").write_text(
        json.dumps({"role": "emitter", "pid": 999_999, "create_time": 1.0})
    )
    (directory / "garbage.json").write_text("{")
    assert registered(tmp_path) == []
    assert list(directory.iterdir()) == [], "a dead entry was kept"


def test_stop_registered_stops_the_process_and_its_entry(
    tmp_path: Path, registered_child: subprocess.Popen[str]
) -> None:
    """stop_registered() SIGTERMs a registered process and waits until it is gone."""
    assert stop_registered(tmp_path, spool_dir=tmp_path / "other") == [], "wrong spool stopped"
    [entry] = stop_registered(tmp_path, role="emitter", spool_dir=tmp_path / "spool")
    assert entry.process.pid == registered_child.pid
    assert registered_child.wait(10) != 0
    assert registered(tmp_path) == []


def test_down_stops_a_registered_process_when_no_stack_runs(
    tmp_path: Path, registered_child: subprocess.Popen[str]
) -> None:
    """With no stack, status lists a hook-started process and down stops it."""
    report = stack_status(tmp_path)
    assert report["running"] is False
    assert [p["pid"] for p in report["processes"]] == [registered_child.pid]
    assert report["processes"][0]["started_by"] == "hook"
    assert stop_stack(tmp_path) == ["emitter (started by hook)"]
    assert registered_child.wait(10) != 0
    ref = ProcessRef.of(registered_child.pid)
    assert ref is None or not ref.alive()
    assert stack_status(tmp_path)["processes"] == []


def test_registration_fails_loudly_when_the_registry_cannot_be_written(tmp_path: Path) -> None:
    """A process that cannot register refuses to run rather than run invisible."""
    (tmp_path / "stack").write_text("a file where the directory should be")
    with pytest.raises(OSError):  # noqa: PT011 - whichever OSError the OS raises
        register(tmp_path, "emitter", started_by="user")
