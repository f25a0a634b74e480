"""All 31 documented hook events map to something meaningful; unknown ones are kept."""

from __future__ import annotations

from typing import Any

import pytest

from omniclaude.events import AgentAction, EventBase, ExecutionCompleted, ExecutionStarted
from omniclaude.hooks.payloads import KNOWN_EVENTS
from tests.unit.hooks.builders import Session, documented_payloads
from tests.unit.hooks.test_mapping import actions, new_mapper, payloads_of

_PLAIN = {"SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "PostToolUseFailure",
          "SubagentStart", "SubagentStop", "Stop", "StopFailure", "SessionEnd",
          "PermissionDenied"}  # fmt: skip
"""Events whose rows are lifecycle events or tool calls (checked by their own tests)."""


def _map(items: list[dict[str, Any]]) -> list[EventBase]:
    mapper = new_mapper()
    return [e for p in payloads_of(items) for e in mapper.map(p)]


def test_the_fixture_has_one_payload_per_documented_event() -> None:
    """The reference's 31 events, each with its documented fields."""
    assert sorted(documented_payloads(Session())) == sorted(KNOWN_EVENTS)
    assert len(KNOWN_EVENTS) == 31


@pytest.mark.parametrize("event", KNOWN_EVENTS)
def test_every_documented_event_maps_to_a_row_that_says_what_happened(event: str) -> None:
    """Each event, after a session start and a prompt, yields rows labelled with its content."""
    s = Session()
    documented = documented_payloads(s)
    before = [s.start(), s.prompt("work on refunds")]
    if event in {"SessionStart", "UserPromptSubmit"}:
        before = [] if event == "SessionStart" else [s.start()]
    if event in {"PostToolUse", "PostToolUseFailure", "PermissionDenied", "PermissionRequest"}:
        before.append(documented["PreToolUse"])
    after = [s.stop()] if event == "PreToolUse" else []  # a call never finished is still shown
    events = _map([*before, documented[event], *after])
    new = events[len(_map(before)) :] if event != "PreToolUse" else events
    assert new, f"{event} produced nothing"
    rows = [a for a in actions(new) if a.action_details.get("hook_event") in {event, "PreToolUse"}]
    if event in {"SessionStart", "UserPromptSubmit", "SessionEnd", "Stop", "SubagentStart",
                 "SubagentStop"}:  # fmt: skip
        assert any(isinstance(e, ExecutionStarted | ExecutionCompleted) for e in new), event
        return
    assert rows, f"{event} has no action row"
    for row in rows:
        label = row.action_details.get("label")
        assert isinstance(label, str), f"{event}: row without a label"
        assert label, f"{event}: empty label"
        if event not in _PLAIN and event != "PreCompact":
            assert label != event, f"{event}: the label names nothing ({label!r})"
    if event not in _PLAIN and event != "MessageDisplay":
        own = {k for k in documented[event] if k not in s.base("x")}
        kept = set(rows[0].action_details)
        assert own <= kept, f"{event}: fields dropped: {own - kept}"


def test_a_permission_request_sits_with_the_call_it_is_about() -> None:
    """No tool_use_id in the payload: joined to the open call, whose row then says so."""
    s = Session()
    d = documented_payloads(s)
    events = _map([s.start(), s.prompt("go"), d["PreToolUse"], d["PermissionRequest"],
                   d["PostToolUse"]])  # fmt: skip
    request = next(a for a in actions(events, "decision") if a.action_name == "PermissionRequest")
    (call,) = actions(events, "tool_call")
    assert request.tool_use_id == call.tool_use_id == d["PreToolUse"]["tool_use_id"]
    assert request.correlation_id == call.correlation_id
    assert call.action_details["permission_requested"] is True
    assert call.start < request.timestamp <= call.timestamp


def test_a_denied_call_is_an_error_row_from_its_pre_tool_use() -> None:
    """PermissionDenied closes the open call as an error with the reason as its text."""
    s = Session()
    d = documented_payloads(s)
    events = _map([s.start(), s.prompt("go"), d["PreToolUse"], d["PermissionDenied"], s.stop()])
    (denied,) = actions(events, "error")
    assert denied.tool_use_id == d["PreToolUse"]["tool_use_id"]
    assert denied.action_details["error_message"] == "permission denied: denied by the user"
    assert denied.action_details["label"] == "Bash · pytest -x · permission denied"
    assert denied.start < denied.timestamp
    assert not [a for a in actions(events) if a.action_details.get("status") == "no_result"]


def test_streamed_message_chunks_fold_into_one_row() -> None:
    """MessageDisplay runs once per chunk: the chunks of a message become one decision."""
    s = Session()
    chunks = [s.base("MessageDisplay", turn_id="t", message_id="m1", index=i, final=i == 2,
                     delta=text) for i, text in enumerate(["All ", "tests ", "pass."])]  # fmt: skip
    events = _map([s.start(), s.prompt("go"), *chunks])
    (row,) = [a for a in actions(events) if a.action_name == "MessageDisplay"]
    assert row.action_details["text"] == "All tests pass."
    assert row.action_details["chunks"] == 3
    assert row.action_details["complete"] is True
    assert row.start < row.timestamp


def test_a_message_still_streaming_when_the_session_ends_is_kept() -> None:
    """Chunks without a final one are recorded (marked incomplete) when the session closes."""
    s = Session()
    chunk = s.base("MessageDisplay", turn_id="t", message_id="m2", index=0, final=False,
                   delta="Working on")  # fmt: skip
    events = _map([s.start(), s.prompt("go"), chunk, s.end()])
    (row,) = [a for a in actions(events) if a.action_name == "MessageDisplay"]
    assert (row.action_details["text"], row.action_details["complete"]) == ("Working on", False)


def test_an_unknown_future_event_is_kept_as_it_came() -> None:
    """An event Claude Code adds later is stored with its whole payload, never refused."""
    s = Session()
    events = _map([s.start(), s.base("BrandNewEvent", widget={"size": 3})])
    (row,) = [a for a in actions(events) if isinstance(a, AgentAction)]
    assert row.action_name == "BrandNewEvent"
    assert row.action_details["unknown_event"] is True
    assert row.action_details["payload"]["widget"] == {"size": 3}
