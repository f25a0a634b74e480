"""The envelope every event shares: identity, correlation, time and producer.

Every model here refuses, with the field named, any value PostgreSQL could not store and
return exactly (see :mod:`omniclaude.events.limits`): text with a NUL or an unpaired
surrogate, non-finite numbers, integers beyond their column, timestamps out of range, JSON
nested too deep. So every path that builds events (``POST /events``, the SDK, the consumer's
decoder) applies the same limits.
"""

from __future__ import annotations

import os
import socket
import types
import typing
import uuid
from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache, partial
from typing import Annotated, Any, ClassVar, Final, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError, core_schema, to_jsonable_python

from omniclaude._version import __version__
from omniclaude.events.limits import (
    INT4_MAX,
    INT8_MAX,
    INT8_MIN,
    MAX_DURATION_MS,
    MAX_ID_CHARS,
    MAX_JSON_DEPTH,
    MAX_JSON_FLOAT,
    MAX_NAME_CHARS,
    TIMESTAMP_MAX,
    TIMESTAMP_MIN,
    clean_copy,
    instant_problem,
    json_problem,
    numbers_fit,
    text_problem,
)

__all__ = [
    "JSON_NATIVE",
    "NUL_FREE_JSON",
    "AgentName",
    "DurationMs",
    "EventBase",
    "Identifier",
    "JsonObject",
    "ProducerInfo",
    "StorableModel",
    "TimedEvent",
    "Timestamp",
    "json_fields",
    "new_event_id",
    "to_json_native",
    "unstorable_error",
    "utc_now",
]


