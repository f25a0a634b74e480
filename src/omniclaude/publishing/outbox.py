"""The durable local outbox: a SQLite database (WAL mode) under the spool directory.

Events the broker has not acknowledged are kept here and re-sent, oldest first (so in order
per correlation id), when it is back; a row is deleted only after the broker acknowledged
it. A process restart re-sends whatever the file holds. Dead letters (events that can never
be delivered) are kept in a table of their own until published to ``<topic>-dlq``, and after
that as a local record (``omniclaude dlq list --local``).

Size cap: at most ``max_events`` rows. When full, the policy is ``drop_newest`` (the default:
new events are refused, the oldest kept so traces keep their beginning and their order) or
``drop_oldest``; either way every drop is counted and logged at WARNING.

All methods are synchronous and thread-safe (one connection, one lock); the Kafka sink calls
them from a worker thread so the event loop never waits on the disk.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

__all__ = ["DeadLetter", "Outbox", "OutboxFullPolicy", "OutboxRecord"]

log = logging.getLogger(__name__)

OutboxFullPolicy = Literal["drop_newest", "drop_oldest"]

_INSERT_ROWS: Final = 1000
"""Rows per multi-row ``INSERT`` of the outbox (6 parameters each, well under SQLite's
32,766-parameter limit)."""


@functools.lru_cache(maxsize=64)
def _insert_sql(rows: int) -> str:
    """``INSERT`` of ``rows`` outbox rows in one statement (one SQLite step)."""
    return (
        "INSERT INTO outbox (topic, key, value, event_id, created_at, attempts) VALUES "  # noqa: S608 - placeholders only, every value is bound
        + ", ".join(["(?, ?, ?, ?, ?, ?)"] * rows)
    )


_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS outbox (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    topic          TEXT NOT NULL,
    key            BLOB,
    value          BLOB NOT NULL,
    event_id       TEXT NOT NULL,
    created_at     REAL NOT NULL,
    attempts       INTEGER NOT NULL DEFAULT 0,
    last_error     TEXT
);
CREATE TABLE IF NOT EXISTS dead_letters (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    topic          TEXT NOT NULL,
    key            BLOB,
    value          BLOB NOT NULL,
    event_id       TEXT,
    reason         TEXT NOT NULL,
    error_class    TEXT NOT NULL,
    created_at     REAL NOT NULL,
    published_at   REAL,
    replayed_at    REAL
);
CREATE INDEX IF NOT EXISTS dead_letters_unpublished ON dead_letters (id)
    WHERE published_at IS NULL;
"""


@dataclass(slots=True)
class OutboxRecord:
    """One encoded event waiting for the broker (``seq`` is set once it is in the outbox)."""

    topic: str
    key: bytes | None
    value: bytes
    event_id: str
    seq: int | None = None
    attempts: int = 0


@dataclass(slots=True)
class DeadLetter:
    """An event that can never be delivered, with why."""

    topic: str
    """The topic it was meant for (the dead letter goes to ``topic + suffix``)."""
    key: bytes | None
    value: bytes
    event_id: str | None
    reason: str
    error_class: str
    id: int | None = None
    created_at: float = 0.0
    published_at: float | None = None
    replayed_at: float | None = None


