"""The emitter: tails the hook spool, maps payloads to events and ships them.

One emitter runs per spool directory (it holds ``emitter.lock`` with ``flock``); the hook
starts one on demand, ``omniclaude up`` runs one, ``omniclaude emitter`` runs one in the
foreground. Its loop, in order:

1. read the next records after the in-memory position (:class:`~omniclaude.hooks.spool.Spool`);
2. parse each payload and map it (:class:`~omniclaude.hooks.mapping.Mapper`: pairing,
   truncation, redaction); bad input is logged with its reason and skipped;
3. once caught up with the spool, read what the transcripts the hooks named gained
   (:class:`~omniclaude.hooks.follow.TranscriptFollower`) and map each API response to an
   ``llm_call`` event, in the execution it belongs to;
4. hand the events to the sink (``send_many``; the Kafka sink keeps a durable outbox);
5. commit, only once everything handed over is durable (acknowledged by the broker or
   written to the sink's outbox): the spool position, the transcripts' positions AND the
   mapper's state, atomically (``emitter.state.json``, written to a temporary file, fsynced,
   renamed).

A killed emitter therefore resumes from the last commit with the state of that moment and
maps the same records again to the same events with the same (deterministic) ids, which the
database stores once: nothing is lost, nothing is duplicated.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from omniclaude.errors import OmniClaudeError
from omniclaude.events import EventBase
from omniclaude.hooks.fast import LOCK_FILE, flock_free
from omniclaude.hooks.follow import TranscriptFollower
from omniclaude.hooks.mapping import Mapper
from omniclaude.hooks.payloads import PayloadError, parse_payload
from omniclaude.hooks.spool import BadRecord, Position, Spool
from omniclaude.publishing.sinks.base import EventSink

__all__ = [
    "STATE_FILE",
    "Emitter",
    "EmitterAlreadyRunningError",
    "EmitterLock",
    "EmitterState",
    "load_state",
]

log = logging.getLogger(__name__)

STATE_FILE: Final = "emitter.state.json"
_STATE_VERSION: Final = 1
_EXPIRE_EVERY_S: Final = 60.0
_COMPACT_EVERY_S: Final = 1.0


class EmitterAlreadyRunningError(OmniClaudeError):
    """Another emitter holds the spool directory's lock."""


@dataclass(slots=True)
class EmitterState:
    """What the emitter commits: where it is, and the mapper's state at that point."""

    position: Position
    mapper: dict[str, Any]
    records: int = 0
    events: int = 0
    last_receive_ns: int | None = None
    committed_ns: int | None = None
    transcripts: dict[str, Any] = field(default_factory=dict)
    """The followed transcripts' positions and the skipped lines' counts."""

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form written to ``emitter.state.json``."""
        return {
            "version": _STATE_VERSION,
            "position": {
                "inode": self.position.inode,
                "offset": self.position.offset,
                "segment": self.position.segment,
            },
            "records": self.records,
            "events": self.events,
            "last_receive_ns": self.last_receive_ns,
            "committed_ns": self.committed_ns,
            "mapper": self.mapper,
            "transcripts": self.transcripts,
        }


def load_state(directory: Path) -> EmitterState | None:
    """Read the committed state of the spool in ``directory`` (None when there is none).

    Raises:
        OmniClaudeError: the state file exists but cannot be read.
    """
    path = Path(directory) / STATE_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise OmniClaudeError(f"{path}: unreadable emitter state: {exc}") from exc
    pos = data.get("position", {})
    return EmitterState(
        position=Position(
            int(pos.get("inode", 0)), int(pos.get("offset", 0)), pos.get("segment", "")
        ),
        mapper=data.get("mapper", {}),
        records=int(data.get("records", 0)),
        events=int(data.get("events", 0)),
        last_receive_ns=data.get("last_receive_ns"),
        committed_ns=data.get("committed_ns"),
        transcripts=data.get("transcripts", {}) or {},
    )


def _write_state(directory: Path, state: EmitterState) -> None:
    path = directory / STATE_FILE
    tmp = directory / f".{STATE_FILE}.{os.getpid()}.tmp"
    data = json.dumps(state.to_json(), separators=(",", ":")).encode()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(directory, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class EmitterLock:
    """The spool directory's emitter lock (``flock`` on ``emitter.lock``, pid inside)."""

    def __init__(self, directory: Path) -> None:
        """Prepare the lock of ``directory`` (not taken yet)."""
        self.path = Path(directory) / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock.

        Raises:
            EmitterAlreadyRunningError: another process holds it.
        """
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = self.holder()
            raise EmitterAlreadyRunningError(
                f"an emitter already runs for {self.path.parent}"
                + (f" (pid {holder})" if holder else "")
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    @property
    def held(self) -> bool:
        """True while this object holds the lock."""
        return self._fd is not None

    def release(self) -> None:
        """Release the lock (idempotent)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

    def held_by_other(self) -> bool:
        """Return True when some other process holds the lock (an emitter is running)."""
        return self._fd is None and flock_free(str(self.path)) is False

    def holder(self) -> int | None:
        """The pid written in the lock file (meaningful while the lock is held)."""
        try:
            text = self.path.read_text().strip()
        except OSError:
            return None
        return int(text) if text.isdigit() else None


