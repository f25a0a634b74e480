"""Steady event traffic through the SDK's KafkaSink, recording every event the SDK accepted.

:class:`Traffic` sends a batch of events of every catalogued type every ``tick_s`` (as an
agent's loggers would), until told to stop; it can be paused for a moment (the broker-restart
test uses that to quiesce the consumer's lag, see there). An event counts as *accepted* once
``sink.send_many`` returned for it: the SDK then owns it (queue, broker or durable outbox).
"""

from __future__ import annotations

import asyncio
import os
import random
import uuid
from collections.abc import Iterable
from typing import Any

from omniclaude.events import EventBase, decode_mapping
from omniclaude.publishing import KafkaSink
from omniclaude.settings import ConsumerSettings, ProducerSettings
from tests.load.workload import EVENT_TYPES, event_payload, realistic_text

__all__ = ["CHAOS_SECONDS_ENV", "Traffic", "chaos_seconds", "ingest", "kafka_sink"]

CHAOS_SECONDS_ENV = "OMNICLAUDE_CHAOS_SECONDS"
_DEFAULT_SECONDS = 15.0


def chaos_seconds() -> float:
    """How long each chaos test sends traffic (``OMNICLAUDE_CHAOS_SECONDS``, default 15)."""
    return float(os.environ.get(CHAOS_SECONDS_ENV, "") or _DEFAULT_SECONDS)


def kafka_sink(bootstrap: str, prefix: str, spool: Any, **producer: Any) -> KafkaSink:
    """A KafkaSink with test timeouts (3 s requests, 10 s flush on stop)."""
    settings = ProducerSettings(**{"linger_ms": 5, "flush_timeout_s": 10.0, **producer})
    return KafkaSink(
        bootstrap_servers=[bootstrap], topic_prefix=prefix, spool_dir=spool,
        producer=settings, request_timeout_ms=3000,
    )  # fmt: skip


def ingest(bootstrap: str, database_url: str, prefix: str, **consumer: Any) -> Any:
    """An IngestService (not started) with a group of this test, short batches, health on."""
    from omniclaude.consuming import IngestService

    settings = {"group_id": f"{prefix}chaos", "batch_max_ms": 50, "retry_initial_s": 0.05,
                "retry_max_s": 1.0, "health_port": 0, **consumer}  # fmt: skip
    return IngestService(
        bootstrap_servers=[bootstrap], database_url=database_url, topic_prefix=prefix,
        consumer=ConsumerSettings(**settings), serve_health=True, stop_timeout_s=15.0,
        consumer_options={"session_timeout_ms": 3000, "heartbeat_interval_ms": 500},
    )  # fmt: skip


class Traffic:
    """Sends ``per_tick`` events every ``tick_s`` through ``sink`` until :meth:`stop`.

    Attributes:
        accepted: event id → event type, in the order the SDK accepted them.
        refused: errors ``send_many`` raised (the test decides whether any is acceptable).
    """

    def __init__(
        self, sink: KafkaSink, *, per_tick: int = 10, tick_s: float = 0.05, seed: int = 7
    ) -> None:
        self.sink = sink
        self.per_tick = per_tick
        self.tick_s = tick_s
        self.rng = random.Random(seed)
        self._text = realistic_text(self.rng)
        self.accepted: dict[uuid.UUID, str] = {}
        self.refused: list[str] = []
        self._running = asyncio.Event()
        self._running.set()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.marks: dict[str, int] = {}
        """Named positions in :attr:`accepted` (``mark("kill")`` = how many before the kill)."""

    def batch(self) -> list[EventBase]:
        """One tick's events, of random catalogued types."""
        return [
            decode_mapping(event_payload(self.rng.choice(EVENT_TYPES), text=self._text))
            for _ in range(self.per_tick)
        ]

    def start(self) -> Traffic:
        """Start sending in a background task."""
        self._task = asyncio.create_task(self._run(), name="chaos-traffic")
        return self

    def mark(self, name: str) -> int:
        """Remember how many events were accepted so far, under ``name``; return it."""
        self.marks[name] = len(self.accepted)
        return self.marks[name]

    def ids(self, start: str | None = None, end: str | None = None) -> list[uuid.UUID]:
        """Accepted ids between two marks (None: from the start / to the end)."""
        order = list(self.accepted)
        return order[self.marks[start] if start else 0 : self.marks[end] if end else None]

    def pause(self) -> None:
        """Stop sending after the current tick (the task keeps running)."""
        self._running.clear()

    def resume(self) -> None:
        """Send again."""
        self._running.set()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_tick = loop.time()
        while not self._stop.is_set():
            await self._running.wait()
            if self._stop.is_set():
                break
            events = self.batch()
            try:
                await self.sink.send_many(events)
            except Exception as exc:
                self.refused.append(f"{type(exc).__name__}: {exc}")
            else:
                self._accept(events)
            next_tick = max(next_tick + self.tick_s, loop.time())
            await asyncio.sleep(max(next_tick - loop.time(), 0))

    def _accept(self, events: Iterable[EventBase]) -> None:
        for event in events:
            self.accepted[event.event_id] = str(event.event_type)  # type: ignore[attr-defined]

    async def stop(self) -> None:
        """Stop sending and wait for the task (idempotent)."""
        self._stop.set()
        self._running.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def run_for(self, seconds: float) -> None:
        """Let the traffic flow for ``seconds`` (the test's bounded traffic window)."""
        await asyncio.sleep(seconds)
