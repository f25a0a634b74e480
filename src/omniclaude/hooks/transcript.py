"""``omniclaude import-transcript``: record past Claude Code sessions from their transcripts.

A transcript (``~/.claude/projects/<project>/<session>.jsonl``) holds one JSON object per
line: ``user`` entries (a prompt, or ``tool_result`` blocks), ``assistant`` entries (``text``
and ``tool_use`` blocks, and the API response's model and usage), and others (summaries,
snapshots, system lines). Its subagents' transcripts are beside it, in
``<session>/subagents/agent-<id>.jsonl``.

:func:`transcript_payloads` turns a session and its subagents into the hook payloads Claude
Code would have sent (SessionStart, UserPromptSubmit, PreToolUse, PostToolUse/-Failure,
SubagentStart/Stop, Stop, SessionEnd), in time order, stamped with the entries' own times and
keyed by the entries' ``uuid``; they go through the same
:class:`~omniclaude.hooks.mapping.Mapper` as live hooks. Every API response then becomes an
``llm_call`` (:mod:`omniclaude.hooks.responses`), attributed and priced as the emitter does.
Every id is deterministic: importing the same file twice adds nothing, tool calls share their
ids (``tool_use_id``) with the ones live hooks recorded, and an LLM call its id with the one
the emitter recorded from the live transcript.
"""

from __future__ import annotations

import heapq
import json
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omniclaude.events import EventBase
from omniclaude.hooks.mapping import Mapper
from omniclaude.hooks.payloads import HookPayload
from omniclaude.hooks.responses import ResponseAssembler, bad_line_reason, entry_ns
from omniclaude.publishing.sinks.base import EventSink

__all__ = [
    "ImportResult",
    "discover_transcripts",
    "import_transcript",
    "read_transcript",
    "subagent_transcripts",
    "transcript_payloads",
]

log = logging.getLogger(__name__)

_MAX_PROBLEMS = 50


@dataclass(slots=True)
class ImportResult:
    """What an import did."""

    session_id: str | None = None
    files: int = 0
    lines: int = 0
    skipped_lines: int = 0
    payloads: int = 0
    llm_calls: int = 0
    events: int = 0
    pending: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    """Lines skipped, by reason."""
    problems: list[str] = field(default_factory=list)

    def skip(self, reason: str, where: str | None = None) -> None:
        """Count a skipped line (and keep the first few with where they were)."""
        self.skipped_lines += 1
        self.skipped[reason] += 1
        if len(self.problems) < _MAX_PROBLEMS:
            self.problems.append(f"{where}: {reason}" if where else reason)


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
            except ValueError:
                if result is not None:
                    result.skip(bad_line_reason(line), f"{path.name} line {number}")
                continue
            if isinstance(entry, dict):
                yield entry
            elif result is not None:
                result.skip("line is not a JSON object", f"{path.name} line {number}")


def subagent_transcripts(path: Path, session_id: str) -> list[Path]:
    """The subagents' transcripts of the session whose transcript is ``path``."""
    folder = path.parent / session_id / "subagents"
    return sorted(folder.glob("agent-*.jsonl")) if folder.is_dir() else []


def discover_transcripts(root: Path) -> list[Path]:
    """Every session transcript under ``root`` (subagents' ones are imported with theirs)."""
    return sorted(p for p in root.rglob("*.jsonl") if "subagents" not in p.parts[len(root.parts) :])


def _blocks(message: Any) -> list[dict[str, Any]]:
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def _text_of(blocks: list[dict[str, Any]]) -> str:
    return "\n".join(str(b.get("text", "")) for b in blocks if b.get("type") == "text").strip()


