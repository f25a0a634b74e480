"""What every logger and publisher shares: choosing the sink, building events, emitting.

A logger is built with ``db=`` (a direct :class:`PostgresSink` on that connection or pool),
``sink=`` (any :class:`EventSink`), or neither, in which case the process-wide default sink set
by :func:`set_default_sink` is used at emit time.

One validation per event (:meth:`Emitter.emit_fields`): the model is the only validator, and
converts and checks the JSON fields in one walk (plain JSON-like details are copied while
they are checked, :func:`~omniclaude.events.limits.clean_copy`). A logger with its own
redactor converts them first (:func:`~omniclaude.events.base.to_json_native`), redacts the
field values, and the model then only checks them. The sink then encodes the event once
and screens those bytes for anything to redact (:meth:`BaseSink.prepare_encoded`); only an
event with a secret in it is built again, from its redacted values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import ValidationError

from omniclaude.errors import ConfigurationError
from omniclaude.events import EventBase
from omniclaude.events.base import JSON_NATIVE, json_fields, to_json_native
from omniclaude.events.codec import invalid_event
from omniclaude.publishing.capture import _CAPTURES, notify_captures
from omniclaude.publishing.redaction import Redactor
from omniclaude.publishing.sinks.base import EventSink

__all__ = ["Emitter", "build_event", "get_default_sink", "set_default_sink"]

E = TypeVar("E", bound=EventBase)

_default_sink: EventSink | None = None


def set_default_sink(sink: EventSink | None) -> EventSink | None:
    """Make ``sink`` the one used by loggers built without ``db=`` or ``sink=``.

    Returns:
        The previous default (so a caller can restore it).
    """
    global _default_sink
    previous, _default_sink = _default_sink, sink
    return previous


def get_default_sink() -> EventSink | None:
    """Return the process-wide default sink, or None."""
    return _default_sink


def build_event(model: type[E], **fields: Any) -> E:
    """Construct ``model`` from ``fields``; turn a validation failure into a clear error.

    Raises:
        EventValidationError: a field is missing or invalid; ``.field`` names it.
    """
    try:
        return model(**fields)
    except ValidationError as exc:
        raise invalid_event(model.__name__, exc) from exc


class Emitter:
    """Base of the loggers: owns the sink choice and the emit path.

    Args:
        db: an asyncpg connection or pool: events are written directly to PostgreSQL.
        sink: any event sink (mutually exclusive with ``db``).
        redactor: extra redaction applied before the sink's own (None: the sink's only).

    Raises:
        ConfigurationError: both ``db`` and ``sink`` were given.
    """

    def __init__(
        self, db: Any = None, *, sink: EventSink | None = None, redactor: Redactor | None = None
    ) -> None:
        if db is not None and sink is not None:
            raise ConfigurationError("pass either db= or sink=, not both")
        self._redactor: Redactor | None = None
        if db is not None:
            from omniclaude.publishing.sinks.postgres import PostgresSink

            sink = PostgresSink(db, redactor=redactor)
        else:
            self._redactor = redactor
        self._sink = sink
        self._send_nowait: Callable[[EventBase], None] | None = getattr(sink, "send_nowait", None)
        """The sink's synchronous hand-over, if it has one (a KafkaSink: ``send`` would only
        wrap it in a coroutine)."""

    @property
    def sink(self) -> EventSink:
        """The sink events go to (the explicit one, else the process default).

        Raises:
            ConfigurationError: there is neither.
        """
        sink = self._sink if self._sink is not None else _default_sink
        if sink is None:
            raise ConfigurationError(
                "no event sink: pass db=<asyncpg connection or pool> or sink=<EventSink>, "
                "or call omniclaude.publishing.set_default_sink()"
            )
        return sink

    async def emit_fields(
        self,
        model: type[E],
        fields: dict[str, Any],
        *,
        arguments: Mapping[str, str] | None = None,
    ) -> E:
        """Build one event of ``model`` from ``fields`` and send it (the loggers' path).

        The JSON fields are converted and checked once by the model (converted here first
        when this emitter has its own redactor, which edits the values before the build);
        the sink redacts what leaves (the event returned keeps the caller's values).

        Args:
            model: the event type.
            fields: its constructor fields (consumed: the dict may be changed).
            arguments: the caller's names for fields, for errors (``{"action_name":
                "tool_name"}``).

        Returns:
            The event (redacted by this emitter's own redactor, if it has one).

        Raises:
            EventValidationError: a field is invalid; ``.field`` names the argument.
        """
        context = None  # the model converts and checks the JSON fields in one walk
        if self._redactor is not None:
            # This emitter's own redactor edits the converted values before the event is
            # built: convert them here, once (the model then only checks them).
            for name in json_fields(model):
                value = fields.get(name)
                if value is not None:
                    fields[name] = to_json_native(value)
            fields = self._redactor.redact_fields(fields)
            context = JSON_NATIVE
        try:
            event: E = model.__pydantic_validator__.validate_python(fields, context=context)
        except ValidationError as exc:
            raise invalid_event(model.__name__, exc, arguments=arguments) from exc
        if _CAPTURES.get():
            notify_captures(event)
            if self._sink is None and _default_sink is None:
                return event  # inside capture_events() with no sink: capturing is enough
        if self._send_nowait is not None:
            self._send_nowait(event)
        else:
            await (self._sink if self._sink is not None else self.sink).send(event)
        return event

    async def emit(self, event: E) -> E:
        """Redact (if this emitter has its own redactor), record for captures, and send.

        For an event built elsewhere (``EventPublisher.publish``); the loggers build theirs
        with :meth:`emit_fields`.

        Returns:
            The event as handed to the sink.
        """
        if self._redactor is not None:
            event = self._redactor.redact_event(event)
        if _CAPTURES.get():
            notify_captures(event)
            if self._sink is None and _default_sink is None:
                return event  # inside capture_events() with no sink: capturing is enough
        await self.sink.send(event)
        return event
