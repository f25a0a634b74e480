"""The consumer's side of PostgreSQL: one connection, one transaction per batch.

Faults fall in two kinds, and only one of them is the data's fault:

* **poison** - the database refuses a row because of what it holds (SQLSTATE classes 22
  "data exception", 23 "integrity constraint", 54 "program limit", or the driver cannot encode a
  value). The batch is split in halves, each in a savepoint, until the refused rows are
  isolated; the rest is written and the refused rows become dead letters (stage ``store``).
  (A unique violation on ``event_id`` is not poison: it is a redelivery, and the idempotent
  insert skips the rows already stored.)
* **the database's state** - anything else. The whole transaction is abandoned and nothing
  is dead-lettered; the runner stops fetching and retries the same batch. Either the fault
  passes by itself (connection lost, server restarting, out of resources:
  :class:`TransientStoreError`, retried with backoff) or an operator must act (a missing
  table, a refused password or permission: :class:`StoreRefusedError`, retried at the
  longest backoff and reported at ERROR).

Both questions are answered by :mod:`omniclaude.retry` (``is_data_error``, ``is_retriable``).

**Conflicts.** ``(correlation_id, created_at, event_id)`` is the idempotency key: a second
event with the same key adds no row (the same id at another time or under another trace is
another row: the time is the partition key). When its content differs from the stored one
(or from another event of the same batch) that is no redelivery but a producer reusing ids:
the first version is kept, and the conflict is logged and reported (``on_conflict``, counted
by the service's metrics). Looking costs one ``SELECT`` per table, only on the slow path (a
``COPY`` that met an existing id); the fast path is untouched. Tables whose writer merges a
second telling (LLM calls: a better cost replaces an estimate) expect other content and are
not checked.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

from omniclaude.consuming.batcher import Item
from omniclaude.errors import StorageError
from omniclaude.retry import is_data_error, is_retriable
from omniclaude.storage.partitions import PartitionCache
from omniclaude.storage.writers import UNIQUE_VIOLATION

__all__ = ["Conflict", "EventStore", "StoreRefusedError", "TransientStoreError", "is_poison"]

log = logging.getLogger(__name__)

is_poison = is_data_error
"""The row itself can never be stored (see :func:`omniclaude.retry.is_data_error`)."""


class TransientStoreError(StorageError):
    """The database could not take the batch now (unreachable, restarting, ...); retry."""

    retriable = True


class StoreRefusedError(StorageError):
    """The database refuses every batch until an operator acts (missing table, password)."""

    retriable = False


def _store_error(exc: BaseException) -> StorageError:
    text = f"database: {type(exc).__name__}: {exc}"
    return TransientStoreError(text) if is_retriable(exc) else StoreRefusedError(text)


Conflict = tuple[Item, list[str]]
"""An event whose id is already stored with other content, and the columns that differ."""


class EventStore:
    """Writes batches of events through one dedicated connection, reconnecting as needed.

    Args:
        dsn: the PostgreSQL URL.
        connect_timeout_s: how long one connection attempt may take.
        on_conflict: called, after the batch is committed, for each event whose id was
            already stored with different content (see the module docstring).
        partitions: what the store knows of the tables' partitions (it creates missing ones
            before writing; forgotten after any failure, since one may have been dropped).
    """

    def __init__(
        self,
        dsn: str,
        *,
        connect_timeout_s: float = 10.0,
        on_conflict: Callable[[Item, list[str]], None] | None = None,
        partitions: PartitionCache | None = None,
    ) -> None:
        self._dsn = dsn
        self._connect_timeout_s = connect_timeout_s
        self._on_conflict = on_conflict
        self._conn: Any = None
        self.partitions = partitions if partitions is not None else PartitionCache()

    @property
    def connected(self) -> bool:
        """True while a connection is open."""
        return self._conn is not None and not self._conn.is_closed()

    async def _connection(self) -> Any:
        if self._conn is None or self._conn.is_closed():
            from omniclaude.storage.pool import connect
            from omniclaude.storage.writers import enable_copy

            conn = await connect(self._dsn, timeout=self._connect_timeout_s)
            try:
                await enable_copy(conn)
            except BaseException:
                await self._discard(conn)
                raise
            self._conn = conn
        return self._conn

    async def write(self, items: Sequence[Item]) -> list[tuple[Item, BaseException]]:
        """Write ``items`` in one transaction; return the refused items and why.

        1. ``COPY`` the rows (built while fetching) in one transaction and commit (the fast
           path);
        2. if an event was already stored (a redelivery) or a row was refused, that
           transaction is rolled back and the batch is written again in a new one with the
           idempotent insert, splitting it in savepoints to isolate refused rows; commit.

        Args:
            items: the decoded events of one batch.

        Returns:
            The poison items (not written) with the error that refused each.

        Raises:
            TransientStoreError: nothing was committed; retry the same items later.
            StoreRefusedError: nothing was committed; the database needs an operator.
        """
        if not items:
            return []
        try:
            conn = await self._connection()
            try:
                await self._copy(conn, items)
            except Exception as exc:
                # Partitions the COPY's transaction created were rolled back with it: the
                # cache must not believe in them, or every retry inserts into no partition.
                self.partitions.clear()
                if getattr(exc, "sqlstate", None) != UNIQUE_VIOLATION and not is_poison(exc):
                    raise
            else:
                return []
            async with conn.transaction():
                conflicts = await self._find_conflicts(conn, items)
                refused = await self._write_isolating(conn, items)
        except Exception as exc:
            await self._reset()
            raise _store_error(exc) from exc
        self._report(conflicts)
        return refused

    @staticmethod
    async def _find_conflicts(conn: Any, items: Sequence[Item]) -> list[Conflict]:
        """Events whose key is stored (or repeated in this batch) with other content.

        The key is ``(correlation_id, created_at, event_id)``: an id told again at another
        time or under another trace is another row, not a conflict. One ``SELECT`` of the
        batch's keys per table (only the batch's days' partitions), before the insert that
        skips them.
        """
        from omniclaude.storage.writers import WRITERS

        conflicts: list[Conflict] = []
        groups: dict[str, dict[tuple[Any, ...], Item]] = {}
        for item in items:
            writer = WRITERS[item.table]
            if not writer.keeps_first:
                continue  # a merging upsert: a second telling is expected to differ
            first = groups.setdefault(item.table, {}).setdefault(writer.key_of(item.row), item)
            if first is not item:  # the same key twice in one batch: the first is written
                columns = writer.differences(first.row, item.row)
                if columns:
                    conflicts.append((item, columns))
        for table, by_key in groups.items():
            writer = WRITERS[table]
            cids, times, ids = (list(column) for column in zip(*by_key, strict=True))
            stored_rows = await conn.fetch(
                writer.stored_sql, cids, times, ids, min(times), max(times)
            )
            for stored in stored_rows:
                item = by_key[writer.key_of(stored)]
                columns = writer.differences(stored, item.row)
                if columns:
                    conflicts.append((item, columns))
        return conflicts

    def _report(self, conflicts: Sequence[Conflict]) -> None:
        for item, columns in conflicts:
            log.warning(
                "event_id %s on %s is already stored with other content (%s differ); "
                "the stored version is kept",
                item.row[0], item.table, ", ".join(columns),
                extra={"event_id": str(item.row[0]), "table": item.table},
            )  # fmt: skip
            if self._on_conflict is not None:
                self._on_conflict(item, columns)

    async def _copy(self, conn: Any, items: Sequence[Item]) -> None:
        """``COPY`` the items' prebuilt rows: one statement (autocommit: itself a transaction)
        when they all go to one table, else one transaction around one ``COPY`` per table,
        in table-name order (concurrent consumers take their locks in one order)."""
        from omniclaude.storage.writers import WRITERS

        groups: dict[str, list[tuple[Any, ...]]] = {}
        for item in items:
            groups.setdefault(item.table, []).append(item.row)
        if len(groups) == 1:
            ((table, rows),) = groups.items()
            await WRITERS[table].copy_rows(conn, rows, self.partitions)
            return
        async with conn.transaction():
            for table in sorted(groups):
                await WRITERS[table].copy_rows(conn, groups[table], self.partitions)

    async def _write_isolating(
        self, conn: Any, items: Sequence[Item]
    ) -> list[tuple[Item, BaseException]]:
        from omniclaude.storage.writers import write_events

        try:
            # write_events opens a savepoint inside our transaction.
            await write_events(conn, [item.event for item in items], partitions=self.partitions)
        except Exception as exc:
            self.partitions.clear()  # the savepoint took any partition it created with it
            if not is_poison(exc):
                raise
            if len(items) == 1:
                event = items[0].event
                log.warning(
                    "row refused by the database: %s: %s", type(exc).__name__, exc,
                    extra={"event_id": str(event.event_id),
                           "correlation_id": str(event.correlation_id)},
                )  # fmt: skip
                return [(items[0], exc)]
            middle = len(items) // 2
            first = await self._write_isolating(conn, items[:middle])
            return first + await self._write_isolating(conn, items[middle:])
        return []

    async def _reset(self) -> None:
        self.partitions.clear()
        conn, self._conn = self._conn, None
        if conn is not None:
            await self._discard(conn)

    @staticmethod
    async def _discard(conn: Any) -> None:
        with contextlib.suppress(Exception):
            conn.terminate()

    async def close(self) -> None:
        """Close the connection (safe to call twice)."""
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            try:
                await conn.close(timeout=5)
            except Exception:  # noqa: BLE001 - closing a broken connection: drop it
                conn.terminate()
