"""The current correlation id, kept in a :mod:`contextvars` variable.

Nested calls and asyncio tasks created inside a scope inherit it (tasks copy the context when
they are created), so ``log_*`` calls need not pass the id around. Every id is accepted as a
:class:`uuid.UUID` or its string form.
"""

from __future__ import annotations

import uuid
from contextvars import ContextVar, Token
from types import TracebackType
from typing import Final

from omniclaude.errors import EventValidationError

__all__ = [
    "NoCorrelationIdError",
    "coerce_correlation_id",
    "correlation_scope",
    "current_correlation_id",
    "reset_correlation_id",
    "resolve_correlation_id",
    "set_correlation_id",
]

_CURRENT: Final[ContextVar[uuid.UUID | None]] = ContextVar(
    "omniclaude_correlation_id", default=None
)


class NoCorrelationIdError(EventValidationError):
    """``correlation_id`` was omitted and no correlation scope is active."""


def coerce_correlation_id(value: uuid.UUID | str, *, field: str = "correlation_id") -> uuid.UUID:
    """Return ``value`` as a UUID.

    Args:
        value: a UUID or its string form (any form :class:`uuid.UUID` parses).
        field: the name used in the error message.

    Raises:
        EventValidationError: ``value`` is not a UUID; the message names ``field``.
    """
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, str):
        try:
            return uuid.UUID(value)
        except ValueError:
            pass
    raise EventValidationError(f"{field}: {value!r} is not a UUID", field=field)


def current_correlation_id() -> uuid.UUID | None:
    """Return the correlation id of the innermost active scope, or None."""
    return _CURRENT.get()


def resolve_correlation_id(value: uuid.UUID | str | None) -> uuid.UUID:
    """Return ``value`` as a UUID, or the current one when ``value`` is None.

    Raises:
        NoCorrelationIdError: ``value`` is None and no scope is active.
        EventValidationError: ``value`` is not a UUID.
    """
    if value is None:
        current = _CURRENT.get()
        if current is None:
            raise NoCorrelationIdError(
                "correlation_id: none given and no correlation scope is active "
                "(pass correlation_id=..., or use correlation_scope() / "
                "AgentExecutionLogger.start())",
                field="correlation_id",
            )
        return current
    return coerce_correlation_id(value)


def set_correlation_id(value: uuid.UUID | str) -> Token[uuid.UUID | None]:
    """Make ``value`` the current correlation id; return the token to undo it.

    Raises:
        EventValidationError: ``value`` is not a UUID.
    """
    return _CURRENT.set(coerce_correlation_id(value))


def reset_correlation_id(token: Token[uuid.UUID | None]) -> None:
    """Restore the correlation id that was current before :func:`set_correlation_id`."""
    _CURRENT.reset(token)


class correlation_scope:  # noqa: N801 - used like a function: ``with correlation_scope(cid):``
    """Make a correlation id current for a ``with`` or ``async with`` block.

    ``correlation_scope()`` without an argument starts a new trace with a fresh id.
    The id is available as the context manager's value.

    Example:
        >>> with correlation_scope() as cid:
        ...     assert current_correlation_id() == cid
    """

    __slots__ = ("_token", "correlation_id")

    def __init__(self, correlation_id: uuid.UUID | str | None = None) -> None:
        self.correlation_id: uuid.UUID = (
            uuid.uuid4() if correlation_id is None else coerce_correlation_id(correlation_id)
        )
        self._token: Token[uuid.UUID | None] | None = None

    def __enter__(self) -> uuid.UUID:
        self._token = _CURRENT.set(self.correlation_id)
        return self.correlation_id

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._token is not None:
            _CURRENT.reset(self._token)
            self._token = None

    async def __aenter__(self) -> uuid.UUID:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)
