"""The reading side of the hook spool: records, segments, positions, rotation.

Hooks append records to the active segment ``hooks.spool`` (see :mod:`omniclaude.hooks.fast`
for the format). The emitter reads them in order from a committed :class:`Position`. A
position names its file by **inode**, so it survives rotation: when the active segment has
been read to its end and is large, the emitter renames it to ``hooks.<ns>.spool`` (sealed);
hooks that opened it just before the rename still append to the sealed file, so it is read
again until a grace period has passed, then the next segment is read and the sealed one is
deleted once the position past it is committed.

A record that does not parse (a torn write after a crash, a foreign line) is returned as a
:class:`BadRecord` with the reason; the reader resynchronises on the next record marker.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from omniclaude.hooks.fast import RECORD_MAGIC, SPOOL_FILE

__all__ = [
    "BadRecord",
    "Position",
    "Spool",
    "SpoolRecord",
    "parse_record_line",
]

SEALED_PREFIX: Final = "hooks."
SEALED_SUFFIX: Final = ".spool"
_MARKER: Final = RECORD_MAGIC + b" "
_PREVIEW_BYTES: Final = 80


@dataclass(frozen=True, slots=True)
class Position:
    """Where reading resumes: a file (by inode; name for display) and a byte offset."""

    inode: int
    offset: int
    segment: str = SPOOL_FILE


@dataclass(frozen=True, slots=True)
class SpoolRecord:
    """One hook payload as spooled."""

    segment: str
    offset: int
    receive_ns: int
    pid: int
    payload: bytes

    @property
    def key(self) -> str:
        """Stable, unique key of the record: ``<receive_ns>-<pid>``."""
        return f"{self.receive_ns}-{self.pid}"


@dataclass(frozen=True, slots=True)
class BadRecord:
    """A line of the spool that is not a valid record, with the reason."""

    segment: str
    offset: int
    reason: str
    preview: bytes


def parse_record_line(line: bytes) -> tuple[int, int, bytes] | str:
    """Parse one record line (without its newline).

    Returns:
        ``(receive_ns, pid, payload)``, or a reason string when the line is not a record.
    """
    header, tab, payload = line.partition(b"\t")
    if not tab:
        return "no tab between header and payload"
    parts = header.split(b" ")
    if len(parts) != 4 or parts[0] != RECORD_MAGIC:
        return f"bad header {header[:40]!r}"
    try:
        receive_ns, pid, length = (int(p) for p in parts[1:])
    except ValueError:
        return f"bad header numbers {header[:40]!r}"
    if length != len(payload):
        return f"torn record: header says {length} bytes, found {len(payload)}"
    return receive_ns, pid, payload


def _split_bad(segment: str, offset: int, line: bytes) -> list[SpoolRecord | BadRecord]:
    """Parse a line that may hold garbage followed by records (after a torn write)."""
    out: list[SpoolRecord | BadRecord] = []
    start = 0
    while True:
        parsed = parse_record_line(line[start:])
        if not isinstance(parsed, str):
            out.append(SpoolRecord(segment, offset + start, parsed[0], parsed[1], parsed[2]))
            return out
        following = line.find(_MARKER, start + 1)
        end = len(line) if following < 0 else following
        out.append(BadRecord(segment, offset + start, parsed, line[start:end][:_PREVIEW_BYTES]))
        if following < 0:
            return out
        start = following


class Spool:
    """Reads and rotates the spool directory's segments.

    Args:
        directory: the spool directory.
        rotate_bytes: seal the active segment once it was read to its end past this size.
        seal_grace_s: how long a sealed segment is re-read for late appends.
    """

    def __init__(
        self, directory: Path, *, rotate_bytes: int = 64 * 1024 * 1024, seal_grace_s: float = 5.0
    ) -> None:
        self.directory = Path(directory)
        self.rotate_bytes = rotate_bytes
        self.seal_grace_ns = int(seal_grace_s * 1e9)

    @property
    def active(self) -> Path:
        """The segment hooks append to."""
        return self.directory / SPOOL_FILE

    def sealed(self) -> list[Path]:
        """Sealed segments, oldest first."""
        if not self.directory.is_dir():
            return []
        names = [
            p
            for p in self.directory.iterdir()
            if p.name.startswith(SEALED_PREFIX)
            and p.name.endswith(SEALED_SUFFIX)
            and p.name != SPOOL_FILE
        ]
        return sorted(names, key=lambda p: p.name)

    def segments(self) -> list[Path]:
        """Every segment in reading order (sealed ones, then the active one if it exists)."""
        out = self.sealed()
        if self.active.exists():
            out.append(self.active)
        return out

    def start(self) -> Position:
        """The position of the oldest unread data when nothing was committed yet."""
        segments = self.segments()
        if not segments:
            return Position(inode=0, offset=0)
        first = segments[0]
        return Position(inode=first.stat().st_ino, offset=0, segment=first.name)

    def locate(self, position: Position) -> Path | None:
        """Return the segment file holding ``position`` (found by inode), or None."""
        for path in reversed(self.segments()):
            try:
                if path.stat().st_ino == position.inode:
                    return path
            except FileNotFoundError:
                continue
        return None

    def _next_segment(self, current: Path) -> Path | None:
        segments = self.segments()
        names = [p.name for p in segments]
        if current.name not in names:
            return segments[0] if segments else None
        index = names.index(current.name)
        return segments[index + 1] if index + 1 < len(segments) else None

    def _sealed_long_enough(self, path: Path) -> bool:
        stamp = path.name[len(SEALED_PREFIX) : -len(SEALED_SUFFIX)]
        sealed_ns = int(stamp) if stamp.isdigit() else 0
        return time.time_ns() - sealed_ns > self.seal_grace_ns

    def read(
        self, position: Position, *, max_records: int = 500, max_bytes: int = 4 * 1024 * 1024
    ) -> tuple[list[SpoolRecord | BadRecord], Position]:
        """Read complete records after ``position``.

        Args:
            position: where to start (see :meth:`start` for the first run).
            max_records: at most this many records (a larger single record is still read).
            max_bytes: roughly at most this many bytes.

        Returns:
            The records (and bad lines) in order, and the position after them. An incomplete
            last line (a hook still writing) is left for the next read.
        """
        path = self.locate(position) if position.inode else None
        if path is None:
            start = self.start()
            if start.inode in {0, position.inode}:
                return [], position
            path, position = self.locate(start), start
            if path is None:
                return [], position
        out: list[SpoolRecord | BadRecord] = []
        offset = position.offset
        with path.open("rb") as handle:
            handle.seek(offset)
            buffer = handle.read(max_bytes)
            while buffer and b"\n" not in buffer:
                more = handle.read(max_bytes)
                if not more:
                    break
                buffer += more
        consumed = 0
        while len(out) < max_records:
            newline = buffer.find(b"\n", consumed)
            if newline < 0:
                break
            out.extend(_split_bad(path.name, offset + consumed, buffer[consumed:newline]))
            consumed = newline + 1
        new = Position(inode=position.inode, offset=offset + consumed, segment=path.name)
        if not out and path != self.active and self._sealed_long_enough(path):
            following = self._next_segment(path)
            if following is not None and path.stat().st_size <= new.offset:
                return [], Position(following.stat().st_ino, 0, following.name)
        return out, new

    def maybe_rotate(self, position: Position) -> Position:
        """Seal the active segment if it was read to its end and is large; return the position.

        The position keeps pointing at the same file (same inode) under its new name.
        """
        active = self.active
        try:
            stat = active.stat()
        except FileNotFoundError:
            return position
        if stat.st_ino != position.inode or position.offset < max(self.rotate_bytes, 1):
            return position
        if stat.st_size > position.offset:
            return position
        sealed = self.directory / f"{SEALED_PREFIX}{time.time_ns():020d}{SEALED_SUFFIX}"
        os.rename(active, sealed)
        return Position(position.inode, position.offset, sealed.name)

    def remove_consumed(self, position: Position) -> list[str]:
        """Delete sealed segments wholly before ``position`` (call after committing it)."""
        removed: list[str] = []
        if position.inode == 0:
            return removed
        for path in self.sealed():
            try:
                if path.stat().st_ino == position.inode:
                    break
            except FileNotFoundError:
                continue
            path.unlink(missing_ok=True)
            removed.append(path.name)
        return removed

    def unread(self, position: Position) -> tuple[int, int]:
        """Return ``(bytes, records)`` not yet read after ``position`` (for status)."""
        total_bytes = total_records = 0
        reached = position.inode == 0
        for path in self.segments():
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            start = 0
            if not reached:
                if stat.st_ino != position.inode:
                    continue
                reached, start = True, position.offset
            with path.open("rb") as handle:
                handle.seek(start)
                data = handle.read()
            total_bytes += len(data)
            total_records += data.count(b"\n")
        return total_bytes, total_records
