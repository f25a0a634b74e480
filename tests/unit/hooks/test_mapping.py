"""Mapping hook payloads to events: the session model, pairing, ids, redaction, timeouts."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from typing import Any

import pytest

from omniclaude.events import (
    AgentAction,
    EventBase,
    ExecutionCompleted,
    ExecutionFailed,
    ExecutionStarted,
    RoutingDecision,
)
from omniclaude.hooks.mapping import Mapper
from omniclaude.hooks.payloads import HookPayload, parse_payload
from omniclaude.hooks.sessions import prompt_correlation_id, session_correlation_id
from omniclaude.hooks.shaping import Shaper
from omniclaude.publishing.redaction import sanitize_pii
from tests.unit.hooks.builders import Session, full_session_script

T0 = 1_790_000_000 * 10**9
MS = 1_000_000


def payloads_of(
    items: list[dict[str, Any]], start: int = 0, step_ns: int = 5 * MS
) -> list[HookPayload]:
    """Spool-like payloads: keys and receive times in order."""
    return [
        parse_payload(
            json.dumps(p),
            key=f"{T0 + (start + i) * step_ns}-1",
            received_ns=T0 + (start + i) * step_ns,
        )
        for i, p in enumerate(items)
    ]


def new_mapper(**kw: Any) -> Mapper:
    """A mapper with the package's redaction."""
    return Mapper(
        shaper=Shaper(redact=sanitize_pii, max_value_bytes=kw.pop("max_value_bytes", 16384)), **kw
    )


def run(items: list[dict[str, Any]], mapper: Mapper | None = None) -> list[EventBase]:
    """Map every payload, in order."""
    mapper = mapper or new_mapper()
    return [e for p in payloads_of(items) for e in mapper.map(p)]


def is_prompt(event: EventBase) -> bool:
    """A prompt's start (a child of its session, not a subagent's)."""
    return (
        isinstance(event, ExecutionStarted)
        and event.parent_correlation_id is not None
        and event.claude_agent_id is None
        and bool(event.user_prompt)
    )


def actions(events: list[EventBase], kind: str | None = None) -> list[AgentAction]:
    """The agent actions (of one action type)."""
    return [
        e for e in events if isinstance(e, AgentAction) and (kind is None or e.action_type == kind)
    ]


@pytest.mark.parametrize("old", [False, True], ids=["recent", "old-version"])
def test_a_full_session_maps_to_the_model(old: bool) -> None:
    """Every event of a session lands: prompts under the session, calls, errors, decisions."""
    session = Session(old=old)
    items, expected = full_session_script(session)
    events = run(items)
    session_cid = session_correlation_id(session.session_id)
    starts = [e for e in events if isinstance(e, ExecutionStarted)]
    prompts = [e for e in starts if e.parent_correlation_id == session_cid and e.user_prompt]
    assert len(prompts) == expected["prompts"], "a prompt execution is missing or duplicated"
    assert all(p.parent_correlation_id == session_cid for p in prompts), (
        "a prompt is not under its session"
    )
    assert len(actions(events, "tool_call")) == expected["tool_calls"]
    assert len(actions(events, "error")) == expected["errors"]
    assert len(actions(events, "decision")) == expected["decisions"]
    routing = [e for e in events if isinstance(e, RoutingDecision)]
    assert {r.correlation_id for r in routing} == {p.correlation_id for p in prompts}
    agents = [e for e in starts if e.claude_agent_id]
    assert [a.claude_agent_id for a in agents] == [expected["agent_id"]]
    assert agents[0].parent_correlation_id == prompts[1].correlation_id, (
        "subagent not under its prompt"
    )
    grep = next(a for a in actions(events, "tool_call") if a.action_name == "Grep")
    assert grep.correlation_id == agents[0].correlation_id, "the subagent's call is not its own"
    completed = [e for e in events if isinstance(e, ExecutionCompleted)]
    assert {c.correlation_id for c in completed} >= {
        session_cid,
        prompts[0].correlation_id,
        prompts[1].correlation_id,
        agents[0].correlation_id,
    }
    failed = [e for e in events if isinstance(e, ExecutionFailed)]
    assert [f.correlation_id for f in failed] == [prompts[2].correlation_id]
    assert len({e.event_id for e in events}) == len(events), "two events share an id"
    assert all(a.duration_ms is not None for a in actions(events, "tool_call")), (
        "a call has no duration"
    )


