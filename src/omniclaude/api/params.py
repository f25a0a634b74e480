"""Query and path parameters: one validation for every endpoint of the API and the viewer.

A parameter the database could not use is the caller's fault and answers 422 naming it,
before any query runs: text with a NUL (PostgreSQL refuses it), a time outside what the
contract stores (:data:`~omniclaude.events.limits.TIMESTAMP_MIN`..``TIMESTAMP_MAX``; beyond
it PostgreSQL holds ``±infinity`` and Python's datetime overflows), a cursor this API did not
make. FastAPI routes use the ``Annotated`` types; code that parses a raw query string (the
viewer) calls the functions, which raise ``ValueError("<name>: <why>")``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, StringConstraints

from omniclaude.events.limits import (
    MAX_CURSOR_CHARS,
    MAX_ID_CHARS,
    MAX_NAME_CHARS,
    MAX_SEARCH_CHARS,
    instant_problem,
    text_problem,
)
from omniclaude.storage.queries import InvalidCursorError, decode_cursor

__all__ = [
    "MAX_CURSOR_CHARS",
    "MAX_SEARCH_CHARS",
    "QueryAgent",
    "QueryCursor",
    "QueryId",
    "QueryInstant",
    "QuerySearch",
    "check_cursor",
    "check_instant",
    "check_text",
    "parse_instant",
]


def check_text(value: str) -> str:
    """Return ``value`` if the database can compare it; else raise ``ValueError`` (why)."""
    problem = text_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def check_instant(value: datetime) -> datetime:
    """Read a naive time as UTC; raise ``ValueError`` for one outside the stored range."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    problem = instant_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def check_cursor(value: str) -> str:
    """Return ``value`` if it is a cursor this API made; else raise ``ValueError``."""
    try:
        decode_cursor(value)
    except InvalidCursorError:
        raise ValueError("not a cursor returned by this API") from None
    return value


def parse_instant(name: str, text: str) -> datetime:
    """Parse an ISO-8601 time from a raw query string (``Z`` accepted, naive read as UTC).

    Raises:
        ValueError: not an ISO-8601 time, or outside the stored range; the message starts
            with ``name``.
    """
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{name}: {text[:40]!r} is not an ISO-8601 time") from None
    try:
        return check_instant(value)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None


QueryInstant = Annotated[datetime, AfterValidator(check_instant)]
"""An ISO-8601 time within the stored range (naive read as UTC)."""
QueryAgent = Annotated[
    str, StringConstraints(max_length=MAX_NAME_CHARS), AfterValidator(check_text)
]
"""An agent name."""
QueryId = Annotated[str, StringConstraints(max_length=MAX_ID_CHARS), AfterValidator(check_text)]
"""A session (or other) id."""
QuerySearch = Annotated[
    str, StringConstraints(max_length=MAX_SEARCH_CHARS), AfterValidator(check_text)
]
"""Free text to search for."""
QueryCursor = Annotated[
    str, StringConstraints(max_length=MAX_CURSOR_CHARS), AfterValidator(check_cursor)
]
"""A pagination cursor from a previous page."""
