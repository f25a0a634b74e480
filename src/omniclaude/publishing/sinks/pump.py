"""The Kafka sink's sender loop: one background task that delivers, spools and retries.

Each round (:meth:`Pump.step`), in this order:

1. no producer? connect; if the broker is unreachable, move the queue to the outbox and back
   off;
2. publish the dead letters waiting in the outbox (:class:`~.dead_letters.DeadLetterStage`);
3. when the outbox holds anything, new events go behind it: the queue is appended to the
   outbox and the outbox is re-sent oldest first; a row is deleted only after the broker
   acknowledged it;
4. otherwise one batch goes straight from the queue to the broker; a batch the broker did not
   acknowledge goes to the outbox.

Per record the broker's answer is settled by :func:`omniclaude.retry.is_retriable`:
acknowledged, dead-lettered (not retriable: after this one attempt), or kept for a retry
with backoff (retriable). The loop survives anything; the outbox keeps the events.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Final

from omniclaude.publishing.outbox import Outbox, OutboxRecord
from omniclaude.publishing.producer import BrokerProducer, SendRequest
from omniclaude.publishing.sinks.accumulator import Accumulator
from omniclaude.publishing.sinks.dead_letters import DeadLetterStage
from omniclaude.retry import Backoff, is_retriable

__all__ = ["Pump"]

log = logging.getLogger(__name__)

OUTBOX_BATCH: Final = 2000
BACKOFF_INITIAL_S: Final = 0.1
BACKOFF_MAX_S: Final = 5.0
SPOOL_MIN_LINGER_S: Final = 0.002
"""While the broker is away, the shortest gap between two spools of the queue (a linger of
0 would write one SQLite transaction per event)."""


class Pump:
    """Moves records from the accumulator and the outbox to the broker (module docstring).

    Args:
        accumulator: what the callers handed over.
        outbox: the durable spool.
        broker: the broker stage.
        dead_letters: the dead-letter stage.
        on_progress: called whenever records were settled (the facade wakes its waiters).
        linger_s: how long new events may gather before they are spooled while the broker
            is away (the producer's ``linger_ms``).
    """

    def __init__(
        self, *, accumulator: Accumulator, outbox: Outbox, broker: BrokerProducer,
        dead_letters: DeadLetterStage, on_progress: Callable[[], None], linger_s: float = 0.005,
    ) -> None:  # fmt: skip
        self.linger_s = linger_s
        self.accumulator = accumulator
        self.outbox = outbox
        self.broker = broker
        self.dead_letters = dead_letters
        self._on_progress = on_progress
        self.wake = asyncio.Event()
        self.halt = asyncio.Event()
        self.idle = asyncio.Event()
        self.backoff = Backoff(BACKOFF_INITIAL_S, BACKOFF_MAX_S)
        self.delivered = 0
        """Events the broker acknowledged (dead letters not included)."""
        self._down_since: float | None = None

    def nothing_pending(self) -> bool:
        """Nothing queued, in the outbox or waiting as a dead letter."""
        return not self.accumulator.queue and not len(self.outbox) and not self.dead_letters.pending

    def poke(self) -> None:
        """Something new to do."""
        self.idle.clear()
        self.wake.set()

    # ------------------------------------------------------------- settling
    def _settle(
        self, records: Sequence[OutboxRecord], outcomes: Sequence[BaseException | None]
    ) -> tuple[list[OutboxRecord], list[OutboxRecord]]:
        """Return (done, retry): acknowledged or dead-lettered records, and the rest."""
        done: list[OutboxRecord] = []
        retry: list[OutboxRecord] = []
        for record, outcome in zip(records, outcomes, strict=True):
            if outcome is None:
                self.delivered += 1
                done.append(record)
            elif not is_retriable(outcome):
                reason = str(outcome) or type(outcome).__name__
                self.dead_letters.record(record, reason, type(outcome).__name__)
                done.append(record)
            else:
                retry.append(record)
        return done, retry

    @staticmethod
    def _requests(records: Sequence[OutboxRecord]) -> list[SendRequest]:
        return [SendRequest(r.topic, r.key, r.value) for r in records]

    # ------------------------------------------------------------- health
    def _note_down(self, retry: Sequence[OutboxRecord]) -> None:
        if self._down_since is None:
            self._down_since = time.monotonic()
            log.warning(
                "broker unreachable (%s): spooling undelivered events to %s (%d there now); "
                "retrying with backoff",
                self.broker.last_error, self.outbox.path, len(self.outbox) + len(retry),
            )  # fmt: skip

    def _note_up(self) -> None:
        if self._down_since is not None:
            log.info("broker reachable again after %.1fs", time.monotonic() - self._down_since)
            self._down_since = None
        self.backoff.reset()

    async def _pause(self) -> None:
        """Back off before the next attempt; a halt cuts the wait short.

        Meanwhile new events do not wait the whole backoff in memory only: what is queued is
        spooled to the outbox at most one linger after it arrived (one SQLite write per
        batch), so with the broker away an event is durable within about ``linger_ms``.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.backoff.next_delay()
        linger = max(self.linger_s, SPOOL_MIN_LINGER_S)
        while not self.halt.is_set():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            if self.accumulator.queue:
                await self._spool_queue()
                await self._wait((self.halt,), min(linger, remaining))
                continue
            self.wake.clear()
            await self._wait((self.wake, self.halt), remaining)

    @staticmethod
    async def _wait(events: tuple[asyncio.Event, ...], timeout_s: float) -> None:
        """Wait until one of ``events`` is set, at most ``timeout_s``."""
        waiters = [asyncio.ensure_future(event.wait()) for event in events]
        try:
            await asyncio.wait(waiters, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    # ------------------------------------------------------------- steps
    async def _spool_queue(self) -> None:
        """Move everything queued to the end of the outbox (keeps the order)."""
        if self.accumulator.queue:
            records = self.accumulator.take_queue()
            try:
                await asyncio.to_thread(self.outbox.append, records)
            finally:
                self.accumulator.settle()
                self._on_progress()

    async def _drain_outbox(self) -> bool:
        """Re-send the outbox oldest first; return False on a retriable failure."""
        while len(self.outbox) and not self.halt.is_set():
            rows = await asyncio.to_thread(self.outbox.peek, OUTBOX_BATCH)
            if not rows:
                await asyncio.to_thread(self.outbox.count)
                return True
            outcomes = await self.broker.send_batch(self._requests(rows))
            done, retry = self._settle(rows, outcomes)
            await asyncio.to_thread(self.outbox.delete, [r.seq for r in done if r.seq])
            if retry:
                error = str(self.broker.last_error)
                await asyncio.to_thread(
                    self.outbox.mark_failed, [r.seq for r in retry if r.seq], error
                )
                self._note_down(retry)
                return False
            self._note_up()
        return True

    async def _send_direct(self) -> bool:
        """Send one batch from the queue; failures go to the outbox. False on failure."""
        batch = self.accumulator.next_batch()
        try:
            outcomes = await self.broker.send_batch(self._requests(batch))
            _, retry = self._settle(batch, outcomes)
            if retry:
                await asyncio.to_thread(self.outbox.append, retry)
                self._note_down(retry)
                return False
        finally:
            self.accumulator.settle()
            self._on_progress()
        self._note_up()
        return True

    async def step(self) -> bool:
        """One round (steps 1-4 of the module docstring); False when it should back off."""
        if not self.broker.connected and not await self.broker.connect():
            await self._spool_queue()
            self._note_down(())
            return False
        if self.dead_letters.pending and not await self.dead_letters.publish(self.broker):
            return False
        if len(self.outbox):
            await self._spool_queue()
            return await self._drain_outbox()
        if self.accumulator.queue:
            return await self._send_direct()
        return True

    async def run(self) -> None:
        """The background task: deliver, spool, retry, until :attr:`halt` is set."""
        while not self.halt.is_set():
            try:
                healthy = await self.step()
            except Exception:  # the pump must survive anything; the outbox keeps the events
                log.exception("Kafka sink pump failed; retrying")
                healthy = False
            if self.halt.is_set():
                break
            if not healthy:
                await self._pause()
                continue
            if self.nothing_pending():
                self.idle.set()
                self.wake.clear()
                self._on_progress()
                if self.nothing_pending():
                    wake = asyncio.ensure_future(self.wake.wait())
                    halt = asyncio.ensure_future(self.halt.wait())
                    await asyncio.wait({wake, halt}, return_when=asyncio.FIRST_COMPLETED)
                    for waiter in (wake, halt):
                        waiter.cancel()
