"""Helpers for testing code that uses the OmniClaude SDK (shipped to users, like
``structlog.testing``).

* :class:`InMemorySink` — a sink that keeps every event (redacted, as it would leave the
  process) in a list, for ``ActionLogger(sink=InMemorySink())``.
* :func:`capture_events` — a context manager that records every event any OmniClaude logger
  or publisher emits inside it, whatever sink that logger uses.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from omniclaude.events import AgentAction, EventBase
from omniclaude.events.codec import encode_checked
from omniclaude.publishing.capture import pop_capture, push_capture
from omniclaude.publishing.redaction import Redactor
from omniclaude.publishing.sinks.base import BaseSink

__all__ = ["InMemorySink", "capture_events"]

E = TypeVar("E", bound=EventBase)


class InMemorySink(BaseSink):
    """A sink that keeps events in memory, in the order they were sent.

    Args:
        redact: apply redaction like a real sink (default True, so tests see what would leave
            the process).
        redactor: the redactor to use; None means the default rules.
    """

    def __init__(self, *, redact: bool = True, redactor: Redactor | None = None) -> None:
        super().__init__(redactor=redactor)
        self._redact = redact
        self.events: list[EventBase] = []
        self.flushes = 0

    async def send(self, event: EventBase) -> None:
        """Record ``event`` (redacted unless ``redact=False``)."""
        self.record(event)

    async def _deliver(self, events: list[EventBase]) -> None:
        self.events.extend(events)

    async def send_many(self, events: Iterable[EventBase]) -> None:
        """Record several events, in order."""
        for event in events:
            self.record(event)

    def record(self, event: EventBase) -> None:
        """Record ``event`` synchronously (redacted unless ``redact=False``).

        Raises:
            EventValidationError: a real sink would refuse it too (too large once encoded, or
                holding a value that cannot be stored).
        """
        if self._redact:
            self.events.append(self.prepare(event))
        else:
            encode_checked(event)
            self.events.append(event)

    async def flush(self, timeout_s: float | None = None) -> None:  # noqa: ARG002
        """Count the flush (nothing is buffered)."""
        self.flushes += 1

    def of_type(self, model: type[E]) -> list[E]:
        """Return the recorded events that are instances of ``model``."""
        return [event for event in self.events if isinstance(event, model)]

    @property
    def actions(self) -> list[AgentAction]:
        """The recorded :class:`~omniclaude.events.AgentAction` events."""
        return self.of_type(AgentAction)

    def event_types(self) -> list[str]:
        """Return the ``event_type`` of every recorded event, in order."""
        return [str(getattr(event, "event_type", "")) for event in self.events]

    def clear(self) -> None:
        """Forget every recorded event."""
        self.events.clear()

    def __len__(self) -> int:
        return len(self.events)

    def __iter__(self) -> Iterator[EventBase]:
        return iter(self.events)


@contextmanager
def capture_events(*, redact: bool = True) -> Iterator[InMemorySink]:
    """Record every event emitted by OmniClaude loggers and publishers inside the block.

    The events still go to the loggers' own sinks; the capture is a copy. Tasks created
    inside the block are captured too (the capture lives in a context variable).

    Example:
        >>> with capture_events() as captured:
        ...     ...  # await logger.log_decision(cid, "picked agent-x")
        >>> [e.action_type for e in captured.actions]  # doctest: +SKIP
    """
    sink = InMemorySink(redact=redact)
    token = push_capture(sink)
    try:
        yield sink
    finally:
        pop_capture(token)