def _agent_id_of(path: Path, entries: list[dict[str, Any]]) -> str:
    named = next((str(e["agentId"]) for e in entries if e.get("agentId")), None)
    return named or path.stem.removeprefix("agent-")


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
        self.agents_started: set[str] = set()
        self.agent_types: dict[str, str] = {}
        """Subagent type by agent id (from the Agent call that launched it)."""

    def emit(self, event: str, key: str, ns: int, **fields: Any) -> None:
        data = {**self.common, "hook_event_name": event, **fields}
        self.out.append(HookPayload(key=f"transcript:{key}", received_ns=ns, data=data))

    def entry(self, entry: dict[str, Any], ns: int, agent: str | None = None) -> None:
        kind, uid = entry.get("type"), str(entry.get("uuid") or f"line-{len(self.out)}")
        if kind not in {"user", "assistant"} or (agent is None and entry.get("isSidechain")):
            return
        if entry.get("cwd"):
            self.common["cwd"] = entry["cwd"]
        if not self.started:
            self.started = True
            model = (entry.get("message") or {}).get("model") if kind == "assistant" else None
            self.emit("SessionStart", f"{uid}:start", ns, source="import", model=model)
        self.last_ns = max(self.last_ns, ns)
        extra: dict[str, Any] = {}
        if agent is not None:
            extra = {"agent_id": agent, "agent_type": self.agent_types.get(agent, "subagent")}
            if agent not in self.agents_started:
                self.agents_started.add(agent)
                self.emit("SubagentStart", f"{uid}:agent-start", ns, **extra)
        blocks = _blocks(entry.get("message"))
        if kind == "assistant":
            self.assistant(uid, ns, blocks, extra)
        else:
            self.user(entry, uid, ns, blocks, extra)

    def assistant(
        self, uid: str, ns: int, blocks: list[dict[str, Any]], extra: dict[str, Any]
    ) -> None:
        text = _text_of(blocks)
        if text and not extra:
            self.last_text = text
        for block in blocks:
            if block.get("type") == "tool_use" and block.get("id"):
                use_id = str(block["id"])
                tool = {
                    "tool_name": str(block.get("name") or "unknown"),
                    "tool_input": block.get("input"),
                }
                self.tools[use_id] = tool
                self.emit("PreToolUse", f"{uid}:{use_id}", ns, tool_use_id=use_id, **tool, **extra)

    def user(
        self,
        entry: dict[str, Any],
        uid: str,
        ns: int,
        blocks: list[dict[str, Any]],
        extra: dict[str, Any],
    ) -> None:
        results = [b for b in blocks if b.get("type") == "tool_result"]
        for block in results:
            use_id = str(block.get("tool_use_id") or "")
            tool = self.tools.pop(use_id, {"tool_name": "unknown", "tool_input": None})
            if block.get("is_error"):
                self.emit(
                    "PostToolUseFailure", f"{uid}:{use_id}", ns, tool_use_id=use_id,
                    error=_text_of(_blocks(block)) or str(block.get("content", "")),
                    **tool, **extra,
                )  # fmt: skip
            else:
                response = entry.get("toolUseResult", block.get("content"))
                self.emit("PostToolUse", f"{uid}:{use_id}", ns, tool_use_id=use_id,
                          tool_response=response, **tool, **extra)  # fmt: skip
        prompt = _text_of(blocks)
        if extra or results or not prompt or entry.get("isMeta") or entry.get("isCompactSummary"):
            return  # a subagent's first line is its task, not a prompt of the session
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


def _learn_agent_types(entries: list[dict[str, Any]], replay: _Replay) -> None:
    """Which subagent type each Agent/Task call launched (its result names the agent id)."""
    types: dict[str, str] = {}
    for entry in entries:
        for block in _blocks(entry.get("message")):
            if block.get("type") == "tool_use" and isinstance(block.get("input"), dict):
                kind = block["input"].get("subagent_type")
                if isinstance(kind, str) and block.get("id"):
                    types[str(block["id"])] = kind
            if block.get("type") == "tool_result" and isinstance(entry.get("toolUseResult"), dict):
                agent = entry["toolUseResult"].get("agentId")
                kind = types.get(str(block.get("tool_use_id")))
                if isinstance(agent, str) and kind:
                    replay.agent_types[agent] = kind


@dataclass(slots=True)
class _Session:
    """A session's transcript and its subagents', read."""

    session_id: str
    path: Path
    entries: list[dict[str, Any]]
    agents: dict[str, tuple[Path, list[dict[str, Any]]]]


def _read_session(path: Path, result: ImportResult) -> _Session:
    entries = list(read_transcript(path, result))
    session_id = next((str(e["sessionId"]) for e in entries if e.get("sessionId")), path.stem)
    agents: dict[str, tuple[Path, list[dict[str, Any]]]] = {}
    for agent_path in subagent_transcripts(path, session_id):
        agent_entries = list(read_transcript(agent_path, result))
        agents[_agent_id_of(agent_path, agent_entries)] = (agent_path, agent_entries)
    result.files += 1 + len(agents)
    return _Session(session_id, path, entries, agents)


def _timeline(session: _Session) -> Iterator[tuple[int, str | None, dict[str, Any]]]:
    """Every entry of the session and its subagents, in time order (files keep their order)."""

    def stream(entries: list[dict[str, Any]], agent: str | None, rank: int) -> Iterator[Any]:
        last = 0
        for index, entry in enumerate(entries):
            last = max(last, entry_ns(entry) or last)
            yield last, rank, index, agent, entry

    streams = [stream(session.entries, None, 0)]
    streams += [stream(e, agent, i + 1) for i, (agent, (_, e)) in enumerate(session.agents.items())]
    for at, _rank, _index, agent, entry in heapq.merge(*streams, key=lambda t: t[:3]):
        yield at, agent, entry


