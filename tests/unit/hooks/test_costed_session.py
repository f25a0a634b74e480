"""The documented session through the mapper and the transcript follower (no services)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from omniclaude.events import AgentAction, EventBase, ExecutionStarted, LlmCall
from omniclaude.hooks.follow import TranscriptFollower
from omniclaude.hooks.mapping import Mapper
from omniclaude.hooks.payloads import parse_payload
from omniclaude.hooks.sessions import (
    agent_correlation_id,
    prompt_correlation_id,
    session_correlation_id,
)
from omniclaude.hooks.shaping import Shaper
from omniclaude.pricing import default_price_table
from omniclaude.publishing.redaction import sanitize_pii
from tests.unit.hooks.costed_session import (
    BG_MODEL,
    EXPECTED_LABELS,
    CostedSession,
    build,
    hand_count,
    play,
    table_rates,
)

T0 = 1_795_000_000 * 10**9
STEP_NS = 40_000_000


class Rig:
    """The emitter's loop without its I/O: map each hook, poll the transcripts after it."""

    def __init__(self, session: CostedSession) -> None:
        self.session = session
        self.mapper = Mapper(shaper=Shaper(redact=sanitize_pii), prices=default_price_table())
        self.follower = TranscriptFollower(settle_s=0.05)
        self.clock = T0
        self.events: list[EventBase] = []
        self.records = 0

    def now(self) -> int:
        return self.clock

    async def tick(self) -> None:
        self.clock += STEP_NS
        self.poll()

    async def hook(self, payload: dict[str, Any]) -> None:
        self.records += 1
        raw = json.dumps(payload)
        record = parse_payload(raw, key=f"{self.clock}-{self.records}", received_ns=self.clock)
        self.events.extend(self.mapper.map(record))
        for note in self.mapper.take_transcript_notes():
            if note.action == "follow" and note.path:
                self.follower.follow(note.path, session_id=note.session_id,
                                     agent_id=note.agent_id, now_ns=self.clock)  # fmt: skip
            else:
                self.follower.close(session_id=note.session_id, agent_id=note.agent_id,
                                    now_ns=self.clock)  # fmt: skip

    def poll(self) -> None:
        for result in self.follower.poll(self.clock):
            self.events.extend(
                self.mapper.llm_calls(result.responses, session_id=result.file.session_id,
                                      agent_id=result.file.agent_id)
            )  # fmt: skip

    async def settle(self) -> None:
        for _ in range(5):
            await self.tick()


@pytest.fixture
async def played(tmp_path: Path) -> Rig:
    """The session played through the rig, transcripts settled."""
    session = build(tmp_path / "projects")
    rig = Rig(session)
    await play(session, rig.hook, rig.now, rig.tick)
    await rig.settle()
    return rig


def _calls(events: list[EventBase]) -> list[LlmCall]:
    return [e for e in events if isinstance(e, LlmCall)]


async def test_every_response_is_one_llm_call_in_its_execution(played: Rig) -> None:
    """Five main-thread responses, two per subagent; each in the execution that made it."""
    s = played.session
    calls = {str(c.message_id).rsplit("_", 1)[0]: c for c in _calls(played.events)}
    assert sorted(calls) == sorted(
        ["msg_r1", "msg_r2", "msg_r3", "msg_r4", "msg_r5", "msg_a1", "msg_a2", "msg_b1", "msg_b2"]
    ), "a response is missing or counted twice"
    p1 = str(prompt_correlation_id(s.session_id, s.ids["p1"]))
    p2 = str(prompt_correlation_id(s.session_id, s.ids["p2"]))
    agent_a = str(agent_correlation_id(s.session_id, s.agent_a))
    agent_b = str(agent_correlation_id(s.session_id, s.agent_b))
    where = {m: str(c.correlation_id) for m, c in calls.items()}
    assert where == {
        "msg_r1": p1, "msg_r2": p1, "msg_r3": p1, "msg_r4": p1, "msg_r5": p2,
        "msg_a1": agent_a, "msg_a2": agent_a, "msg_b1": agent_b, "msg_b2": agent_b,
    }  # fmt: skip
    assert calls["msg_r1"].tool_use_ids == [s.ids["bash"]]
    assert calls["msg_r3"].tool_use_ids == [s.ids["edit"], s.ids["agent_b"]]
    assert calls["msg_b1"].model == BG_MODEL
    assert calls["msg_r1"].stop_reason == "tool_use"
    assert all(c.start <= c.timestamp for c in calls.values())


