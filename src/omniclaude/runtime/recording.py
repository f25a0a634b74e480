"""What the runner emitted for each execution, so "finished" can wait for "readable".

The runner's sink is a :class:`RecordingSink`: every event it hands over is noted (table,
event id) in the :class:`~omniclaude.runtime.models.ExecutionState` of its correlation id,
and the error texts it carries (messages, tracebacks) lose every absolute server path first
(:meth:`~omniclaude.runtime.workspace.Workspace.hide_paths`): read keys see them.
The execution's final lifecycle event carries the count (``event_count``), so a reader of
the database alone can tell too whether the trace is complete. ``GET /executions/{id}``
reports an execution finished only once every one of those events is stored.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable

from omniclaude._lifecycle import AsyncStartStop
from omniclaude.events import (
    ActionType,
    AgentAction,
    AgentTransformation,
    EventBase,
    ExecutionFailed,
)
from omniclaude.events.catalog import kind_of
from omniclaude.publishing.sinks.base import EventSink, Refusals
from omniclaude.runtime.models import ExecutionState

__all__ = ["RecordingSink"]

_ERROR_TEXTS = ("error_message", "traceback")


class RecordingSink(AsyncStartStop):
    """An :class:`EventSink` that forwards to ``sink`` and notes each event it sent.

    Args:
        sink: where the events go (started and stopped by its owner, not by this wrapper).
        lookup: the execution state of a correlation id (None: not one the runner tracks).
    """

    def __init__(
        self,
        sink: EventSink,
        lookup: Callable[[uuid.UUID], ExecutionState | None],
        *,
        public_text: Callable[[str], str] | None = None,
    ) -> None:
        self.sink = sink
        self._lookup = lookup
        self._public_text = public_text

    def _public(self, event: EventBase) -> EventBase:
        """The event with its error texts passed through ``public_text`` (server paths)."""
        hide = self._public_text
        if hide is None:
            return event
        if isinstance(event, AgentAction) and event.action_type is ActionType.ERROR:
            details = dict(event.action_details)
            changed = False
            for name in _ERROR_TEXTS:
                value = details.get(name)
                if isinstance(value, str) and (clean := hide(value)) != value:
                    details[name], changed = clean, True
            return event.model_copy(update={"action_details": details}) if changed else event
        if isinstance(event, ExecutionFailed | AgentTransformation):
            update = {
                name: hide(value)
                for name in _ERROR_TEXTS
                if isinstance(value := getattr(event, name, None), str) and hide(value) != value
            }
            return event.model_copy(update=update) if update else event
        return event

    @property
    def started(self) -> bool:
        """Whether the wrapped sink is started."""
        return bool(getattr(self.sink, "started", True))

    def _note(self, event: EventBase) -> None:
        kind = kind_of(str(getattr(event, "event_type", "")))
        state = self._lookup(event.correlation_id)
        if kind is not None and state is not None:
            state.emitted.append((kind.topic.table, event.event_id))

    async def start(self) -> None:
        """Start the wrapped sink."""
        await self.sink.start()

    async def send(self, event: EventBase) -> None:
        """Send ``event``, then note it (an event the sink refused is not counted)."""
        event = self._public(event)
        await self.sink.send(event)
        self._note(event)

    async def send_many(self, events: Iterable[EventBase]) -> None:
        """Send several events, then note them."""
        batch = [self._public(event) for event in events]
        await self.sink.send_many(batch)
        for event in batch:
            self._note(event)

    async def send_durably(self, events: Iterable[EventBase]) -> Refusals:
        """Send durably through the wrapped sink, then note the events it accepted."""
        batch = list(events)
        refused = await self.sink.send_durably(batch)
        dropped = {index for index, _ in refused}
        for index, event in enumerate(batch):
            if index not in dropped:
                self._note(event)
        return refused

    async def flush(self, timeout_s: float | None = None) -> None:
        """Flush the wrapped sink."""
        await self.sink.flush(timeout_s)

    async def wait_durable(self, timeout_s: float | None = None) -> bool:
        """Wait on the wrapped sink."""
        return await self.sink.wait_durable(timeout_s)

    @property
    def pending(self) -> int:
        """The wrapped sink's pending events."""
        return self.sink.pending

    @property
    def connected(self) -> bool:
        """Whether the wrapped sink's destination answers."""
        return self.sink.connected

    async def stop(self) -> None:
        """Stop the wrapped sink."""
        await self.sink.stop()
