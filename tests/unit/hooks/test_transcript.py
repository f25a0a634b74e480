"""Replaying a transcript: the same mapping as live hooks, deterministic ids, bad lines skipped."""

from __future__ import annotations

from pathlib import Path

from omniclaude.events import AgentAction, ExecutionCompleted, ExecutionStarted
from omniclaude.hooks.mapping import Mapper
from omniclaude.hooks.sessions import derive_id, session_correlation_id
from omniclaude.hooks.shaping import Shaper
from omniclaude.hooks.transcript import ImportResult, import_transcript, transcript_payloads
from omniclaude.publishing.redaction import sanitize_pii
from omniclaude.testing import InMemorySink
from tests.unit.hooks.transcripts import write_transcript


def mapper() -> Mapper:
    """A fresh mapper."""
    return Mapper(shaper=Shaper(redact=sanitize_pii))


def test_transcript_becomes_hook_payloads(tmp_path: Path) -> None:
    """Entries become the hook events Claude Code would have sent, in order."""
    path = tmp_path / "s.jsonl"
    expected = write_transcript(path)
    result = ImportResult()
    payloads = transcript_payloads(path, result)
    assert [p.event for p in payloads] == [
        "SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "Stop",
        "UserPromptSubmit", "PreToolUse", "PostToolUseFailure", "Stop", "SessionEnd",
    ]  # fmt: skip
    assert {p.session_id for p in payloads} == {expected["session_id"]}
    assert result.skipped_lines == 1
    assert "not JSON" in result.problems[0]
    assert payloads[3].received_ns - payloads[2].received_ns == 250_000_000


async def test_import_maps_like_hooks_and_is_idempotent(tmp_path: Path) -> None:
    """Importing twice yields identical event ids; calls carry durations and the error."""
    path = tmp_path / "s.jsonl"
    expected = write_transcript(path)
    runs = []
    for _ in range(2):
        sink = InMemorySink()
        async with sink:
            result = await import_transcript(path, mapper=mapper(), sink=sink)
        runs.append(sink.events)
        assert result.events == len(sink.events)
        assert result.pending == 0
    assert [e.event_id for e in runs[0]] == [e.event_id for e in runs[1]], "a re-import adds rows"
    events = runs[0]
    prompts = [
        e for e in events
        if isinstance(e, ExecutionStarted) and e.user_prompt and e.parent_correlation_id
    ]  # fmt: skip
    assert len(prompts) == expected["prompts"]
    assert "ed@example.com" not in prompts[0].user_prompt  # type: ignore[operator]
    calls = [e for e in events if isinstance(e, AgentAction)]
    assert [c.tool_use_id for c in calls] == expected["tool_use_ids"]
    assert [c.action_type.value for c in calls] == ["tool_call", "error"]
    assert calls[0].duration_ms == 250.0
    assert calls[1].duration_ms == 2500.0
    sid = expected["session_id"]
    assert calls[0].event_id == derive_id("tool", sid, expected["tool_use_ids"][0], "tool_call"), (
        "a transcript tool call must share its id with the live hook's"
    )
    closing = [e for e in events if isinstance(e, ExecutionCompleted)]
    assert closing[-1].correlation_id == session_correlation_id(sid)


async def test_an_empty_transcript_imports_nothing(tmp_path: Path) -> None:
    """A file without conversation adds no event."""
    path = tmp_path / "empty.jsonl"
    path.write_text('{"type": "summary", "summary": "x"}\n\n')
    sink = InMemorySink()
    async with sink:
        result = await import_transcript(path, mapper=mapper(), sink=sink)
    assert result.events == 0
    assert sink.events == []
    assert result.session_id is None
