"""One table's export, start to end: the read layer's chunks through an encoder to a sink."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

from omniclaude.export.formats import Format, make_encoder
from omniclaude.storage.queries.export import export_columns, stream_rows

__all__ = ["export_table"]


async def export_table(
    conn: Any,
    table: str,
    since: datetime,
    until: datetime,
    *,
    fmt: Format,
    write: Callable[[bytes], object],
    advance: Callable[[int], object] | None = None,
    statement_timeout_ms: int = 60_000,
) -> int:
    """Write the window's rows of ``table`` in ``fmt`` through ``write``; return how many.

    Memory holds one chunk of rows (and its bytes) at a time.

    Args:
        conn: an ``asyncpg.Connection`` (with the shared codecs).
        table: an exportable table.
        since: start of the window (inclusive).
        until: end of the window (exclusive).
        fmt: the format.
        write: takes each piece of the file's bytes, in order.
        advance: told how many rows each chunk held (a progress bar).
        statement_timeout_ms: the longest one statement may run.

    Raises:
        InvalidFilterError: ``table`` is not exportable.
    """
    encoder = make_encoder(fmt, table, await export_columns(conn, table))
    write(encoder.begin())
    total = 0
    chunks = stream_rows(
        conn, table, since, until, shape=encoder.shape, chunk_rows=encoder.chunk_rows,
        statement_timeout_ms=statement_timeout_ms,
    )  # fmt: skip
    async with contextlib.aclosing(chunks):
        async for chunk in chunks:
            data = encoder.encode(chunk)
            if data:
                write(data)
            total += len(chunk)
            if advance is not None:
                advance(len(chunk))
    write(encoder.end())
    return total
