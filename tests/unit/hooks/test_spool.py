"""The spool: complete records only, torn ones resynchronised, sealing that loses no append."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

import pytest

from omniclaude.hooks import fast
from omniclaude.hooks.fast import SPOOL_FILE, encode_record
from omniclaude.hooks.spool import BadRecord, Position, Spool, SpoolRecord, parse_record_line


def append(directory: Path, *payloads: bytes, name: str = SPOOL_FILE) -> None:
    """Append records as the hook does."""
    directory.mkdir(exist_ok=True)
    with (directory / name).open("ab") as handle:
        for i, payload in enumerate(payloads):
            handle.write(encode_record(payload, time.time_ns() + i, 100 + i))


def good(records: list[SpoolRecord | BadRecord]) -> list[bytes]:
    """The payloads of the valid records."""
    return [r.payload for r in records if isinstance(r, SpoolRecord)]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"OC1 1 2 3", "no tab"),
        (b"XX1 1 2 3\t{}", "bad header"),
        (b"OC1 a b c\t{}", "bad header numbers"),
        (b"OC1 1 2 99\t{}", "torn record"),
    ],
)
def test_parse_record_line_rejects_with_reason(line: bytes, reason: str) -> None:
    """A line that is not a record says why."""
    result = parse_record_line(line)
    assert isinstance(result, str)
    assert reason in result


def test_read_returns_records_in_order_and_advances(tmp_path: Path) -> None:
    """Records come back in append order; the next read starts after them."""
    spool = Spool(tmp_path)
    append(tmp_path, b'{"n": 1}', b'{"n": 2}', b'{"n": 3}')
    records, position = spool.read(spool.start(), max_records=2)
    assert good(records) == [b'{"n": 1}', b'{"n": 2}']
    records, position = spool.read(position)
    assert good(records) == [b'{"n": 3}']
    assert spool.read(position) == ([], position), "a record was read twice"


def test_an_incomplete_tail_waits_for_its_newline(tmp_path: Path) -> None:
    """A record still being written is not returned until complete."""
    spool = Spool(tmp_path)
    append(tmp_path, b'{"n": 1}')
    record = encode_record(b'{"n": 2}', 1, 1)
    with (tmp_path / SPOOL_FILE).open("ab") as handle:
        handle.write(record[:7])
    records, position = spool.read(spool.start())
    assert good(records) == [b'{"n": 1}']
    with (tmp_path / SPOOL_FILE).open("ab") as handle:
        handle.write(record[7:])
    records, _ = spool.read(position)
    assert good(records) == [b'{"n": 2}'], "the completed record was lost"


def test_a_torn_record_is_reported_and_the_next_one_recovered(tmp_path: Path) -> None:
    """Garbage glued to a record (a torn write) is a BadRecord; the record after it survives."""
    tmp_path.joinpath(SPOOL_FILE).write_bytes(
        b'OC1 5 5 100\t{"half": ' + encode_record(b'{"n": 1}', 6, 6) + b"junk line\n"
    )
    records, _ = Spool(tmp_path).read(Spool(tmp_path).start())
    assert good(records) == [b'{"n": 1}'], "the record after the torn one was lost"
    bad = [r for r in records if isinstance(r, BadRecord)]
    assert len(bad) == 2
    assert "torn record" in bad[0].reason


def test_reading_an_empty_directory_returns_nothing(tmp_path: Path) -> None:
    """No spool yet: no records, position unchanged."""
    spool = Spool(tmp_path / "none")
    start = spool.start()
    assert spool.read(start) == ([], start)
    assert spool.unread(start) == (0, 0)


def test_rotation_keeps_the_position_and_moves_on_once_sealed(tmp_path: Path) -> None:
    """Sealing renames the segment (same inode); its end reached, reading moves to the next."""
    spool = Spool(tmp_path, rotate_bytes=1)
    append(tmp_path, b'{"n": 1}')
    records, position = spool.read(spool.start())
    assert good(records) == [b'{"n": 1}']
    rotated = spool.maybe_rotate(position)
    assert rotated.inode == position.inode
    assert rotated.segment != SPOOL_FILE
    fast.append_record(str(tmp_path), encode_record(b'{"n": 2}', 2, 2), 1 << 20)
    records, position = spool.read(rotated)
    assert records == []
    assert position.segment == SPOOL_FILE, "reading did not move past the sealed segment"
    records, position = spool.read(position)
    assert good(records) == [b'{"n": 2}']
    assert spool.remove_consumed(position) == [rotated.segment]
    assert spool.sealed() == []


def test_a_hook_mid_write_during_sealing_loses_nothing(tmp_path: Path) -> None:
    """A hook that opened the segment before the rename writes into it; the reader waits for it."""
    spool = Spool(tmp_path, rotate_bytes=1)
    append(tmp_path, b'{"n": 1}')
    _, position = spool.read(spool.start())
    fd = os.open(tmp_path / SPOOL_FILE, os.O_WRONLY | os.O_APPEND)
    fcntl.flock(fd, fcntl.LOCK_SH)  # the hook checked the name and is about to write
    try:
        rotated = spool.maybe_rotate(position)
        assert rotated.segment != SPOOL_FILE
        records, position = spool.read(rotated)
        assert (records, position.segment) == ([], rotated.segment), "moved on mid-write"
        os.write(fd, encode_record(b'{"n": 2}', 2, 2))
    finally:
        os.close(fd)
    records, position = spool.read(position)
    assert good(records) == [b'{"n": 2}'], "the write that raced the seal was lost"
    records, position = spool.read(position)
    assert (records, position.segment) == ([], SPOOL_FILE)


def test_a_hook_that_opened_before_the_seal_appends_to_the_fresh_segment(tmp_path: Path) -> None:
    """The hook's name check sends a record meant for a just-sealed file to the new one."""
    append(tmp_path, b'{"n": 1}')
    spool = Spool(tmp_path, rotate_bytes=1)
    _, position = spool.read(spool.start())
    real_stat = os.stat
    sealed: list[Position] = []

    def stat_after_seal(path: object, *args: object, **kwargs: object) -> os.stat_result:
        if not sealed and str(path).endswith(SPOOL_FILE):  # the rename lands in between
            sealed.append(position)
            sealed[0] = spool.maybe_rotate(position)
        return real_stat(path, *args, **kwargs)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fast.os, "stat", stat_after_seal)
        fast.append_record(str(tmp_path), encode_record(b'{"n": 2}', 2, 2), 1 << 20)
    assert sealed, "the seal never happened"
    assert sealed[0].segment != SPOOL_FILE
    assert (tmp_path / sealed[0].segment).read_bytes().count(b"\n") == 1
    assert good(spool.read(Position((tmp_path / SPOOL_FILE).stat().st_ino, 0))[0]) == [
        b'{"n": 2}'
    ], "the record did not reach the fresh segment"