class Outbox:
    """A SQLite-backed FIFO of undelivered events plus a dead-letter table.

    Args:
        path: the database file (its directory is created).
        max_events: the size cap of the outbox table.
        full_policy: what to do when it is full (see the module docstring).
    """

    def __init__(
        self,
        path: Path,
        *,
        max_events: int = 1_000_000,
        full_policy: OutboxFullPolicy = "drop_newest",
    ) -> None:
        self.path = path
        self.max_events = max_events
        self.full_policy: OutboxFullPolicy = full_policy
        self.dropped = 0
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._count = 0
        self._last_drop_log = 0.0

    # ------------------------------------------------------------ lifecycle
    def open(self) -> Outbox:
        """Open (creating if needed) the database. Safe to call twice."""
        with self._lock:
            if self._conn is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(
                    self.path, check_same_thread=False, isolation_level=None, timeout=30
                )
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.executescript(_SCHEMA)
                self._count = int(conn.execute("SELECT count(*) FROM outbox").fetchone()[0])
                self._conn = conn
        return self

    def close(self) -> None:
        """Close the database. Idempotent."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> Outbox:
        return self.open()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError(f"outbox {self.path} is not open")
        return self._conn

    # --------------------------------------------------------------- outbox
    def __len__(self) -> int:
        """The number of events waiting (kept in memory, exact for this process)."""
        return self._count

    def count(self) -> int:
        """Count the waiting events on disk (other processes' writes included)."""
        with self._lock:
            self._count = int(self._db().execute("SELECT count(*) FROM outbox").fetchone()[0])
            return self._count

    def append(self, records: Sequence[OutboxRecord]) -> int:
        """Store ``records`` at the end of the outbox (setting their ``seq``).

        Returns:
            How many events the size cap dropped (see ``full_policy``).
        """
        if not records:
            return 0
        with self._lock:
            db = self._db()
            room = self.max_events - self._count
            dropped = 0
            todo: Sequence[OutboxRecord] = records
            db.execute("BEGIN IMMEDIATE")
            try:
                if len(records) > room:
                    if self.full_policy == "drop_newest":
                        todo = records[: max(room, 0)]
                        dropped = len(records) - len(todo)
                    elif len(records) >= self.max_events:
                        db.execute("DELETE FROM outbox")
                        todo = records[len(records) - self.max_events :]
                        dropped = self._count + len(records) - len(todo)
                        self._count = 0
                    else:
                        excess = len(records) - room
                        db.execute(
                            "DELETE FROM outbox WHERE seq IN "
                            "(SELECT seq FROM outbox ORDER BY seq LIMIT ?)",
                            (excess,),
                        )
                        self._count -= excess
                        dropped = excess
                if todo:
                    self._insert(db, todo)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            self._count += len(todo)
        if dropped:
            self._note_drop(dropped)
        return dropped

    @staticmethod
    def _insert(db: sqlite3.Connection, records: Sequence[OutboxRecord]) -> None:
        """Insert ``records`` with one multi-row ``INSERT`` per :data:`_INSERT_ROWS` and set
        their ``seq``.

        The spool runs in a worker thread while callers keep logging on the loop's thread:
        a Python loop of ``execute`` (or ``executemany``, one SQLite step per row) hands the
        GIL back and forth once per row, which made each concurrent ``log_*`` call about
        twice as slow (bench/publish.py, broker down); one statement is one step, run with
        the GIL released.

        Inside the ``BEGIN IMMEDIATE`` transaction nobody else writes, and AUTOINCREMENT
        gives each new row the largest rowid ever used plus one, so the rows got consecutive
        seqs ending at ``last_insert_rowid()``.
        """
        now = time.time()
        for start in range(0, len(records), _INSERT_ROWS):
            chunk = records[start : start + _INSERT_ROWS]
            params: list[object] = []
            for r in chunk:
                params += (r.topic, r.key, r.value, r.event_id, now, r.attempts)
            db.execute(_insert_sql(len(chunk)), params)
            last = int(db.execute("SELECT last_insert_rowid()").fetchone()[0])
            for seq, record in enumerate(chunk, last - len(chunk) + 1):
                record.seq = seq

    def _note_drop(self, dropped: int) -> None:
        self.dropped += dropped
        now = time.monotonic()
        if now - self._last_drop_log >= 10 or self.dropped == dropped:
            self._last_drop_log = now
            log.warning(
                "outbox %s is full (%d events): policy %s dropped %d event(s), %d in total",
                self.path, self.max_events, self.full_policy, dropped, self.dropped,
            )  # fmt: skip

    def peek(self, limit: int = 500) -> list[OutboxRecord]:
        """Return up to ``limit`` of the oldest waiting events, oldest first."""
        with self._lock:
            rows = self._db().execute(
                "SELECT seq, topic, key, value, event_id, attempts FROM outbox "
                "ORDER BY seq LIMIT ?",
                (limit,),
            )
            return [
                OutboxRecord(topic, key, value, event_id, seq, attempts)
                for seq, topic, key, value, event_id, attempts in rows
            ]

    def delete(self, seqs: Iterable[int]) -> int:
        """Remove delivered events; return how many rows went."""
        ids = [(seq,) for seq in seqs]
        if not ids:
            return 0
        with self._lock:
            db = self._db()
            before = db.total_changes
            db.execute("BEGIN IMMEDIATE")
            db.executemany("DELETE FROM outbox WHERE seq = ?", ids)
            db.execute("COMMIT")
            removed = db.total_changes - before
            self._count = max(self._count - removed, 0)
            return removed

    def mark_failed(self, seqs: Iterable[int], error: str) -> None:
        """Count a failed delivery attempt on each of ``seqs``."""
        ids = [(error[:1000], seq) for seq in seqs]
        if ids:
            with self._lock:
                self._db().executemany(
                    "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE seq = ?", ids
                )

    # --------------------------------------------------------- dead letters
    def add_dead_letters(self, letters: Sequence[DeadLetter]) -> None:
        """Store dead letters (unpublished); sets their ``id`` and ``created_at``."""
        if not letters:
            return
        with self._lock:
            db = self._db()
            now = time.time()
            db.execute("BEGIN IMMEDIATE")
            for letter in letters:
                letter.created_at = letter.created_at or now
                cursor = db.execute(
                    "INSERT INTO dead_letters (topic, key, value, event_id, reason, error_class,"
                    " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (letter.topic, letter.key, letter.value, letter.event_id, letter.reason,
                     letter.error_class, letter.created_at),
                )  # fmt: skip
                letter.id = cursor.lastrowid
            db.execute("COMMIT")

    def dead_letters(
        self, *, unpublished_only: bool = False, include_replayed: bool = True, limit: int = 1000
    ) -> list[DeadLetter]:
        """Return stored dead letters, oldest first."""
        where = []
        if unpublished_only:
            where.append("published_at IS NULL")
        if not include_replayed:
            where.append("replayed_at IS NULL")
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        query = (
            "SELECT id, topic, key, value, event_id, reason, error_class, created_at, "  # noqa: S608 - fixed clauses
            f"published_at, replayed_at FROM dead_letters {clause} ORDER BY id LIMIT ?"
        )
        with self._lock:
            rows: list[Any] = self._db().execute(query, (limit,)).fetchall()
        return [
            DeadLetter(topic, key, value, event_id, reason, error_class, id_, created, pub, rep)
            for id_, topic, key, value, event_id, reason, error_class, created, pub, rep in rows
        ]

    def mark_dead_letters(self, ids: Iterable[int], *, column: str = "published_at") -> None:
        """Stamp ``published_at`` (or ``replayed_at``) on the given dead letters."""
        if column not in {"published_at", "replayed_at"}:
            raise ValueError(f"column: {column!r} is not published_at or replayed_at")
        rows = [(time.time(), id_) for id_ in ids]
        if rows:
            with self._lock:
                self._db().executemany(
                    f"UPDATE dead_letters SET {column} = ? WHERE id = ?",  # noqa: S608 - checked
                    rows,
                )

    def pending_dead_letters(self) -> int:
        """Count dead letters not yet published to their dead-letter topic."""
        with self._lock:
            row = (
                self._db()
                .execute("SELECT count(*) FROM dead_letters WHERE published_at IS NULL")
                .fetchone()
            )
            return int(row[0])