def utc_now() -> datetime:
    """Return the current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


_now_utc: Final = partial(datetime.now, UTC)
""":func:`utc_now` without a Python frame (the events' default timestamp)."""


_V4_CLEAR: Final = ~((0xF000 << 64) | (0xC000 << 48))
_V4_SET: Final = (0x4000 << 64) | (0x8000 << 48)
_ID_POOL: Final[list[int]] = []
_ID_BATCH: Final = 256


def new_event_id() -> uuid.UUID:
    """Return a random (version 4) UUID, as :func:`uuid.uuid4` makes, at a quarter of its cost.

    The same 122 random bits from :func:`os.urandom`, drawn 256 ids at a time (one system
    call per batch instead of one per event) and set into the UUID as ``uuid.UUID.__init__``
    sets them. Thread-safe (``list.pop`` is atomic); a forked child drops the parent's batch,
    so the two never share an id.
    """
    try:
        value = _ID_POOL.pop()
    except IndexError:
        data = os.urandom(16 * _ID_BATCH)
        _ID_POOL.extend(
            int.from_bytes(data[i : i + 16]) & _V4_CLEAR | _V4_SET for i in range(16, len(data), 16)
        )
        value = int.from_bytes(data[:16]) & _V4_CLEAR | _V4_SET
    made = object.__new__(uuid.UUID)
    object.__setattr__(made, "int", value)
    object.__setattr__(made, "is_safe", _UNKNOWN_SAFETY)
    return made


_UNKNOWN_SAFETY: Final = uuid.SafeUUID.unknown


if hasattr(os, "register_at_fork"):  # POSIX; elsewhere there is no fork to inherit a batch
    os.register_at_fork(after_in_child=_ID_POOL.clear)


def unstorable_error(
    model: type[BaseModel] | str, loc: tuple[str | int, ...], reason: str, value: Any
) -> ValidationError:
    """Build the validation error for a value that cannot be stored, located at ``loc``.

    Raised inside a validator, pydantic prefixes ``loc`` with the path to the validated
    object, so the error names the full dotted path (``action_details.a.b``).
    """
    title = model if isinstance(model, str) else model.__name__
    error = PydanticCustomError("unstorable", "{reason}", {"reason": reason})
    return ValidationError.from_exception_data(
        title, [InitErrorDetails(type=error, loc=loc, input=value)]
    )


_SAFE_YEARS: Final = (TIMESTAMP_MIN.year, TIMESTAMP_MAX.year - 1)


def _storable_instant(value: datetime) -> datetime:
    """Read a naive timestamp (as ``datetime.utcnow().isoformat()`` makes) as UTC, and refuse
    one PostgreSQL would store as ±infinity or that overflows when converted to UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    if _SAFE_YEARS[0] < value.year < _SAFE_YEARS[1]:
        return value  # an offset moves it by less than a day: in range whatever it is
    problem = instant_problem(value)
    if problem is not None:
        raise PydanticCustomError("timestamp_range", "{reason}", {"reason": problem})
    return value


def to_json_native(value: Any) -> Any:
    """Return ``value`` in its JSON form, as new containers (UUID, datetime, Decimal, enum,
    set, model... converted; anything else unknown becomes its ``repr``).

    The one conversion a JSON field (:data:`JsonObject`) gets. The SDK applies it once,
    before redaction, and validates with the :data:`JSON_NATIVE` context so the model does not
    convert (copy) the same details again.
    """
    return to_jsonable_python(value, fallback=repr)


def _to_json_object(value: Any, info: ValidationInfo) -> Any:
    """Make any mapping JSON-native at construction (UUID, datetime, Decimal, enum, set...)
    and refuse what JSON storage cannot hold exactly.

    This is what makes the spec's UUID serialization bug impossible: details never hold an
    object the Kafka codec or the database driver could choke on. Input parsed from JSON is
    JSON-native already (and cannot hold an unpaired surrogate), so it is only checked; so is
    input validated with the :data:`JSON_NATIVE` context (converted by the caller with
    :func:`to_json_native`).
    """
    if value is None:
        return {}
    if info.mode != "json" and info.context is not JSON_NATIVE:
        if type(value) is dict:
            copied = clean_copy(value)  # converted and checked in one walk
            if copied is not None:
                return copied
        value = to_json_native(value)
    if type(value) is not dict:
        return value  # the dict validator that follows says what is wrong
    if info.context is NUL_FREE_JSON and numbers_fit(value):
        return value  # the consumer's hot path: text already checked by the decoder
    problem = json_problem(value, surrogates=info.mode != "json")
    if problem is not None:
        raise unstorable_error(
            str(info.field_name or "value"), problem.path(), problem.message, value
        )
    return value


def _checked_json_object(value: dict[str, Any] | None, info: ValidationInfo) -> dict[str, Any]:
    """:func:`_to_json_object` for JSON input, once pydantic-core built the dict from the JSON
    text itself: only the checks are left (JSON text holds nothing to convert)."""
    if value is None:
        return {}
    if info.context is NUL_FREE_JSON and numbers_fit(value):
        return value  # the consumer's hot path: text already checked by the decoder
    problem = json_problem(value, surrogates=False)
    if problem is not None:
        raise unstorable_error(
            str(info.field_name or "value"), problem.path(), problem.message, value
        )
    return value


class _JsonObjectSchema:
    """How :data:`JsonObject` is validated: from JSON, pydantic-core builds the dict straight
    from the text and a check follows (:func:`_checked_json_object`); from Python objects,
    :func:`_to_json_object` converts first. The same rules either way; from JSON the value
    is not first handed to Python and then copied by the dict validator (the consumer's hot
    path, once per JSON field of every event)."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        inner = handler(source)
        return core_schema.json_or_python_schema(
            json_schema=core_schema.with_info_after_validator_function(
                _checked_json_object, core_schema.nullable_schema(inner)
            ),
            python_schema=core_schema.with_info_before_validator_function(_to_json_object, inner),
        )

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> Any:
        assert schema["type"] == "json-or-python"  # noqa: S101 - built just above
        return handler(schema["python_schema"])


_JSON_OBJECT: Final = _JsonObjectSchema()

Timestamp = Annotated[datetime, AfterValidator(_storable_instant)]
"""A timestamp; naive input is read as UTC, so stored values are always timezone-aware."""

JsonObject = Annotated[
    dict[str, Any],
    _JSON_OBJECT,
    Field(
        description=f"A JSON object nested at most {MAX_JSON_DEPTH} levels; no NUL in its "
        f"strings or keys; numbers finite, integers within int64, floats below "
        f"{MAX_JSON_FLOAT:g} in magnitude."
    ),
]
"""A JSON object; any Python value inside is converted to its JSON form on construction."""

DurationMs = Annotated[float, Field(ge=0, le=MAX_DURATION_MS)]
"""A duration in milliseconds: finite, non-negative, at most :data:`MAX_DURATION_MS`."""
Identifier = Annotated[str, Field(max_length=MAX_ID_CHARS)]
"""A session, prompt, tool-use or agent-instance id (indexed: bounded in length)."""
AgentName = Annotated[str, Field(max_length=MAX_NAME_CHARS)]
"""The name of an agent (indexed: bounded in length; required ones are also non-empty)."""

NUL_FREE_JSON: Final[dict[str, Any]] = {"omniclaude.nul_free_json": True}
"""Validation context for :meth:`~pydantic.BaseModel.model_validate_json` of bytes in which
``b"\\u0000"`` does not occur (the only way JSON writes a NUL): string fields then need no
check (a memchr over the raw record is cheaper than one per field). Pass it only after that
scan; JSON fields and extras are checked either way."""

JSON_NATIVE: Final[dict[str, Any]] = {"omniclaude.json_native": True}
"""Validation context for :meth:`~pydantic.BaseModel.model_validate` of a mapping whose JSON
fields (:func:`json_fields`) the caller already converted with :func:`to_json_native`: they
are checked against the limits like any input, not converted (copied) a second time. Every
other field is validated as usual. The SDK's loggers pass it (they convert details once,
then redact them, then build the event)."""


@cache
def json_fields(model: type[BaseModel]) -> tuple[str, ...]:
    """The names of ``model``'s JSON fields (typed :data:`JsonObject`), cached per model (a
    C-level cache: this is asked once per event)."""
    return tuple(
        name
        for name, info in model.model_fields.items()
        if any(item is _JSON_OBJECT for item in info.metadata)
    )


def _mentions_str(annotation: Any) -> bool:
    """True when a field's type can hold a plain ``str`` (``str | None``, ``list[str]``...)."""
    if annotation is str:
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return False
    if origin is Annotated:
        return _mentions_str(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType, list, tuple, set, frozenset):
        return any(_mentions_str(arg) for arg in typing.get_args(annotation))
    return False


@cache
def _text_fields(model: type[BaseModel]) -> tuple[str, ...]:
    return tuple(
        name for name, info in model.model_fields.items() if _mentions_str(info.annotation)
    )


def _problem(  # noqa: PLR0912 - one branch per kind of field, inlined: runs for every event
    model: BaseModel, *, texts: bool, surrogates: bool
) -> tuple[tuple[str | int, ...], str, Any] | None:
    """Find the first string field or extra field of ``model`` that cannot be stored."""
    if texts:
        values = model.__dict__
        for name in _text_fields(type(model)):
            value = values[name]
            if value is None:
                continue
            if type(value) is str:
                if "\x00" in value or (surrogates and not value.isascii()):
                    problem = text_problem(value)
                    if problem is not None:
                        return (name,), problem, value
            elif type(value) is list:
                for index, item in enumerate(value):
                    problem = text_problem(item) if type(item) is str else None
                    if problem is not None:
                        return (name, index), problem, item
    extra = model.__pydantic_extra__
    if extra:
        # Unknown fields are stored as JSON: the same rules as details apply to them.
        for key, value in extra.items():
            problem = text_problem(key)
            if problem is not None:
                return (), f"field name {key!a} {problem}", key
            found = json_problem(value, surrogates=surrogates, texts=texts)
            if found is not None:
                return (key, *found.path()), found.message, value
    return None


class StorableModel(BaseModel):
    """A model whose every value can be stored by PostgreSQL and read back exactly.

    Numbers must be finite (``allow_inf_nan=False``); string fields and unknown extra fields
    (kept in ``metadata``) are checked here, JSON fields by :data:`JsonObject`. Fields named
    in ``_checked_inline`` hold plain models (no validator of their own, which saves a call
    per event) whose strings are checked here too.
    """

    model_config = ConfigDict(frozen=True, extra="allow", allow_inf_nan=False)
    _checked_inline: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="after")
    def _check_storable(self, info: ValidationInfo) -> Self:
        if info.context is NUL_FREE_JSON and not self.__pydantic_extra__:
            # The consumer's hot path, kept to a few lookups: nothing left to check unless a
            # nested plain model carries extra fields.
            values = self.__dict__
            for name in type(self)._checked_inline:
                nested = values[name]
                if nested is not None and nested.__pydantic_extra__:
                    break
            else:
                return self._complete()
        # Text parsed from JSON bytes cannot hold an unpaired surrogate, and with the
        # NUL_FREE_JSON context the decoder already knows it holds no NUL.
        texts = info.context is not NUL_FREE_JSON
        surrogates = info.mode != "json"
        found = _problem(self, texts=texts, surrogates=surrogates)
        if found is not None:
            raise unstorable_error(type(self), *found)
        values = self.__dict__
        for name in type(self)._checked_inline:
            nested = values[name]
            if nested is not None and nested is not _CHECKED[0]:
                found = _problem(nested, texts=texts, surrogates=surrogates)
                if found is not None:
                    loc, reason, value = found
                    raise unstorable_error(type(self), (name, *loc), reason, value)
        return self._complete()

    def _complete(self) -> Self:
        """Fill in what is derived from other fields, once they are checked (a subclass's
        step of the one after-validator: a second ``model_validator`` would cost another
        validator call per event)."""
        return self


