"""``omniclaude hooks status``: are Claude Code events flowing?

Reads only local files: the spool (records not yet read by the emitter), the emitter's lock
and committed state, the data directory's process registry (every emitter, whoever started
it, and what it is doing: the same entries ``omniclaude status`` and ``down`` read), its
Kafka outbox (events waiting for the broker), the hook log, and the settings files the hooks
may be installed in.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from omniclaude.errors import ConfigurationError, OmniClaudeError
from omniclaude.hooks.emitter import EmitterLock, load_state
from omniclaude.hooks.fast import LOG_FILE
from omniclaude.hooks.install import installed_events, read_settings_file
from omniclaude.hooks.spool import Position, Spool, parse_record_line

__all__ = ["last_spooled_ns", "outbox_events", "spool_status"]

_TAIL_BYTES = 1 << 20


def last_spooled_ns(spool: Spool) -> int | None:
    """Receive time of the newest record in the spool (None when it is empty)."""
    for path in reversed(spool.segments()):
        try:
            size = path.stat().st_size
            with path.open("rb") as handle:
                handle.seek(max(0, size - _TAIL_BYTES))
                tail = handle.read()
        except OSError:
            continue
        for line in reversed(tail.rstrip(b"\n").split(b"\n")):
            parsed = parse_record_line(line)
            if not isinstance(parsed, str):
                return parsed[0]
    return None


def outbox_events(path: Path) -> int:
    """Rows waiting in a Kafka sink outbox (0 when there is none or it cannot be read)."""
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1.0) as db:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if "outbox" not in tables:
                return 0
            return int(db.execute("SELECT count(*) FROM outbox").fetchone()[0])
    except sqlite3.Error:
        return 0


def _iso(ns: int | None) -> str | None:
    return None if ns is None else datetime.fromtimestamp(ns / 1e9, tz=UTC).isoformat()


def _emitters(data_dir: Path | None, spool_dir: Path) -> list[dict[str, Any]]:
    """The registered emitters of ``spool_dir`` (empty without a data directory)."""
    if data_dir is None:
        return []
    from omniclaude.stack.registry import registered

    return [
        e.to_json()
        for e in registered(data_dir, role="emitter")
        if e.spool_dir is None or Path(e.spool_dir) == spool_dir.absolute()
    ]


def spool_status(
    spool_dir: Path, *, settings_files: Iterable[Path] = (), data_dir: Path | None = None
) -> dict[str, Any]:
    """Collect the status of the spool in ``spool_dir``.

    Args:
        spool_dir: the spool.
        settings_files: Claude Code settings files to look for our hooks in.
        data_dir: the data directory whose process registry names the emitters.

    Returns:
        A JSON-ready dict: spool_dir, spool_records/bytes (not yet read by the emitter),
        last_event_at (newest hook event received), emitter_running/pid/started_by/detail
        (running: it holds the spool's lock or is registered, e.g. waiting for a broker),
        emitters (every registered one), committed_at, outbox_events, hook_errors,
        hook_refused (payloads refused because the spool was full), log_file, installed
        (settings file → events).
    """
    from omniclaude.hooks.runner import EMITTER_OUTBOX

    spool = Spool(spool_dir)
    try:
        state = load_state(spool_dir)
    except OmniClaudeError:
        state = None
    position = state.position if state is not None else Position(0, 0)
    unread_bytes, unread_records = spool.unread(position)
    lock = EmitterLock(spool_dir)
    locked = lock.held_by_other()
    emitters = _emitters(data_dir, spool_dir)
    pid = lock.holder() if locked else (emitters[0]["pid"] if emitters else None)
    current = next((e for e in emitters if e["pid"] == pid), None)
    newest = last_spooled_ns(spool)
    if newest is None and state is not None:
        newest = state.last_receive_ns
    log = spool_dir / LOG_FILE
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        lines = []
    errors = sum(1 for line in lines if " dropped: " in line or " lost: " in line)
    refused = sum(1 for line in lines if " payload refused: " in line)
    installed: dict[str, list[str]] = {}
    for path in settings_files:
        try:
            installed[str(path)] = installed_events(read_settings_file(path))
        except ConfigurationError:
            installed[str(path)] = []
    return {
        "spool_dir": str(spool_dir),
        "spool_records": unread_records,
        "spool_bytes": unread_bytes,
        "last_event_at": _iso(newest),
        "emitter_running": locked or bool(emitters),
        "emitter_pid": pid,
        "emitter_started_by": current["started_by"] if current else None,
        "emitter_detail": current["detail"] if current else None,
        "emitters": emitters,
        "committed_at": _iso(state.committed_ns if state else None),
        "events_published": state.events if state else 0,
        "outbox_events": outbox_events(spool_dir / EMITTER_OUTBOX),
        "hook_errors": errors,
        "hook_refused": refused,
        "log_file": str(log),
        "installed": installed,
        "transcripts": _transcripts(state.transcripts if state else {}),
    }


def _transcripts(data: dict[str, Any]) -> dict[str, Any]:
    """What the emitter's transcript following committed: files, lines read, lines skipped."""
    files = data.get("files", []) or []
    return {
        "followed": len(files),
        "lines_read": int(data.get("lines_read", 0) or 0),
        "skipped": dict(sorted((data.get("skipped") or {}).items())),
        "files": [
            {"path": f.get("path"), "offset": f.get("offset", 0), "lines": f.get("lines", 0),
             "subagent": f.get("agent_id"), "closed": f.get("closed_ns") is not None}
            for f in files
        ],
    }  # fmt: skip
