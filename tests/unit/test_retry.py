"""One retry decision for every loop: errors are classified by their own flags, not their names.

``test_retries_only_for_what_can_succeed`` is the regression test of issue 12, item 8: the
runtime retried a ``FileNotFoundError``; the Kafka sink matched class names, so 75 of aiokafka's
83 non-retriable errors would have been retried forever (and one listed name did not exist).
"""

from __future__ import annotations

import asyncio
import errno
import inspect
import random
import socket

import aiokafka.errors as kafka_errors
import asyncpg.exceptions as pg_errors
import pytest

from omniclaude import errors as omni_errors
from omniclaude.consuming.store import StoreRefusedError, TransientStoreError
from omniclaude.kafka import TopicCreationError
from omniclaude.retry import Backoff, is_data_error, is_retriable
from omniclaude.runtime import TransientToolError

_CLIENT_SIDE_WAITS = {"KafkaTimeoutError", "ProducerClosed"}
"""aiokafka's reports of this client's expired wait: retriable whatever their flag says."""


def _kafka_errors() -> list[type[BaseException]]:
    return sorted(
        {c for c in vars(kafka_errors).values()
         if inspect.isclass(c) and issubclass(c, kafka_errors.KafkaError)},
        key=lambda c: c.__name__,
    )  # fmt: skip


@pytest.mark.parametrize("error_class", _kafka_errors(), ids=lambda c: c.__name__)
def test_retries_only_for_what_can_succeed(error_class: type[BaseException]) -> None:
    """Every aiokafka error is retried exactly when its own ``retriable`` flag says so."""
    error = error_class.__new__(error_class)
    expected = error_class.__name__ in _CLIENT_SIDE_WAITS or error_class.retriable  # type: ignore[attr-defined]
    assert is_retriable(error) is expected, f"{error_class.__name__}: retried={not expected}"


def test_retries_only_for_what_can_succeed_counts_match_aiokafka() -> None:
    """Most of aiokafka's errors are not retriable, and are not retried (no name list)."""
    classes = _kafka_errors()
    refused = [c for c in classes if not is_retriable(c.__new__(c))]
    assert len(refused) == sum(1 for c in classes if not c.retriable) - 2  # type: ignore[attr-defined]
    assert kafka_errors.MessageSizeTooLargeError in refused
    assert kafka_errors.TopicAuthorizationFailedError in refused
    assert kafka_errors.UnknownError in refused


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (pg_errors.ConnectionDoesNotExistError(), True),  # 08003
        (pg_errors.CannotConnectNowError(), True),  # 57P03 server starting
        (pg_errors.AdminShutdownError(), True),  # 57P01
        (pg_errors.QueryCanceledError(), True),  # 57014 statement timeout
        (pg_errors.SerializationError(), True),  # 40001
        (pg_errors.DeadlockDetectedError(), True),  # 40P01
        (pg_errors.TooManyConnectionsError(), True),  # 53300
        (pg_errors.LockNotAvailableError(), True),  # 55P03
        (pg_errors.UniqueViolationError(), False),  # 23505
        (pg_errors.CheckViolationError(), False),  # 23514
        (pg_errors.InvalidTextRepresentationError(), False),  # 22P02
        (pg_errors.UndefinedTableError(), False),  # 42P01: migrate, do not hammer
        (pg_errors.InvalidPasswordError(), False),  # 28P01
        (pg_errors.InsufficientPrivilegeError(), False),  # 42501
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v),
)
def test_retries_only_for_what_can_succeed_by_sqlstate(
    error: BaseException, expected: bool
) -> None:
    """A PostgreSQL error is retried by its SQLSTATE class: the server's state, not the data."""
    assert is_retriable(error) is expected


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (FileNotFoundError(errno.ENOENT, "missing.py"), False),
        (FileNotFoundError("missing.py"), False),
        (PermissionError(errno.EACCES, "denied"), False),
        (IsADirectoryError(errno.EISDIR, "dir"), False),
        (ValueError("bad"), False),
        (KeyError("x"), False),
        (RuntimeError("bug"), False),
        (TimeoutError(), True),
        (ConnectionRefusedError(), True),
        (ConnectionResetError(), True),
        (BrokenPipeError(), True),
        (OSError(errno.EHOSTUNREACH, "no route to host"), True),
        (OSError("Multiple exceptions: [Errno 111] Connect call failed"), True),
        (socket.gaierror(socket.EAI_AGAIN, "temporary failure in name resolution"), True),
        (socket.gaierror(socket.EAI_NONAME, "name or service not known"), False),
        (asyncio.CancelledError(), True),
        (omni_errors.OmniClaudeError("x"), False),
        (omni_errors.ConfigurationError("x"), False),
        (omni_errors.EventValidationError("x", field="f"), False),
        (omni_errors.DeliveryError("x"), True),
        (omni_errors.StorageError("x"), True),
        (TransientToolError("503"), True),
        (TransientStoreError("x"), True),
        (StoreRefusedError("x"), False),
        (TopicCreationError("x"), True),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v),
)
def test_retries_only_for_what_can_succeed_elsewhere(error: BaseException, expected: bool) -> None:
    """OmniClaude's errors by their flag; OS failures when transient; never a missing file."""
    assert is_retriable(error) is expected


def test_the_data_is_at_fault_only_for_data_errors() -> None:
    """Data classes (22, 23, 54) and unencodable values are the row's fault; nothing else."""
    assert is_data_error(pg_errors.CheckViolationError())
    assert is_data_error(pg_errors.ProgramLimitExceededError())
    assert is_data_error(OverflowError())
    assert not is_data_error(pg_errors.UndefinedTableError())
    assert not is_data_error(pg_errors.ConnectionDoesNotExistError())
    assert not is_data_error(ConnectionResetError())


def test_backoff_grows_to_its_ceiling_with_jitter_below_it() -> None:
    """Ceilings double up to max_s; each delay is in the top ``jitter`` share; reset restarts."""
    backoff = Backoff(0.1, 1.0, jitter=0.5, rng=random.Random(3))
    delays = [backoff.next_delay() for _ in range(8)]
    assert 0.05 <= delays[0] <= 0.1
    assert 0.1 <= delays[1] <= 0.2
    assert all(0.5 <= d <= 1.0 for d in delays[4:])
    backoff.reset()
    assert backoff.next_delay() <= 0.1


def test_backoff_longest_jumps_to_the_ceiling_and_zero_jitter_is_exact() -> None:
    """A failure no retry cures waits the longest; without jitter the delays are exact."""
    backoff = Backoff(0.1, 5.0, jitter=0)
    assert [backoff.next_delay() for _ in range(3)] == pytest.approx([0.1, 0.2, 0.4])
    assert backoff.longest() == pytest.approx(5.0)
    assert Backoff(0.0, 1.0).longest() == 0.0, "a zero initial delay must not loop forever"
    with pytest.raises(ValueError, match="jitter"):
        Backoff(0.1, 1.0, jitter=2)