class ProducerInfo(BaseModel):
    """Who produced an event: the library, its version, the host and the process.

    Its strings are checked by the event that carries it.
    """

    model_config = ConfigDict(frozen=True, extra="allow", allow_inf_nan=False)

    name: str = "omniclaude"
    version: str = __version__
    host: str | None = None
    pid: int | None = Field(default=None, ge=INT8_MIN, le=INT8_MAX)

    @staticmethod
    def current() -> ProducerInfo:
        """Return (cached) metadata describing this process."""
        return _current_producer()


@lru_cache(maxsize=1)
def _current_producer() -> ProducerInfo:
    producer = ProducerInfo(host=socket.gethostname(), pid=os.getpid())
    found = _problem(producer, texts=True, surrogates=True)
    if found is None:
        _CHECKED[0] = producer  # frozen: every event made here carries it, checked once
    return producer


_CHECKED: list[ProducerInfo | None] = [None]
"""The current process's :class:`ProducerInfo`, once it was found storable (or None)."""


class EventBase(StorableModel):
    """Fields every event carries. Subclasses add ``event_type`` and their payload.

    Unknown fields are kept (``extra="allow"``) so events from a newer producer lose nothing;
    the storage layer keeps them in the row's ``metadata``.
    """

    model_config = ConfigDict(
        frozen=True,
        extra="allow",
        populate_by_name=True,
        str_strip_whitespace=False,
        allow_inf_nan=False,
        ser_json_inf_nan="constants",
    )
    _checked_inline: ClassVar[tuple[str, ...]] = ("producer",)

    event_id: uuid.UUID = Field(
        default_factory=new_event_id,
        description="Unique id of this event; the idempotency key on every path.",
    )
    correlation_id: uuid.UUID = Field(
        description="Id of the execution (trace) this event belongs to.",
    )
    timestamp: Timestamp = Field(
        default_factory=_now_utc,
        description="When it happened; for a timed event (one with started_at), when it ended. "
        f"Timezone-aware (naive is read as UTC), from {TIMESTAMP_MIN:%Y-%m-%d} up to (not "
        f"including) {TIMESTAMP_MAX:%Y-%m-%d}, UTC.",
    )
    producer: ProducerInfo | None = Field(
        default_factory=_current_producer,  # the cache itself: no Python frame per event
        description="Who produced the event; null when unknown (decoders never fill it in).",
    )
    schema_version: int = Field(
        default=1,
        ge=1,
        le=INT4_MAX,
        description="Version of this event type's contract; bump on change.",
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

    def _complete(self) -> Self:
        """Fill ``started_at`` (timestamp minus the duration) when the producer sent none."""
        if self.started_at is None:
            duration = getattr(self, self.DURATION_FIELD, None) or 0.0
            if not duration:
                # Frozen model: set once, during validation, before anyone can read it.
                object.__setattr__(self, "started_at", self.timestamp)
                return self
            start = self.timestamp - timedelta(milliseconds=duration)
            # Stored as a column: the same range as any timestamp (years clear of the ends
            # need no comparison).
            problem = (
                None if _SAFE_YEARS[0] < start.year < _SAFE_YEARS[1] else instant_problem(start)
            )
            if problem is not None:
                raise unstorable_error(
                    type(self),
                    (self.DURATION_FIELD,),
                    f"puts the start (timestamp minus it) out of range: started_at {problem}",
                    duration,
                )
            object.__setattr__(self, "started_at", start)
        return self

    @property
    def start(self) -> datetime:
        """``started_at`` (always set once the event is built)."""
        return self.started_at or self.timestamp
