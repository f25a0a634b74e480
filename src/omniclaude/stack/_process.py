"""Process plumbing shared by the stack's services and children (private).

* :func:`parent_death_signal` — a ``preexec_fn`` asking Linux to signal the child when the
  thread that forked it exits (``PR_SET_PDEATHSIG``);
* :func:`spawn_logged` — start a service in its own session with its output appended to a
  log file behind a banner line, arming the parent-death signal only from the main thread;
* :func:`log_tail`, :func:`stop_popen`, :func:`kill_popen` — read what it wrote since the
  banner, stop it (one signal, then SIGKILL) or crash it, with its descendants;
* :class:`OwnedProcess` — the pid/is_running/reap/context-manager part of a service handle.

Nothing here does I/O at import time.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import psutil

__all__ = [
    "OwnedProcess",
    "alive",
    "descendants",
    "kill_popen",
    "log_tail",
    "parent_death_signal",
    "spawn_logged",
    "stop_popen",
    "wait_gone",
]

_PR_SET_PDEATHSIG = 1
_POLL_S = 0.05
_CHILD_EXIT_TIMEOUT_S = 10.0


def parent_death_signal(
    sig: signal.Signals, *, parent: int | None = None
) -> Callable[[], None] | None:
    """Return a ``preexec_fn`` asking Linux to send ``sig`` to the child when this thread exits.

    If the parent died before ``prctl`` took effect, the child sends ``sig`` to itself.

    Args:
        sig: the signal the child gets.
        parent: the parent's pid (default: this process; a process that arms the signal for
            itself, after it was forked, passes ``os.getppid()``).

    Returns:
        The hook; None off Linux or when the C library has no ``prctl``.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # pragma: no cover - exotic libc
        return None
    parent = os.getpid() if parent is None else parent

    def _arm() -> None:
        prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), sig)

    return _arm


def log_tail(path: Path, offset: int = 0, lines: int = 40) -> str:
    """Return the last ``lines`` lines written to ``path`` after byte ``offset`` ("" if none)."""
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(offset, size - 16_384))
            data = handle.read()
    except OSError:
        return ""
    return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])


def spawn_logged(
    command: Sequence[str],
    *,
    log_path: Path,
    banner: str,
    env: Mapping[str, str],
    die_signal: signal.Signals | None = None,
    cwd: Path | None = None,
    user: int | None = None,
    group: int | None = None,
    extra_groups: list[int] | None = None,
) -> tuple[subprocess.Popen[bytes], int]:
    """Start ``command`` in its own session, its output appended to ``log_path``.

    Args:
        command: the executable and its arguments (no shell).
        log_path: the log file; ``--- omniclaude: BANNER at TIME`` is written first.
        banner: what the banner line says is starting.
        env: the child's whole environment.
        die_signal: on Linux, the signal the kernel sends the child when the starting thread
            exits. Armed only from the main thread: the kernel signals when the *thread* that
            forked exits, and only the main thread lives as long as the process, so a start
            from a worker thread (``asyncio.to_thread``) must not arm it.
        cwd: the child's working directory.
        user: run as this uid (see :class:`subprocess.Popen`).
        group: run with this gid.
        extra_groups: the supplementary groups.

    Returns:
        The process and the log offset just after the banner (for :func:`log_tail`).
    """
    arm = die_signal is not None and threading.current_thread() is threading.main_thread()
    preexec = parent_death_signal(die_signal) if arm and die_signal is not None else None
    with log_path.open("ab") as log:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        log.write(f"--- omniclaude: {banner} at {stamp}\n".encode())
        log.flush()
        offset = log.tell()
        proc = subprocess.Popen(  # noqa: S603 - argv built by this package, no shell
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=dict(env),
            start_new_session=True,
            user=user,
            group=group,
            extra_groups=extra_groups,
            preexec_fn=preexec,  # noqa: PLW1509 - one prctl call, no locks taken
        )
    return proc, offset


def alive(process: psutil.Process) -> bool:
    """Return True while ``process`` runs (a zombie counts as gone)."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def wait_gone(processes: Iterable[psutil.Process], timeout_s: float) -> None:
    """Wait up to ``timeout_s`` for all of ``processes`` to be gone."""
    deadline = time.monotonic() + timeout_s
    pending = list(processes)
    while pending and time.monotonic() < deadline:
        pending = [p for p in pending if alive(p)]
        if pending:
            time.sleep(_POLL_S)


def descendants(pid: int) -> list[psutil.Process]:
    """Return all descendants of ``pid`` (empty when it is gone)."""
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def kill_popen(proc: subprocess.Popen[bytes], children: Iterable[psutil.Process] = ()) -> None:
    """SIGKILL ``proc`` and wait for it, then SIGKILL ``children`` and wait until they are gone."""
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    proc.wait()
    children = list(children)
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.kill()
    wait_gone(children, _CHILD_EXIT_TIMEOUT_S)


def stop_popen(
    proc: subprocess.Popen[bytes],
    sig: signal.Signals,
    timeout_s: float,
    *,
    with_descendants: bool = False,
) -> None:
    """Send ``sig`` to a running ``proc``, wait ``timeout_s``, then SIGKILL it.

    Args:
        proc: the process; nothing happens when it has already exited.
        sig: the first signal (the process's own clean-shutdown signal).
        timeout_s: how long to wait for it to exit before SIGKILL.
        with_descendants: also wait for (and, after the timeout, kill) its descendants.
    """
    if proc.poll() is not None:
        return
    children = descendants(proc.pid) if with_descendants else []
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(sig)
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        kill_popen(proc, children)
    wait_gone(children, _CHILD_EXIT_TIMEOUT_S)


class OwnedProcess:
    """The part of a service handle that tracks the one process it started.

    Subclasses set ``_proc`` when they launch and implement ``start()`` and ``stop()``.
    """

    _proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 30.0) -> None:
        """Start the process and wait until it is ready (implemented by subclasses)."""
        raise NotImplementedError

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the process (implemented by subclasses)."""
        raise NotImplementedError

    @property
    def pid(self) -> int | None:
        """The process's pid while it runs, else None."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return None
        return proc.pid

    def is_running(self) -> bool:
        """Return True while the process we started is alive."""
        return self.pid is not None

    def __enter__(self) -> Self:
        """Start it (see :meth:`start`) and return it."""
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop it (see :meth:`stop`)."""
        self.stop()

    def _reap(self) -> None:
        """Forget a process that has exited (waiting for it, so no zombie is left)."""
        proc = self._proc
        if proc is not None and proc.poll() is not None:
            proc.wait()
            self._proc = None
