"""Following Claude Code transcripts: a durable read position per file, like the spool's.

The emitter follows each session's transcript (``transcript_path`` of its hooks) and each
subagent's (``<session>/subagents/agent-<id>.jsonl``, or SubagentStop's
``agent_transcript_path``). For every file it keeps the inode, the byte offset after the last
complete line, and a fingerprint of the file's first bytes; this state, with each file's
:class:`~omniclaude.hooks.responses.ResponseAssembler`, is committed with the spool position,
so a restarted emitter resumes where the commit was and a re-read adds nothing.

What a transcript may do, and what happens:

* **lag** (written after the hook that named it, or not yet there): an incomplete last line
  is left for the next read; a file not there yet is looked for again;
* **disappear**: counted once (``transcript disappeared``); the position is kept in case it
  comes back; after ``retire_after_s`` it is no longer followed;
* **be replaced, rewritten or shrink** (another inode, other first bytes, fewer bytes than the
  position): counted with that reason and read again from the start — responses already
  yielded are known by their keys, and their event ids are deterministic anyway;
* **hold bad lines** (not JSON, cut short, not an object, unknown type, no usage): each is
  skipped with a count per reason, logged (the first few per file), and reading goes on.

Nothing here stops the emitter, and nothing already recorded is lost.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Final

from omniclaude.hooks.responses import Response, ResponseAssembler, bad_line_reason

__all__ = ["FollowedFile", "TranscriptFollower", "subagent_transcript_path"]

log = logging.getLogger(__name__)

_HEAD_BYTES: Final = 64
_LOGGED_PER_FILE: Final = 20
_MAX_FILES: Final = 512


def subagent_transcript_path(transcript_path: str, session_id: str, agent_id: str) -> str:
    """Where Claude Code writes a subagent's transcript, beside its session's."""
    base = os.path.dirname(transcript_path)
    return os.path.join(base, session_id, "subagents", f"agent-{agent_id}.jsonl")


def _head(data: bytes) -> str:
    return hashlib.sha256(data[:_HEAD_BYTES]).hexdigest()[:16] if data else ""


@dataclass(slots=True)
class FollowedFile:
    """One transcript being followed, and where reading resumes."""

    path: str
    session_id: str
    agent_id: str | None = None
    inode: int = 0
    offset: int = 0
    head: str = ""
    head_len: int = 0
    lines: int = 0
    seen_ns: int = 0
    """Last time it grew (or was registered)."""
    missing_since_ns: int | None = None
    closed_ns: int | None = None
    """When its session (or subagent) ended: it is followed for a grace period after."""
    logged: int = 0
    assembler: ResponseAssembler = field(default_factory=ResponseAssembler)

    def to_state(self) -> dict[str, Any]:
        """JSON-ready data (see :meth:`from_state`)."""
        data = {k: getattr(self, k) for k in self.__slots__ if k != "assembler"}
        data["assembler"] = self.assembler.to_state()
        return data

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> FollowedFile:
        """Rebuild from :meth:`to_state` output."""
        values = dict(data)
        assembler = ResponseAssembler.from_state(values.pop("assembler", {}) or {})
        return cls(**values, assembler=assembler)


@dataclass(slots=True)
class PollResult:
    """What one poll found in one file."""

    file: FollowedFile
    responses: list[Response]
    lines: int


class TranscriptFollower:
    """The transcripts the emitter follows, their positions, and the skipped lines' counts.

    Args:
        max_bytes_per_poll: read at most this much of one file per poll.
        settle_s: a response still open after this long without a new line is complete.
        retire_after_s: stop following a file this long after its session ended or it
            disappeared.
        idle_retire_s: stop following a file that has not grown for this long.
    """

    def __init__(
        self,
        *,
        max_bytes_per_poll: int = 8 * 1024 * 1024,
        settle_s: float = 2.0,
        retire_after_s: float = 600.0,
        idle_retire_s: float = 6 * 3600.0,
    ) -> None:
        self.max_bytes = max_bytes_per_poll
        self.settle_ns = int(settle_s * 1e9)
        self.retire_ns = int(retire_after_s * 1e9)
        self.idle_retire_ns = int(idle_retire_s * 1e9)
        self.files: dict[str, FollowedFile] = {}
        self.skipped: Counter[str] = Counter()
        self.lines_read = 0
        self.changed = False

    # ------------------------------------------------------------------ state
    def to_state(self) -> dict[str, Any]:
        """JSON-ready data committed with the emitter's state."""
        return {
            "files": [f.to_state() for f in self.files.values()],
            "skipped": dict(self.skipped),
            "lines_read": self.lines_read,
        }

    def load_state(self, data: dict[str, Any]) -> None:
        """Restore what :meth:`to_state` returned."""
        self.files = {}
        for item in data.get("files", []):
            followed = FollowedFile.from_state(item)
            self.files[followed.path] = followed
        self.skipped = Counter({str(k): int(v) for k, v in data.get("skipped", {}).items()})
        self.lines_read = int(data.get("lines_read", 0))

    @property
    def pending(self) -> bool:
        """True while some response is still being assembled."""
        return any(f.assembler.pending is not None for f in self.files.values())

    # ------------------------------------------------------------------ registry
    def follow(self, path: str, *, session_id: str, agent_id: str | None, now_ns: int) -> None:
        """Follow ``path`` (idempotent; a closed file followed again is reopened)."""
        known = self.files.get(path)
        if known is not None:
            known.closed_ns = None
            return
        if len(self.files) >= _MAX_FILES:  # the oldest quiet one makes room
            oldest = min(self.files.values(), key=lambda f: f.seen_ns)
            self._retire(oldest, "too many transcripts followed at once")
        self.files[path] = FollowedFile(path, session_id, agent_id, seen_ns=now_ns)
        self.changed = True

    def close(self, *, session_id: str, agent_id: str | None, now_ns: int) -> None:
        """Its session (``agent_id`` None: and all its subagents) or subagent ended."""
        for followed in self.files.values():
            same_session = followed.session_id == session_id
            mine = agent_id is None or followed.agent_id == agent_id
            if same_session and mine and followed.closed_ns is None:
                followed.closed_ns = now_ns
                self.changed = True

    def _retire(self, followed: FollowedFile, why: str) -> list[Response]:
        self.files.pop(followed.path, None)
        self.changed = True
        log.info("no longer following %s: %s", followed.path, why)
        return followed.assembler.flush()

    # ------------------------------------------------------------------ reading
    def _skip(self, followed: FollowedFile, reason: str, line_no: int | None = None) -> None:
        self.skipped[reason] += 1
        self.changed = True
        if followed.logged < _LOGGED_PER_FILE:
            followed.logged += 1
            where = f"{followed.path}" + (f" line {line_no}" if line_no is not None else "")
            log.warning("transcript %s: skipped: %s", where, reason)

    def poll(self, now_ns: int) -> list[PollResult]:
        """Read what every followed file gained; return the responses completed.

        Never raises for a file's sake: whatever a file does is counted and logged.
        """
        out: list[PollResult] = []
        for followed in list(self.files.values()):
            try:
                result = self._poll_one(followed, now_ns)
            except OSError as exc:
                self._skip(followed, f"transcript unreadable ({type(exc).__name__})")
                continue
            if result.responses or result.lines:
                out.append(result)
        return out

    def _poll_one(self, followed: FollowedFile, now_ns: int) -> PollResult:
        result = PollResult(followed, [], 0)
        try:
            stat = os.stat(followed.path)
        except FileNotFoundError:
            if followed.inode and followed.missing_since_ns is None:
                followed.missing_since_ns = now_ns
                self._skip(followed, "transcript disappeared")
            gone_since = followed.missing_since_ns or followed.seen_ns
            if now_ns - gone_since > self.retire_ns:
                result.responses = self._retire(followed, "its transcript is gone")
            return result
        followed.missing_since_ns = None
        self._check_identity(followed, stat)
        if stat.st_size > followed.offset:
            result.lines = self._read(followed, result.responses)
            followed.seen_ns = now_ns
        elif followed.assembler.pending is not None and now_ns - followed.seen_ns > self.settle_ns:
            result.responses.extend(followed.assembler.flush())  # quiet: the response is whole
            self.changed = True
        quiet_for = now_ns - max(followed.seen_ns, followed.closed_ns or 0)
        if (followed.closed_ns is not None and quiet_for > self.retire_ns) or (
            now_ns - followed.seen_ns > self.idle_retire_ns
        ):
            result.responses.extend(self._retire(followed, "its session ended and it is quiet"))
        return result

    def _check_identity(self, followed: FollowedFile, stat: os.stat_result) -> None:
        """Start again from the top when the file is not the one the position is in."""
        reason = None
        if followed.inode and stat.st_ino != followed.inode:
            reason = "transcript replaced (new file)"
        elif stat.st_size < followed.offset:
            reason = "transcript shrank"
        elif followed.head_len and stat.st_size >= followed.head_len:
            with open(followed.path, "rb") as handle:
                if _head(handle.read(followed.head_len)) != followed.head:
                    reason = "transcript rewritten"
        if followed.inode == 0 or reason is not None:
            if reason is not None:
                self._skip(followed, reason)
            followed.inode, followed.offset, followed.head, followed.head_len = (
                stat.st_ino,
                0,
                "",
                0,
            )
            followed.assembler.reset()
            self.changed = True

    def _read(self, followed: FollowedFile, responses: list[Response]) -> int:
        with open(followed.path, "rb") as handle:
            if not followed.head_len:
                first = handle.read(_HEAD_BYTES)
                followed.head, followed.head_len = _head(first), len(first)
            handle.seek(followed.offset)
            data = handle.read(self.max_bytes)
        end = data.rfind(b"\n")
        if end < 0:
            if len(data) >= self.max_bytes:  # one line longer than a whole read: skip it
                self._skip(followed, "line too long")
                followed.offset += len(data)
            return 0
        lines = data[: end + 1].split(b"\n")[:-1]
        first_no = followed.lines + 1
        for number, raw in enumerate(lines, first_no):
            self._line(followed, raw, number, responses)
        followed.offset += end + 1
        followed.lines += len(lines)
        self.lines_read += len(lines)
        self.changed = True
        return len(lines)

    def _line(
        self, followed: FollowedFile, raw: bytes, number: int, responses: list[Response]
    ) -> None:
        if not raw.strip():
            return
        try:
            entry = json.loads(raw)
        except ValueError:
            self._skip(followed, bad_line_reason(raw), number)
            return
        if not isinstance(entry, dict):
            self._skip(followed, "line is not a JSON object", number)
            return
        responses.extend(
            followed.assembler.feed(entry, lambda reason: self._skip(followed, reason, number))
        )
