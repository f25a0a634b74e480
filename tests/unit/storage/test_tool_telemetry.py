"""The trace read folds tool telemetry (Claude Code's tool_result / tool_decision) into the
hook-recorded tool call of its tool_use_id; telemetry of a call no hook saw is one call."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from omniclaude.storage.queries.rows import ActionRow, TimelineEntry
from omniclaude.storage.queries.traces import TraceTree, fold_tool_telemetry

T0 = datetime(2026, 12, 2, 12, tzinfo=UTC)
PROMPT, AGENT = uuid.uuid4(), uuid.uuid4()


def _row(n: int, cid: uuid.UUID, kind: str, name: str, **extra: Any) -> ActionRow:
    at = T0 + timedelta(seconds=n)
    return ActionRow(
        event_id=uuid.uuid4(), correlation_id=cid, action_type=kind, action_name=name,
        action_details=extra.pop("details", {}), metadata={}, started_at=at, created_at=at,
        **extra,
    )  # fmt: skip


def _telemetry(n: int, name: str, use_id: str, **attrs: Any) -> ActionRow:
    details = {"telemetry_of": use_id, "attributes": {"tool_use_id": use_id, **attrs}}
    return _row(n, PROMPT, "decision", name, details=details)


def _entry(row: ActionRow) -> tuple[uuid.UUID, TimelineEntry]:
    return row.correlation_id, TimelineEntry(
        started_at=row.started_at, created_at=row.created_at, source="action",
        event_id=row.event_id, kind=row.action_type, details={},
    )  # fmt: skip


def test_telemetry_enriches_the_call_of_its_id_anywhere_in_the_tree() -> None:
    call = _row(1, AGENT, "tool_call", "Bash", tool_use_id="toolu_1", details={"label": "ls"})
    decided = _telemetry(2, "tool_decision", "toolu_1", decision="accept")
    result = _telemetry(3, "tool_result", "toolu_1", success="true")
    other = _row(4, PROMPT, "decision", "compaction")
    orphan_a = _telemetry(5, "tool_decision", "toolu_9", tool_name="WebFetch")
    orphan_b = _telemetry(6, "tool_result", "toolu_9", tool_name="WebFetch")
    rows = [call, decided, result, other, orphan_a, orphan_b]
    tree = TraceTree(root=PROMPT, actions=list(rows), timeline=[_entry(r) for r in rows])
    fold_tool_telemetry(tree)

    assert [(a.action_type, a.action_name) for a in tree.actions] == [
        ("tool_call", "Bash"), ("decision", "compaction"), ("tool_call", "WebFetch"),
    ]  # fmt: skip
    enriched = tree.actions[0]
    assert enriched.action_details["label"] == "ls"
    telemetry = enriched.action_details["telemetry"]
    assert telemetry["tool_result"]["attributes"]["success"] == "true"
    assert telemetry["tool_decision"]["event_id"] == str(decided.event_id)
    lone = tree.actions[2]
    assert (lone.tool_use_id, lone.event_id) == ("toolu_9", orphan_a.event_id)
    assert set(lone.action_details["telemetry"]) == {"tool_decision", "tool_result"}
    assert lone.action_details["orphan_telemetry"] is True
    assert [e.event_id for _, e in tree.timeline] == [
        call.event_id,
        other.event_id,
        orphan_a.event_id,
    ]


def test_a_decision_without_telemetry_of_is_left_alone() -> None:
    plain = _row(1, PROMPT, "decision", "tool_result", details={"attributes": {}})
    tree = TraceTree(root=PROMPT, actions=[plain])
    fold_tool_telemetry(tree)
    assert tree.actions == [plain]
