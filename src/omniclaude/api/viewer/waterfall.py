"""Lay a trace out as a waterfall: one row per span, positioned on a shared time axis.

Pure functions over the read layer's :class:`~omniclaude.storage.queries.TraceTree`; no I/O.
Timing is read, never guessed (see :class:`~omniclaude.events.base.TimedEvent`):

* an execution runs from ``started_at`` to ``completed_at`` (still running: to its last event,
  or its last child's end);
* every other row runs from its ``started_at`` to its ``created_at`` (when it ended); a row
  whose two are equal is a point (drawn as a marker).

Within an execution, what one thing caused hangs beneath it: the tool calls an LLM call asked
for, a permission decision under its call, the subagent an Agent call launched.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from omniclaude.storage.queries import (
    ActionRow,
    ExecutionRow,
    LlmCallRow,
    ManifestRow,
    RoutingRow,
    TraceTree,
    TransformationRow,
)
from omniclaude.storage.queries.rows import Row
from omniclaude.storage.queries.usage import UsageTotals, summarize

__all__ = ["Span", "Waterfall", "build_waterfall", "format_duration"]

MIN_WIDTH_PCT = 0.4
"""Narrowest bar drawn, so a 0.1 ms call is still visible and clickable."""


def format_duration(ms: float | None) -> str:  # noqa: PLR0911 - one return per unit
    """Return a short human duration: ``850 µs``, ``12.3 ms``, ``4.21 s``, ``3 min 5 s``."""
    if ms is None:
        return "—"
    if ms < 1:
        return f"{ms * 1000:.0f} µs"
    if ms < 100:
        return f"{ms:.1f} ms"
    if ms < 1000:
        return f"{ms:.0f} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


@dataclass(slots=True)
class Span:
    """One row of the waterfall."""

    source: str
    """Which table it comes from: execution, routing, manifest, transformation, action."""
    event_id: str
    """The row's id (the correlation id for an execution)."""
    correlation_id: str
    kind: str
    label: str
    start: datetime
    end: datetime
    depth: int
    error: bool = False
    warning: bool = False
    status: str | None = None
    note: str = ""
    offset_ms: float = 0.0
    left_pct: float = 0.0
    width_pct: float = 0.0
    usage: UsageTotals | None = None
    """An execution's LLM calls with those of everything under it (each once)."""

    @property
    def duration_ms(self) -> float:
        """How long the span lasted (0 for a point event)."""
        return (self.end - self.start).total_seconds() * 1000

    @property
    def point(self) -> bool:
        """True for an event with no duration."""
        return self.end <= self.start

    @property
    def duration_text(self) -> str:
        """The duration, formatted (a dash for a point event)."""
        return "—" if self.point else format_duration(self.duration_ms)


@dataclass(slots=True)
class Waterfall:
    """A laid-out trace: its spans in display order and the axis."""

    root: uuid.UUID
    spans: list[Span] = field(default_factory=list)
    start: datetime | None = None
    end: datetime | None = None
    root_execution: ExecutionRow | None = None
    routing: list[RoutingRow] = field(default_factory=list)
    manifests: list[ManifestRow] = field(default_factory=list)
    live: bool = False
    usage: UsageTotals = field(default_factory=UsageTotals)
    """Every LLM call of the trace (its executions and all under them), each once."""
    truncated: bool = False

    @property
    def total_ms(self) -> float:
        """Length of the axis in milliseconds."""
        if self.start is None or self.end is None:
            return 0.0
        return (self.end - self.start).total_seconds() * 1000

    @property
    def ticks(self) -> list[tuple[float, str]]:
        """Five axis labels as ``(left_pct, text)``."""
        total = self.total_ms
        return [(pct, format_duration(total * pct / 100)) for pct in (0, 25, 50, 75, 100)]

    def as_json(self) -> dict[str, Any]:
        """The waterfall as JSON-ready data (labels and notes are redacted)."""
        from omniclaude.api.viewer.render import redacted

        return {
            "correlation_id": str(self.root),
            "start": self.start.isoformat() if self.start else None,
            "total_ms": self.total_ms,
            "spans": [
                {
                    "source": s.source,
                    "event_id": s.event_id,
                    "correlation_id": s.correlation_id,
                    "kind": s.kind,
                    "label": redacted(s.label),
                    "note": redacted(s.note),
                    "start": s.start.isoformat(),
                    "end": s.end.isoformat(),
                    "offset_ms": round(s.offset_ms, 3),
                    "duration_ms": round(s.duration_ms, 3),
                    "depth": s.depth,
                    "error": s.error,
                    "status": s.status,
                    **({"usage": s.usage.as_json()} if s.usage is not None else {}),
                }
                for s in self.spans
            ],
            "usage": self.usage.as_json(),
        }

    @property
    def action_count(self) -> int:
        """How many action spans the waterfall shows."""
        return sum(1 for span in self.spans if span.source == "action")


