"""The one answer to "try again?", and the one backoff, for every retry loop in OmniClaude.

:func:`is_retriable` classifies a failure by what the error says about itself, never by its
class name:

1. an explicit ``retriable`` flag: :class:`~omniclaude.errors.OmniClaudeError` subclasses
   declare one, and so does every ``aiokafka.errors.KafkaError`` (aiokafka's own retry code
   reads it). Two aiokafka errors are read as retriable although their flag is False, because
   they describe *this client's* wait, not the broker's answer: ``KafkaTimeoutError`` (the
   record expired in the producer while the broker was unreachable) and ``ProducerClosed``
   (the producer was stopped under the record). A record refused by a broker
   (``MessageSizeTooLargeError``, ``TopicAuthorizationFailedError``, ...) keeps its flag;
2. a PostgreSQL SQLSTATE (``asyncpg``'s ``sqlstate``): the classes that describe the server's
   state rather than the statement - 08 connection, 40 transaction rollback (serialization,
   deadlock), 53 insufficient resources, 57 operator intervention (shutdown, cannot connect
   now, statement timeout), 58 system error - and lock or object-in-use conflicts (55P03,
   55006), and a row whose time partition does not exist (yet, or any more:
   :func:`is_missing_partition`; the writer creates it on the next attempt). A constraint
   violation, a bad value or a missing table is not retried;
3. transient operating-system failures: timeouts, refused or reset connections, unreachable
   hosts or networks, a temporary name-resolution failure, interrupted calls, a bare
   ``OSError`` without an errno (asyncio's "Multiple exceptions" when every address of a host
   failed to connect), and a cancelled attempt (``asyncio.CancelledError`` of an abandoned
   future) - never a file-system error (``FileNotFoundError``, ``PermissionError``, ...);
4. anything else - ``FileNotFoundError``, ``ValueError``, a bug - is not retriable.

:func:`is_data_error` answers the consumer's other question: is the *row* at fault (dead-letter
it) or the database (keep the batch)?

Callers decide what "not retriable" means for them: the Kafka sink dead-letters the record
after one attempt, the agent runtime fails the tool call at once, the consumer keeps a good
batch (it is not the data's fault) but waits at its longest backoff and reports the error.

:class:`Backoff` is exponential with jitter: the ceiling doubles from ``initial_s`` up to
``max_s``, and each delay is drawn from the top ``jitter`` share below the ceiling (so
processes that failed together do not retry in lock-step).
"""

from __future__ import annotations

import asyncio
import errno
import random
import socket
import sys
from typing import Final

__all__ = ["Backoff", "is_data_error", "is_missing_partition", "is_retriable"]

_TRANSIENT_OS: Final = (
    TimeoutError,
    ConnectionError,
    BlockingIOError,
    InterruptedError,
    asyncio.CancelledError,
)
_NETWORK_ERRNOS: Final = frozenset(
    {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ENETDOWN, errno.EHOSTDOWN,
     errno.EADDRNOTAVAIL, errno.ETIMEDOUT, socket.EAI_AGAIN}
)  # fmt: skip
_FILE_SYSTEM: Final = (
    FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError, PermissionError
)  # fmt: skip
_RETRIABLE_SQLSTATE_CLASSES: Final = frozenset({"08", "40", "53", "57", "58"})
_RETRIABLE_SQLSTATES: Final = frozenset({"55P03", "55006"})
"""lock_not_available, object_in_use."""
_DATA_SQLSTATE_CLASSES: Final = frozenset({"22", "23", "54"})
"""data exception, integrity constraint violation, program limit exceeded."""
_CHECK_VIOLATION: Final = "23514"
_MISSING_PARTITION: Final = "no partition of relation"


def is_missing_partition(exc: BaseException) -> bool:
    """True when ``exc`` is PostgreSQL's "no partition of relation ... found for row".

    The row is fine: its time partition does not exist (yet, or any more: retention dropped
    it). Creating the partition and writing again succeeds, so this is the database's
    state, not the data's fault (PostgreSQL reports it as a check violation, class 23).
    """
    if getattr(exc, "sqlstate", None) != _CHECK_VIOLATION:
        return False
    message = getattr(exc, "message", None) or (exc.args[0] if exc.args else "")
    return isinstance(message, str) and message.startswith(_MISSING_PARTITION)


