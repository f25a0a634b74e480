"""The context variable behind :func:`omniclaude.testing.capture_events`.

Loggers and publishers call :func:`notify_captures` with every event they emit; outside a
capture block it is one context-variable read.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from typing import Final, Protocol

from omniclaude.events import EventBase

__all__ = ["EventRecorder", "notify_captures", "pop_capture", "push_capture"]


class EventRecorder(Protocol):
    """Anything that can record an event synchronously."""

    def record(self, event: EventBase) -> None:
        """Record one event."""
        ...


_CAPTURES: Final[ContextVar[tuple[EventRecorder, ...]]] = ContextVar(
    "omniclaude_captures", default=()
)


def push_capture(recorder: EventRecorder) -> Token[tuple[EventRecorder, ...]]:
    """Add ``recorder`` to the active captures; return the token for :func:`pop_capture`."""
    return _CAPTURES.set((*_CAPTURES.get(), recorder))


def pop_capture(token: Token[tuple[EventRecorder, ...]]) -> None:
    """Undo :func:`push_capture`."""
    _CAPTURES.reset(token)


def notify_captures(event: EventBase) -> None:
    """Give ``event`` to every active capture."""
    for recorder in _CAPTURES.get():
        recorder.record(event)