def _span_of(
    row: ActionRow | RoutingRow | ManifestRow | TransformationRow | LlmCallRow,
) -> tuple[datetime, datetime]:
    """A row's stored ``started_at`` → ``created_at`` (its end)."""
    return min(row.started_at, row.created_at), row.created_at


def _action_note(row: ActionRow) -> str:
    """A few words beside an action: an error's message, a retry's reason, what Claude Code's
    telemetry folded into a tool call says (a rejection, a failure's error type)."""
    for key in ("error_message", "message", "error_type", "summary"):
        value = row.action_details.get(key)
        if isinstance(value, str) and value and value != row.action_name:
            return value
    return _telemetry_note(row.action_details.get("telemetry"))


def _telemetry_note(telemetry: Any) -> str:
    if not isinstance(telemetry, dict):
        return ""

    def attrs(event: str) -> dict[str, Any]:
        found = telemetry.get(event)
        found = found.get("attributes") if isinstance(found, dict) else None
        return found if isinstance(found, dict) else {}

    notes = []
    decision = attrs("tool_decision")
    if str(decision.get("decision", "")).lower() == "reject":
        source = decision.get("source")
        notes.append(f"rejected ({source})" if source else "rejected")
    result = attrs("tool_result")
    if str(result.get("success", "")).lower() == "false":
        notes.append(str(result.get("error_type") or "failed"))
    return "; ".join(notes)


def _action_span(row: ActionRow, depth: int) -> Span:
    start, end = _span_of(row)
    label, note = row.label, _action_note(row)
    return Span(
        source="action", event_id=str(row.event_id), correlation_id=str(row.correlation_id),
        kind=row.action_type, label=label, start=start, end=end, depth=depth,
        error=row.action_type == "error", note="" if note and note in label else note,
    )  # fmt: skip


def _routing_span(row: RoutingRow, depth: int) -> Span:
    start, end = _span_of(row)
    return Span(
        source="routing", event_id=str(row.event_id), correlation_id=str(row.correlation_id),
        kind="routing", label=f"route → {row.selected_agent}", start=start, end=end,
        depth=depth, warning=row.is_fallback, note=f"confidence {row.confidence_score:.2f}",
    )  # fmt: skip


def _manifest_span(row: ManifestRow, depth: int) -> Span:
    start, end = _span_of(row)
    return Span(
        source="manifest", event_id=str(row.event_id), correlation_id=str(row.correlation_id),
        kind="manifest", label=f"manifest for {row.agent_name}", start=start, end=end,
        depth=depth, warning=bool(row.is_fallback or row.warnings),
        note=f"{len(row.sections_included)} sections",
    )  # fmt: skip


def _transformation_span(row: TransformationRow, depth: int) -> Span:
    start, end = _span_of(row)
    phase = row.event_type
    failed = phase == "transformation_failed" or row.success is False
    return Span(
        source="transformation", event_id=str(row.event_id),
        correlation_id=str(row.correlation_id), kind="transformation",
        label=f"transform {row.source_agent or '?'} → {row.target_agent} "
        f"({_PHASES.get(phase, phase)})",
        start=start, end=end, depth=depth, error=failed, note=row.transformation_reason or "",
    )  # fmt: skip