def test_interleaved_parallel_calls_pair_by_tool_use_id_with_payload_durations() -> None:
    """Pre A, Pre B, Pre C, Post B, Post A, Post C: each call gets its own duration and id."""
    s = Session()
    items = [s.start(), s.prompt("read three files")]
    ids = [s.tool_id() for _ in range(3)]
    items += [s.pre("Read", {"file_path": f"/f{i}"}, ids[i]) for i in range(3)]
    items += [
        s.post("Read", {"file_path": f"/f{i}"}, "ok", ids[i], duration_ms=100 + i)
        for i in (1, 0, 2)
    ]
    calls = actions(run(items), "tool_call")
    by_id = {c.tool_use_id: c for c in calls}
    assert set(by_id) == set(ids), "a parallel call was lost"
    for i, use_id in enumerate(ids):
        call = by_id[use_id]
        assert call.duration_ms == 100 + i
        assert call.action_details["tool_input"] == {"file_path": f"/f{i}"}
        assert call.action_details["paired_by"] == "tool_use_id"
        assert call.prompt_id == s.prompt_id


def test_old_payloads_pair_by_order_and_time_the_call() -> None:
    """Without tool_use_id or duration_ms, calls pair in order and take the hooks' times."""
    s = Session(old=True)
    items = [s.start(), s.prompt("go"), s.pre("Bash", {"command": "ls"}, None),
             s.post("Bash", {"command": "ls"}, {"stdout": "a"}, None)]  # fmt: skip
    events = run(items)
    (call,) = actions(events, "tool_call")
    assert call.duration_ms == pytest.approx(5.0), "duration not taken from the hook times"
    assert call.action_details["paired_by"] == "order"
    assert call.action_details["duration_source"] == "hook_times"
    prompt = next(e for e in events if is_prompt(e))
    assert call.correlation_id == prompt.correlation_id
    assert prompt.prompt_id is None


def test_mapping_is_deterministic() -> None:
    """Mapping the same payloads again gives the same events with the same ids."""
    items, _ = full_session_script(Session())
    first, second = run(items), run(items)
    assert [e.event_id for e in first] == [e.event_id for e in second]
    assert [e.correlation_id for e in first] == [e.correlation_id for e in second]


def test_state_round_trip_mid_session_gives_the_same_events() -> None:
    """A mapper restored from committed state continues exactly as one that never stopped."""
    items, _ = full_session_script(Session())
    payloads = payloads_of(items)
    straight = new_mapper()
    expected = [e.event_id for p in payloads for e in straight.map(p)]
    first = new_mapper()
    got = [e.event_id for p in payloads[:7] for e in first.map(p)]
    state = json.loads(json.dumps(first.to_state()))
    second = new_mapper()
    second.load_state(state)
    got += [e.event_id for p in payloads[7:] for e in second.map(p)]
    assert got == expected, "a restored mapper produced different events"


def test_prompts_tool_inputs_and_responses_are_redacted() -> None:
    """PII never reaches an event field: prompt, routing request, tool input and response."""
    s = Session()
    use_id = s.tool_id()
    items = [
        s.start(),
        s.prompt("email carol@example.com the key sk-abcdefghijklmnopqrstuv"),
        s.pre("Bash", {"command": "curl -H 'Authorization: Bearer abcdefghijklmnop'"}, use_id),
        s.post(
            "Bash",
            {"command": "x", "password": "hunter2"},
            {"stdout": "dave@example.com"},
            use_id,
            3,
        ),
    ]
    text = json.dumps([e.model_dump(mode="json") for e in run(items)])
    for secret in ("carol@example.com", "sk-abcdefghijklmnopqrstuv", "abcdefghijklmnop", "hunter2",
                   "dave@example.com"):  # fmt: skip
        assert secret not in text, f"{secret!r} leaked into an event"


def test_large_tool_responses_are_truncated_recording_the_size() -> None:
    """A huge response is cut to the limit; its original size is kept."""
    s = Session()
    use_id = s.tool_id()
    big = {"content": "line\n" * 20_000}
    items = [s.start(), s.prompt("read"), s.pre("Read", {"file_path": "/big"}, use_id),
             s.post("Read", {"file_path": "/big"}, big, use_id, 9)]  # fmt: skip
    (call,) = actions(run(items, new_mapper(max_value_bytes=1024)), "tool_call")
    details = call.action_details
    assert details["tool_response_truncated"] is True
    assert details["tool_response_bytes"] > 100_000
    assert details["tool_response"]["original_bytes"] == details["tool_response_bytes"]
    assert len(json.dumps(details)) < 4096


