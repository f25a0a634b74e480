"""The store isolates rows the database refuses and reports every other fault as transient."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from omniclaude.consuming import store as store_module
from omniclaude.consuming.batcher import Item
from omniclaude.consuming.store import EventStore, TransientStoreError, is_poison
from omniclaude.events import AgentAction, ExecutionProgress
from tests.unit.consuming.records import ACTIONS, EXECUTIONS, ROUTES, record


class _PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"sqlstate {sqlstate}")
        self.sqlstate = sqlstate


class _Transaction:
    def __init__(self, conn: _Conn) -> None:
        self._conn = conn
        self._mark = 0

    async def __aenter__(self) -> None:
        self._mark = len(self._conn.pending)
        self._conn.depth += 1

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self._conn.depth -= 1
        if exc_type is not None:
            del self._conn.pending[self._mark :]
        elif self._conn.depth == 0:
            self._conn.committed.extend(self._conn.pending)
            self._conn.pending.clear()


class _Record(tuple[Any, ...]):
    """A stored row: by position, and ``["event_id"]`` (the first column of every table)."""

    def __getitem__(self, key: Any) -> Any:
        return super().__getitem__(0 if key == "event_id" else key)


class _Conn:
    """A connection that refuses rows whose action_name starts with 'poison'.

    ``COPY`` fails on a row already committed (unique violation); the insert skips it.
    """

    def __init__(self, fault: BaseException | None = None) -> None:
        self.pending: list[tuple[Any, ...]] = []
        self.committed: list[tuple[Any, ...]] = []
        self.depth = 0
        self.fault = fault
        self.terminated = False
        self.copies = 0
        self.inserts = 0
        self.partition_reads = 0

    def transaction(self) -> _Transaction:
        return _Transaction(self)

    def _check(self, rows: list[tuple[Any, ...]]) -> None:
        if self.fault is not None:
            raise self.fault
        if any(str(row[4]).startswith("poison") for row in rows):
            raise _PgError("23514")

    async def execute(self, sql: str, *args: Any) -> str:
        if "pg_advisory_xact_lock" in sql:  # the partitions' lock
            return "SELECT 1"
        # The whole batch in one statement: rows as objects keyed by column, in order.
        assert "jsonb_populate_recordset" in sql
        assert "ON CONFLICT (correlation_id, created_at, event_id) DO NOTHING" in sql
        await self.executemany(sql, [tuple(row.values()) for row in args[0]])
        return "INSERT 0 0"

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        if "omniclaude_partitions" in sql:  # one partition takes every row
            self.partition_reads += 1
            return [{"partition_name": "all", "range_start": None, "range_end": None,
                     "detach_pending": False, "is_default": False}]  # fmt: skip
        assert "WHERE (correlation_id, created_at, event_id) IN" in sql
        if self.fault is not None:
            raise self.fault
        ids = set(args[2])
        return [_Record(row) for row in self.committed if row[0] in ids]

    async def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        assert "ON CONFLICT (correlation_id, created_at, event_id) DO NOTHING" in sql
        self._check(rows)
        self.inserts += 1
        stored = {row[0] for row in self.committed}
        self._store([row for row in rows if row[0] not in stored])

    async def copy_records_to_table(
        self, table: str, *, records: list[tuple[Any, ...]], columns: tuple[str, ...]
    ) -> None:
        self._check(records)
        self.copies += 1
        stored = {row[0] for row in self.committed}
        if any(row[0] in stored for row in records):
            raise _PgError("23505")
        self._store(records)

    def _store(self, rows: list[tuple[Any, ...]]) -> None:
        # Outside a transaction a statement commits by itself.
        (self.pending if self.depth else self.committed).extend(rows)

    def is_closed(self) -> bool:
        return self.terminated

    def terminate(self) -> None:
        self.terminated = True

    async def close(self, timeout: float) -> None:
        self.terminated = True


def _items(*names: str) -> list[Item]:
    cid = uuid.uuid4()
    return [
        Item.build(AgentAction(correlation_id=cid, action_type="decision", action_name=name),
                   record(b"{}", offset=offset), ROUTES[ACTIONS])
        for offset, name in enumerate(names)
    ]  # fmt: skip


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[_Conn]:
    """Every connection the store opens, newest last."""
    opened: list[_Conn] = []

    async def connect(dsn: str, **kwargs: Any) -> _Conn:
        opened.append(_Conn())
        return opened[-1]

    async def enable_copy(conn: Any) -> None:
        return None

    monkeypatch.setattr("omniclaude.storage.pool.connect", connect)
    monkeypatch.setattr("omniclaude.storage.writers.enable_copy", enable_copy)
    return opened


async def test_a_clean_batch_is_written_in_one_transaction(connections: list[_Conn]) -> None:
    """Every row is committed and nothing is refused."""
    store = EventStore("postgresql://x@127.0.0.1/db")
    assert await store.write(_items("a", "b", "c")) == []
    assert [row[4] for row in connections[0].committed] == ["a", "b", "c"]
    assert (connections[0].copies, connections[0].inserts) == (1, 0), "COPY was not used"
    assert await store.write([]) == []
    await store.close()
    await store.close()
    assert connections[0].terminated


async def test_refused_rows_are_isolated_and_the_rest_is_written(
    connections: list[_Conn],
) -> None:
    """Bisection finds exactly the refused rows; every other row is committed once."""
    store = EventStore("postgresql://x@127.0.0.1/db")
    names = ["a", "poison-1", "b", "c", "d", "poison-2", "e"]
    refused = await store.write(_items(*names))
    assert [item.event.action_name for item, _ in refused] == ["poison-1", "poison-2"]
    assert all(getattr(exc, "sqlstate", None) == "23514" for _, exc in refused)
    assert [row[4] for row in connections[0].committed] == ["a", "b", "c", "d", "e"]


async def test_a_redelivered_batch_falls_back_to_the_idempotent_insert(
    connections: list[_Conn],
) -> None:
    """COPY meets rows already stored: the batch is written again, skipping them."""
    store = EventStore("postgresql://x@127.0.0.1/db")
    items = _items("a", "b")
    assert await store.write(items[:1]) == []
    assert await store.write(items) == []
    assert [row[4] for row in connections[0].committed] == ["a", "b"], "a row was doubled"
    assert connections[0].inserts == 1
    await store.close()


async def test_a_batch_for_several_tables_is_copied_in_one_transaction(
    connections: list[_Conn],
) -> None:
    """Rows of two tables: one COPY per table inside one transaction."""
    store = EventStore("postgresql://x@127.0.0.1/db")
    items = _items("a")
    progress = ExecutionProgress(correlation_id=uuid.uuid4(), stage="s", percent=5)
    items.append(Item.build(progress, record(b"{}", topic=EXECUTIONS), ROUTES[EXECUTIONS]))
    assert await store.write(items) == []
    assert len(connections[0].committed) == 2
    assert connections[0].copies == 2
    await store.close()


async def test_a_lost_connection_is_transient_and_reopened(connections: list[_Conn]) -> None:
    """A connection fault commits nothing, raises TransientStoreError, and reconnects next time."""
    store = EventStore("postgresql://x@127.0.0.1/db")
    assert await store.write(_items("a")) == []
    connections[0].fault = ConnectionResetError("server closed the connection")
    with pytest.raises(TransientStoreError, match="ConnectionResetError"):
        await store.write(_items("b"))
    assert connections[0].terminated
    assert not store.connected
    assert await store.write(_items("c")) == []
    assert [row[4] for row in connections[1].committed] == ["c"]
    await store.close()


async def test_a_failed_copy_setup_closes_the_new_connection(
    connections: list[_Conn], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connection whose set-up fails is not leaked and the fault is transient."""

    async def broken(conn: Any) -> None:
        raise OSError("gone")

    monkeypatch.setattr("omniclaude.storage.writers.enable_copy", broken)
    store = EventStore("postgresql://x@127.0.0.1/db")
    with pytest.raises(TransientStoreError):
        await store.write(_items("a"))
    assert connections[0].terminated


