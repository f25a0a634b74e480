"""The emitter: commit only what is durable, resume without loss or duplicates, one per spool."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from omniclaude.events import EventBase
from omniclaude.hooks.emitter import (
    STATE_FILE,
    Emitter,
    EmitterAlreadyRunningError,
    EmitterLock,
    load_state,
)
from omniclaude.hooks.fast import SPOOL_FILE, encode_record
from omniclaude.hooks.mapping import Mapper
from omniclaude.hooks.shaping import Shaper
from omniclaude.publishing.redaction import sanitize_pii
from omniclaude.testing import InMemorySink
from tests.unit.hooks.builders import Session, full_session_script


def spool_payloads(directory: Path, payloads: Iterable[dict[str, Any] | bytes]) -> None:
    """Append payloads as hooks would."""
    directory.mkdir(mode=0o700, exist_ok=True)
    with (directory / SPOOL_FILE).open("ab") as handle:
        for i, payload in enumerate(payloads):
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            handle.write(encode_record(data, time.time_ns() + i, 1000 + i))


def emitter(directory: Path, sink: Any, **kw: Any) -> Emitter:
    """An emitter over ``directory`` with a fresh mapper."""
    return Emitter(
        spool_dir=directory,
        sink=sink,
        mapper=Mapper(shaper=Shaper(redact=sanitize_pii)),
        poll_interval_s=0.01,
        **kw,
    )


class SlowSink(InMemorySink):
    """A sink that reports queued events until released (a broker that has not acked)."""

    def __init__(self) -> None:
        super().__init__(redact=False)
        self.queued = 0

    async def send_many(self, events: Iterable[EventBase]) -> None:
        """Queue (count) and record."""
        batch = list(events)
        self.queued += len(batch)
        await super().send_many(batch)

    async def wait_durable(self, timeout_s: float | None = None) -> bool:
        """Like KafkaSink.wait_durable: not while events are queued in memory."""
        return not self.queued


async def test_step_publishes_and_commits(tmp_path: Path) -> None:
    """A step maps the spooled payloads, hands them over, and commits position and state."""
    items, _ = full_session_script(Session())
    spool_payloads(tmp_path, items[:5])
    sink = InMemorySink(redact=False)
    em = emitter(tmp_path, sink)
    em.open()
    async with sink:
        assert await em.step() == 5
    em.lock.release()
    state = load_state(tmp_path)
    assert state is not None
    assert state.records == 5
    assert state.events == len(sink.events)
    assert state.mapper["sessions"], "the open session was not committed"
    assert state.mapper["calls"], "the open tool calls were not committed"


async def test_a_restart_resumes_after_the_commit_without_duplicates(tmp_path: Path) -> None:
    """Stop after some records, restart: the rest arrives once, with the same ids as one run."""
    items, _ = full_session_script(Session())
    spool_payloads(tmp_path / "ref", items)
    reference = InMemorySink(redact=False)
    ref = emitter(tmp_path / "ref", reference, batch_max_records=1000)
    ref.open()
    async with reference:
        await ref.step()
    ref.lock.release()

    spool_payloads(tmp_path / "s", items)  # same bytes, different dir: ids from content
    (tmp_path / "s" / SPOOL_FILE).write_bytes((tmp_path / "ref" / SPOOL_FILE).read_bytes())
    got: list[EventBase] = []
    for batch in (7, 1000):
        sink = InMemorySink(redact=False)
        em = emitter(tmp_path / "s", sink, batch_max_records=batch)
        em.open()
        async with sink:
            await em.step()
        em.lock.release()
        got += sink.events
    assert [e.event_id for e in got] == [e.event_id for e in reference.events], (
        "resuming from the commit lost or duplicated events"
    )


async def test_nothing_is_committed_until_the_sink_is_durable(tmp_path: Path) -> None:
    """While the sink still queues events, the position stays; a re-run re-sends the same ids."""
    s = Session()
    spool_payloads(tmp_path, [s.start(), s.prompt("hi")])
    sink = SlowSink()
    em = emitter(tmp_path, sink)
    em.open()
    async with sink:
        await em.step()
        assert not (tmp_path / STATE_FILE).exists(), "committed before the sink was durable"
        first_ids = [e.event_id for e in sink.events]
        sink.queued = 0
        assert await em.step() == 0
    em.lock.release()
    assert load_state(tmp_path) is not None, "never committed once durable"
    # a killed run that never committed: the next emitter maps the same records to the same ids
    (tmp_path / STATE_FILE).unlink()
    again = InMemorySink(redact=False)
    em2 = emitter(tmp_path, again)
    em2.open()
    async with again:
        await em2.step()
    em2.lock.release()
    assert [e.event_id for e in again.events] == first_ids


async def test_bad_records_and_payloads_are_logged_and_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A torn record and a non-object payload are logged; the good records still flow."""
    s = Session()
    spool_payloads(tmp_path, [s.start()])
    with (tmp_path / SPOOL_FILE).open("ab") as handle:
        handle.write(b"garbage without a header\n")
        handle.write(encode_record(b"[1, 2]", time.time_ns(), 1))
    spool_payloads(tmp_path, [s.end()])
    sink = InMemorySink(redact=False)
    em = emitter(tmp_path, sink)
    em.open()
    with caplog.at_level(logging.ERROR):
        async with sink:
            assert await em.step() == 4
    em.lock.release()
    assert em.bad_records == 1
    assert "skipped a bad record" in caplog.text
    assert "expected a JSON object" in caplog.text
    assert [e.event_type for e in sink.events] == ["execution_started", "execution_completed"]


