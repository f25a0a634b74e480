"""Checks made before anything starts, each failing with one line that says what to do.

* another stack already runs from this data directory (a lock held for the supervisor's life);
* a port the stack needs is taken;
* the data directory holds a PostgreSQL cluster of another major version;
* leftovers of a stack whose supervisor was killed (processes recorded in the state file)
  are stopped first, so nothing half-started from an earlier run lingers.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
from dataclasses import asdict
from pathlib import Path
from typing import IO

from omniclaude.errors import StackError
from omniclaude.stack.children import stop_process
from omniclaude.stack.config import StackConfig
from omniclaude.stack.probes import port_free
from omniclaude.stack.state import ProcessRef, StackState, load_state, stack_dir

__all__ = [
    "AlreadyRunningError",
    "DataDirVersionError",
    "PortInUseError",
    "StackLock",
    "check_data_dir",
    "check_ports",
    "stop_leftovers",
]

LOCK_FILE = "supervisor.lock"


class AlreadyRunningError(StackError):
    """A stack already runs from this data directory."""


class PortInUseError(StackError):
    """A port the stack needs is taken by another process."""


class DataDirVersionError(StackError):
    """The data directory holds a PostgreSQL cluster of another major version."""


class StackLock:
    """An exclusive lock on ``<data_dir>/stack/supervisor.lock``, held while a stack runs.

    Taken before the supervisor touches anything of the data directory (state file, logs,
    processes): a second ``up`` fails here and leaves the running stack alone. The kernel
    releases it when the holder dies, so a killed supervisor never leaves a stale lock
    behind. The file holds the holder's pid and creation time (:meth:`holder`), so ``status``
    and ``down`` find the supervisor even without a state file.
    """

    def __init__(self, data_dir: Path) -> None:
        """Prepare (not take) the lock of the stack kept in ``data_dir``."""
        self.path = stack_dir(data_dir) / LOCK_FILE
        self._handle: IO[str] | None = None

    @property
    def held(self) -> bool:
        """True while this object holds the lock."""
        return self._handle is not None

    def acquire(self) -> None:
        """Take the lock.

        Raises:
            AlreadyRunningError: another supervisor holds it.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            holder = self.holder()
            raise AlreadyRunningError(
                f"a stack is already running from {self.path.parent.parent} (supervisor pid "
                f"{holder.pid if holder else '?'}); see `omniclaude status`, or stop it with "
                "`omniclaude down`"
            ) from None
        me = ProcessRef.of(os.getpid())
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(asdict(me)) if me else str(os.getpid()))
        handle.flush()
        self._handle = handle

    def held_by_other(self) -> bool:
        """Return True when some other process holds the lock right now."""
        if self._handle is not None or not self.path.exists():
            return False
        with self.path.open("a+", encoding="utf-8") as handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return True
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return False

    def holder(self) -> ProcessRef | None:
        """The supervisor holding the lock, as it wrote itself (None if unknown or gone)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            ref = ProcessRef(pid=int(data["pid"]), create_time=float(data["create_time"]))
        except (OSError, ValueError, TypeError, KeyError):
            return None
        return ref if ref.alive() else None

    def release(self) -> None:
        """Release the lock (idempotent)."""
        if self._handle is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


def check_ports(config: StackConfig) -> None:
    """Refuse to start when a port the stack needs is taken.

    Raises:
        PortInUseError: one line naming the port, the component and the option to change it.
    """
    seen: dict[int, str] = {}
    for spec in config.ports():
        if spec.port in seen:
            raise PortInUseError(
                f"port {spec.port} is given to both {seen[spec.port]} and {spec.component}; "
                f"choose another with {spec.option}"
            )
        seen[spec.port] = spec.component
        if not port_free(config.host, spec.port):
            raise PortInUseError(
                f"port {spec.port} on {config.host} ({spec.component}) is already in use: stop "
                f"what listens there, or choose another port with {spec.option} N (0 = any free "
                "port)"
            )


def check_data_dir(config: StackConfig, binaries_major: str) -> None:
    """Refuse a PostgreSQL data directory initialised by another major version.

    Args:
        config: the stack configuration (its ``pgdata``).
        binaries_major: the major version of the bundled PostgreSQL (``"18"``).

    Raises:
        DataDirVersionError: one line saying which versions and what to do.
    """
    try:
        have = (config.pgdata / "PG_VERSION").read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise DataDirVersionError(f"cannot read {config.pgdata}/PG_VERSION: {exc}") from exc
    if have != binaries_major:
        raise DataDirVersionError(
            f"{config.pgdata} holds a PostgreSQL {have} cluster but this OmniClaude bundles "
            f"PostgreSQL {binaries_major}: use another --data-dir, or move that directory "
            f"away (dump it with pg_dump {have} and restore into the new one)"
        )


_STOP_SIGNALS = {"postgres": signal.SIGINT}
"""PostgreSQL's fast shutdown is SIGINT (SIGTERM waits for every client to leave)."""


def stop_leftovers(state: StackState, *, timeout_s: float = 20.0) -> list[str]:
    """Stop every process a previous stack recorded that still runs (its supervisor died).

    Returns:
        The names of the components that had to be stopped.
    """
    stopped: list[str] = []
    for component in reversed(state.components):
        ref = component.process
        if ref is None or not ref.alive():
            continue
        signum = _STOP_SIGNALS.get(component.name, signal.SIGTERM)
        group = component.name != "postgres"  # signal the postmaster alone, not its backends
        stop_process(ref, timeout_s=timeout_s, first_signal=signum, group=group)
        stopped.append(component.name)
    return stopped


def previous_state(data_dir: Path) -> StackState | None:
    """Return the state left by an earlier stack in ``data_dir`` (None if none)."""
    return load_state(data_dir)


__all__ += ["previous_state"]
