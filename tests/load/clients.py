"""The load test's clients: closed-loop API users and Claude Code sessions running hooks.

Each API client loops until the deadline, picking an operation by weight: a batch of events
(``POST /events``, some retried as a client would after a timeout), a routing request
(``POST /route``), an execution (``POST /execute`` of ``file-reader``) or a read. Each hook
client is one Claude Code session running the real hook command for every event, in order.
Every accepted id goes to the :class:`Ledger`; every request's latency and status to the
:class:`~tests.load.report.LatencyRecorder`.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.load.http import RawHttpClient, RawHttpError, RawResponse
from tests.load.report import LatencyRecorder
from tests.load.workload import (
    EVENT_TYPES,
    PII_SAMPLES,
    HookSession,
    event_payload,
    may_hold_pii,
    realistic_text,
)

__all__ = ["ApiClient", "HookClient", "Ledger"]

_OPERATIONS = (("events", 45), ("route", 25), ("execute", 15), ("read", 15))
_RETRY_SHARE = 0.1
_PII_SHARE = 0.03


@dataclass
class Ledger:
    """Everything the system accepted, to be found in the database afterwards."""

    events: dict[uuid.UUID, str] = field(default_factory=dict)
    """Event id → event type, from ``POST /events`` (202) and ``POST /route`` (200)."""
    executions: set[uuid.UUID] = field(default_factory=set)
    """Correlation ids ``POST /execute`` answered 202 for."""
    sessions: list[HookSession] = field(default_factory=list)
    retried_batches: int = 0
    pii_strings: int = 0


class ApiClient:
    """One closed-loop API user (waits for each answer before the next request)."""

    def __init__(
        self, client: RawHttpClient, recorder: LatencyRecorder, ledger: Ledger, seed: int
    ) -> None:
        self.client = client
        self.recorder = recorder
        self.ledger = ledger
        self.rng = random.Random(seed)
        self.mine: list[uuid.UUID] = []
        self._realistic = realistic_text(self.rng)
        names = [n for n, _ in _OPERATIONS]
        weights = [w for _, w in _OPERATIONS]
        self._pick: Callable[[], str] = lambda: self.rng.choices(names, weights)[0]

    async def call(
        self, op: str, method: str, url: str, expected: tuple[int, ...], **kwargs: Any
    ) -> RawResponse | None:
        """Send one request; record it; return the response when its status was expected."""
        started = time.perf_counter()
        try:
            response = await self.client.request(method, url, **kwargs)
        except RawHttpError as exc:
            self.recorder.record(op, time.perf_counter() - started, "transport", repr(exc))
            return None
        elapsed = time.perf_counter() - started
        ok = response.status_code in expected
        self.recorder.record(op, elapsed, response.status_code, None if ok else response.text)
        return response if ok else None

    def _text(self, path: str) -> str:
        if may_hold_pii(path) and self.rng.random() < _PII_SHARE:
            self.ledger.pii_strings += 1
            return self.rng.choice(PII_SAMPLES)
        return self._realistic(path)

    async def events(self) -> None:
        """POST a batch of 5-20 events of random types; sometimes send it twice (a retry)."""
        batch = [
            event_payload(self.rng.choice(EVENT_TYPES), text=self._text, optional=False)
            for _ in range(self.rng.randint(5, 20))
        ]
        sent = {uuid.UUID(e["event_id"]): e["event_type"] for e in batch}
        for attempt in range(2 if self.rng.random() < _RETRY_SHARE else 1):
            response = await self.call("POST /events", "POST", "/events", (202,),
                                       json={"events": batch})  # fmt: skip
            if response is None:
                return
            body = response.json()
            returned = {uuid.UUID(i) for i in body["event_ids"]}
            if returned != set(sent) or body["rejected"]:
                self.recorder.record("POST /events", 0, "mismatch", json.dumps(body)[:300])
                return
            if attempt:
                self.ledger.retried_batches += 1
            self.ledger.events.update(sent)

    async def route(self) -> None:
        """Ask the router for an agent; the decision's event id must be stored."""
        prompt = "find the tests that cover " + self._realistic("prompt")
        response = await self.call("POST /route", "POST", "/route", (200,),
                                   json={"user_prompt": prompt})  # fmt: skip
        if response is not None:
            self.ledger.events[uuid.UUID(response.json()["event_id"])] = "routing_decision"

    async def execute(self) -> None:
        """Start a file-reader execution; it must end stored as a success."""
        body = {"user_prompt": "read main.py and summarise it", "agent": "file-reader",
                "context": {"files": ["main.py"]}}  # fmt: skip
        response = await self.call("POST /execute", "POST", "/execute", (202,), json=body)
        if response is not None:
            cid = uuid.UUID(response.json()["correlation_id"])
            self.ledger.executions.add(cid)
            self.mine.append(cid)

    async def read(self) -> None:
        """Read an execution of this client (live or stored), a list, or a trace."""
        choice = self.rng.random()
        if self.mine and choice < 0.5:
            cid = self.rng.choice(self.mine)
            await self.call("GET /executions/{id}", "GET", f"/executions/{cid}", (200,))
        elif self.mine and choice < 0.75:
            cid = self.rng.choice(self.mine)  # 404 while the consumer has not stored it yet
            await self.call("GET /traces/{id}", "GET", f"/traces/{cid}", (200, 404))
        else:
            await self.call("GET /executions", "GET", "/executions", (200,),
                            params={"limit": 20})  # fmt: skip

    async def run(self, deadline: float) -> None:
        """Loop over random operations until ``deadline`` (``loop.time()``)."""
        loop = asyncio.get_running_loop()
        operations = {"events": self.events, "route": self.route, "execute": self.execute,
                      "read": self.read}  # fmt: skip
        while loop.time() < deadline:
            await operations[self._pick()]()


class HookClient:
    """One Claude Code session: every hook runs the real command (``sh -c``), in order."""

    def __init__(
        self, command: str, env: dict[str, str], recorder: LatencyRecorder, ledger: Ledger,
        *, label: str = "hook",
    ) -> None:  # fmt: skip
        self.command = command
        self.label = label
        self.env = env
        self.recorder = recorder
        self.session = HookSession()
        ledger.sessions.append(self.session)

    async def hook(self, payload: dict[str, Any]) -> bool:
        """Run the hook command with ``payload`` on stdin; True when it exited 0."""
        started = time.perf_counter()
        proc = await asyncio.create_subprocess_shell(
            self.command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE, env=self.env,
        )  # fmt: skip
        _, err = await proc.communicate(json.dumps(payload).encode())
        code = proc.returncode
        self.recorder.record(
            self.label, time.perf_counter() - started, f"exit {code}",
            None if code == 0 else err.decode(errors="replace"),
        )  # fmt: skip
        return code == 0

    async def run(self, deadline: float) -> None:
        """SessionStart; prompts of three tool calls each until ``deadline``; SessionEnd."""
        loop = asyncio.get_running_loop()
        s = self.session
        await self.hook(s.start())
        while loop.time() < deadline:
            await self.hook(s.prompt("fix the failing parser tests, token ghp_" + "a1" * 20))
            for _ in range(3):
                pre, post = s.tool_pair("Bash", {"command": "pytest -q", "password": "hunter2"})
                await self.hook(pre)
                if await self.hook(post):
                    s.record_tool_call(post)
            await self.hook(s.stop())
        await self.hook(s.end())
