"""The one filter of executions, its one time window, and the keyset cursor of every list.

A window is half-open, ``since <= created_at < until`` (``created_at``: when the execution's
first event happened). Without ``since`` it is the ``range`` before ``until`` (24 hours by
default); without ``until`` it ends now. The API, the viewer and the CLI build their filter
with :meth:`ExecutionFilter.build`, so they mean the same by the same parameters.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final, TypeVar

from omniclaude.errors import OmniClaudeError
from omniclaude.events import utc_now
from omniclaude.events.executions import ExecutionStatus
from omniclaude.events.limits import TIMESTAMP_MAX, TIMESTAMP_MIN, instant_problem

__all__ = [
    "DEFAULT_RANGE",
    "EVERYWHEN",
    "RANGES",
    "TRACE_SLACK",
    "Cursor",
    "ExecutionFilter",
    "InvalidCursorError",
    "InvalidFilterError",
    "TimeRange",
    "Window",
    "choice",
    "decode_cursor",
    "encode_cursor",
    "escape_like",
    "hex_prefix",
    "resolve_window",
    "text_or_none",
    "trace_window",
    "uuid_range",
]


class TimeRange(StrEnum):
    """The named time ranges every reader offers (``range=``)."""

    M15 = "15m"
    H1 = "1h"
    H6 = "6h"
    H24 = "24h"
    D7 = "7d"
    D30 = "30d"


RANGES: Final[dict[str, timedelta]] = {
    TimeRange.M15: timedelta(minutes=15),
    TimeRange.H1: timedelta(hours=1),
    TimeRange.H6: timedelta(hours=6),
    TimeRange.H24: timedelta(hours=24),
    TimeRange.D7: timedelta(days=7),
    TimeRange.D30: timedelta(days=30),
}
"""How long each named range is."""
DEFAULT_RANGE: Final = "24h"
"""Lists cover the last 24 hours unless a window is given."""

_HEX_ID = re.compile(r"^[0-9a-f]{4,32}$")


class InvalidFilterError(OmniClaudeError, ValueError):
    """A filter parameter is invalid; the message starts with its name."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class InvalidCursorError(InvalidFilterError):
    """A pagination cursor was not produced by :func:`encode_cursor`."""

    def __init__(self, field: str = "cursor") -> None:
        super().__init__(field, "not a cursor returned by this API")


Cursor = tuple[datetime, uuid.UUID]
"""A keyset position: the ``(created_at, id)`` of the last row of a page."""


def encode_cursor(created_at: datetime, row_id: uuid.UUID) -> str:
    """Return an opaque cursor for the position after ``(created_at, row_id)``."""
    raw = f"{created_at.isoformat()}|{row_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, field: str = "cursor") -> Cursor:
    """Return the position a cursor stands for.

    Raises:
        InvalidCursorError: the cursor is not one this module produced (names ``field``).
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, _, ident = raw.partition("|")
        created_at, row_id = datetime.fromisoformat(stamp), uuid.UUID(ident)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidCursorError(field) from exc
    if created_at.tzinfo is None or instant_problem(created_at) is not None:
        raise InvalidCursorError(field)
    return created_at, row_id


E = TypeVar("E", bound=StrEnum)


def choice(kind: type[E], value: E | str | None, field: str) -> E | None:
    """``value`` as a member of ``kind`` (None stays None).

    Raises:
        InvalidFilterError: not one of its values (the message lists them).
    """
    if value is None:
        return None
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise InvalidFilterError(field, f"must be one of {allowed}") from None


def text_or_none(value: str | None) -> str | None:
    """Stripped text, None for nothing or blanks (an empty form field means "not set")."""
    return (value or "").strip() or None


def escape_like(text: str) -> str:
    r"""Escape ``\``, ``%`` and ``_`` so ``text`` matches literally in ``LIKE ... ESCAPE '\'``."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def hex_prefix(text: str) -> str | None:
    """The lowercase hex digits of ``text`` if it can be the start of a UUID (4..32 digits,
    dashes ignored), else None."""
    digits = text.strip().lower().replace("-", "")
    return digits if _HEX_ID.match(digits) else None


