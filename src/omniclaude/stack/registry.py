"""Every process OmniClaude started for a data directory, whoever started it.

The supervisor of ``omniclaude up`` records itself and its children in the state file
(:mod:`omniclaude.stack.state`). Any other long-running process of the data directory — an
emitter a Claude Code hook started, ``omniclaude emitter`` run by hand — records itself here,
one file per process, ``<data_dir>/stack/processes/<role>-<pid>.json`` (mode 0600): its pid
*and* creation time (so a reused pid is never mistaken for it), who started it, its spool and
what it is doing. It removes the file when it exits; a file left by a killed process is
pruned when read.

``omniclaude status`` lists them, ``omniclaude down`` and the supervisor's stop (Ctrl-C) stop
them, ``up`` stops a registered emitter of its spool before starting its own, and
``omniclaude hooks status`` reads the emitter's entry: every command sees the same truth.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from omniclaude.stack.state import ProcessRef, stack_dir

__all__ = ["Registered", "Registration", "register", "registered", "stop_registered"]

REGISTRY_DIR = "processes"
_MODE = 0o600


@dataclass(frozen=True, slots=True)
class Registered:
    """A process of the data directory found in the registry (alive when returned)."""

    role: str
    process: ProcessRef
    started_by: str
    spool_dir: str | None
    detail: str
    path: Path

    def to_json(self) -> dict[str, Any]:
        """Return the JSON-ready form ``status --json`` prints."""
        return {
            "role": self.role,
            "pid": self.process.pid,
            "started_by": self.started_by,
            "spool_dir": self.spool_dir,
            "detail": self.detail,
        }


def registry_dir(data_dir: Path) -> Path:
    """The directory holding one file per registered process."""
    return stack_dir(Path(data_dir).expanduser().absolute()) / REGISTRY_DIR


def _write(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` atomically (temporary file, rename), mode 0600."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, _MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Registration:
    """This process's entry in the registry; a context manager that removes it on exit.

    Args:
        data_dir: the data directory the process works for.
        role: what it is (``"emitter"``).
        started_by: who started it (``"hook"``, ``"stack"``, ``"user"``).
        spool_dir: the spool it works on, if any.
    """

    def __init__(
        self, data_dir: Path, role: str, *, started_by: str, spool_dir: Path | None = None
    ) -> None:
        ref = ProcessRef.of(os.getpid())
        if ref is None:  # pragma: no cover - we are running
            raise RuntimeError("cannot read this process's own creation time")
        self.process = ref
        self.path = registry_dir(data_dir) / f"{role}-{ref.pid}.json"
        self._data: dict[str, Any] = {
            "role": role,
            "pid": ref.pid,
            "create_time": ref.create_time,
            "started_by": started_by,
            "spool_dir": str(Path(spool_dir).absolute()) if spool_dir is not None else None,
            "detail": "starting",
        }
        self._open = False

    def open(self) -> Self:
        """Write the entry.

        Raises:
            OSError: the registry cannot be written (the process would be invisible).
        """
        _write(self.path, self._data)
        self._open = True
        return self

    def update(self, detail: str) -> None:
        """Say what the process is doing now (shown by ``status`` and ``hooks status``)."""
        if self._open and detail != self._data["detail"]:
            self._data["detail"] = detail
            with contextlib.suppress(OSError):  # the entry stays; only its detail is stale
                _write(self.path, self._data)

    def close(self) -> None:
        """Remove the entry (idempotent)."""
        if self._open:
            self._open = False
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> Self:
        """Write the entry (see :meth:`open`)."""
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Remove the entry."""
        self.close()


def register(
    data_dir: Path, role: str, *, started_by: str, spool_dir: Path | None = None
) -> Registration:
    """Record this process in the registry of ``data_dir`` and return its open entry.

    Raises:
        OSError: the registry cannot be written.
    """
    return Registration(data_dir, role, started_by=started_by, spool_dir=spool_dir).open()


def _read(path: Path) -> Registered | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        ref = ProcessRef(pid=int(data["pid"]), create_time=float(data["create_time"]))
        return Registered(
            role=str(data["role"]),
            process=ref,
            started_by=str(data.get("started_by") or "?"),
            spool_dir=data.get("spool_dir"),
            detail=str(data.get("detail") or ""),
            path=path,
        )
    except (OSError, ValueError, TypeError, KeyError):
        return None


def registered(data_dir: Path, *, role: str | None = None) -> list[Registered]:
    """Return the live registered processes of ``data_dir`` (oldest pid first).

    Entries of processes that are gone (killed before they could remove them) and unreadable
    entries are deleted.
    """
    directory = registry_dir(data_dir)
    try:
        paths = sorted(p for p in directory.iterdir() if p.suffix == ".json")
    except FileNotFoundError:
        return []
    found: list[Registered] = []
    for path in paths:
        entry = _read(path)
        if entry is None or not entry.process.alive():
            path.unlink(missing_ok=True)  # its process was killed before it could remove it
            continue
        if role is None or entry.role == role:
            found.append(entry)
    return sorted(found, key=lambda e: e.process.pid)


def stop_registered(
    data_dir: Path,
    *,
    role: str | None = None,
    spool_dir: Path | None = None,
    exclude: frozenset[int] = frozenset(),
    timeout_s: float = 20.0,
) -> list[Registered]:
    """Stop (SIGTERM, then SIGKILL after ``timeout_s``) the registered processes of ``data_dir``.

    Args:
        data_dir: the data directory.
        role: only this role (default: every one).
        spool_dir: only processes working on this spool.
        exclude: pids never to stop (the caller's children, stopped in order elsewhere).
        timeout_s: how long each may take to finish cleanly (an emitter commits first).

    Returns:
        The processes that were stopped.
    """
    from omniclaude.stack.children import stop_process

    wanted = str(Path(spool_dir).absolute()) if spool_dir is not None else None
    stopped: list[Registered] = []
    for entry in registered(data_dir, role=role):
        if entry.process.pid in exclude or entry.process.pid == os.getpid():
            continue
        if wanted is not None and entry.spool_dir != wanted:
            continue
        # The process alone, not its group: one run by hand shares its shell job's group.
        stop_process(entry.process, timeout_s=timeout_s, first_signal=signal.SIGTERM, group=False)
        entry.path.unlink(missing_ok=True)
        stopped.append(entry)
    return stopped
