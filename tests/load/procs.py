"""Real OmniClaude processes for the load and chaos tests: ``omniclaude api``, ``consume``,
``emitter``, each started like an operator would, and always gone after the test.

:class:`ServiceProcess` starts a command with its output in a log file, waits for readiness
by a real round-trip (an HTTP probe or a lock), and stops it with SIGTERM (or kills it with
SIGKILL, for chaos). :func:`service_env` builds a clean environment (no ``OMNICLAUDE_*`` or
coverage variables leak in from the test runner) with the given settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

import httpx

from tests.fixtures.waiting import wait_for

__all__ = ["BIN", "ServiceProcess", "consumer_assigned", "http_ok", "metric_total", "service_env"]

BIN = Path(sys.executable).parent
"""The virtual environment's ``bin`` (the ``omniclaude`` console script lives there)."""

_LOG_TAIL_CHARS = 3000


def service_env(**settings: str) -> dict[str, str]:
    """The test runner's environment without ``OMNICLAUDE_*``/``COVERAGE_*``, plus ``settings``.

    Args:
        settings: variable names (``OMNICLAUDE_DATABASE_URL``...) and values.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OMNICLAUDE_", "COVERAGE_", "PYTEST_"))
    }
    env.update(settings)
    return env


async def http_ok(url: str, *, headers: Mapping[str, str] | None = None) -> bool:
    """Return True when ``GET url`` answers 200 (False on any error: "not yet")."""
    try:
        async with httpx.AsyncClient(timeout=2.0) as client:
            response = await client.get(url, headers=dict(headers or {}))
    except httpx.HTTPError:
        return False
    return response.status_code == 200


async def consumer_assigned(port: int) -> bool:
    """The consumer on ``port`` answers /ready and holds partitions (it joined its group)."""
    try:
        async with httpx.AsyncClient(timeout=2) as client:
            response = await client.get(f"http://127.0.0.1:{port}/ready")
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and response.json().get("assigned_partitions", 0) > 0


async def metric_total(port: int, name: str) -> float:
    """The sum over labels of the metric ``name`` (``…_total``) from ``/metrics`` on ``port``."""
    async with httpx.AsyncClient(timeout=5) as client:
        text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.split("{", 1)[0].split(" ", 1)[0] == name)  # fmt: skip


class ServiceProcess:
    """One child process of a test.

    Args:
        name: what it is, for messages (``api``, ``consumer-1``...).
        argv: the command (``[BIN / "omniclaude", "consume", ...]``).
        env: its whole environment (see :func:`service_env`).
        log_path: where its standard output and error go.
    """

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = log_path
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int | None:
        """The process id once started."""
        return self.proc.pid if self.proc is not None else None

    @property
    def running(self) -> bool:
        """True while the process has not exited."""
        return self.proc is not None and self.proc.returncode is None

    def log_tail(self) -> str:
        """The end of its log, for failure messages."""
        if not self.log_path.exists():
            return "(no log)"
        return self.log_path.read_text(errors="replace")[-_LOG_TAIL_CHARS:]

    async def start(
        self, ready: Callable[[], Awaitable[bool]] | None = None, *, timeout_s: float = 60
    ) -> ServiceProcess:
        """Start the process and, when given, wait until ``ready()`` is true.

        Raises:
            AssertionError: it exited, or was not ready within ``timeout_s`` (with its log).
        """
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:  # the child keeps its own descriptor
            self.proc = await asyncio.create_subprocess_exec(
                *self.argv,
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        if ready is not None:

            async def up() -> bool:
                if not self.running:
                    raise AssertionError(
                        f"{self.name} exited with {self.proc.returncode if self.proc else None}"
                        f" while starting; its log:\n{self.log_tail()}"
                    )
                return await ready()

            try:
                await wait_for(up, what=f"{self.name} to be ready", timeout_s=timeout_s)
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n{self.name} log:\n{self.log_tail()}") from None
        return self

    def kill(self) -> None:
        """SIGKILL the process (and its process group): no clean-up, no goodbye."""
        if self.running and self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)

    async def wait(self, timeout_s: float = 30) -> int:
        """Wait for the process to exit and return its exit code."""
        assert self.proc is not None, f"{self.name} was never started"
        return await asyncio.wait_for(self.proc.wait(), timeout_s)

    async def stop(self, timeout_s: float = 20) -> int | None:
        """SIGTERM, wait up to ``timeout_s``, then SIGKILL; return the exit code. Idempotent."""
        if self.proc is None:
            return None
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), timeout_s)
            except TimeoutError:
                self.kill()
                await self.proc.wait()
        return self.proc.returncode
