"""The one interface every sink implements, and a base class with the shared lifecycle.

A sink takes events and delivers them somewhere outside the process (a Kafka topic, a
PostgreSQL table, memory for tests). Every sink redacts every event before it leaves
(:mod:`omniclaude.publishing.redaction`), so no caller can forget to, and checks it against
the contract's limits as it will leave (the encoded size after redaction): what it accepts
can be stored, what it refuses raises :class:`~omniclaude.errors.EventValidationError` at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from types import TracebackType
from typing import Protocol, Self, TypeAlias, TypeVar, runtime_checkable

from pydantic import ValidationError
from pydantic_core import PydanticSerializationError

from omniclaude._lifecycle import AsyncStartStop
from omniclaude.errors import EventValidationError
from omniclaude.events import EventBase
from omniclaude.events.codec import encode, encode_checked, invalid_event, sized
from omniclaude.events.limits import MAX_EVENT_BYTES
from omniclaude.publishing.redaction import Redactor, default_redactor

__all__ = ["BaseSink", "EventSink", "Refusals"]

T = TypeVar("T")

Refusals: TypeAlias = list[tuple[int, EventValidationError]]
"""Events a sink refused: their index in what was handed over, and why."""


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

    async def send_durably(self, events: Iterable[EventBase]) -> Refusals:
        """Deliver the events that can be stored, or make them durable locally, before
        returning (a caller that acknowledges to someone else, like ``POST /events``, waits
        for this); return the refused ones by index."""
        ...

    async def flush(self, timeout_s: float | None = None) -> None:
        """Wait until every event handed over so far is delivered (or ``timeout_s`` passed)."""
        ...

    async def wait_durable(self, timeout_s: float | None = None) -> bool:
        """Wait until nothing handed over lives in memory only (delivered or in a local
        outbox); return whether that holds (``timeout_s`` 0: just check)."""
        ...

    @property
    def pending(self) -> int:
        """Events handed over and not yet delivered (some may be durable in an outbox)."""
        ...

    @property
    def connected(self) -> bool:
        """Whether the destination answers right now (False: events wait in an outbox)."""
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

    def redact(self, event: EventBase) -> EventBase:
        """Return ``event`` as it will leave the process (redacted).

        Raises:
            EventValidationError: redaction made a value invalid (a replaced secret made an
                id longer than its limit).
        """
        try:
            return self.redactor.redact_event(event)
        except ValidationError as exc:
            raise invalid_event(type(event).__name__, exc) from exc

    def prepare_encoded(self, event: EventBase) -> tuple[EventBase, bytes]:
        """Return ``event`` as it will leave the process (redacted) and its encoding.

        The event is encoded once and those bytes screened for anything to redact
        (:meth:`Redactor.needs_walk`); only then is it walked, and built again from its
        redacted values if a rule changed one. Checked against the contract as it leaves.

        Raises:
            EventValidationError: larger than the contract allows once encoded (after
                redaction), or holding a value that cannot be stored (an event built without
                validation, or a value redaction made invalid).
        """
        try:
            data = encode(event)
        except PydanticSerializationError:
            redacted = self.redact(event)
            return redacted, encode_checked(redacted)  # names the field, or encodes it now
        if self.redactor.needs_walk(event, data):
            redacted = self.redact(event)
            if redacted is not event:
                return redacted, encode_checked(redacted)
        if len(data) > MAX_EVENT_BYTES:
            sized(data)  # raises, naming the size
        return event, data

    def prepare(self, event: EventBase) -> EventBase:
        """Redact ``event`` and check it against the contract as it will leave.

        Raises:
            EventValidationError: larger than the contract allows once encoded, or holding a
                value that cannot be stored (an event built without validation).
        """
        return self.prepare_encoded(event)[0]

    @staticmethod
    def each(
        events: Iterable[EventBase], step: Callable[[EventBase], T]
    ) -> tuple[list[T], Refusals]:
        """Apply ``step`` (a :meth:`prepare`) to each event; return the results of those it
        accepted and the refused ones with their index."""
        done: list[T] = []
        refused: Refusals = []
        for index, event in enumerate(events):
            try:
                done.append(step(event))
            except EventValidationError as exc:
                refused.append((index, exc))
        return done, refused

    @staticmethod
    def each_group(
        groups: Sequence[Sequence[EventBase]], step: Callable[[EventBase], T]
    ) -> tuple[list[T], Refusals]:
        """Apply ``step`` to every event of each group, all or none: the results of the groups
        whose every event it accepted, and the refused groups by index (with the first
        reason)."""
        done: list[T] = []
        refused: Refusals = []
        for index, group in enumerate(groups):
            try:
                results = [step(event) for event in group]
            except EventValidationError as exc:
                refused.append((index, exc))
            else:
                done.extend(results)
        return done, refused

    async def send(self, event: EventBase) -> None:
        """Redact and check ``event``, then deliver it.

        Raises:
            EventValidationError: the event cannot be stored (see :meth:`prepare`).
        """
        await self._deliver([self.prepare(event)])

    async def send_many(self, events: Iterable[EventBase]) -> None:
        """Redact, check and deliver several events together, in order.

        Raises:
            EventValidationError: one of them cannot be stored; none is delivered.
        """
        batch = [self.prepare(event) for event in events]
        if batch:
            await self._deliver(batch)

    async def send_durably(self, events: Iterable[EventBase]) -> Refusals:
        """Deliver the events that can be stored so that they survive a crash of this process
        once this returns; return the refused ones (nothing is refused silently).

        The default delivers and flushes; a sink with a faster durable path overrides it.
        """
        prepared, refused = self.each(events, self.prepare)
        if prepared:
            await self._deliver(prepared)
            await self.flush()
        return refused

    async def send_durably_grouped(self, groups: Sequence[Sequence[EventBase]]) -> Refusals:
        """:meth:`send_durably` all or none per group: a group with one event that cannot be
        stored is refused whole (returned by its index) and none of its events is sent. For
        records that become several events (an OTLP span: an execution's start and end).

        The default delivers and flushes; a sink with a faster durable path overrides it.
        """
        prepared, refused = self.each_group(groups, self.prepare)
        if prepared:
            await self._deliver(prepared)
            await self.flush()
        return refused

    async def _deliver(self, events: list[EventBase]) -> None:
        raise NotImplementedError

    async def flush(self, timeout_s: float | None = None) -> None:  # noqa: ARG002
        """Nothing is buffered by default."""
        return

    async def wait_durable(self, timeout_s: float | None = None) -> bool:  # noqa: ARG002
        """Nothing is buffered by default: always durable."""
        return True

    @property
    def pending(self) -> int:
        """Nothing is buffered by default."""
        return 0

    @property
    def connected(self) -> bool:
        """A sink that delivers before returning reports failures by raising instead."""
        return True

    async def stop(self) -> None:
        """Mark the sink stopped. Idempotent."""
        self._stopped = True