def _llm_span(row: LlmCallRow, depth: int) -> Span:
    start, end = _span_of(row)
    note = f"{row.total_tokens:,} tokens"
    note += f" · ${row.cost_usd:.4f}" if row.cost_usd is not None else " · unpriced"
    return Span(
        source="llm", event_id=str(row.event_id), correlation_id=str(row.correlation_id),
        kind="llm_call", label=row.model, start=start, end=end, depth=depth, note=note,
    )  # fmt: skip


_PHASES = {
    "transformation_start": "start",
    "transformation_complete": "complete",
    "transformation_failed": "failed",
}

_BUILDERS: dict[str, Any] = {
    "actions": _action_span,
    "routing": _routing_span,
    "manifests": _manifest_span,
    "transformations": _transformation_span,
    "llm_calls": _llm_span,
}


def _execution_span(row: ExecutionRow, depth: int, children_end: datetime | None) -> Span:
    """An execution's bar: its start to its end — or to the end of the work under it, when a
    child (a background subagent) finished after it (its own end is then in the note)."""
    start = row.started_at or row.created_at
    own_end = row.completed_at or row.last_event_at
    end = max(own_end, children_end) if children_end is not None else own_end
    status = row.status.value
    note = (row.user_prompt or "")[:120]
    if row.completed_at is not None and end > own_end:
        note = f"(its turn ended at +{(own_end - start).total_seconds():.1f} s) {note}".strip()
    return Span(
        source="execution", event_id=str(row.correlation_id),
        correlation_id=str(row.correlation_id), kind="execution", label=row.agent_name,
        start=start, end=max(end, start), depth=depth, error=status == "failed",
        warning=status == "cancelled", status=status, note=note,
    )  # fmt: skip


@dataclass(slots=True)
class _Node:
    """A span (or a child execution's spans) and what hangs beneath it, in one execution."""

    start: datetime
    spans: list[Span]
    children: list[_Node] = field(default_factory=list)
    attached: bool = False


def _emit(node: _Node, depth: int, out: list[Span]) -> None:
    shift = depth - node.spans[0].depth
    for span in node.spans:
        span.depth += shift
        out.append(span)
    for child in sorted(node.children, key=lambda n: n.start):
        _emit(child, depth + 1, out)


def _attach(node: _Node, parent: _Node | None) -> None:
    if parent is not None and parent is not node:
        parent.children.append(node)
        node.attached = True


def _nest(own: list[tuple[Row, _Node]], kids: list[tuple[ExecutionRow, _Node]]) -> list[_Node]:
    """Hang each node under the one it belongs to; return the top-level nodes.

    A tool call hangs under the LLM call that asked for it (``tool_use_ids``), a decision
    about a call (a permission request) under that call, a subagent under the Agent/Task
    call that launched it (the call's result names the agent; else its start said which).
    """
    asked: dict[str, _Node] = {}
    calls: dict[str, _Node] = {}
    by_agent: dict[str, _Node] = {}
    for row, node in own:
        if isinstance(row, LlmCallRow):
            asked.update(dict.fromkeys(row.tool_use_ids, node))
        elif isinstance(row, ActionRow) and row.tool_use_id and row.action_type != "decision":
            calls[row.tool_use_id] = node
            subagent = row.action_details.get("subagent")
            if isinstance(subagent, dict) and isinstance(subagent.get("agent_id"), str):
                by_agent[subagent["agent_id"]] = node
    for row, node in own:
        if isinstance(row, ActionRow) and row.tool_use_id:
            if row.action_type == "decision":
                _attach(node, calls.get(row.tool_use_id))
            else:
                _attach(node, asked.get(row.tool_use_id))
    for kid, node in kids:
        launched_by = kid.metadata.get("parent_tool_use_id")
        launcher = by_agent.get(kid.claude_agent_id or "") or (
            calls.get(launched_by) if isinstance(launched_by, str) else None
        )
        _attach(node, launcher)
    return [n for n in (*(n for _, n in own), *(n for _, n in kids)) if not n.attached]


