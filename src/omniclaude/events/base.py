"""The envelope every event shares: identity, correlation, time and producer."""

from __future__ import annotations

import os
import socket
import uuid
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Annotated, Any, ClassVar, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import to_jsonable_python

from omniclaude._version import __version__

__all__ = ["EventBase", "JsonObject", "ProducerInfo", "TimedEvent", "Timestamp", "utc_now"]


def utc_now() -> datetime:
    """Return the current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def _assume_utc(value: datetime) -> datetime:
    """Read a naive timestamp (as ``datetime.utcnow().isoformat()`` makes) as UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _to_json_object(value: Any, info: ValidationInfo) -> Any:
    """Make any mapping JSON-native at construction (UUID, datetime, Decimal, enum, set...).

    This is what makes the spec's UUID serialization bug impossible: details never hold an
    object the Kafka codec or the database driver could choke on. Input parsed from JSON is
    JSON-native already, so it is not walked again (a quarter of the consumer's decoding).
    """
    if value is None:
        return {}
    if info.mode == "json":
        return value
    return to_jsonable_python(value, fallback=repr)


Timestamp = Annotated[datetime, AfterValidator(_assume_utc)]
"""A timestamp; naive input is read as UTC, so stored values are always timezone-aware."""

JsonObject = Annotated[dict[str, Any], BeforeValidator(_to_json_object)]
"""A JSON object; any Python value inside is converted to its JSON form on construction."""


class ProducerInfo(BaseModel):
    """Who produced an event: the library, its version, the host and the process."""

    model_config = ConfigDict(frozen=True, extra="allow")

    name: str = "omniclaude"
    version: str = __version__
    host: str | None = None
    pid: int | None = None

    @staticmethod
    def current() -> ProducerInfo:
        """Return (cached) metadata describing this process."""
        return _current_producer()


@lru_cache(maxsize=1)
def _current_producer() -> ProducerInfo:
    return ProducerInfo(host=socket.gethostname(), pid=os.getpid())


class EventBase(BaseModel):
    """Fields every event carries. Subclasses add ``event_type`` and their payload.

    Unknown fields are kept (``extra="allow"``) so events from a newer producer lose nothing;
    the storage layer keeps them in the row's ``metadata``.
    """

    model_config = ConfigDict(
        frozen=True,
        extra="allow",
        populate_by_name=True,
        str_strip_whitespace=False,
        ser_json_inf_nan="constants",
    )

    event_id: uuid.UUID = Field(
        default_factory=uuid.uuid4,
        description="Unique id of this event; the idempotency key on every path.",
    )
    correlation_id: uuid.UUID = Field(
        description="Id of the execution (trace) this event belongs to.",
    )
    timestamp: Timestamp = Field(
        default_factory=utc_now,
        description="When it happened; for a timed event (one with started_at), when it ended.",
    )
    producer: ProducerInfo = Field(default_factory=ProducerInfo.current)
    schema_version: int = Field(
        default=1, ge=1, description="Version of this event type's contract; bump on change."
    )

    def extra_fields(self) -> dict[str, Any]:
        """Return the fields this version of the model does not know (kept verbatim)."""
        return dict(self.__pydantic_extra__ or {})


class TimedEvent(EventBase):
    """An event about something that took time (a tool call, a routing, an LLM call...).

    The one meaning of time, on every path: ``timestamp`` is when it **ended** (when the
    record was complete) and ``started_at`` when it **began**; the reader draws the span
    ``started_at`` → ``timestamp`` and never guesses. ``duration_ms`` (or the type's own
    duration field) is what the producer measured, which may be shorter than the span (a
    Claude Code tool's run time excludes its permission wait).

    A producer that sends no ``started_at`` states the older convention, a record written
    when the work ended: ``started_at`` is then ``timestamp`` minus the duration (zero when
    there is none), filled here once, so every stored row holds both.
    """

    DURATION_FIELD: ClassVar[str] = "duration_ms"
    """The field holding the producer's measured duration in milliseconds."""

    started_at: Timestamp | None = Field(
        default=None,
        description="When it began (default: timestamp minus the duration).",
    )

    @field_validator("started_at")
    @classmethod
    def _not_after_the_end(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        end = info.data.get("timestamp")
        if value is not None and isinstance(end, datetime) and value > end:
            raise ValueError(
                f"{value.isoformat()} is after timestamp {end.isoformat()} "
                "(timestamp is when it ended)"
            )
        return value

    @model_validator(mode="after")
    def _fill_started_at(self) -> Self:
        if self.started_at is None:
            duration = getattr(self, self.DURATION_FIELD, None) or 0.0
            # Frozen model: set once, during validation, before anyone can read it.
            start = self.timestamp - timedelta(milliseconds=duration)
            object.__setattr__(self, "started_at", start)
        return self

    @property
    def start(self) -> datetime:
        """``started_at`` (always set once the event is built)."""
        return self.started_at or self.timestamp