def test_only_one_emitter_per_spool(tmp_path: Path) -> None:
    """A second emitter on the same spool is refused, naming the holder's pid."""
    first, second = EmitterLock(tmp_path), EmitterLock(tmp_path)
    first.acquire()
    try:
        assert second.held_by_other()
        with pytest.raises(EmitterAlreadyRunningError, match="pid"):
            second.acquire()
    finally:
        first.release()
    assert not second.held_by_other()
    second.acquire()
    second.release()


async def test_run_exits_when_idle_and_commits(tmp_path: Path) -> None:
    """run() processes the spool, exits after the idle time, and leaves nothing uncommitted."""
    s = Session()
    spool_payloads(tmp_path, [s.start(), s.prompt("a"), s.stop(), s.end()])
    sink = InMemorySink(redact=False)
    em = emitter(tmp_path, sink, idle_exit_s=0.05)
    await asyncio.wait_for(em.run(), 10)
    assert len(sink.events) == 6  # 2 starts, the session titled, the routing, 2 completions
    state = load_state(tmp_path)
    assert state is not None
    assert state.records == 4
    assert not state.mapper["sessions"]
    assert not em.lock.held_by_other()


async def test_run_stops_on_request_and_when_told(tmp_path: Path) -> None:
    """stop() and stop_when end run() promptly."""
    sink = InMemorySink(redact=False)
    em = emitter(tmp_path, sink)
    task = asyncio.create_task(em.run())
    await asyncio.sleep(0.05)
    em.stop()
    await asyncio.wait_for(task, 5)
    flag = {"stop": False}
    em2 = emitter(tmp_path, InMemorySink(redact=False), stop_when=lambda: flag["stop"])
    task = asyncio.create_task(em2.run())
    flag["stop"] = True
    await asyncio.wait_for(task, 5)


def test_load_state_reports_a_damaged_file(tmp_path: Path) -> None:
    """An unreadable state file is an error naming the file, not a silent restart."""
    from omniclaude.errors import OmniClaudeError

    assert load_state(tmp_path) is None
    (tmp_path / STATE_FILE).write_text("{nope")
    with pytest.raises(OmniClaudeError, match="unreadable emitter state"):
        load_state(tmp_path)


async def test_the_emitter_follows_the_transcripts_its_hooks_name(tmp_path: Path) -> None:
    """A response in the session's transcript becomes one LLM call; a restart adds none."""
    from omniclaude.events import LlmCall
    from omniclaude.hooks.follow import TranscriptFollower

    spool = tmp_path / "spool"
    transcript = tmp_path / "projects" / "s.jsonl"
    transcript.parent.mkdir()
    s = Session()
    start = {**s.start(), "transcript_path": str(transcript)}
    transcript.write_text(
        json.dumps({"type": "assistant", "timestamp": "2026-01-01T00:00:01Z", "requestId": "r1",
                    "message": {"id": "m1", "model": "claude-sonnet-4-5", "content": [],
                                "stop_reason": "end_turn",
                                "usage": {"input_tokens": 1, "output_tokens": 2}}})
        + "\n" + json.dumps({"type": "user", "timestamp": "2026-01-01T00:00:02Z"}) + "\n"
    )  # fmt: skip
    spool_payloads(spool, [start])
    for _ in range(2):  # the second run resumes from the commit: nothing new
        sink = InMemorySink(redact=False)
        em = emitter(spool, sink, idle_exit_s=0.3, transcripts=TranscriptFollower(),
                     follow_interval_s=0.01)  # fmt: skip
        await asyncio.wait_for(em.run(), 10)
        calls = [e for e in sink.events if isinstance(e, LlmCall)]
        if _ == 0:
            assert [c.request_id for c in calls] == ["r1"]
        else:
            assert calls == [], "a restarted emitter read the transcript again"
    state = load_state(spool)
    assert state is not None
    assert state.transcripts["files"][0]["path"] == str(transcript)
