"""The waterfall layout: order, nesting, timing rules and positions."""

from __future__ import annotations

import uuid

import pytest

from omniclaude.api.viewer.waterfall import MIN_WIDTH_PCT, build_waterfall, format_duration
from tests.unit.viewer.rows import (
    action_row,
    execution_row,
    manifest_row,
    routing_row,
    trace_of,
    transformation_row,
)


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (None, "—"),
        (0.25, "250 µs"),
        (12.345, "12.3 ms"),
        (250, "250 ms"),
        (4210, "4.21 s"),
        (185_000, "3 min 5 s"),
        (7_500_000, "2 h 5 min"),
    ],
)
def test_format_duration_picks_a_readable_unit(ms: float | None, text: str) -> None:
    """Durations print in the unit a person reads at a glance."""
    assert format_duration(ms) == text


def test_every_row_of_a_trace_becomes_one_span_in_time_order() -> None:
    """The execution comes first, then its routing, manifest and actions by start time."""
    cid = uuid.uuid4()
    actions = [action_row(cid, name="list_files", end_ms=30), action_row(cid, end_ms=60)]
    trace = trace_of(
        cid,
        executions=[execution_row(cid)],
        actions=actions,
        routing=[routing_row(cid)],
        manifests=[manifest_row(cid)],
    )
    waterfall = build_waterfall(trace)
    assert [s.source for s in waterfall.spans] == [
        "execution", "routing", "manifest", "action", "action",
    ], "a span was lost or reordered"  # fmt: skip
    assert {s.event_id for s in waterfall.spans if s.source == "action"} == {
        str(a.event_id) for a in actions
    }, "an action of the trace is missing from the waterfall"
    assert waterfall.spans[0].depth == 0
    assert all(s.depth == 1 for s in waterfall.spans[1:])
    assert waterfall.action_count == 2


def test_a_tool_call_ends_at_its_timestamp_and_lasts_its_duration() -> None:
    """A tool call's event is written when it ends: its bar starts duration_ms earlier."""
    cid = uuid.uuid4()
    trace = trace_of(cid, executions=[execution_row(cid)], actions=[action_row(cid, end_ms=50)])
    span = next(s for s in build_waterfall(trace).spans if s.source == "action")
    assert span.offset_ms == pytest.approx(40)
    assert span.duration_ms == pytest.approx(10)
    assert span.left_pct == pytest.approx(40)
    assert span.width_pct == pytest.approx(10)


def test_point_events_stay_visible() -> None:
    """A decision without duration is a point, drawn at the minimum width."""
    cid = uuid.uuid4()
    decision = action_row(cid, kind="decision", name="pick", end_ms=20, duration_ms=None)
    trace = trace_of(cid, executions=[execution_row(cid)], actions=[decision])
    span = next(s for s in build_waterfall(trace).spans if s.source == "action")
    assert span.point
    assert span.duration_text == "—"
    assert span.width_pct == pytest.approx(MIN_WIDTH_PCT)


def test_children_nest_under_their_parent_with_their_own_events() -> None:
    """A child execution and its actions appear under the parent, one level deeper."""
    root, child = uuid.uuid4(), uuid.uuid4()
    trace = trace_of(
        root,
        executions=[
            execution_row(root, agent="polymorphic-agent", end_ms=200),
            execution_row(child, agent="test-finder", parent=root, start_ms=20, end_ms=80, depth=1),
        ],
        actions=[action_row(child, end_ms=70), action_row(root, name="summarise", end_ms=190)],
    )
    spans = build_waterfall(trace).spans
    assert [(s.source, s.label, s.depth) for s in spans] == [
        ("execution", "polymorphic-agent", 0),
        ("execution", "test-finder", 1),
        ("action", "read_file", 2),
        ("action", "summarise", 1),
    ], "the child's events are not nested under it"


def test_errors_and_failures_are_flagged() -> None:
    """Error actions, failed executions and failed transformations are marked as errors."""
    cid = uuid.uuid4()
    trace = trace_of(
        cid,
        executions=[execution_row(cid, status="failed", error_type="Boom", error_message="x")],
        actions=[
            action_row(
                cid, kind="error", name="TransientToolError", details={"error_message": "503"}
            )
        ],
        transformations=[transformation_row(cid, phase="transformation_failed")],
    )
    spans = build_waterfall(trace).spans
    assert all(s.error for s in spans), [(s.source, s.error) for s in spans]
    action = next(s for s in spans if s.source == "action")
    assert action.note == "503"
    transformation = next(s for s in spans if s.source == "transformation")
    assert transformation.label.endswith("(failed)")