def _began(row: ExecutionRow) -> datetime:
    return row.started_at or row.created_at


def build_waterfall(trace: TraceTree) -> Waterfall:
    """Lay out ``trace``: each execution followed by its events and children, in time order.

    Returns:
        The waterfall; its spans carry ``left_pct``/``width_pct`` on a shared axis.
    """
    items: dict[str, list[tuple[str, Row]]] = defaultdict(list)
    for key in _BUILDERS:
        for row in getattr(trace, key):
            items[str(row.correlation_id)].append((key, row))
    executions = {str(row.correlation_id): row for row in trace.executions}
    children: dict[str, list[ExecutionRow]] = defaultdict(list)
    for row in trace.executions:
        parent = row.parent_correlation_id
        if parent is not None and row.correlation_id != trace.root:
            children[str(parent)].append(row)
    seen: set[str] = set()

    def visit(cid: str) -> tuple[list[Span], datetime | None, list[LlmCallRow]]:
        """The spans of execution ``cid`` (depths relative to it), the latest end, and the
        LLM calls of it and everything under it."""
        if cid in seen:
            return [], None, []
        seen.add(cid)
        calls = [row for _, row in items.get(cid, []) if isinstance(row, LlmCallRow)]
        own: list[tuple[Row, _Node]] = []
        for key, row in items.get(cid, []):
            span = _BUILDERS[key](row, 1)
            own.append((row, _Node(span.start, [span])))
        kids: list[tuple[ExecutionRow, _Node]] = []
        latest = max((n.spans[0].end for _, n in own), default=None)
        for kid in sorted(children.get(cid, []), key=_began):
            sub, kid_end, kid_calls = visit(str(kid.correlation_id))
            calls.extend(kid_calls)
            if sub:
                kids.append((kid, _Node(sub[0].start, sub)))
                latest = max(filter(None, [latest, kid_end, *(s.end for s in sub)]))
        out: list[Span] = []
        for node in sorted(_nest(own, kids), key=lambda n: n.start):
            _emit(node, 1, out)
        summary = executions.get(cid)
        if summary is not None:
            header = _execution_span(summary, 0, latest)
            if calls:
                header.usage = summarize(calls)
            out.insert(0, header)
            latest = max(filter(None, [latest, header.end]))
        return out, latest, calls

    spans, _, _ = visit(str(trace.root))
    for cid in executions:  # orphans: rows whose parent chain was cut by the depth limit
        if cid not in seen:
            orphan, _, _ = visit(cid)
            for span in orphan:
                span.depth += 1
            spans.extend(orphan)

    waterfall = Waterfall(
        root=trace.root, spans=spans, live=trace.running, truncated=trace.truncated
    )
    waterfall.root_execution = trace.root_execution
    waterfall.routing = [r for r in trace.routing if r.correlation_id == trace.root]
    waterfall.manifests = [r for r in trace.manifests if r.correlation_id == trace.root]
    waterfall.usage = summarize(trace.llm_calls)
    _position(waterfall)
    return waterfall


def _position(waterfall: Waterfall) -> None:
    if not waterfall.spans:
        return
    start = min(span.start for span in waterfall.spans)
    end = max(span.end for span in waterfall.spans)
    waterfall.start, waterfall.end = start, end
    total = max((end - start).total_seconds() * 1000, 1.0)
    for span in waterfall.spans:
        span.offset_ms = (span.start - start).total_seconds() * 1000
        span.left_pct = min(span.offset_ms / total * 100, 100 - MIN_WIDTH_PCT)
        span.width_pct = max(span.duration_ms / total * 100, MIN_WIDTH_PCT)
        span.width_pct = min(span.width_pct, 100 - span.left_pct)
