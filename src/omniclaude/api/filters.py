"""The read layer's filters as query parameters: one declaration for the API and the viewer.

``GET /executions`` and the viewer's executions page take the same parameters through the
same dependency (:data:`ExecutionQuery`), so the same query string means the same rows;
likewise the overview's and the usage report's window. A bad value is a 422 naming the
parameter (``query.<name>: ...``); an empty value means "not set" (what an HTML form sends
for an empty field).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Path, Query
from pydantic import BeforeValidator

from omniclaude.api.deps import http_error
from omniclaude.api.params import QueryAgent, QueryCursor, QueryId, QueryInstant, QuerySearch
from omniclaude.events import ExecutionStatus
from omniclaude.storage.queries import (
    DEFAULT_RANGE,
    MAX_PAGE,
    ExecutionFilter,
    InvalidFilterError,
    UsageGroup,
    UsageQuery,
    decode_cursor,
)
from omniclaude.storage.queries.filters import Cursor, TimeRange, resolve_window
from omniclaude.storage.queries.ids import AmbiguousIdError, resolve_correlation_id
from omniclaude.storage.queries.usage import DEFAULT_ROWS as DEFAULT_USAGE_ROWS
from omniclaude.storage.queries.usage import MAX_ROWS as MAX_USAGE_ROWS

__all__ = [
    "ID_PATTERN",
    "ExecutionQuery",
    "IdText",
    "PageQuery",
    "UsageParams",
    "Window",
    "WindowQuery",
    "resolve_path_id",
]


def _unset_if_empty(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


Blank = BeforeValidator(_unset_if_empty)
"""An empty value means "not set" (for parameters whose type has no length constraint)."""
RangeName = Annotated[
    TimeRange | None,
    Blank,
    Query(
        alias="range",
        description=f"A window ending at ``until`` (default {DEFAULT_RANGE}); ignored when "
        "``since`` is given.",
    ),
]
Since = Annotated[
    QueryInstant | None, Blank, Query(description="Start of the window (inclusive; naive: UTC).")
]
Until = Annotated[
    QueryInstant | None, Blank, Query(description="End of the window (exclusive; default: now).")
]


def _filter_error(exc: InvalidFilterError) -> Exception:
    return http_error(422, f"query.{exc.field}", str(exc).partition(": ")[2])


def execution_filter(
    *,
    range_: RangeName = None,
    since: Since = None,
    until: Until = None,
    agent: Annotated[QueryAgent | None, Query()] = None,
    status: Annotated[ExecutionStatus | None, Blank, Query()] = None,
    parent_correlation_id: Annotated[uuid.UUID | None, Blank, Query()] = None,
    session_id: Annotated[
        QueryId | None, Query(description="A session id, or its beginning.")
    ] = None,
    q: Annotated[
        QuerySearch | None,
        Query(
            description="Text in the prompt or the error message (any case); the beginning "
            "of a correlation or session id also matches.",
        ),
    ] = None,
    top_level: Annotated[bool, Query(description="Only executions without a parent.")] = False,
) -> ExecutionFilter:
    """The executions filter of a request (422 naming the parameter when one is invalid)."""
    try:
        return ExecutionFilter.build(
            range_=range_, since=since, until=until, agent=agent,
            status=status, parent=parent_correlation_id, session=session_id, text=q,
            top_level=top_level,
        )  # fmt: skip
    except InvalidFilterError as exc:
        raise _filter_error(exc) from exc


ExecutionQuery = Annotated[ExecutionFilter, Depends(execution_filter)]
"""The executions filter, from ``range since until agent status parent_correlation_id
session_id q top_level``."""


class Page:
    """Which page of a list: how many rows and after which position."""

    def __init__(self, limit: int, after: Cursor | None) -> None:
        self.limit = limit
        self.after = after


def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Rows per page.")] = 50,
    cursor: Annotated[
        QueryCursor | None, Query(description="The ``next_cursor`` of the previous page.")
    ] = None,
) -> Page:
    """The page of a request (422 for a cursor this API did not make)."""
    try:
        return Page(limit, decode_cursor(cursor) if cursor and cursor.strip() else None)
    except InvalidFilterError as exc:
        raise _filter_error(exc) from exc


PageQuery = Annotated[Page, Depends(page_params)]


class Window:
    """A resolved ``since <= t < until``."""

    def __init__(self, since: datetime, until: datetime) -> None:
        self.since = since
        self.until = until


def window_params(range_: RangeName = None, since: Since = None, until: Until = None) -> Window:
    """The window of a request, resolved as every list resolves it."""
    try:
        return Window(*resolve_window(range_=range_, since=since, until=until))
    except InvalidFilterError as exc:
        raise _filter_error(exc) from exc


WindowQuery = Annotated[Window, Depends(window_params)]


def usage_params(
    *,
    range_: RangeName = None,
    since: Since = None,
    until: Until = None,
    group_by: Annotated[UsageGroup, Query(description="What each row is.")] = UsageGroup.DAY,
    model: Annotated[QueryAgent | None, Query(description="Only this model.")] = None,
    project: Annotated[QuerySearch | None, Query(description="Only this project.")] = None,
    session_id: Annotated[QueryId | None, Query(description="Only this session.")] = None,
    limit: Annotated[
        int,
        Query(
            ge=1,
            le=MAX_USAGE_ROWS,
            description="At most this many rows (days oldest first, other groups costliest "
            "first); `groups` says how many the window has, `total` covers them all.",
        ),
    ] = DEFAULT_USAGE_ROWS,
) -> UsageQuery:
    """The usage report a request asks for."""
    try:
        return UsageQuery.build(
            range_=range_, since=since, until=until, group_by=group_by,
            model=model, project=project, session=session_id, limit=limit,
        )  # fmt: skip
    except InvalidFilterError as exc:
        raise _filter_error(exc) from exc


UsageParams = Annotated[UsageQuery, Depends(usage_params)]


ID_PATTERN = r"^[0-9a-fA-F-]{8,36}$"
"""A correlation id in a path: the full UUID, or its first 8+ hex digits (a short id)."""
IdText = Annotated[
    str,
    Path(
        pattern=ID_PATTERN,
        description="A correlation id, or its first 8 or more hex digits (a short id).",
        examples=["3f2a9c1e", "3f2a9c1e-4b7d-4e8f-9a0b-1c2d3e4f5a6b"],
    ),
]


async def resolve_path_id(db: Any, text: str, *, field: str = "path.correlation_id") -> uuid.UUID:
    """The correlation id a path's id stands for.

    Raises:
        HTTPException: 422 not an id, 409 a short id several ids start with (listing some),
            404 no execution starts with it.
    """
    try:
        found = await resolve_correlation_id(db, text, field=field)
    except AmbiguousIdError as exc:
        raise http_error(409, field, str(exc).partition(": ")[2]) from exc
    except InvalidFilterError as exc:
        raise http_error(422, field, str(exc).partition(": ")[2]) from exc
    if found is None:
        raise http_error(404, field, f"no execution starts with {text!r}")
    return found
