"""Query-string parsing for the viewer: time ranges, filters, cursors. Pure functions.

Every error is a :class:`ValueError` whose message starts with the parameter's name, which
the routes turn into a 422 with that one line.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Final

from omniclaude.api.viewer.queries import ExecutionFilter

__all__ = [
    "OVERVIEW_WINDOWS",
    "RANGES",
    "STATUSES",
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


def parse_instant(name: str, text: str) -> datetime:
    """Parse an ISO-8601 time; a time without zone is read as UTC.

    Raises:
        ValueError: ``text`` is not an ISO-8601 time (the message names ``name``).
    """
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{name}: {text!r} is not an ISO-8601 time") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _choice(params: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str | None:
    value = (params.get(name) or "").strip()
    if not value:
        return None
    if value not in allowed:
        raise ValueError(f"{name}: {value!r} is not one of {', '.join(allowed)}")
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
    text = (params.get("q") or "").strip() or None
    if text is not None and len(text) > MAX_TEXT:
        raise ValueError(f"q: longer than {MAX_TEXT} characters")
    agent = (params.get("agent") or "").strip() or None
    before = None
    if params.get("before"):
        try:
            before = decode_cursor(params["before"])
        except InvalidCursorError:
            raise ValueError("before: not a cursor from a previous page") from None
    limit_text = (params.get("limit") or "50").strip()
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_PAGE:
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
