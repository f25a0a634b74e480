"""``GET /export``: one table's rows of a window, streamed as JSON lines, CSV or Parquet
(the same bytes as ``omniclaude export`` writes)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from omniclaude.api.deps import Pool, ReadKey, State, http_error
from omniclaude.api.errors import ERROR_RESPONSES
from omniclaude.api.filters import WindowQuery
from omniclaude.api.schemas import ErrorResponse
from omniclaude.export.formats import MEDIA_TYPES, Format
from omniclaude.export.stream import ExportStream
from omniclaude.storage.queries.export import ExportTable, export_columns

__all__ = ["RETRY_AFTER_S", "router"]

router = APIRouter(tags=["export"], responses=ERROR_RESPONSES)

RETRY_AFTER_S = 5
"""The ``Retry-After`` of a 429 (every export place taken)."""

_TEXT: dict[str, Any] = {"schema": {"type": "string"}}
_BINARY: dict[str, Any] = {"schema": {"type": "string", "format": "binary"}}
_CONTENT = {
    "application/x-ndjson": _TEXT,
    "text/csv": _TEXT,
    MEDIA_TYPES[Format.PARQUET]: _BINARY,
}


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The rows, oldest first, in the format asked for (streamed; a "
            "body without its end means the export was cut short).",
            "content": _CONTENT,
        },
        429: {"model": ErrorResponse, "description": "Too many exports at once"},
    },
)
async def export(
    *,
    table: Annotated[ExportTable, Query(description="The table to export.")],
    window: WindowQuery,
    fmt: Annotated[
        Format,
        Query(alias="format", description="jsonl (default), csv or parquet."),
    ] = Format.JSONL,
    state: State,
    pool: Pool,
    _: ReadKey,
) -> StreamingResponse:
    """Every row of ``table`` with ``since <= created_at < until`` (``range`` or
    ``since``/``until``, the last 24 hours by default), oldest first by ``(created_at,
    correlation_id, event_id)``, streamed: ``jsonl`` (one JSON object per line), ``csv``
    (a header, strings quoted, NULL an empty unquoted field, JSON columns as JSON text) or
    ``parquet`` (row groups of 10,000 rows). A few exports run at once (429 with
    ``Retry-After`` beyond); one whose client stops reading for
    ``api.export_idle_timeout_s`` ends there. Needs ``read``."""
    gate = state.exports
    if gate is None or gate.locked():
        raise http_error(429, "service", "too many exports at once; ask again later", **{
            "Retry-After": str(RETRY_AFTER_S),
        })  # fmt: skip
    settings = state.settings.api
    columns = await export_columns(pool, table.value)
    stream = ExportStream(
        pool, table.value, columns, since=window.since, until=window.until, fmt=fmt,
        gate=gate, idle_timeout_s=settings.export_idle_timeout_s,
        statement_timeout_ms=int(settings.export_statement_timeout_s * 1000),
    )  # fmt: skip
    filename = f"{table.value}.{fmt.value}"
    return StreamingResponse(
        stream.body(),
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