class Emitter:
    """Tails the spool in ``spool_dir`` and publishes the mapped events to ``sink``.

    Args:
        spool_dir: the spool directory (the hooks' ``OMNICLAUDE_SPOOL_DIR``).
        sink: where events go (started and stopped by :meth:`run`).
        mapper: the mapping (its state is restored from the last commit).
        batch_max_records: records read per step.
        poll_interval_s: pause between reads when the spool has nothing new.
        flush_timeout_s: how long a step waits for the sink before moving on.
        idle_exit_s: exit after this long with nothing to read and nothing pending (None:
            run until stopped).
        rotate_bytes: seal the active spool segment once this much of it is committed.
        rotate_after_s: seal it once its first record is this old and part of it is
            committed; with ``rotate_bytes`` this bounds how long shipped raw payloads stay
            on disk (see :mod:`omniclaude.hooks.spool`).
        stop_when: checked about once a second; returning True ends :meth:`run` (e.g. the
            local stack the broker address came from was restarted).
        lock: the spool's lock, possibly already taken by the caller (default: a new one,
            taken by :meth:`open`).
        transcripts: follows the transcripts the hooks name (None: a default follower;
            ``follow_interval_s`` None turns following off).
        follow_interval_s: how often the transcripts are read while the spool is quiet.
    """

    def __init__(
        self,
        *,
        spool_dir: Path,
        sink: EventSink,
        mapper: Mapper,
        batch_max_records: int = 500,
        poll_interval_s: float = 0.1,
        flush_timeout_s: float = 0.25,
        idle_exit_s: float | None = None,
        rotate_bytes: int = 16 * 1024 * 1024,
        rotate_after_s: float = 10.0,
        stop_when: Callable[[], bool] | None = None,
        lock: EmitterLock | None = None,
        transcripts: TranscriptFollower | None = None,
        follow_interval_s: float | None = 0.5,
    ) -> None:
        self.spool_dir = Path(spool_dir)
        self.spool = Spool(self.spool_dir, rotate_bytes=rotate_bytes, rotate_after_s=rotate_after_s)
        self.sink = sink
        self.mapper = mapper
        self.batch_max_records = batch_max_records
        self.poll_interval_s = poll_interval_s
        self.flush_timeout_s = flush_timeout_s
        self.idle_exit_s = idle_exit_s
        self.lock = lock if lock is not None else EmitterLock(self.spool_dir)
        self.state = EmitterState(position=Position(0, 0), mapper={})
        self._position = self.state.position
        self._dirty = False
        self._last_expire = 0.0
        self._stop = asyncio.Event()
        self._stop_when = stop_when
        self._last_check = 0.0
        self._last_compact = 0.0
        self.bad_records = 0
        self.transcripts = transcripts if transcripts is not None else TranscriptFollower()
        self.follow_interval_s = follow_interval_s
        self._last_follow = 0.0

    # ------------------------------------------------------------------ lifecycle
    def open(self) -> None:
        """Take the lock and restore the committed state.

        Raises:
            EmitterAlreadyRunningError: another emitter runs for this spool.
        """
        if not self.lock.held:
            self.lock.acquire()
        committed = load_state(self.spool_dir)
        if committed is not None:
            self.state = committed
            self.mapper.load_state(committed.mapper)
            self.transcripts.load_state(committed.transcripts)
            self._position = committed.position
            log.info(
                "emitter resuming at %s offset %d (%d open session(s))",
                committed.position.segment, committed.position.offset,
                len(self.mapper.open_sessions),
            )  # fmt: skip

    def stop(self) -> None:
        """Ask :meth:`run` to finish (it commits what is durable, then returns)."""
        self._stop.set()

    async def run(self) -> None:
        """Open, start the sink, process until stopped (or idle), stop the sink, commit.

        Raises:
            EmitterAlreadyRunningError: another emitter runs for this spool.
        """
        self.open()
        try:
            await self.sink.start()
            idle_since = time.monotonic()
            while not self._stop.is_set():
                processed = await self.step()
                if processed:
                    idle_since = time.monotonic()
                    continue
                if self._idle_exit_due(idle_since):
                    log.info("emitter idle for %ss with nothing pending: exiting", self.idle_exit_s)
                    break
                if self._should_stop():
                    log.info("emitter: its broker's configuration changed; exiting")
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self.poll_interval_s)
        finally:
            await self.sink.stop()
            if self._dirty and await self.sink.wait_durable(0):
                self._commit()
            self.lock.release()

    def _should_stop(self) -> bool:
        if self._stop_when is None or time.monotonic() - self._last_check < 1.0:
            return False
        self._last_check = time.monotonic()
        return self._stop_when()

    def _idle_exit_due(self, idle_since: float) -> bool:
        if self.idle_exit_s is None or time.monotonic() - idle_since < self.idle_exit_s:
            return False
        return not self._dirty and not self.sink.pending and not self.transcripts.pending

    # ------------------------------------------------------------------ one step
    async def step(self) -> int:
        """Read, map, hand over and (when durable) commit one batch.

        Returns:
            The number of spool records read.
        """
        records, position = await asyncio.to_thread(
            self.spool.read, self._position, max_records=self.batch_max_records
        )
        events: list[EventBase] = []
        for record in records:
            if isinstance(record, BadRecord):
                self.bad_records += 1
                log.error(
                    "spool %s offset %d: skipped a bad record: %s (%r)",
                    record.segment, record.offset, record.reason, record.preview,
                )  # fmt: skip
                continue
            try:
                payload = parse_payload(
                    record.payload, key=record.key, received_ns=record.receive_ns
                )
                events.extend(self.mapper.map(payload))
            except PayloadError as exc:
                log.error("spool %s offset %d: %s", record.segment, record.offset, exc)
            except Exception:  # a mapping bug must not stop the stream; the record is logged
                log.exception(
                    "spool %s offset %d: could not map the payload", record.segment, record.offset,
                    extra={"session_id": getattr(payload, "session_id", None)},
                )  # fmt: skip
            self.state.last_receive_ns = record.receive_ns
        caught_up = len(records) < self.batch_max_records
        if caught_up and time.monotonic() - self._last_expire > _EXPIRE_EVERY_S:
            # Only when caught up: a backlog may still hold a quiet session's next events.
            self._last_expire = time.monotonic()
            events.extend(self.mapper.expire())
        lines = 0
        if caught_up:
            lines = await self._follow(events)
        if records or position != self._position or events or self.transcripts.changed:
            self._position = position
            self._dirty = True
            self.state.records += len(records)
            self.state.events += len(events)
        if events:
            await self.sink.send_many(events)
            if self.sink.connected:  # while the broker is away the outbox takes them
                await self.sink.flush(self.flush_timeout_s)
        if self._dirty and await self.sink.wait_durable(0):
            self._commit()
        elif not self._dirty and time.monotonic() - self._last_compact >= _COMPACT_EVERY_S:
            self._compact()  # idle: seal what was shipped once it is old enough
        return len(records) + lines

    async def _follow(self, events: list[EventBase]) -> int:
        """Register the transcripts payloads named; read what they gained; map responses.

        Returns:
            The number of transcript lines read.
        """
        notes = self.mapper.take_transcript_notes()
        now_ns = time.time_ns()
        for note in notes:
            if note.action == "follow" and note.path:
                self.transcripts.follow(
                    note.path, session_id=note.session_id, agent_id=note.agent_id, now_ns=now_ns
                )
            elif note.action == "close":
                self.transcripts.close(
                    session_id=note.session_id, agent_id=note.agent_id, now_ns=now_ns
                )
        due = self.follow_interval_s is not None and (
            notes or time.monotonic() - self._last_follow >= self.follow_interval_s
        )
        if not due or not self.transcripts.files:
            return 0
        self._last_follow = time.monotonic()
        results = await asyncio.to_thread(self.transcripts.poll, now_ns)
        lines = 0
        for result in results:
            lines += result.lines
            try:
                events.extend(
                    self.mapper.llm_calls(
                        result.responses,
                        session_id=result.file.session_id,
                        agent_id=result.file.agent_id,
                    )
                )
            except Exception:  # a mapping bug must not stop the stream; the file is logged
                log.exception("transcript %s: could not map its responses", result.file.path)
        return lines

    def _commit(self) -> None:
        """Write position + mapper state atomically, then drop consumed sealed segments."""
        self.state.position = self._position
        self.state.mapper = self.mapper.to_state()
        self.state.transcripts = self.transcripts.to_state()
        self.transcripts.changed = False
        self.state.committed_ns = time.time_ns()
        _write_state(self.spool_dir, self.state)
        self._dirty = False
        self.spool.remove_consumed(self._position)
        self._compact()

    def _compact(self) -> None:
        """Seal the active segment if what was shipped of it is large or old enough."""
        self._last_compact = time.monotonic()
        rotated = self.spool.maybe_rotate(self._position)
        if rotated != self._position:
            self._position = rotated
            log.debug("sealed spool segment %s", rotated.segment)