def _client_side_kafka_waits() -> tuple[type[BaseException], ...]:
    """aiokafka's errors that report the client's own expired wait (see the module doc).

    Read from ``sys.modules`` so this module never imports aiokafka itself: if aiokafka is
    not imported, no exception can be one of its classes.
    """
    errors = sys.modules.get("aiokafka.errors")
    if errors is None:
        return ()
    return (errors.KafkaTimeoutError, errors.ProducerClosed)


def is_retriable(exc: BaseException) -> bool:
    """Return whether another attempt of the operation that raised ``exc`` can succeed.

    See the module docstring for the rules, in the order they apply.
    """
    waits = _client_side_kafka_waits()
    if waits and isinstance(exc, waits):
        return True
    flag = getattr(exc, "retriable", None)
    if isinstance(flag, bool):
        return flag
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str) and len(sqlstate) == 5:
        return (
            sqlstate[:2] in _RETRIABLE_SQLSTATE_CLASSES
            or sqlstate in _RETRIABLE_SQLSTATES
            or is_missing_partition(exc)
        )
    if isinstance(exc, _TRANSIENT_OS):
        return True
    if not isinstance(exc, OSError) or isinstance(exc, _FILE_SYSTEM):
        return False
    return exc.errno in _NETWORK_ERRNOS or (exc.errno is None and type(exc) is OSError)


def is_data_error(exc: BaseException) -> bool:
    """Return whether ``exc`` means the *data* can never be stored, whatever is retried.

    True for PostgreSQL's data classes (SQLSTATE 22 data exception, 23 integrity constraint,
    54 program limit) and for values the driver cannot encode (``ValueError``, ``TypeError``,
    ``ArithmeticError`` raised while building or encoding a row). The consumer dead-letters
    such rows; every other failure is the database's state, and the batch is kept.

    A wrapper (``StorageError`` raised ``from`` the driver's error) is judged by its cause.
    """
    current: BaseException | None = exc
    for _ in range(8):  # a bounded walk down the cause chain
        if current is None:
            break
        sqlstate = getattr(current, "sqlstate", None)
        if isinstance(sqlstate, str):
            return sqlstate[:2] in _DATA_SQLSTATE_CLASSES and not is_missing_partition(current)
        if isinstance(current, ValueError | TypeError | ArithmeticError):
            return True
        current = current.__cause__
    return False


class Backoff:
    """Exponential backoff with jitter.

    The ceiling of attempt ``n`` (from 0) is ``min(max_s, initial_s * multiplier ** n)``; the
    delay is drawn uniformly from ``[ceiling * (1 - jitter), ceiling]``.

    Args:
        initial_s: the first ceiling.
        max_s: the largest ceiling (at least ``initial_s``).
        multiplier: growth per attempt.
        jitter: share of the ceiling that is random (0: deterministic, 1: full jitter).
        rng: the random source (tests pass a seeded one).
    """

    def __init__(
        self,
        initial_s: float,
        max_s: float,
        *,
        multiplier: float = 2.0,
        jitter: float = 0.5,
        rng: random.Random | None = None,
    ) -> None:
        if initial_s < 0 or multiplier < 1 or not 0 <= jitter <= 1:
            raise ValueError("Backoff: initial_s >= 0, multiplier >= 1 and 0 <= jitter <= 1")
        self.initial_s = initial_s
        self.max_s = max(max_s, initial_s)
        self.multiplier = multiplier
        self.jitter = jitter
        self.attempts = 0
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography

    def ceiling(self) -> float:
        """The ceiling of the next attempt (its longest possible delay)."""
        return min(self.max_s, self.initial_s * self.multiplier**self.attempts)

    def next_delay(self) -> float:
        """Return the delay before the next attempt and count the attempt."""
        ceiling = self.ceiling()
        self.attempts += 1
        return ceiling * (1 - self.jitter * self._rng.random())

    def longest(self) -> float:
        """Jump to the largest ceiling and return a delay from it (for failures no retry cures
        soon: an operator has to act, so hammering helps nobody)."""
        for _ in range(64):  # bounded: a zero initial_s never reaches max_s
            if self.ceiling() >= self.max_s:
                break
            self.attempts += 1
        return self.next_delay()

    def reset(self) -> None:
        """Start again from ``initial_s`` (after a success)."""
        self.attempts = 0