def test_a_running_execution_lasts_until_its_latest_event() -> None:
    """An execution still in progress is drawn to its last child's end."""
    root, child = uuid.uuid4(), uuid.uuid4()
    trace = trace_of(
        root,
        executions=[
            execution_row(root, status="in_progress", end_ms=None),
            execution_row(child, parent=root, start_ms=10, end_ms=300, depth=1),
        ],
    )
    waterfall = build_waterfall(trace)
    assert waterfall.spans[0].end == waterfall.spans[1].end
    assert waterfall.total_ms == pytest.approx(300)


def test_a_trace_without_an_execution_row_still_shows_its_events() -> None:
    """Bare actions (no lifecycle events yet) are laid out on their own."""
    cid = uuid.uuid4()
    trace = trace_of(cid, actions=[action_row(cid, end_ms=10), action_row(cid, end_ms=20)])
    waterfall = build_waterfall(trace)
    assert [s.source for s in waterfall.spans] == ["action", "action"]
    assert waterfall.root_execution is None
    assert not trace.empty


def test_an_empty_trace_has_no_axis() -> None:
    """Nothing recorded: no spans, a zero axis and no ticks beyond zero."""
    waterfall = build_waterfall(trace_of(uuid.uuid4()))
    assert waterfall.spans == []
    assert waterfall.total_ms == 0
    assert waterfall.ticks[0] == (0, "0 µs")


def test_as_json_lists_every_span_and_redacts_labels() -> None:
    """The JSON form has one entry per span and no secret in a label."""
    cid = uuid.uuid4()
    trace = trace_of(
        cid,
        executions=[execution_row(cid)],
        actions=[action_row(cid, name="login alice@example.com")],
    )
    data = build_waterfall(trace).as_json()
    assert data["correlation_id"] == str(cid)
    assert len(data["spans"]) == 2
    assert "alice@example.com" not in str(data), "an e-mail address leaked into the JSON"


def test_orphan_children_beyond_the_depth_limit_are_still_shown() -> None:
    """A row whose parent is not in the tree is laid out rather than dropped."""
    root, orphan = uuid.uuid4(), uuid.uuid4()
    trace = trace_of(
        root,
        executions=[
            execution_row(root),
            execution_row(orphan, parent=uuid.uuid4(), agent="lost", depth=9),
        ],
    )
    labels = [s.label for s in build_waterfall(trace).spans]
    assert "lost" in labels, "an execution of the tree was dropped"


def test_a_bar_is_drawn_from_its_stored_start_to_its_stored_end() -> None:
    """The waterfall reads started_at → created_at and never derives one from the duration."""
    from tests.unit.viewer.rows import at

    cid = uuid.uuid4()
    # A Claude Code tool: 3 ms of run time, but PreToolUse → PostToolUse took 400 ms.
    call = action_row(cid, end_ms=450, duration_ms=3).model_copy(update={"started_at": at(50)})
    waterfall = build_waterfall(trace_of(cid, executions=[execution_row(cid)], actions=[call]))
    span = next(s for s in waterfall.spans if s.source == "action")
    assert (span.start, span.end) == (at(50), at(450))
    assert span.duration_ms == pytest.approx(400)


@pytest.mark.parametrize(
    ("telemetry", "note"),
    [
        ({"tool_result": {"attributes": {"success": "false", "error_type": "Timeout"}}}, "Timeout"),
        ({"tool_decision": {"attributes": {"decision": "reject", "source": "user"}}},
         "rejected (user)"),
        ({"tool_result": {"attributes": {"success": "true"}}}, ""),
        ({"tool_result": "odd"}, ""),
    ],
)  # fmt: skip
def test_claude_code_telemetry_of_a_tool_call_is_its_note(
    telemetry: dict[str, object], note: str
) -> None:
    """A failed or rejected call (by its folded tool_result / tool_decision) says so."""
    cid = uuid.uuid4()
    trace = trace_of(cid, actions=[action_row(cid, name="Bash", details={"telemetry": telemetry})])
    action = next(s for s in build_waterfall(trace).spans if s.source == "action")
    assert action.note == note