def test_unknown_events_and_fields_are_kept() -> None:
    """An event we do not know, and new fields on known events, are stored as they came."""
    s = Session()
    use_id = s.tool_id()
    items = [s.start(), s.base("BrandNewEvent", shiny={"x": 1}),
             s.pre("Read", {"file_path": "/a"}, use_id, new_field="n1"),
             s.post("Read", {"file_path": "/a"}, "ok", use_id, 2, other_new=[1, 2])]  # fmt: skip
    events = run(items)
    (unknown,) = actions(events, "decision")
    assert unknown.action_name == "BrandNewEvent"
    assert unknown.action_details["unknown_event"] is True
    assert unknown.action_details["payload"]["shiny"] == {"x": 1}
    (call,) = actions(events, "tool_call")
    assert call.action_details["new_field"] == "n1"
    assert call.action_details["other_new"] == [1, 2]


def test_a_payload_without_session_or_event_still_maps() -> None:
    """The barest payload is stored (under session 'unknown'), never refused."""
    events = run([{"whatever": True}])
    assert any(isinstance(e, AgentAction) and e.action_name == "Unknown" for e in events)


def test_failure_becomes_an_error_action_for_the_call() -> None:
    """PostToolUseFailure gives one error action paired with its Pre, with the error text."""
    s = Session()
    use_id = s.tool_id()
    items = [s.start(), s.prompt("test"), s.pre("Bash", {"command": "pytest"}, use_id),
             s.failure("Bash", {"command": "pytest"}, use_id, "exit code 1")]  # fmt: skip
    events = run(items)
    assert actions(events, "tool_call") == []
    (error,) = actions(events, "error")
    assert error.tool_use_id == use_id
    assert error.duration_ms == 41
    assert error.action_details["error_message"] == "exit code 1", "not where readers look"
    assert error.action_details["exit_code"] == 1
    assert error.action_details["label"] == "Bash · pytest · exit 1"
    assert error.action_details["paired_by"] == "tool_use_id"


def test_a_new_prompt_before_stop_cancels_the_previous_one() -> None:
    """An interrupted prompt (no Stop) is closed as cancelled when the next one starts."""
    s = Session()
    events = run([s.start(), s.prompt("first"), s.prompt("second"), s.stop()])
    closed = [e for e in events if isinstance(e, ExecutionCompleted)]
    statuses = {e.correlation_id: e.status.value for e in closed}
    first_cid = next(e.correlation_id for e in events if is_prompt(e) and e.user_prompt == "first")
    assert statuses[first_cid] == "cancelled"
    assert list(statuses.values()).count("success") == 1


def test_events_before_session_start_imply_the_session() -> None:
    """Hooks installed mid-session: the session and prompt are implied, not lost."""
    s = Session()
    s.prompt_id = str(uuid.uuid4())
    use_id = s.tool_id()
    events = run([s.pre("Read", {}, use_id), s.post("Read", {}, "ok", use_id, 1), s.stop()])
    starts = [e for e in events if isinstance(e, ExecutionStarted)]
    assert [bool(e.metadata.get("implied")) for e in starts] == [True, True]
    prompt_cid = prompt_correlation_id(s.session_id, s.prompt_id)
    assert starts[1].correlation_id == prompt_cid
    assert actions(events, "tool_call")[0].correlation_id == prompt_cid


def test_session_end_closes_everything_left_open() -> None:
    """SessionEnd closes an open prompt, subagent and unfinished call, then the session."""
    s = Session()
    use_id = s.tool_id()
    events = run([s.start(), s.prompt("go"), s.subagent_start("ag1", "Plan"),
                  s.pre("Bash", {"command": "sleep 100"}, use_id), s.end("logout")])  # fmt: skip
    (unfinished,) = actions(events, "tool_call")
    assert unfinished.action_details["status"] == "no_result"
    closed = [e for e in events if isinstance(e, ExecutionCompleted)]
    assert [c.status.value for c in closed] == ["cancelled", "cancelled", "success"]
    assert closed[-1].correlation_id == session_correlation_id(s.session_id)
    assert closed[-1].result["reason"] == "logout"


def test_idle_sessions_are_closed_by_the_timeout_rule() -> None:
    """A session never seen ending is cancelled after the idle timeout, and only then."""
    s = Session()
    mapper = new_mapper(session_timeout_s=60)
    for p in payloads_of([s.start(), s.prompt("hi")]):
        mapper.map(p)
    assert mapper.expire(T0 + 30 * 10**9) == []
    events = mapper.expire(T0 + 3600 * 10**9)
    assert [type(e).__name__ for e in events] == ["ExecutionCompleted", "ExecutionCompleted"]
    assert events[-1].result["closed_by"] == "timeout"
    assert mapper.open_sessions == []


def test_stop_failure_fails_the_prompt() -> None:
    """StopFailure marks the prompt failed with the API error, plus an error action."""
    s = Session()
    events = run([s.start(), s.prompt("go"), s.stop_failure("rate_limit")])
    (failed,) = [e for e in events if isinstance(e, ExecutionFailed)]
    assert failed.error_type == "rate_limit"
    assert "429" in failed.error_message
    assert actions(events, "error")[0].action_name == "StopFailure"


