"""The reading side of the hook spool: records, segments, positions, sealing and deletion.

Hooks append records to the active segment ``hooks.spool`` (see :mod:`omniclaude.hooks.fast`
for the format and the sealing protocol). The emitter reads them in order from a committed
:class:`Position`, which names its file by **inode**, so it survives a rename.

Shipped records must not stay on disk (the payloads are raw: prompts, tool output), so once
the emitter has committed part of the active segment it seals it (:meth:`Spool.maybe_rotate`)
as soon as that part is large (``rotate_bytes``) or its first record old
(``rotate_after_s``): 1. rename it to ``hooks.<ns>.spool`` (hooks append to a fresh
``hooks.spool`` from then on); 2. the reader finishes the sealed segment, and at its end takes
the segment's exclusive ``flock``, after which no hook can write to it any more (the protocol
in :mod:`omniclaude.hooks.fast`); 3. it reads what arrived before the lock, then moves to the
next segment; 4. once that position is committed (the events acknowledged by the broker or in
the sink's durable outbox), :meth:`Spool.remove_consumed` deletes the sealed segment.

A record that does not parse (a torn write after a crash, a foreign line) is returned as a
:class:`BadRecord` with the reason; the reader resynchronises on the next record marker.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from omniclaude.hooks.fast import (
    RECORD_MAGIC,
    SEALED_PREFIX,
    SEALED_SUFFIX,
    SPOOL_FILE,
    flock_free,
)

__all__ = [
    "BadRecord",
    "Position",
    "Spool",
    "SpoolRecord",
    "parse_record_line",
]

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
    """Reads, seals and deletes the spool directory's segments.

    Args:
        directory: the spool directory.
        rotate_bytes: seal the active segment once this much of it was committed.
        rotate_after_s: seal it once its first record is this old and something was committed.
    """

    def __init__(
        self,
        directory: Path,
        *,
        rotate_bytes: int = 16 * 1024 * 1024,
        rotate_after_s: float = 10.0,
    ) -> None:
        self.directory = Path(directory)
        self.rotate_bytes = rotate_bytes
        self.rotate_after_ns = int(rotate_after_s * 1e9)
        self._final: set[tuple[int, int]] = set()
        """(device, inode) of sealed segments whose exclusive lock was granted once."""

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

    def _final_now(self, path: Path) -> bool:
        """Take ``path``'s exclusive lock once: True when no hook can write to it any more.

        Only a sealed segment is ever locked (hooks take the shared lock on the active one and
        never wait for it). Returns False while a hook is in the middle of its write.
        """
        try:
            stat = path.stat()
        except FileNotFoundError:
            return False
        key = (stat.st_dev, stat.st_ino)
        if key in self._final:
            return True
        if not flock_free(str(path)):  # released at once: later hooks see the name moved
            return False
        self._final.add(key)
        return True

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
            last line (a hook still writing) is left for the next read; in a sealed segment
            that no hook can write to any more it is reported as a torn record. At the end of
            a sealed segment the position moves to the next segment.
        """
        path = self.locate(position) if position.inode else None
        if path is None:
            start = self.start()
            if start.inode in {0, position.inode}:
                return [], position
            path, position = self.locate(start), start
            if path is None:
                return [], position
        offset = position.offset
        # Sealed and final: nothing can be appended, so what is there now is all there is.
        final = path != self.active and self._final_now(path)
        with path.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            handle.seek(offset)
            buffer = handle.read(max_bytes)
            while buffer and b"\n" not in buffer:
                more = handle.read(max_bytes)
                if not more:
                    break
                buffer += more
        out: list[SpoolRecord | BadRecord] = []
        consumed = 0
        while len(out) < max_records:
            newline = buffer.find(b"\n", consumed)
            if newline < 0:
                break
            out.extend(_split_bad(path.name, offset + consumed, buffer[consumed:newline]))
            consumed = newline + 1
        tail = buffer[consumed:]
        at_eof = offset + len(buffer) >= size
        if final and at_eof and len(out) < max_records and tail and b"\n" not in tail:
            # A hook died mid-write and nobody can finish that line now: report, move past it.
            reason = f"torn record: {len(tail)} bytes without a newline at the end"
            out.append(BadRecord(path.name, offset + consumed, reason, tail[:_PREVIEW_BYTES]))
            consumed = size - offset
        new = Position(inode=position.inode, offset=offset + consumed, segment=path.name)
        if not out and final and new.offset >= size:
            following = self._next_segment(path) or self._create_active()
            return [], Position(following.stat().st_ino, 0, following.name)
        return out, new

    def _create_active(self) -> Path:
        """Create the (empty) active segment, as the next hook would, so reading can move on.

        Without it a fully read sealed segment would stay (undeletable) until the next hook.
        """
        fd = os.open(self.active, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        os.close(fd)
        return self.active

    def _first_record_ns(self, path: Path) -> int | None:
        """Receive time of the first record of ``path`` (None if it has none yet)."""
        try:
            with path.open("rb") as handle:
                head = handle.read(64)
        except OSError:
            return None
        parts = head.split(b"\t", 1)[0].split(b" ")
        if len(parts) == 4 and parts[0] == RECORD_MAGIC and parts[1].isdigit():
            return int(parts[1])
        return None

    def maybe_rotate(self, position: Position, *, now_ns: int | None = None) -> Position:
        """Seal the active segment if part of it is committed and that part is large or old.

        Args:
            position: the committed position (only what is before it has been shipped).
            now_ns: the current time (tests).

        Returns:
            The position, naming the same file (same inode) under its sealed name if sealed.
        """
        active = self.active
        try:
            stat = active.stat()
        except FileNotFoundError:
            return position
        if stat.st_ino != position.inode or position.offset <= 0:
            return position  # nothing of the active segment has been shipped
        if position.offset < self.rotate_bytes:
            first = self._first_record_ns(active)
            now = time.time_ns() if now_ns is None else now_ns
            if first is None or now - first < self.rotate_after_ns:
                return position
        sealed = self.directory / f"{SEALED_PREFIX}{time.time_ns():020d}{SEALED_SUFFIX}"
        os.rename(active, sealed)
        with contextlib.suppress(OSError):
            self._final_now(sealed)  # usually granted at once; else read() tries again
        return Position(position.inode, position.offset, sealed.name)

    def remove_consumed(self, position: Position) -> list[str]:
        """Delete sealed segments wholly before ``position`` (call after committing it)."""
        removed: list[str] = []
        if position.inode == 0 or self.locate(position) is None:
            return removed  # not knowing where we are, delete nothing
        for path in self.sealed():
            try:
                if path.stat().st_ino == position.inode:
                    break
            except FileNotFoundError:
                continue
            path.unlink(missing_ok=True)
            removed.append(path.name)
        if removed:  # forget the deleted ones (an inode number can be reused)
            left = set()
            for path in self.sealed():
                with contextlib.suppress(FileNotFoundError):
                    stat = path.stat()
                    left.add((stat.st_dev, stat.st_ino))
            self._final &= left
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