def uuid_range(prefix: str) -> tuple[uuid.UUID, uuid.UUID]:
    """The first and last UUID starting with the hex digits ``prefix`` (uuid order is byte
    order, so ``BETWEEN`` these two is a range scan of the primary key)."""
    return (
        uuid.UUID(prefix.ljust(32, "0")),
        uuid.UUID(prefix.ljust(32, "f")),
    )


def resolve_window(
    *,
    range_: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    now: datetime | None = None,
) -> tuple[datetime, datetime]:
    """The one window semantics: ``since <= t < until``; ``until`` defaults to now and
    ``since`` to ``range_`` (24 hours by default) before ``until``.

    Raises:
        InvalidFilterError: an unknown range, a naive time, or ``since`` not before ``until``.
    """
    if range_ is not None and range_ not in RANGES:
        raise InvalidFilterError("range", f"must be one of {', '.join(RANGES)}")
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise InvalidFilterError(name, "needs a time zone")
    end = until or now or utc_now()
    start = since or end - RANGES[range_ or DEFAULT_RANGE]
    if start >= end:
        raise InvalidFilterError("since", "must be earlier than until")
    return start, end


TRACE_SLACK: Final = timedelta(days=1)
"""How far outside its executions' lifecycle (first event to last, or now while one runs) a
row of a trace may be stamped and still be read with it (:func:`trace_window`)."""
Window = tuple[datetime, datetime]
EVERYWHEN: Final[Window] = (TIMESTAMP_MIN, TIMESTAMP_MAX)
"""The window of a trace whose executions are not known (only its events): every day."""


def trace_window(
    executions: Iterable[tuple[datetime, datetime | None, bool]], *, now: datetime | None = None
) -> Window:
    """The ``[since, until)`` a trace's rows are read in, from its executions' ``(created_at,
    last_event_at, running)``: from the first event to the last (to now while one runs),
    widened by :data:`TRACE_SLACK` either side. Every event table is partitioned by day on
    ``created_at``, so a trace read visits those days' partitions only, not every partition
    of the retention period. No execution known: :data:`EVERYWHEN`."""
    spans = list(executions)
    if not spans:
        return EVERYWHEN
    first = min(created for created, _, _ in spans)
    last = max((ended or created) for created, ended, _ in spans)
    if any(running for _, _, running in spans):
        last = max(last, now or utc_now())
    return max(first - TRACE_SLACK, TIMESTAMP_MIN), min(last + TRACE_SLACK, TIMESTAMP_MAX)


@dataclass(frozen=True, slots=True)
class ExecutionFilter:
    """Which executions a list shows; build it with :meth:`build`.

    ``session`` matches session ids starting with it; ``text`` matches the prompt or the
    error message (any case), and when it looks like the start of an id also correlation
    and session ids starting with it.
    """

    since: datetime
    until: datetime
    agent: str | None = None
    status: ExecutionStatus | None = None
    parent: uuid.UUID | None = None
    session: str | None = None
    text: str | None = None
    top_level: bool = False

    @classmethod
    def build(
        cls,
        *,
        range_: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        agent: str | None = None,
        status: ExecutionStatus | str | None = None,
        parent: uuid.UUID | None = None,
        session: str | None = None,
        text: str | None = None,
        top_level: bool = False,
        now: datetime | None = None,
    ) -> ExecutionFilter:
        """Resolve the window and check every parameter.

        Raises:
            InvalidFilterError: a parameter is invalid (the message names it).
        """
        start, end = resolve_window(range_=range_, since=since, until=until, now=now)
        return cls(
            since=start,
            until=end,
            agent=text_or_none(agent),
            status=choice(ExecutionStatus, status, "status"),
            parent=parent,
            session=text_or_none(session),
            text=text_or_none(text),
            top_level=top_level,
        )