def test_a_torn_tail_of_a_sealed_segment_is_reported_not_waited_for(tmp_path: Path) -> None:
    """A hook that died mid-write leaves no newline; once sealed, that tail is a BadRecord."""
    append(tmp_path, b'{"n": 1}')
    with (tmp_path / SPOOL_FILE).open("ab") as handle:
        handle.write(b'OC1 9 9 50\t{"cut')
    spool = Spool(tmp_path, rotate_bytes=1)
    records, position = spool.read(spool.start())
    rotated = spool.maybe_rotate(position)
    records, position = spool.read(rotated)
    assert [type(r) for r in records] == [BadRecord]
    assert "torn record" in records[0].reason  # type: ignore[union-attr]
    assert spool.read(position)[1].segment == SPOOL_FILE, "stuck on the torn tail"


def test_rotation_waits_until_something_shipped_is_large_or_old(tmp_path: Path) -> None:
    """No seal before anything is committed, nor while the shipped part is small and young."""
    spool = Spool(tmp_path, rotate_bytes=10_000, rotate_after_s=10.0)
    append(tmp_path, b'{"n": 1}')
    _records, position = spool.read(spool.start())
    assert spool.maybe_rotate(Position(position.inode, 0)) == Position(position.inode, 0)
    assert spool.maybe_rotate(position) == position, "sealed a young, small segment"
    later = time.time_ns() + 11 * 10**9
    assert spool.maybe_rotate(position, now_ns=later).segment != SPOOL_FILE


def test_the_spool_cap_refuses_a_record_and_writes_nothing(tmp_path: Path) -> None:
    """Past the cap the record is refused whole (sealed segments count too)."""
    record = encode_record(b'{"n": 1}', 1, 1)
    fast.append_record(str(tmp_path), record, len(record))
    (tmp_path / "hooks.00000000000000000001.spool").write_bytes(b"x" * 10)
    with pytest.raises(fast.SpoolFullError, match="spool is full"):
        fast.append_record(str(tmp_path), record, 2 * len(record) + 9)
    assert (tmp_path / SPOOL_FILE).read_bytes() == record


def test_a_vanished_segment_restarts_from_the_oldest(tmp_path: Path) -> None:
    """A committed inode that no longer exists reads from the oldest segment again."""
    append(tmp_path, b'{"n": 1}')
    spool = Spool(tmp_path)
    records, _ = spool.read(Position(inode=1, offset=999))
    assert good(records) == [b'{"n": 1}']


def test_unread_counts_records_after_the_position(tmp_path: Path) -> None:
    """Status depth counts only what the emitter has not read."""
    append(tmp_path, b'{"n": 1}', b'{"n": 2}')
    spool = Spool(tmp_path)
    _, position = spool.read(spool.start(), max_records=1)
    size, count = spool.unread(position)
    assert count == 1
    assert size == os.path.getsize(tmp_path / SPOOL_FILE) - position.offset


def test_a_record_larger_than_one_read_in_a_sealed_segment_is_not_torn(tmp_path: Path) -> None:
    """A big record cut by the read size is read whole next time, never reported torn."""
    append(tmp_path, b'{"n": 1}', b'{"big": "' + b"x" * 5000 + b'"}')
    spool = Spool(tmp_path, rotate_bytes=1)
    first = spool.read(spool.start(), max_records=1)[1]
    rotated = spool.maybe_rotate(first)
    records, position = spool.read(rotated, max_bytes=100)
    assert [type(r) for r in records] == [SpoolRecord], records
    assert position.segment == rotated.segment
