"""The SQLite outbox: FIFO order, deletes only what was acknowledged, survives reopening,
enforces its size cap with the configured policy, keeps dead letters."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from omniclaude.publishing.outbox import DeadLetter, Outbox, OutboxRecord


def _records(n: int, start: int = 0) -> list[OutboxRecord]:
    return [OutboxRecord("t", b"k", f"v{i}".encode(), f"e{i}") for i in range(start, start + n)]


def test_fifo_and_acknowledged_delete(tmp_path: Path) -> None:
    """Rows come back oldest first; only the deleted ones leave."""
    with Outbox(tmp_path / "o.sqlite3") as outbox:
        outbox.append(_records(5))
        rows = outbox.peek(3)
        assert [r.event_id for r in rows] == ["e0", "e1", "e2"]
        assert outbox.delete([rows[0].seq, rows[2].seq]) == 2  # type: ignore[list-item]
        assert [r.event_id for r in outbox.peek()] == ["e1", "e3", "e4"]
        assert len(outbox) == outbox.count() == 3


def test_survives_reopening_and_counts_attempts(tmp_path: Path) -> None:
    """What was stored is there after a restart, with its failed attempts."""
    path = tmp_path / "spool" / "o.sqlite3"
    with Outbox(path) as outbox:
        outbox.append(_records(2))
        outbox.mark_failed([r.seq for r in outbox.peek() if r.seq], "broker down")
    with Outbox(path) as reopened:
        rows = reopened.peek()
        assert [(r.event_id, r.attempts) for r in rows] == [("e0", 1), ("e1", 1)]
        assert len(reopened) == 2


def test_drop_newest_policy_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """When full, drop_newest refuses new rows, keeps the oldest, and says so."""
    with (
        Outbox(tmp_path / "o.sqlite3", max_events=3) as outbox,
        caplog.at_level(logging.WARNING, logger="omniclaude.publishing.outbox"),
    ):
        assert outbox.append(_records(2)) == 0
        assert outbox.append(_records(3, start=2)) == 2
        assert [r.event_id for r in outbox.peek()] == ["e0", "e1", "e2"]
        assert outbox.dropped == 2
    assert "policy drop_newest dropped 2" in caplog.text


def test_drop_oldest_policy(tmp_path: Path) -> None:
    """drop_oldest makes room by removing the oldest rows."""
    with Outbox(tmp_path / "o.sqlite3", max_events=3, full_policy="drop_oldest") as outbox:
        outbox.append(_records(2))
        assert outbox.append(_records(2, start=2)) == 1
        assert [r.event_id for r in outbox.peek()] == ["e1", "e2", "e3"]
        assert outbox.append(_records(5, start=4)) == 5
        assert [r.event_id for r in outbox.peek()] == ["e6", "e7", "e8"]


def test_dead_letters(tmp_path: Path) -> None:
    """Dead letters are stored, listed, and stamped when published or replayed."""
    with Outbox(tmp_path / "o.sqlite3") as outbox:
        letter = DeadLetter("t", b"k", b"{}", "e1", "too large", "MessageSizeTooLargeError")
        outbox.add_dead_letters([letter])
        assert letter.id is not None
        assert outbox.pending_dead_letters() == 1
        outbox.mark_dead_letters([letter.id])
        assert outbox.pending_dead_letters() == 0
        assert outbox.dead_letters(unpublished_only=True) == []
        outbox.mark_dead_letters([letter.id], column="replayed_at")
        assert outbox.dead_letters(include_replayed=False) == []
        (stored,) = outbox.dead_letters()
        assert (stored.reason, stored.error_class) == ("too large", "MessageSizeTooLargeError")
        assert stored.published_at is not None
        assert stored.replayed_at is not None
        with pytest.raises(ValueError, match="column"):
            outbox.mark_dead_letters([1], column="topic")


def test_closed_outbox_refuses(tmp_path: Path) -> None:
    """Using a closed outbox is a clear error; closing twice is fine."""
    outbox = Outbox(tmp_path / "o.sqlite3").open()
    outbox.close()
    outbox.close()
    with pytest.raises(RuntimeError, match="not open"):
        outbox.peek()


def test_append_is_one_statement_per_thousand_rows_with_the_stored_seqs(tmp_path: Path) -> None:
    """A spool of 2,500 records runs three ``INSERT`` statements, not one per row (the spool
    thread would hand the GIL back and forth per row, slowing every caller logging
    meanwhile), and every record's ``seq`` is its row's, also after gaps left by deletes."""
    with Outbox(tmp_path / "o.sqlite3") as outbox:
        outbox.append(_records(3))
        outbox.delete([r.seq for r in outbox.peek() if r.seq])  # AUTOINCREMENT leaves a gap
        statements: list[str] = []
        outbox._db().set_trace_callback(statements.append)
        records = _records(2500, start=3)
        outbox.append(records)
        outbox._db().set_trace_callback(None)
        inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT")]
        assert len(inserts) == 3
        stored = {r.event_id: r.seq for r in outbox.peek(5000)}
        assert [r.seq for r in records] == [stored[r.event_id] for r in records]
        assert min(stored.values()) == 4
        assert len(outbox) == outbox.count() == 2500
