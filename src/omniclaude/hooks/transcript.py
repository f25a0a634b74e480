"""``omniclaude import-transcript``: replay a Claude Code transcript (JSONL) after the fact.

A transcript (``~/.claude/projects/<project>/<session>.jsonl``) holds one JSON object per
line: ``user`` entries (a prompt, or ``tool_result`` blocks), ``assistant`` entries (``text``
and ``tool_use`` blocks), and others (summaries, snapshots, system lines) that are skipped.
:func:`transcript_payloads` turns it into the hook payloads Claude Code would have sent
(SessionStart, UserPromptSubmit, PreToolUse, PostToolUse/PostToolUseFailure, Stop,
SessionEnd), stamped with the entries' own times and keyed by the entries' ``uuid``; they go
through the same :class:`~omniclaude.hooks.mapping.Mapper` as live hooks. The ids are
therefore deterministic: importing the same file twice adds nothing, and tool calls share
their ids (``tool_use_id``) with the ones live hooks recorded.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from omniclaude.events import EventBase
from omniclaude.hooks.mapping import Mapper
from omniclaude.hooks.payloads import HookPayload
from omniclaude.publishing.sinks.base import EventSink

__all__ = ["ImportResult", "import_transcript", "read_transcript", "transcript_payloads"]

log = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(slots=True)
class ImportResult:
    """What an import did."""

    session_id: str | None = None
    lines: int = 0
    skipped_lines: int = 0
    payloads: int = 0
    events: int = 0
    pending: int = 0
    problems: list[str] = field(default_factory=list)


def read_transcript(path: Path, result: ImportResult | None = None) -> Iterator[dict[str, Any]]:
    """Yield the JSON objects of a transcript, skipping (and counting) unreadable lines."""
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            if result is not None:
                result.lines += 1
            try:
                entry = json.loads(line)
            except ValueError as exc:
                if result is not None:
                    result.skipped_lines += 1
                    result.problems.append(f"line {number}: not JSON ({exc})")
                continue
            if isinstance(entry, dict):
                yield entry


def _ns(entry: dict[str, Any], fallback: int) -> int:
    stamp = entry.get("timestamp")
    if isinstance(stamp, str):
        try:
            moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            return (moment - _EPOCH) // timedelta(microseconds=1) * 1000
        except ValueError:
            pass
    return fallback


def _blocks(message: Any) -> list[dict[str, Any]]:
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def _text_of(blocks: list[dict[str, Any]]) -> str:
    return "\n".join(str(b.get("text", "")) for b in blocks if b.get("type") == "text").strip()


class _Replay:
    """Builds payloads from transcript entries, keeping the little state a replay needs."""

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self.out: list[HookPayload] = []
        self.started = False
        self.prompt_open = False
        self.last_text = ""
        self.last_ns = 0
        self.tools: dict[str, dict[str, Any]] = {}
        self.common: dict[str, Any] = {"session_id": session_id}

    def emit(self, event: str, key: str, ns: int, **fields: Any) -> None:
        data = {**self.common, "hook_event_name": event, **fields}
        self.out.append(HookPayload(key=f"transcript:{key}", received_ns=ns, data=data))

    def entry(self, entry: dict[str, Any], ns: int) -> None:
        kind, uid = entry.get("type"), str(entry.get("uuid") or f"line-{len(self.out)}")
        if kind not in {"user", "assistant"} or entry.get("isSidechain"):
            return
        if entry.get("cwd"):
            self.common["cwd"] = entry["cwd"]
        if not self.started:
            self.started = True
            model = (entry.get("message") or {}).get("model") if kind == "assistant" else None
            self.emit("SessionStart", f"{uid}:start", ns, source="import", model=model)
        self.last_ns = ns
        blocks = _blocks(entry.get("message"))
        if kind == "assistant":
            self.assistant(uid, ns, blocks)
        else:
            self.user(entry, uid, ns, blocks)

    def assistant(self, uid: str, ns: int, blocks: list[dict[str, Any]]) -> None:
        text = _text_of(blocks)
        if text:
            self.last_text = text
        for block in blocks:
            if block.get("type") == "tool_use" and block.get("id"):
                use_id = str(block["id"])
                tool = {
                    "tool_name": str(block.get("name") or "unknown"),
                    "tool_input": block.get("input"),
                }
                self.tools[use_id] = tool
                self.emit("PreToolUse", f"{uid}:{use_id}", ns, tool_use_id=use_id, **tool)

    def user(self, entry: dict[str, Any], uid: str, ns: int, blocks: list[dict[str, Any]]) -> None:
        results = [b for b in blocks if b.get("type") == "tool_result"]
        for block in results:
            use_id = str(block.get("tool_use_id") or "")
            tool = self.tools.pop(use_id, {"tool_name": "unknown", "tool_input": None})
            if block.get("is_error"):
                self.emit(
                    "PostToolUseFailure", f"{uid}:{use_id}", ns, tool_use_id=use_id,
                    error=_text_of(_blocks(block)) or str(block.get("content", "")), **tool,
                )  # fmt: skip
            else:
                response = entry.get("toolUseResult", block.get("content"))
                self.emit("PostToolUse", f"{uid}:{use_id}", ns, tool_use_id=use_id,
                          tool_response=response, **tool)  # fmt: skip
        prompt = _text_of(blocks)
        if results or not prompt or entry.get("isMeta") or entry.get("isCompactSummary"):
            return
        self.stop(f"{uid}:stop", ns)
        fields: dict[str, Any] = {"prompt": prompt}
        if entry.get("promptId"):
            fields["prompt_id"] = entry["promptId"]
        self.emit("UserPromptSubmit", f"{uid}:prompt", ns, **fields)
        self.prompt_open = True

    def stop(self, key: str, ns: int) -> None:
        if self.prompt_open:
            self.emit(
                "Stop", key, ns, stop_hook_active=False, last_assistant_message=self.last_text
            )
            self.prompt_open = False


def transcript_payloads(path: Path, result: ImportResult | None = None) -> list[HookPayload]:
    """Turn a transcript into the hook payloads Claude Code would have sent.

    Args:
        path: the transcript (JSONL).
        result: counters to fill in (lines read, skipped...).

    Returns:
        The payloads in transcript order (empty when the file holds no conversation).
    """
    entries = list(read_transcript(path, result))
    session_id = next((str(e["sessionId"]) for e in entries if e.get("sessionId")), path.stem)
    replay = _Replay(session_id)
    replay.common["transcript_path"] = str(path)
    for index, entry in enumerate(entries):
        replay.entry(entry, _ns(entry, replay.last_ns + index))
    if replay.started:
        replay.stop("end:stop", replay.last_ns)
        replay.emit("SessionEnd", "end", replay.last_ns, reason="import")
    if result is not None:
        result.session_id = session_id if replay.started else None
        result.payloads = len(replay.out)
    return replay.out


async def import_transcript(
    path: Path, *, mapper: Mapper, sink: EventSink, flush_timeout_s: float = 30.0
) -> ImportResult:
    """Map a transcript and send its events through ``sink`` (already started).

    Args:
        path: the transcript file.
        mapper: a fresh mapper (same settings as the emitter's).
        sink: where events go.
        flush_timeout_s: how long to wait for delivery at the end.

    Returns:
        Counts; ``pending`` > 0 means some events wait in the sink's outbox (re-sent later;
        importing again is harmless).
    """
    result = ImportResult()
    events: list[EventBase] = []
    for payload in transcript_payloads(path, result):
        events.extend(mapper.map(payload))
    result.events = len(events)
    if events:
        await sink.send_many(events)
        await sink.flush(flush_timeout_s)
    result.pending = sink.pending
    return result
