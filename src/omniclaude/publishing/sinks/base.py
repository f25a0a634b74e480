"""The one interface every sink implements, and a base class with the shared lifecycle.

A sink takes events and delivers them somewhere outside the process (a Kafka topic, a
PostgreSQL table, memory for tests). Every sink redacts every event before it leaves
(:mod:`omniclaude.publishing.redaction`), so no caller can forget to.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from omniclaude._lifecycle import AsyncStartStop
from omniclaude.events import EventBase
from omniclaude.publishing.redaction import Redactor, default_redactor

__all__ = ["BaseSink", "EventSink"]


@runtime_checkable
class EventSink(Protocol):
    """Where events go.

    Lifecycle: ``start()`` → ``send``/``send_many`` … → ``flush()`` → ``stop()`` (idempotent),
    or ``async with sink:``. Delivery guarantees differ by sink:

    * Kafka: ``send`` hands the event over and returns without waiting on the network; the
      event is then delivered at least once (durably spooled while the broker is away).
    * PostgreSQL: ``send`` returns once the row is committed.
    """

    async def start(self) -> None:
        """Open connections and start background work. Safe to call twice."""
        ...

    async def send(self, event: EventBase) -> None:
        """Redact ``event`` and deliver it (or hand it over for delivery)."""
        ...

    async def send_many(self, events: Iterable[EventBase]) -> None:
        """Redact and deliver several events, in order."""
        ...

    async def flush(self, timeout_s: float | None = None) -> None:
        """Wait until every event handed over so far is delivered (or ``timeout_s`` passed)."""
        ...

    async def stop(self) -> None:
        """Flush within the sink's bounded timeout and release everything. Idempotent."""
        ...

    async def __aenter__(self) -> Self:
        """Start the sink."""
        ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the sink."""
        ...


class BaseSink(AsyncStartStop):
    """Shared plumbing for sinks: redaction, ``send_many`` and the async context manager.

    Subclasses implement :meth:`_deliver` (and usually ``start``/``flush``/``stop``).

    Args:
        redactor: the redactor applied to every event; None means the default rules.
    """

    def __init__(self, *, redactor: Redactor | None = None) -> None:
        self.redactor = redactor if redactor is not None else default_redactor()
        self._started = False
        self._stopped = False

    @property
    def started(self) -> bool:
        """Whether ``start()`` ran and ``stop()`` has not."""
        return self._started and not self._stopped

    async def start(self) -> None:
        """Mark the sink started (subclasses open their resources first)."""
        self._started = True
        self._stopped = False

    async def send(self, event: EventBase) -> None:
        """Redact ``event`` and deliver it."""
        await self._deliver([self.redactor.redact_event(event)])

    async def send_many(self, events: Iterable[EventBase]) -> None:
        """Redact and deliver several events together, in order."""
        batch = [self.redactor.redact_event(event) for event in events]
        if batch:
            await self._deliver(batch)

    async def _deliver(self, events: list[EventBase]) -> None:
        raise NotImplementedError

    async def flush(self, timeout_s: float | None = None) -> None:  # noqa: ARG002
        """Nothing is buffered by default."""
        return

    async def stop(self) -> None:
        """Mark the sink stopped. Idempotent."""
        self._stopped = True