def test_a_router_picks_the_routed_agent_and_a_failing_router_falls_back() -> None:
    """The prompt's routing decision comes from the router; a router error never loses it."""
    s = Session()
    routed = {
        "selected_agent": "agent-debug",
        "confidence_score": 0.8,
        "routing_strategy": "trigger",
        "routing_time_ms": 1.5,
        "alternatives": [{"agent_name": "agent-x", "confidence": 0.2}],
    }
    events = run([s.start(), s.prompt("debug this")], new_mapper(router=lambda _: routed))
    (decision,) = [e for e in events if isinstance(e, RoutingDecision)]
    assert decision.selected_agent == "agent-debug"
    assert decision.user_request == "debug this"

    def broken(_: str) -> dict[str, Any]:
        raise RuntimeError("router down")

    events = run([s.start(), s.prompt("debug this")], new_mapper(router=broken))
    (decision,) = [e for e in events if isinstance(e, RoutingDecision)]
    assert decision.routing_strategy == "claude-code"
    assert decision.selected_agent == "claude-code"


def test_subagent_tool_calls_without_subagent_start_imply_the_agent() -> None:
    """A subagent seen only through its calls becomes an implied child of the prompt."""
    s = Session()
    use_id = s.tool_id()
    items = [s.start(), s.prompt("go"),
             s.in_agent(s.pre("Grep", {"pattern": "x"}, use_id), "ag9", "Explore"),
             s.in_agent(s.post("Grep", {"pattern": "x"}, "ok", use_id, 3), "ag9", "Explore"),
             s.subagent_stop("ag9", "Explore", "done")]  # fmt: skip
    events = run(items)
    agent_starts = [
        e for e in events if isinstance(e, ExecutionStarted) and e.claude_agent_id == "ag9"
    ]
    assert len(agent_starts) == 1
    assert agent_starts[0].metadata["implied"] is True
    assert actions(events, "tool_call")[0].agent_name == "Explore"
    assert Counter(type(e).__name__ for e in events)["ExecutionCompleted"] == 1


def test_agent_tool_response_records_async_launch() -> None:
    """An Agent call whose response says async_launched is marked so."""
    s = Session()
    use_id = s.tool_id()
    tool_input = {"subagent_type": "Explore", "description": "bg", "prompt": "p"}
    items = [
        s.start(),
        s.prompt("go"),
        s.pre("Agent", tool_input, use_id),
        s.post("Agent", tool_input, {"status": "async_launched", "agentId": "ag5"}, use_id, 4),
    ]
    (call,) = actions(run(items), "tool_call")
    assert call.action_details["subagent"] == {
        "subagent_type": "Explore",
        "description": "bg",
        "async_launched": True,
        "agent_id": "ag5",
    }


def test_a_tool_bar_spans_pre_tool_use_to_post_tool_use() -> None:
    """A call starts when PreToolUse arrived and ends when PostToolUse did (never before)."""
    s = Session()
    use_id = s.tool_id()
    items = [
        s.start(),
        s.prompt("test"),
        s.pre("Bash", {"command": "pytest -x"}, use_id),
        s.post("Bash", {"command": "pytest -x"}, {"stdout": ""}, use_id, duration_ms=2),
    ]
    payloads = payloads_of(items, step_ns=400 * MS)
    mapper = new_mapper()
    events = [e for p in payloads for e in mapper.map(p)]  # fmt: skip
    (call,) = actions(events, "tool_call")
    assert call.started_at == payloads[2].received_at, "the call does not start at PreToolUse"
    assert call.timestamp == payloads[3].received_at, "the call does not end at PostToolUse"
    assert call.duration_ms == 2, "the tool's own run time was not kept"
    prompt = next(e for e in events if is_prompt(e))
    assert prompt.timestamp <= call.start, "the call starts before its prompt"


def test_a_result_without_its_pre_tool_use_starts_its_run_time_earlier() -> None:
    """PostToolUse alone (hooks installed mid-call): the bar is its duration, ending at Post."""
    s = Session()
    use_id = s.tool_id()
    items = [s.start(), s.prompt("go"), s.post("Read", {"file_path": "/a"}, "x", use_id,
                                               duration_ms=30)]  # fmt: skip
    payloads = payloads_of(items)
    (call,) = actions([e for p in payloads for e in new_mapper().map(p)], "tool_call")
    assert call.timestamp == payloads[2].received_at
    assert (call.timestamp - call.start).total_seconds() * 1000 == pytest.approx(30)
