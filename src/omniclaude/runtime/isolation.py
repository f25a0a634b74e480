"""Worker processes for tool work that can run long: killed when the execution's time is up.

A tool that runs in a thread cannot be stopped: when the execution's timeout fires, the
runtime stops *waiting* for it, but the thread goes on, and a C call (a regular expression, a
parser) holds the GIL the whole time, so the API's event loop stalls with it. A tool called
with ``isolate=True`` (:meth:`~omniclaude.runtime.context.AgentContext.tool`) runs in one of
the :class:`WorkerPool`'s processes instead:

1. the caller takes an idle worker (or starts one, up to ``max_workers``; others wait);
2. the function and its arguments are pickled to the worker's stdin; the worker runs it and
   writes back the pickled result or exception (with its traceback text as ``__cause__``);
3. if the caller is cancelled meanwhile (the execution's timeout, a shutdown), the worker is
   killed (SIGKILL) at once and a fresh one is started in the background.

Workers are plain ``python`` processes started from the event loop (``asyncio`` subprocess:
nothing blocks, no fork of the multi-threaded server); each imports the built-in tools'
modules once (0.3 to 0.5 s) and then serves calls until it is killed or the pool stops. A worker
dies with the server: it exits when its stdin closes and gets SIGKILL when its parent dies
(``PR_SET_PDEATHSIG``). Functions and arguments must be picklable (module-level functions,
bound methods of picklable objects such as :class:`~omniclaude.runtime.workspace.Workspace`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import signal
import struct
import sys
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, BinaryIO, Final

from omniclaude.errors import OmniClaudeError

__all__ = ["DEFAULT_PRELOAD", "ToolProcessError", "WorkerPool", "serve"]

DEFAULT_PRELOAD: Final = (
    "omniclaude.runtime.workspace",
    "omniclaude.runtime.manifest",
    "omniclaude.runtime.agents._common",
    "omniclaude.runtime.agents.dependency_auditor",
    "omniclaude.runtime.agents.security_scanner",
    "omniclaude.runtime.agents.test_finder",
)
"""Modules a worker imports when it starts, so the built-in tools are loaded before a call."""

_HEADER = struct.Struct(">Q")
_WORKER_MAIN = "from omniclaude.runtime.isolation import serve; serve()"


class ToolProcessError(OmniClaudeError):
    """A tool could not run in a worker process (not picklable, or the worker died)."""


class _RemoteTraceback(Exception):  # noqa: N818 - mirrors concurrent.futures' name
    """The worker's traceback, attached as the ``__cause__`` of the error it raised."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return self.text


# ---------------------------------------------------------------------- the worker side
def _read_frame(stream: BinaryIO) -> bytes | None:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    data = stream.read(size)
    return data if len(data) == size else None


def _write_frame(stream: BinaryIO, data: bytes) -> None:
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def _outcome(payload: bytes) -> bytes:
    try:
        fn, args, kwargs = pickle.loads(payload)  # noqa: S301 - from our own parent, on a pipe
        reply: tuple[Any, ...] = ("ok", fn(*args, **kwargs))
    except BaseException as exc:  # noqa: BLE001 - every failure goes back to the caller
        reply = ("error", exc, traceback.format_exc())
    try:
        return pickle.dumps(reply)
    except Exception as exc:  # noqa: BLE001 - an unpicklable result or exception
        what = type(reply[1]).__name__
        error = ToolProcessError(f"the tool's {reply[0]} value ({what}) is not picklable: {exc}")
        return pickle.dumps(("error", error, ""))


def serve(preload: Sequence[str] = DEFAULT_PRELOAD) -> None:  # pragma: no cover - a worker
    """A worker's main loop: read a call on stdin, run it, write the outcome on stdout.

    The first frame is the parent's ``sys.path`` (so the worker imports what the parent
    can). The protocol's stdout is kept apart: the tool's own prints go to stderr.
    """
    import importlib

    from omniclaude.stack._process import parent_death_signal

    arm = parent_death_signal(signal.SIGKILL, parent=os.getppid())
    if arm is not None:
        arm()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the server decides, then kills us
    inbox = os.fdopen(os.dup(0), "rb")
    outbox = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a print() in a tool must not corrupt the protocol
    first = _read_frame(inbox)
    if first is None:
        return
    sys.path[:] = pickle.loads(first)  # noqa: S301 - from our own parent
    for module in preload:
        with contextlib.suppress(ImportError):
            importlib.import_module(module)
    while (payload := _read_frame(inbox)) is not None:
        try:
            _write_frame(outbox, _outcome(payload))
        except OSError:
            return