@pytest.mark.parametrize(
    ("exc", "poison"),
    [
        (_PgError("22P02"), True),  # invalid text representation
        (_PgError("23514"), True),  # check violation
        (_PgError("54000"), True),  # index row too large
        (_PgError("08006"), False),  # connection failure
        (_PgError("57P01"), False),  # admin shutdown
        (_PgError("42P01"), False),  # undefined table: fix the schema, do not dead-letter
        (_PgError("53100"), False),  # disk full
        (ValueError("bad value"), True),
        (OverflowError("too big"), True),
        (OSError("refused"), False),
        (TimeoutError(), False),
    ],
)
def test_only_data_errors_are_poison(exc: BaseException, poison: bool) -> None:
    """Data errors dead-letter the row; connection and schema errors are retried."""
    assert is_poison(exc) is poison


def test_transient_store_errors_are_retriable() -> None:
    """Retry code reads the retriable flag."""
    assert store_module.TransientStoreError("x").retriable is True


async def test_a_reused_event_id_with_other_content_is_a_conflict(
    connections: list[_Conn],
) -> None:
    """A stored id arriving again with other content is reported once, after the commit, and
    the stored row is kept; the same content again (a redelivery) is no conflict."""
    reported: list[tuple[Item, list[str]]] = []
    store = EventStore(
        "postgresql://x@127.0.0.1/db", on_conflict=lambda i, c: reported.append((i, c))
    )
    (first,) = _items("first")
    assert await store.write([first]) == []
    changed = first.event.model_copy(update={"action_name": "changed"})
    reused = Item.build(changed, first.record, first.route)
    assert await store.write([first, reused]) == []
    assert [(item.event.action_name, columns) for item, columns in reported] == [
        ("changed", ["action_name"])
    ]
    assert [row[4] for row in connections[-1].committed] == ["first"]