def transcript_payloads(path: Path, result: ImportResult | None = None) -> list[HookPayload]:
    """Turn a transcript (and its subagents') into the hook payloads Claude Code would have sent.

    Args:
        path: the session's transcript (JSONL).
        result: counters to fill in (lines read, skipped...).

    Returns:
        The payloads in time order (empty when the file holds no conversation).
    """
    result = result if result is not None else ImportResult()
    return _payloads(_read_session(path, result), result)


def _payloads(session: _Session, result: ImportResult) -> list[HookPayload]:
    replay = _Replay(session.session_id)
    replay.common["transcript_path"] = str(session.path)
    _learn_agent_types(session.entries, replay)
    last_of = {
        agent: max((entry_ns(e) or 0 for e in entries), default=0)
        for agent, (_, entries) in session.agents.items()
    }
    remaining = {agent: len(entries) for agent, (_, entries) in session.agents.items()}
    for at, agent, entry in _timeline(session):
        replay.entry(entry, at, agent)
        if agent is not None:
            remaining[agent] -= 1
            if remaining[agent] == 0 and agent in replay.agents_started:
                replay.emit(
                    "SubagentStop", f"agent-stop:{agent}", max(at, last_of[agent]),
                    agent_id=agent, agent_type=replay.agent_types.get(agent, "subagent"),
                    agent_transcript_path=str(session.agents[agent][0]),
                )  # fmt: skip
    if replay.started:
        replay.stop("end:stop", replay.last_ns)
        replay.emit("SessionEnd", "end", replay.last_ns, reason="import")
    result.session_id = session.session_id if replay.started else None
    result.payloads += len(replay.out)
    return replay.out


def _llm_events(session: _Session, mapper: Mapper, result: ImportResult) -> list[EventBase]:
    """Every API response of the session's and subagents' transcripts, as LLM calls."""
    files: list[tuple[Path, str | None, list[dict[str, Any]]]] = [
        (session.path, None, session.entries)
    ]
    files += [(p, agent, entries) for agent, (p, entries) in session.agents.items()]
    events: list[EventBase] = []
    for path, agent, entries in files:

        def skip(reason: str, name: str = path.name) -> None:
            result.skip(reason, name)

        responses = ResponseAssembler().feed_all(entries, skip)
        result.llm_calls += len(responses)
        events.extend(
            mapper.llm_calls(responses, session_id=session.session_id, agent_id=agent,
                             source="import")
        )  # fmt: skip
    return events


async def import_transcript(
    path: Path, *, mapper: Mapper, sink: EventSink, flush_timeout_s: float | None = 30.0
) -> ImportResult:
    """Map a transcript (with its subagents') and send its events through ``sink`` (started).

    Args:
        path: the session's transcript file.
        mapper: a fresh mapper (same settings as the emitter's).
        sink: where events go.
        flush_timeout_s: how long to wait for delivery at the end (None: do not wait; the
            caller flushes).

    Returns:
        Counts; ``pending`` > 0 means some events wait in the sink's outbox (re-sent later;
        importing again is harmless).
    """
    result = ImportResult()
    session = _read_session(path, result)
    events: list[EventBase] = []
    for payload in _payloads(session, result):
        events.extend(mapper.map(payload))
    events.extend(_llm_events(session, mapper, result))
    result.events = len(events)
    if events:
        await sink.send_many(events)
        if flush_timeout_s is not None:
            await sink.flush(flush_timeout_s)
    result.pending = sink.pending
    return result


async def import_transcripts(
    paths: list[Path],
    *,
    mapper: Callable[[], Mapper],
    sink: EventSink,
    flush_timeout_s: float = 30.0,
    progress: Callable[[Path, ImportResult], None] | None = None,
) -> ImportResult:
    """Import several sessions (each with a fresh mapper); return the summed counts.

    A file that cannot be read is counted and skipped; the others are still imported.
    """
    total = ImportResult()
    for path in paths:
        try:
            one = await import_transcript(path, mapper=mapper(), sink=sink, flush_timeout_s=None)
        except OSError as exc:
            total.skip(f"unreadable transcript ({type(exc).__name__})", str(path))
            one = ImportResult()
        for name in ("files", "lines", "skipped_lines", "payloads", "llm_calls", "events"):
            setattr(total, name, getattr(total, name) + getattr(one, name))
        total.skipped.update(one.skipped)
        total.session_id = one.session_id if len(paths) == 1 else None
        total.problems.extend(one.problems[: max(0, _MAX_PROBLEMS - len(total.problems))])
        if progress is not None:
            progress(path, one)
    await sink.flush(flush_timeout_s)
    total.pending = sink.pending
    return total


__all__ += ["import_transcripts"]