# ---------------------------------------------------------------------- the server side
class _Worker:
    """One worker process and its pipes."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @property
    def pid(self) -> int:
        """The worker's process id."""
        return self.process.pid

    @classmethod
    async def start(cls) -> _Worker:
        """Start a worker (returns once it is forked; it imports its modules meanwhile)."""
        from omniclaude.stack._process import parent_death_signal

        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _WORKER_MAIN,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            preexec_fn=parent_death_signal(signal.SIGKILL),
            start_new_session=True,  # a terminal's Ctrl-C goes to the server, not to workers
        )
        worker = cls(process)
        await worker._send(pickle.dumps(list(sys.path)))
        return worker

    async def _send(self, data: bytes) -> None:
        stdin = self.process.stdin
        if stdin is None:  # pragma: no cover - always a pipe
            raise ToolProcessError("the tool's worker process has no stdin")
        stdin.write(_HEADER.pack(len(data)) + data)
        await stdin.drain()

    async def call(self, payload: bytes) -> tuple[Any, ...]:
        """Send one pickled call and wait for its pickled outcome."""
        stdout = self.process.stdout
        if stdout is None:  # pragma: no cover - always a pipe
            raise ToolProcessError("the tool's worker process has no stdout")
        try:
            await self._send(payload)
            (size,) = _HEADER.unpack(await stdout.readexactly(_HEADER.size))
            data = await stdout.readexactly(size)
        except (asyncio.IncompleteReadError, ConnectionError, OSError) as exc:
            code = self.process.returncode
            raise ToolProcessError(
                f"the tool's worker process ended before it answered (exit code {code})"
            ) from exc
        try:
            outcome: tuple[Any, ...] = pickle.loads(data)  # noqa: S301 - from our own worker
        except Exception as exc:
            raise ToolProcessError(f"the tool's answer could not be read: {exc}") from exc
        return outcome

    def kill(self) -> None:
        """SIGKILL the worker now (never blocks; :meth:`reap` collects it)."""
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()

    async def reap(self) -> None:
        """Kill the worker, wait for it and close its pipes (idempotent)."""
        self.kill()
        if self.process.stdin is not None:
            self.process.stdin.close()
        await self.process.wait()


class WorkerPool:
    """Runs picklable functions in worker processes; cancelling a call kills its worker.

    Args:
        max_workers: the most processes at once (calls beyond wait for a free worker).
    """

    def __init__(self, *, max_workers: int = 2) -> None:
        if max_workers < 1:
            raise ValueError("max_workers: must be at least 1")
        self.max_workers = max_workers
        self.stats: Counter[str] = Counter()
        """``calls``, ``started`` (processes), ``killed`` (cancelled or broken), ``errors``."""
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._background: set[asyncio.Task[None]] = set()
        self._slots: asyncio.Semaphore | None = None
        self._closed = False

    @property
    def closed(self) -> bool:
        """Whether :meth:`stop` was called."""
        return self._closed

    @property
    def pids(self) -> list[int]:
        """Process ids of the live workers (idle and busy)."""
        return [w.pid for w in [*self._idle, *self._busy]]

    def _semaphore(self) -> asyncio.Semaphore:
        if self._closed:
            raise ToolProcessError("the tool worker pool is stopped")
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.max_workers)
        return self._slots

    def _in_background(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _warm(self) -> None:
        """Start one idle worker (background; a failure only means the next call starts one)."""
        if self._closed or len(self._idle) + len(self._busy) >= self.max_workers:
            return
        try:
            worker = await _Worker.start()
        except OSError:
            return
        self.stats["started"] += 1
        if self.closed:  # stopped while the worker started
            await worker.reap()
        else:
            self._idle.append(worker)

    async def start(self) -> None:
        """Start one worker in the background, so the first call does not wait for imports."""
        self._semaphore()
        self._in_background(self._warm())

    async def run(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Run ``fn(*args, **kwargs)`` in a worker process and return its result.

        Raises:
            ToolProcessError: ``fn`` or its arguments cannot be pickled, or the worker died.
            Exception: what ``fn`` raised in the worker (its traceback as ``__cause__``).
            asyncio.CancelledError: the call was cancelled; its worker was killed.
        """
        slots = self._semaphore()
        try:
            payload = pickle.dumps((fn, args, kwargs))
        except Exception as exc:
            name = getattr(fn, "__qualname__", repr(fn))
            raise ToolProcessError(
                f"tool function {name}: cannot run in a worker process (not picklable: {exc})"
            ) from exc
        async with slots:
            worker = self._idle.pop() if self._idle else None
            if worker is None:
                worker = await _Worker.start()
                self.stats["started"] += 1
            self._busy.add(worker)
            self.stats["calls"] += 1
            try:
                outcome = await worker.call(payload)
            except BaseException:
                # Cancelled (the execution's time is up) or broken: the worker goes now.
                self._busy.discard(worker)
                self.stats["killed"] += 1
                worker.kill()
                self._in_background(self._replace(worker))
                raise
            self._busy.discard(worker)
            if self._closed:
                await worker.reap()
            else:
                self._idle.append(worker)
        if outcome[0] == "ok":
            return outcome[1]
        self.stats["errors"] += 1
        error: BaseException = outcome[1]
        if len(outcome) > 2 and outcome[2]:
            error.__cause__ = _RemoteTraceback(outcome[2])
        raise error

    async def _replace(self, dead: _Worker) -> None:
        await dead.reap()
        await self._warm()

    async def stop(self) -> None:
        """Kill every worker and wait for them. Idempotent; calls after it fail."""
        self._closed = True
        workers = [*self._idle, *self._busy]
        self._idle.clear()
        self._busy.clear()
        for worker in workers:
            worker.kill()
        for worker in workers:
            await worker.reap()
        for task in list(self._background):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
