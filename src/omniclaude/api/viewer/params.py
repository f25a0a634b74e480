"""Query-string parsing for the viewer: time ranges, filters, cursors. Pure functions.

Every error is a :class:`ValueError` whose message starts with the parameter's name, which
the routes turn into a 422 with that one line. Text, times and cursors are checked by the
API's shared parameter rules (:mod:`omniclaude.api.params`): nothing reaches the database
that it would refuse. :class:`ExecutionsQuery` and :class:`OverviewQuery` declare the
parameters (for the OpenAPI description and for generated tests); the parsers validate them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from omniclaude.api import params as shared
from omniclaude.api.viewer.queries import ExecutionFilter
from omniclaude.events.limits import MAX_NAME_CHARS

__all__ = [
    "OVERVIEW_WINDOWS",
    "RANGES",
    "STATUSES",
    "ExecutionsQuery",
    "OverviewQuery",
    "parse_execution_filter",
    "parse_instant",
    "parse_window",
]

RANGES: Final[dict[str, timedelta]] = {
    "15m": timedelta(minutes=15),
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
"""Time ranges offered by the executions list; ``24h`` is the default."""

OVERVIEW_WINDOWS: Final[dict[str, timedelta]] = {
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
}

STATUSES: Final = ("in_progress", "success", "failed", "cancelled")
MAX_PAGE = 200
MAX_TEXT = 200


parse_instant = shared.parse_instant
"""Parse an ISO-8601 time (naive read as UTC) within the stored range; see
:func:`omniclaude.api.params.parse_instant`."""


class ExecutionsQuery(BaseModel):
    """The executions list's query parameters (validated by :func:`parse_execution_filter`)."""

    model_config = ConfigDict(extra="ignore")

    range: str | None = Field(default=None, description=f"One of {', '.join(RANGES)}.")
    since: str | None = Field(default=None, description="ISO-8601 time (naive: UTC).")
    until: str | None = Field(default=None, description="ISO-8601 time (naive: UTC).")
    agent: str | None = None
    status: str | None = Field(default=None, description=f"One of {', '.join(STATUSES)}.")
    q: str | None = Field(default=None, description="Text in the prompt or agent, or an id.")
    roots: str | None = Field(default=None, description="1: top-level executions only.")
    before: str | None = Field(default=None, description="Cursor from the previous page.")
    limit: str | None = Field(default=None, description=f"1..{MAX_PAGE}, default 50.")


class OverviewQuery(BaseModel):
    """The overview's query parameters (validated by :func:`parse_window`)."""

    model_config = ConfigDict(extra="ignore")

    window: str | None = Field(default=None, description=f"One of {', '.join(OVERVIEW_WINDOWS)}.")


def _text(params: Mapping[str, str], name: str, max_chars: int) -> str | None:
    value = (params.get(name) or "").strip() or None
    if value is None:
        return None
    if len(value) > max_chars:
        raise ValueError(f"{name}: longer than {max_chars} characters")
    try:
        return shared.check_text(value)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None


def _choice(params: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str | None:
    value = (params.get(name) or "").strip()
    if not value:
        return None
    if value not in allowed:
        raise ValueError(f"{name}: {value[:40]!r} is not one of {', '.join(allowed)}")
    return value


def parse_execution_filter(params: Mapping[str, str], now: datetime) -> ExecutionFilter:
    """Build the executions list's filter from the query string.

    Parameters: ``range`` (15m, 1h, 6h, 24h, 7d, 30d; default 24h) or ``since``/``until``
    (ISO-8601), ``agent``, ``status``, ``q`` (text in the prompt or agent name, or an exact
    correlation or session id), ``roots`` (``1``: top-level executions only), ``before`` (a
    cursor from the previous page) and ``limit`` (1..200, default 50).

    Raises:
        ValueError: a parameter is invalid; the message names it.
    """
    from omniclaude.storage.queries import InvalidCursorError, decode_cursor

    range_name = _choice(params, "range", tuple(RANGES)) or "24h"
    until = parse_instant("until", params["until"]) if params.get("until") else now
    if params.get("since"):
        since = parse_instant("since", params["since"])
    else:
        since = until - RANGES[range_name]
    if since >= until:
        raise ValueError("since: must be earlier than until")
    text = _text(params, "q", MAX_TEXT)
    agent = _text(params, "agent", MAX_NAME_CHARS)
    before = None
    if params.get("before"):
        try:
            before = decode_cursor(params["before"])
        except InvalidCursorError:
            raise ValueError("before: not a cursor from a previous page") from None
    limit_text = (params.get("limit") or "50").strip()
    digits = limit_text.isascii() and limit_text.isdigit() and len(limit_text) <= len(str(MAX_PAGE))
    if not digits or not 1 <= int(limit_text) <= MAX_PAGE:
        raise ValueError(f"limit: must be a whole number in 1..{MAX_PAGE}")
    return ExecutionFilter(
        since=since,
        until=until,
        agent=agent,
        status=_choice(params, "status", STATUSES),
        text=text,
        roots_only=params.get("roots") in ("1", "true", "on"),
        before=before,
        limit=int(limit_text),
    )


def parse_window(params: Mapping[str, str]) -> tuple[str, timedelta]:
    """Return the overview's window (``window``: 1h, 24h or 7d; default 24h).

    Raises:
        ValueError: an unknown window.
    """
    name = _choice(params, "window", tuple(OVERVIEW_WINDOWS)) or "24h"
    return name, OVERVIEW_WINDOWS[name]
