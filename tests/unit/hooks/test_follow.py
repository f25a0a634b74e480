"""Following transcripts: responses once, lag, replacement, shrinking, disappearance, bad lines."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from omniclaude.hooks.follow import TranscriptFollower, subagent_transcript_path
from omniclaude.hooks.responses import Response, ResponseAssembler, usage_tokens

S = 10**9


def _assistant(mid: str, rid: str | None, *, out: int, stop: str | None, ts: str,
               block: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    message = {
        "id": mid,
        "model": "claude-sonnet-4-5",
        "role": "assistant",
        "content": [block or {"type": "text", "text": "x"}],
        "stop_reason": stop,
        "usage": {
            "input_tokens": 3,
            "output_tokens": out,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 10,
        },
    }
    entry = {"type": "assistant", "timestamp": ts, "sessionId": "s", "message": message}
    if rid:
        entry["requestId"] = rid
    return entry


def _user(ts: str) -> dict[str, Any]:
    return {"type": "user", "timestamp": ts, "message": {"role": "user", "content": "go"}}


def _write(path: Path, *entries: dict[str, Any] | str, mode: str = "a") -> None:
    with path.open(mode) as handle:
        for entry in entries:
            handle.write((entry if isinstance(entry, str) else json.dumps(entry)) + "\n")


def _poll(follower: TranscriptFollower, now: int) -> list[Response]:
    return [r for result in follower.poll(now) for r in result.responses]


def test_streamed_lines_of_one_response_give_one_response_with_the_final_usage() -> None:
    """Partial usage on early lines; the line with stop_reason holds the figures kept."""
    skipped: list[str] = []
    lines = [
        _user("2026-01-01T00:00:00.000Z"),
        _assistant("m1", "r1", out=5, stop=None, ts="2026-01-01T00:00:02.000Z"),
        _assistant("m1", "r1", out=90, stop="tool_use", ts="2026-01-01T00:00:02.500Z",
                   block={"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {}}),
        _assistant("m1", "r1", out=7, stop=None, ts="2026-01-01T00:00:02.600Z"),
        _user("2026-01-01T00:00:03.000Z"),
    ]  # fmt: skip
    (response,) = ResponseAssembler().feed_all(lines, skipped.append)
    assert response.usage["output_tokens"] == 90
    assert response.tool_use_ids == ["toolu_1"]
    assert response.lines == 3
    assert response.end_ns - response.start_ns == int(2.6 * S)
    assert not skipped


def test_lines_that_are_no_response_are_skipped_with_a_reason() -> None:
    """Synthetic messages, no usage, no ids, unknown types: each counted with its reason."""
    skipped: list[str] = []
    synthetic = _assistant("m2", "r2", out=1, stop="end_turn", ts="2026-01-01T00:00:01Z")
    synthetic["message"]["model"] = "<synthetic>"
    no_usage = _assistant("m3", "r3", out=1, stop="end_turn", ts="2026-01-01T00:00:01Z")
    del no_usage["message"]["usage"]
    no_ids = _assistant("", None, out=1, stop="end_turn", ts="2026-01-01T00:00:01Z")
    found = ResponseAssembler().feed_all(
        [synthetic, no_usage, no_ids, {"type": "telemetry-v9"}, {"type": "assistant"}],
        skipped.append,
    )
    assert found == []
    assert skipped == [
        "synthetic assistant message (not an API call)", "assistant line without usage",
        "assistant line without message id or request id", "line of unknown type 'telemetry-v9'",
        "assistant line without a message",
    ]  # fmt: skip


def test_usage_splits_cache_writes_by_ttl() -> None:
    """An unsplit cache write is a 5-minute one; the 1-hour part is taken when given."""
    assert usage_tokens({"cache_creation_input_tokens": 100})["cache_write_5m"] == 100
    split = usage_tokens({"cache_creation_input_tokens": 100,
                          "cache_creation": {"ephemeral_1h_input_tokens": 30}})  # fmt: skip
    assert (split["cache_write_5m"], split["cache_write_1h"]) == (70, 30)


def test_a_lagging_transcript_is_read_as_it_grows(tmp_path: Path) -> None:
    """A file not there yet, then a line without its newline: nothing until it is complete."""
    path = tmp_path / "s.jsonl"
    follower = TranscriptFollower(settle_s=1)
    follower.follow(str(path), session_id="s", agent_id=None, now_ns=0)
    assert _poll(follower, 1) == []
    line = json.dumps(_assistant("m1", "r1", out=5, stop="end_turn", ts="2026-01-01T00:00:01Z"))
    path.write_text(line)  # still being written: no newline yet
    assert _poll(follower, 2) == []
    assert follower.files[str(path)].offset == 0
    with path.open("a") as handle:
        handle.write("\n")
    assert _poll(follower, 3) == []  # complete, but the response may have more lines
    (response,) = _poll(follower, 3 + 2 * S)  # quiet for longer than settle_s: complete
    assert response.key == "r1"


def test_a_replaced_or_shrunk_transcript_is_read_again_without_repeating(tmp_path: Path) -> None:
    """Another file under the same name, or fewer bytes: counted, re-read, nothing repeated."""
    path = tmp_path / "s.jsonl"
    first = _assistant("m1", "r1", out=5, stop="end_turn", ts="2026-01-01T00:00:01Z")
    _write(path, first, _user("2026-01-01T00:00:02Z"))
    follower = TranscriptFollower()
    follower.follow(str(path), session_id="s", agent_id=None, now_ns=0)
    assert [r.key for r in _poll(follower, 1)] == ["r1"]
    replacement = tmp_path / "new.jsonl"
    _write(replacement, first, _user("2026-01-01T00:00:02Z"),
           _assistant("m2", "r2", out=5, stop="end_turn", ts="2026-01-01T00:00:03Z"),
           _user("2026-01-01T00:00:04Z"))  # fmt: skip
    os.replace(replacement, path)
    assert [r.key for r in _poll(follower, 2)] == ["r2"], "r1 was counted again"
    assert follower.skipped["transcript replaced (new file)"] == 1
    _write(path, _user("2026-01-01T00:00:05Z"), mode="w")
    assert _poll(follower, 3) == []
    assert follower.skipped["transcript shrank"] == 1


def test_a_rewritten_transcript_and_bad_lines_are_counted(tmp_path: Path) -> None:
    """Same inode, other first bytes: read again; not-JSON and cut lines skipped by reason."""
    path = tmp_path / "s.jsonl"
    _write(path, _user("2026-01-01T00:00:00Z"), "not json at all", '{"type": "user", "mess')
    follower = TranscriptFollower()
    follower.follow(str(path), session_id="s", agent_id=None, now_ns=0)
    _poll(follower, 1)
    assert follower.skipped["line is not JSON"] == 1
    assert follower.skipped["truncated line"] == 1
    size = path.stat().st_size
    with path.open("r+") as handle:  # same file, other content, longer
        handle.write(json.dumps(_user("2026-02-02T00:00:00Z")) + "\n" + " " * size + "\n")
    _poll(follower, 2)
    assert follower.skipped["transcript rewritten"] == 1


def test_a_vanished_transcript_is_counted_then_no_longer_followed(tmp_path: Path) -> None:
    """Disappearing is counted once; after the grace period the file is dropped."""
    path = tmp_path / "s.jsonl"
    _write(path, _user("2026-01-01T00:00:00Z"))
    follower = TranscriptFollower(retire_after_s=10)
    follower.follow(str(path), session_id="s", agent_id=None, now_ns=0)
    _poll(follower, 1)
    path.unlink()
    _poll(follower, 2)
    _poll(follower, 3)
    assert follower.skipped["transcript disappeared"] == 1
    assert str(path) in follower.files
    _poll(follower, 20 * S)
    assert str(path) not in follower.files


def test_a_closed_sessions_files_retire_after_a_quiet_grace(tmp_path: Path) -> None:
    """Once the session ended and nothing was written for a while, the files are dropped."""
    path = tmp_path / "s.jsonl"
    _write(path, _user("2026-01-01T00:00:00Z"))
    follower = TranscriptFollower(retire_after_s=10)
    follower.follow(str(path), session_id="s", agent_id=None, now_ns=0)
    follower.close(session_id="s", agent_id=None, now_ns=S)
    _poll(follower, 5 * S)
    assert str(path) in follower.files
    _poll(follower, 30 * S)
    assert follower.files == {}


def test_the_state_round_trips(tmp_path: Path) -> None:
    """A follower restored from its state resumes where it was, with its pending response."""
    path = tmp_path / "s.jsonl"
    _write(path, _assistant("m1", "r1", out=5, stop=None, ts="2026-01-01T00:00:01Z"))
    follower = TranscriptFollower()
    follower.follow(str(path), session_id="s", agent_id="a1", now_ns=0)
    _poll(follower, 1)
    restored = TranscriptFollower()
    restored.load_state(json.loads(json.dumps(follower.to_state())))
    assert restored.pending
    _write(path, _user("2026-01-01T00:00:09Z"))
    (response,) = _poll(restored, 2)
    assert response.key == "r1"
    assert restored.files[str(path)].agent_id == "a1"


def test_subagent_transcripts_sit_beside_their_session() -> None:
    """``<project>/<session>/subagents/agent-<id>.jsonl``."""
    assert (
        subagent_transcript_path("/p/x/s1.jsonl", "s1", "a9") == "/p/x/s1/subagents/agent-a9.jsonl"
    )