async def test_tokens_and_cost_equal_the_hand_count(played: Rig) -> None:
    """Tokens deduplicated by (message.id, requestId), parent + sidechains; cost from the table."""
    count = hand_count(played.session)
    calls = _calls(played.events)
    assert len(calls) == len(count.responses)
    assert sum(c.input_tokens for c in calls) == count.total("input_tokens")
    assert sum(c.output_tokens for c in calls) == count.total("output_tokens")
    assert sum(c.cache_creation_input_tokens for c in calls) == count.total(
        "cache_creation_input_tokens"
    )
    assert sum(c.cache_read_input_tokens for c in calls) == count.total("cache_read_input_tokens")
    expected = count.cost(table_rates())
    total = sum(Decimal(repr(c.cost_usd)) for c in calls if c.cost_usd is not None)
    assert abs(total - expected) < Decimal("1e-9")
    assert {c.cost_source.value for c in calls} == {"estimate"}


async def test_bad_lines_are_counted_by_reason(played: Rig) -> None:
    """A cut-short line, a synthetic message and an unknown line type: skipped and counted."""
    skipped = played.follower.skipped
    assert skipped["truncated line"] == 1
    assert skipped["synthetic assistant message (not an API call)"] == 1
    assert skipped["line of unknown type 'brand-new-line-type'"] == 1


async def test_rows_say_what_happened_and_subagents_hang_under_their_calls(played: Rig) -> None:
    """Each tool row's label; the error's text; the subagents tied to the Agent calls."""
    s = played.session
    rows = {
        a.tool_use_id: a
        for a in played.events
        if isinstance(a, AgentAction) and a.action_type in {"tool_call", "error"}
    }
    labels = {name: rows[s.ids[name]].action_details["label"] for name in EXPECTED_LABELS}
    assert labels == EXPECTED_LABELS
    bash = rows[s.ids["bash"]]
    assert bash.action_type == "error"
    assert bash.action_details["error_message"].startswith("Exit code 1\nFAILED")
    assert bash.action_details["permission_requested"] is True
    starts = [e for e in played.events if isinstance(e, ExecutionStarted) and e.claude_agent_id]
    launched = {e.claude_agent_id: e.metadata.get("parent_tool_use_id") for e in starts}
    assert launched[s.agent_a] == s.ids["agent_a"]
    assert launched[s.agent_b] == s.ids["agent_b"]
    session_starts = [
        e for e in played.events
        if isinstance(e, ExecutionStarted)
        and e.correlation_id == session_correlation_id(s.session_id)
    ]  # fmt: skip
    assert any(e.user_prompt == "Run the refund tests and fix the failing one"
               for e in session_starts)  # fmt: skip
    assert any(e.metadata.get("git_branch") == "fix/refunds" for e in session_starts)


async def test_reading_again_from_the_committed_state_adds_nothing(played: Rig) -> None:
    """Positions and assemblers restored from state: a re-poll finds no new response."""
    follower = TranscriptFollower()
    follower.load_state(json.loads(json.dumps(played.follower.to_state())))
    assert follower.poll(played.clock + 10**9) == []
    fresh = TranscriptFollower(settle_s=0)
    for path in played.session.files():
        fresh.follow(str(path), session_id=played.session.session_id, agent_id=None, now_ns=0)
    again = [r for result in fresh.poll(1) for r in result.responses]
    again += [r for f in fresh.files.values() for r in f.assembler.flush()]
    ids = {c.event_id for c in _calls(played.events)}
    mapped = played.mapper.llm_calls(again, session_id=played.session.session_id)
    assert {e.event_id for e in mapped if isinstance(e, LlmCall)} == ids, (
        "reading the transcripts from scratch gave other LLM call ids"
    )
