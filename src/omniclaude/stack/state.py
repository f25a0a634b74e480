"""The stack's state file: who is running, with which pid, at which address.

``omniclaude up`` writes ``<data_dir>/stack/state.json`` at every step (atomically: a temporary
file renamed over the old one), ``status`` and ``down`` read it, and other commands
(``trace``, ``executions``, ``demo``, the hook emitter) use it to find a running local stack.
Every process is recorded with its pid *and* its creation time, so a pid reused by an
unrelated process after a crash is never mistaken for ours (and never signalled).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from pathlib import Path
from typing import Any

import psutil

from omniclaude.events.base import utc_now

__all__ = [
    "ComponentState",
    "Phase",
    "ProcessRef",
    "StackState",
    "load_state",
    "remove_state",
    "save_state",
    "stack_dir",
    "state_path",
]

STATE_FILE = "state.json"
_STATE_MODE = 0o600


class Phase(StrEnum):
    """Where a component (or the whole stack) is in its life."""

    PENDING = "pending"
    STARTING = "starting"
    RUNNING = "running"
    EXTERNAL = "external"
    RESTARTING = "restarting"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ProcessRef:
    """A process we started: its pid and creation time (guards against pid reuse)."""

    pid: int
    create_time: float

    @classmethod
    def of(cls, pid: int) -> ProcessRef | None:
        """Return a reference to the live process ``pid``, or None when it is gone."""
        try:
            return cls(pid=pid, create_time=psutil.Process(pid).create_time())
        except psutil.Error:
            return None

    def alive(self) -> bool:
        """Return True while this very process (not a successor with its pid) runs."""
        try:
            process = psutil.Process(self.pid)
            if abs(process.create_time() - self.create_time) > 0.5:
                return False
            return process.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False


@dataclass(slots=True)
class ComponentState:
    """One component of the stack as ``status`` shows it."""

    name: str
    phase: Phase = Phase.PENDING
    address: str | None = None
    process: ProcessRef | None = None
    log_file: str | None = None
    detail: str | None = None
    restarts: int = 0

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form written to the state file."""
        data = asdict(self)
        data["phase"] = str(self.phase)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ComponentState:
        """Rebuild a component from its JSON form (unknown keys are ignored)."""
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        values["phase"] = Phase(values.get("phase", Phase.PENDING))
        process = values.get("process")
        values["process"] = ProcessRef(**process) if isinstance(process, dict) else None
        return cls(**values)


@dataclass(slots=True)
class StackState:
    """Everything ``status`` and ``down`` need to know about a local stack."""

    data_dir: str
    supervisor: ProcessRef | None = None
    phase: Phase = Phase.STARTING
    started_at: str = field(default_factory=lambda: utc_now().isoformat())
    components: list[ComponentState] = field(default_factory=list)
    database_url: str | None = None
    kafka_bootstrap: str | None = None
    api_url: str | None = None
    viewer_url: str | None = None
    viewer_key_file: str | None = None
    external: bool = False
    pgdata: str | None = None
    error: str | None = None

    def component(self, name: str) -> ComponentState:
        """Return the component called ``name``, adding it (pending) if unknown."""
        for component in self.components:
            if component.name == name:
                return component
        component = ComponentState(name=name)
        self.components.append(component)
        return component

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form written to the state file."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["phase"] = str(self.phase)
        data["supervisor"] = asdict(self.supervisor) if self.supervisor else None
        data["components"] = [component.to_json() for component in self.components]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StackState:
        """Rebuild the state from its JSON form (unknown keys are ignored)."""
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        values["phase"] = Phase(values.get("phase", Phase.STARTING))
        supervisor = values.get("supervisor")
        values["supervisor"] = ProcessRef(**supervisor) if isinstance(supervisor, dict) else None
        values["components"] = [ComponentState.from_json(c) for c in values.get("components", [])]
        return cls(**values)


def stack_dir(data_dir: Path) -> Path:
    """Return the directory holding the state file and the component logs."""
    return data_dir / "stack"


def state_path(data_dir: Path) -> Path:
    """Return the path of the state file for the stack kept in ``data_dir``."""
    return stack_dir(data_dir) / STATE_FILE


def save_state(state: StackState) -> Path:
    """Write ``state`` atomically (temporary file, fsync, rename) with mode 0600.

    Returns:
        The path written.
    """
    path = state_path(Path(state.data_dir))
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(state.to_json(), indent=2, sort_keys=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".state-", dir=path.parent)
    try:
        os.fchmod(fd, _STATE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp_name).replace(path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


def load_state(data_dir: Path) -> StackState | None:
    """Return the state of the stack kept in ``data_dir``, or None when there is none.

    A file that cannot be parsed (written by a much older version, or damaged) reads as None.
    """
    path = state_path(data_dir)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return StackState.from_json(data)
    except (OSError, ValueError, TypeError, KeyError):
        return None


def remove_state(data_dir: Path) -> None:
    """Delete the state file (the stack is down)."""
    state_path(data_dir).unlink(missing_ok=True)
