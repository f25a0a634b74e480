"""An export as an HTTP body: bounded in memory, in database time and in what a slow client
can hold.

The rows are read and encoded by a producer task, the body takes the bytes from a queue of
a few chunks:

1. the producer waits for a place among the exports running at once (``gate``), takes a
   connection from the pool and reads the window through the read layer (every statement
   under ``statement_timeout_ms``);
2. each chunk is encoded in a worker thread (CSV and Parquet encoding of a chunk takes
   milliseconds of CPU the event loop must not spend);
3. it waits at most ``idle_timeout_s`` for the body to take a chunk: a client that stops
   reading makes the export end there (:class:`ExportStalledError`), the connection goes back
   to the pool and the place to the next export; the client's response is cut short (it
   never gets the end of a chunked body, so it can tell);
4. when the last chunk is queued the connection is released, before the client has read it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from omniclaude.errors import OmniClaudeError
from omniclaude.export.formats import Format, make_encoder
from omniclaude.storage.queries.export import Column, stream_rows

__all__ = ["ExportStalledError", "ExportStream"]

log = logging.getLogger(__name__)

_QUEUED_CHUNKS = 2
_END = b""


class ExportStalledError(OmniClaudeError):
    """The client took no chunk of an export for longer than the idle timeout."""


class ExportStream:
    """One export's body (iterate :meth:`body` once).

    Args:
        pool: the asyncpg pool.
        table: the table; ``columns`` its exported columns (read beforehand, so a database
            that cannot answer fails the request before any byte is sent).
        since: start of the window (inclusive).
        until: end of the window (exclusive).
        fmt: the format.
        gate: bounds the exports reading at once.
        idle_timeout_s: how long a chunk may wait for the client.
        statement_timeout_ms: the longest one statement may run.
    """

    def __init__(
        self,
        pool: Any,
        table: str,
        columns: list[Column],
        *,
        since: datetime,
        until: datetime,
        fmt: Format,
        gate: asyncio.Semaphore,
        idle_timeout_s: float,
        statement_timeout_ms: int,
    ) -> None:
        self._pool = pool
        self._table = table
        self._columns = columns
        self._since = since
        self._until = until
        self._fmt = fmt
        self._gate = gate
        self._idle_s = idle_timeout_s
        self._timeout_ms = statement_timeout_ms
        self._queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=_QUEUED_CHUNKS)
        self.rows = 0
        """Rows read so far."""

    async def _put(self, data: bytes) -> None:
        try:
            await asyncio.wait_for(self._queue.put(data), self._idle_s)
        except TimeoutError:
            raise ExportStalledError(
                f"export of {self._table}: the client read nothing for {self._idle_s:g}s"
            ) from None

    async def _produce(self) -> None:
        encoder = make_encoder(self._fmt, self._table, self._columns)
        async with self._gate, self._pool.acquire() as conn:
            head = encoder.begin()
            if head:
                await self._put(head)
            chunks = stream_rows(
                conn, self._table, self._since, self._until, shape=encoder.shape,
                chunk_rows=encoder.chunk_rows, statement_timeout_ms=self._timeout_ms,
            )  # fmt: skip
            async with contextlib.aclosing(chunks):
                async for chunk in chunks:
                    data = await asyncio.to_thread(encoder.encode, chunk)
                    self.rows += len(chunk)
                    if data:
                        await self._put(data)
        tail = await asyncio.to_thread(encoder.end)
        if tail:
            await self._put(tail)
        await self._put(_END)

    async def body(self) -> AsyncIterator[bytes]:
        """The bytes of the export, chunk by chunk.

        Raises:
            ExportStalledError: the client stopped reading (it gets a truncated body).
            asyncpg.PostgresError: the database failed mid-way (likewise).
        """
        producer = asyncio.create_task(self._produce())
        try:
            while True:
                getter = asyncio.ensure_future(self._queue.get())
                await asyncio.wait({getter, producer}, return_when=asyncio.FIRST_COMPLETED)
                if not getter.done():
                    getter.cancel()
                    if self._queue.empty():
                        producer.result()  # raises what ended it
                        return
                    continue
                data = getter.result()
                if not data:  # _END: every other chunk put is non-empty
                    return
                yield data
        except ExportStalledError as exc:
            log.warning("%s (after %d rows); its connection is released", exc, self.rows)
            raise
        finally:
            producer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await producer
