"""The direct PostgreSQL sink: events written straight to their tables, for small setups.

It writes exactly the rows the Kafka consumer writes (:func:`omniclaude.storage.writers.
write_events`: idempotent on ``event_id``, one transaction per call), so the two paths are
interchangeable. An awaited ``send`` returns once the row is committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from typing import Any

from omniclaude.errors import ConfigurationError, StorageError
from omniclaude.events import EventBase
from omniclaude.publishing.redaction import Redactor
from omniclaude.publishing.sinks.base import BaseSink
from omniclaude.storage.writers import write_events

__all__ = ["PostgresSink"]


def _is_pool(db: Any) -> bool:
    return hasattr(db, "acquire") and hasattr(db, "release")


class PostgresSink(BaseSink):
    """Write events to PostgreSQL with an asyncpg connection, an asyncpg pool, or a DSN.

    Args:
        db: an ``asyncpg.Connection`` or ``asyncpg.Pool`` owned by the caller (not closed by
            :meth:`stop`). Connections without OmniClaude's JSON codecs get them on first use.
        dsn: instead of ``db``: a PostgreSQL URL; the sink then creates (at :meth:`start`) and
            closes its own small pool.
        redactor: applied to every event before it is written; None means the default rules.

    Raises:
        ConfigurationError: neither or both of ``db`` and ``dsn`` were given.
    """

    def __init__(
        self,
        db: Any = None,
        *,
        dsn: str | None = None,
        redactor: Redactor | None = None,
        pool_max_size: int = 4,
    ) -> None:
        super().__init__(redactor=redactor)
        if (db is None) == (dsn is None):
            raise ConfigurationError(
                "PostgresSink: pass exactly one of db= (connection or pool) or dsn="
            )
        self._db = db
        self._dsn = dsn
        self._owns_db = False
        self._pool_max_size = pool_max_size
        self._lock = asyncio.Lock()  # one asyncpg Connection runs one operation at a time
        self._ready: weakref.WeakSet[Any] = weakref.WeakSet()

    async def start(self) -> None:
        """Create the pool when built from a DSN. Safe to call twice."""
        if self._db is None and self._dsn is not None:
            from omniclaude.storage.pool import create_pool

            try:
                self._db = await create_pool(self._dsn, min_size=1, max_size=self._pool_max_size)
            except (OSError, ConnectionError) as exc:
                raise StorageError(f"database: cannot connect: {exc}") from exc
            self._owns_db = True
        await super().start()

    async def _ensure_codecs(self, conn: Any) -> None:
        raw = getattr(conn, "_con", None) or conn
        with contextlib.suppress(TypeError):
            if raw in self._ready:
                return
        try:
            await conn.fetchval("SELECT $1::jsonb", {})
        except Exception:  # noqa: BLE001 - no dict→jsonb codec yet: install ours
            from omniclaude.storage.pool import init_connection

            await init_connection(conn)
        with contextlib.suppress(TypeError):  # not weak-referenceable: check again next time
            self._ready.add(raw)

    async def _write(self, conn: Any, events: list[EventBase]) -> None:
        await self._ensure_codecs(conn)
        await write_events(conn, events)

    async def _deliver(self, events: list[EventBase]) -> None:
        if self._stopped:
            raise StorageError("PostgresSink: send() after stop()")
        if self._db is None:
            await self.start()
        db = self._db
        try:
            if _is_pool(db):
                async with db.acquire() as conn:
                    await self._write(conn, events)
            else:
                async with self._lock:
                    await self._write(db, events)
        except StorageError:
            raise
        except Exception as exc:
            # asyncpg's errors (and OSError for a lost connection) become one retriable error.
            raise StorageError(f"database: writing {len(events)} event(s) failed: {exc}") from exc

    async def stop(self) -> None:
        """Close the pool the sink created itself (a caller's connection stays open)."""
        if self._stopped:
            return
        await super().stop()
        if self._owns_db and self._db is not None:
            await self._db.close()
            self._db = None
