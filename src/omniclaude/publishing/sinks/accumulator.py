"""The Kafka sink's accumulator: what waits to be sent, as pure data (no asyncio, no I/O).

Like aiokafka's ``MessageAccumulator``, it holds records between the caller's ``send`` and the
sender: a bounded FIFO queue, the batch in flight, and the rules that decide

* **spill** - past ``queue_max_events`` the whole queue (and the new record) must go to the
  durable outbox, in order (:meth:`Accumulator.append` returns them);
* **batching** - :meth:`Accumulator.next_batch` hands the sender up to ``batch_max_events``
  records at once, oldest first, and remembers them as in flight until :meth:`settle`.

(Size admission happens before: the facade refuses, at ``send``, an event larger than the
contract's :data:`~omniclaude.events.limits.MAX_EVENT_BYTES` once encoded, and the producer's
request size is derived from that limit, so every record here fits the broker.)

Everything here is synchronous and deterministic, so the unit tests drive it without a loop.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from omniclaude.publishing.outbox import OutboxRecord

__all__ = ["Accumulator"]


@dataclass
class Accumulator:
    """Records handed over and not yet settled (see the module docstring).

    Args:
        queue_max_events: how many records may wait in memory before the queue spills.
        batch_max_events: how many records the sender takes at once.
    """

    queue_max_events: int
    batch_max_events: int = 2000
    queue: deque[OutboxRecord] = field(default_factory=deque)
    in_flight: list[OutboxRecord] = field(default_factory=list)

    def append(self, record: OutboxRecord) -> Sequence[OutboxRecord]:
        """Queue ``record``; return what must spill to the outbox now (usually nothing).

        When the queue is full, the queue and ``record`` are returned together, oldest
        first, and the queue is emptied: the outbox keeps them in order.
        """
        if len(self.queue) >= self.queue_max_events:
            spilled = [*self.queue, record]
            self.queue.clear()
            return spilled
        self.queue.append(record)
        return ()

    def extend(self, records: Iterable[OutboxRecord]) -> list[OutboxRecord]:
        """:meth:`append` each record; return everything that must spill, in order."""
        spilled: list[OutboxRecord] = []
        for record in records:
            spilled.extend(self.append(record))
        return spilled

    def next_batch(self) -> list[OutboxRecord]:
        """Take up to ``batch_max_events`` queued records as the batch in flight."""
        count = min(len(self.queue), self.batch_max_events)
        self.in_flight = [self.queue.popleft() for _ in range(count)]
        return self.in_flight

    def take_queue(self) -> list[OutboxRecord]:
        """Take every queued record (to spool it); they count as in flight until settled."""
        self.in_flight = list(self.queue)
        self.queue.clear()
        return self.in_flight

    def settle(self) -> None:
        """The batch in flight is acknowledged, dead-lettered or in the outbox."""
        self.in_flight = []

    def leftovers(self) -> list[OutboxRecord]:
        """Take everything not yet settled (in flight first, then queued), for the outbox."""
        records = [r for r in self.in_flight if r.seq is None] + list(self.queue)
        self.in_flight = []
        self.queue.clear()
        return records

    @property
    def unsettled(self) -> int:
        """Records queued or in flight that exist in memory only (not yet in the outbox)."""
        return len(self.queue) + sum(1 for r in self.in_flight if r.seq is None)

    @property
    def empty(self) -> bool:
        """Nothing queued and nothing in flight."""
        return not self.queue and not self.in_flight
