"""The spool reader: complete records only, torn records resynchronised, rotation by inode."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

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


def test_rotation_keeps_the_position_and_reads_late_appends(tmp_path: Path) -> None:
    """Sealing renames the segment; appends to it are still read; then reading moves on."""
    spool = Spool(tmp_path, rotate_bytes=1, seal_grace_s=0.0)
    append(tmp_path, b'{"n": 1}')
    records, position = spool.read(spool.start())
    assert good(records) == [b'{"n": 1}']
    rotated = spool.maybe_rotate(position)
    assert rotated.inode == position.inode
    assert rotated.segment != SPOOL_FILE
    append(tmp_path, b'{"n": 2}', name=rotated.segment)  # a hook that opened before the rename
    append(tmp_path, b'{"n": 3}')  # the new active segment
    records, position = spool.read(rotated)
    assert good(records) == [b'{"n": 2}'], "a late append to the sealed segment was lost"
    records, position = spool.read(position)
    assert records == []
    assert position.segment == SPOOL_FILE
    records, position = spool.read(position)
    assert good(records) == [b'{"n": 3}']
    assert spool.remove_consumed(position) == [rotated.segment]
    assert spool.sealed() == []


def test_rotation_waits_until_the_segment_is_read_and_large(tmp_path: Path) -> None:
    """No rotation before the end is read or below the size threshold."""
    spool = Spool(tmp_path, rotate_bytes=10_000)
    append(tmp_path, b'{"n": 1}')
    _records, position = spool.read(spool.start())
    assert spool.maybe_rotate(position) == position
    small = Spool(tmp_path, rotate_bytes=1)
    assert small.maybe_rotate(Position(position.inode, 0)) == Position(position.inode, 0)


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
