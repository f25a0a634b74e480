"""Child processes of the supervisor: the consumer, the API and the emitter.

Each child runs in its own session (so a Ctrl-C in the terminal reaches only the supervisor,
which then stops the children in order) and, on Linux, is asked by the kernel to exit if the
supervisor dies without stopping it (``PR_SET_PDEATHSIG``), so no child outlives a killed
supervisor. Output goes to a per-component log file under the stack directory.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import psutil

from omniclaude.errors import StackError
from omniclaude.stack._process import alive, parent_death_signal, wait_gone
from omniclaude.stack.state import ProcessRef

__all__ = [
    "Child",
    "ChildSpec",
    "ComponentStartError",
    "log_tail",
    "omniclaude_argv",
    "stop_process",
]

_ENTRY = "from omniclaude._entry import main; main()"
_BOX_CHARS = "─│╭╮╰╯┌┐└┘━┃ "
"""Frame characters of Rich's error panels, dropped from log lines quoted in errors."""


class ComponentStartError(StackError):
    """A component of the stack did not become ready; the message says what to do."""

    def __init__(self, component: str, message: str) -> None:
        super().__init__(message)
        self.component = component


def omniclaude_argv(*args: str) -> list[str]:
    """Return the command line running ``omniclaude ARGS`` with this interpreter.

    The interpreter of the running CLI is used (not whatever ``omniclaude`` is first on
    ``PATH``), so a virtual environment's stack runs that environment's code.
    """
    return [sys.executable, "-c", _ENTRY, *args]


def log_tail(path: Path, lines: int = 3, max_bytes: int = 16_384) -> str:
    """Return the last non-empty ``lines`` of a log file joined by `` | `` (empty if none)."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - max_bytes))
            text = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    kept = []
    for line in text.splitlines():
        cleaned = line.strip().strip(_BOX_CHARS).strip()
        if cleaned:
            kept.append(cleaned)
    return " | ".join(kept[-lines:])


def stop_process(
    ref: ProcessRef,
    *,
    timeout_s: float,
    group: bool = True,
    first_signal: int = signal.SIGTERM,
) -> bool:
    """Stop the process ``ref`` (and its process group): ``first_signal``, wait, then SIGKILL.

    Nothing is signalled unless ``ref`` is still the very process we started.

    Returns:
        True when the process is gone at the end.
    """
    if not ref.alive():
        return True
    # The group's other members (grandchildren) must be gone too before we say "stopped":
    # `omniclaude down` promises that no process of the stack is left.
    members = _group_members(ref) if group else []
    _signal(ref, first_signal, group=group)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not ref.alive():
            break
        time.sleep(0.05)
    else:
        _signal(ref, signal.SIGKILL, group=group)
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline and ref.alive():
            time.sleep(0.05)
    if members:
        wait_gone(members, timeout_s)  # their own graceful exit, within the same budget
        survivors = [p for p in members if alive(p)]
        for process in survivors:  # they ignored the group's signal: kill them one by one
            with contextlib.suppress(psutil.Error):
                process.kill()
        wait_gone(survivors, 5.0)
    return not ref.alive()


def _group_members(ref: ProcessRef) -> list[psutil.Process]:
    """The descendants of ``ref`` that share its process group (signalled with it)."""
    try:
        descendants = psutil.Process(ref.pid).children(recursive=True)
    except psutil.Error:
        return []
    members = []
    for process in descendants:
        with contextlib.suppress(psutil.Error, OSError):
            if os.getpgid(process.pid) == ref.pid:
                members.append(process)
    return members


def _signal(ref: ProcessRef, signum: int, *, group: bool) -> None:
    if not ref.alive():
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if group and os.getpgid(ref.pid) == ref.pid:
            os.killpg(ref.pid, signum)
        else:
            os.kill(ref.pid, signum)


@dataclass(slots=True)
class ChildSpec:
    """How to run and check one child component."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_file: Path
    ready: Callable[[], bool]
    address: str | None = None
    ready_timeout_s: float = 60.0
    stop_timeout_s: float = 20.0
    hint: str = ""
    """What to do when it fails to start (appended to the one-line error)."""


@dataclass(slots=True)
class Child:
    """A running child process of the supervisor."""

    spec: ChildSpec
    popen: subprocess.Popen[bytes] | None = None
    ref: ProcessRef | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    def start(self) -> ProcessRef:
        """Start the process (output appended to its log file) and return its reference.

        Raises:
            ComponentStartError: the executable could not be started at all.
        """
        self.spec.log_file.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.spec.log_file.open("ab")
        try:
            self.popen = subprocess.Popen(  # noqa: S603 - argv built from constants
                self.spec.argv,
                env=self.spec.env,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=parent_death_signal(signal.SIGTERM),  # noqa: PLW1509 - one prctl call
                close_fds=True,
            )
        except OSError as exc:
            self._close_log()
            raise ComponentStartError(
                self.spec.name, f"{self.spec.name} could not be started: {exc}"
            ) from exc
        ref = ProcessRef.of(self.popen.pid)
        self.ref = ref if ref is not None else ProcessRef(self.popen.pid, time.time())
        return self.ref

    def exit_code(self) -> int | None:
        """Return the exit code if the process has ended (None while it runs)."""
        return None if self.popen is None else self.popen.poll()

    def wait_ready(self, should_abort: Callable[[], bool] = lambda: False) -> None:
        """Wait until the readiness probe passes.

        Raises:
            ComponentStartError: the process exited, or was not ready in time (the message
                carries the last lines of its log and what to do), or ``should_abort``.
        """
        spec = self.spec
        deadline = time.monotonic() + spec.ready_timeout_s
        while True:
            code = self.exit_code()
            if code is not None:
                raise ComponentStartError(spec.name, self._failure(f"exited with code {code}"))
            if spec.ready():
                return
            if should_abort():
                raise ComponentStartError(spec.name, f"{spec.name}: start interrupted")
            if time.monotonic() > deadline:
                raise ComponentStartError(
                    spec.name, self._failure(f"not ready after {spec.ready_timeout_s:.0f}s")
                )
            time.sleep(0.1)

    def _failure(self, what: str) -> str:
        tail = log_tail(self.spec.log_file)
        parts = [f"{self.spec.name} failed to start ({what})"]
        if tail:
            parts.append(f"last log lines: {tail}")
        parts.append(f"full log: {self.spec.log_file}")
        if self.spec.hint:
            parts.append(self.spec.hint)
        return "; ".join(parts)

    def stop(self) -> None:
        """Stop the process and its group (SIGTERM, then SIGKILL after the timeout)."""
        if self.ref is not None:
            stop_process(self.ref, timeout_s=self.spec.stop_timeout_s)
        if self.popen is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=1.0)
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
