"""Traces: an execution, its descendants and every row recorded for them.

One read for every reader: :func:`fetch_trace_tree` reads the tree of executions with one
recursive statement, then each table once for all of them (``correlation_id = ANY(...)``),
so a trace costs a fixed number of statements however many children it has. The API nests
it (:class:`Trace`, :func:`get_trace`); the viewer and the CLI lay it out as a waterfall.

Tool telemetry (Claude Code's ``tool_result`` / ``tool_decision`` log events, stored as
``decision`` actions whose ``action_details.telemetry_of`` names a ``tool_use_id``) is folded
by :func:`fold_tool_telemetry` into the hook-recorded ``tool_call`` of that id, anywhere in
the tree, as ``action_details.telemetry.<event>``: the call appears once, enriched. Telemetry
of a call no hook recorded becomes one ``tool_call`` of its own (``orphan_telemetry``).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from omniclaude.events.actions import TELEMETRY_OF, TOOL_TELEMETRY_EVENTS
from omniclaude.storage.queries._base import Reader, column_list, one_connection, rows_as
from omniclaude.storage.queries.filters import (
    EVERYWHEN,
    Cursor,
    Window,
    encode_cursor,
    trace_window,
)
from omniclaude.storage.queries.rows import (
    ActionRow,
    ExecutionRow,
    LifecycleRow,
    LlmCallRow,
    ManifestRow,
    RoutingRow,
    TimelineEntry,
    TransformationRow,
)

__all__ = [
    "MAX_TRACE_DEPTH",
    "MAX_TRACE_EXECUTIONS",
    "RECORD_SOURCES",
    "ActivityItem",
    "Trace",
    "TraceActivity",
    "TraceTree",
    "fetch_lifecycle",
    "fetch_record",
    "fetch_trace_tree",
    "fold_tool_telemetry",
    "get_trace",
    "latest_activity",
    "trace_activity",
]

MAX_TRACE_DEPTH = 8
"""How many levels of children a trace holds."""
MAX_TRACE_EXECUTIONS = 500
"""How many executions one trace holds at most (``TraceTree.truncated`` says when cut)."""


_TREE = (
    "WITH RECURSIVE tree(correlation_id, depth) AS ("  # noqa: S608 - constants only
    " SELECT $1::uuid, 0"
    " UNION"
    " SELECT l.correlation_id, t.depth + 1"
    "   FROM agent_execution_logs l JOIN tree t ON l.parent_correlation_id = t.correlation_id"
    "  WHERE t.depth < $2) "
    f"SELECT {column_list(ExecutionRow, prefix='l.')} "
    "FROM tree t JOIN agent_execution_logs l ON l.correlation_id = t.correlation_id "
    "ORDER BY t.depth, l.started_at NULLS FIRST, l.created_at LIMIT $3"
)
_TREE_IDS = (
    "WITH RECURSIVE tree(correlation_id, depth) AS ("
    " SELECT $1::uuid, 0"
    " UNION"
    " SELECT l.correlation_id, t.depth + 1"
    "   FROM agent_execution_logs l JOIN tree t ON l.parent_correlation_id = t.correlation_id"
    "  WHERE t.depth < $2) "
    "SELECT t.correlation_id, l.status, l.created_at, l.last_event_at FROM tree t "
    "LEFT JOIN agent_execution_logs l ON l.correlation_id = t.correlation_id LIMIT $3"
)
_BOUNDED = " WHERE correlation_id = ANY($1::uuid[]) AND created_at >= $2 AND created_at < $3"
"""A trace's rows: its correlation ids, within its window (:func:`trace_window`: only those
days' partitions are visited)."""
_ORDER = _BOUNDED + " ORDER BY started_at, created_at, event_id"
_LIFECYCLE_COLUMNS = (
    "event_id, correlation_id, event_type, agent_name, status, payload, "
    "created_at AS started_at, created_at"
)
_SECTIONS: dict[str, tuple[type[BaseModel], str]] = {
    "lifecycle": (
        LifecycleRow,
        (
            f"SELECT {_LIFECYCLE_COLUMNS} FROM agent_execution_events"  # noqa: S608
            + _BOUNDED
            + " ORDER BY created_at, event_id"
        ),
    ),
    "routing": (
        RoutingRow,
        f"SELECT {column_list(RoutingRow)} FROM agent_routing_decisions" + _ORDER,  # noqa: S608
    ),
    "manifests": (
        ManifestRow,
        f"SELECT {column_list(ManifestRow)} FROM agent_manifest_injections" + _ORDER,  # noqa: S608
    ),
    "transformations": (
        TransformationRow,
        f"SELECT {column_list(TransformationRow)} FROM agent_transformation_events"  # noqa: S608
        + _ORDER,
    ),
    "actions": (
        ActionRow,
        f"SELECT {column_list(ActionRow)} FROM agent_actions" + _ORDER,  # noqa: S608
    ),
    "llm_calls": (
        LlmCallRow,
        f"SELECT {column_list(LlmCallRow)} FROM agent_llm_calls" + _ORDER,  # noqa: S608
    ),
}
"""Per table: the row model and the statement reading a trace's rows, in the order they began."""
_TIMELINE = (
    f"SELECT correlation_id, {column_list(TimelineEntry)} "  # noqa: S608 - constants
    "FROM agent_trace_events" + _BOUNDED + " ORDER BY started_at, created_at, source, event_id"
)


@dataclass(slots=True)
class TraceTree:
    """Every row of one trace tree, typed, keyed by table (each list in the order it began)."""

    root: uuid.UUID
    executions: list[ExecutionRow] = field(default_factory=list)
    lifecycle: list[LifecycleRow] = field(default_factory=list)
    routing: list[RoutingRow] = field(default_factory=list)
    manifests: list[ManifestRow] = field(default_factory=list)
    transformations: list[TransformationRow] = field(default_factory=list)
    actions: list[ActionRow] = field(default_factory=list)
    llm_calls: list[LlmCallRow] = field(default_factory=list)
    timeline: list[tuple[uuid.UUID, TimelineEntry]] = field(default_factory=list)
    truncated: bool = False

    @property
    def empty(self) -> bool:
        """True when the database knows nothing about this correlation id."""
        return not (
            self.executions
            or self.lifecycle
            or self.routing
            or self.manifests
            or self.transformations
            or self.actions
            or self.llm_calls
        )

    @property
    def root_execution(self) -> ExecutionRow | None:
        """The summary row of the root (None while only its events are known)."""
        return next((e for e in self.executions if e.correlation_id == self.root), None)

    @property
    def running(self) -> bool:
        """True while an execution of the tree is in progress."""
        return any(e.status == "in_progress" for e in self.executions)


async def fetch_trace_tree(
    db: Reader, correlation_id: uuid.UUID, *, timeline: bool = False
) -> TraceTree:
    """Read the execution ``correlation_id``, its descendants and every row of them.

    Args:
        db: a connection or pool.
        correlation_id: the root execution.
        timeline: also read the merged timeline (the ``agent_trace_events`` view).

    Returns:
        The rows; ``TraceTree.empty`` is True when nothing is known about the id.
    """
    async with one_connection(db) as conn:
        executions = rows_as(
            ExecutionRow,
            await conn.fetch(_TREE, correlation_id, MAX_TRACE_DEPTH, MAX_TRACE_EXECUTIONS + 1),
        )
        tree = TraceTree(root=correlation_id, truncated=len(executions) > MAX_TRACE_EXECUTIONS)
        tree.executions = executions[:MAX_TRACE_EXECUTIONS]
        ids = list(dict.fromkeys([correlation_id, *(e.correlation_id for e in tree.executions)]))
        since, until = trace_window(
            (e.created_at, e.last_event_at, e.status == "in_progress") for e in tree.executions
        )
        for name, (model, statement) in _SECTIONS.items():
            setattr(tree, name, rows_as(model, await conn.fetch(statement, ids, since, until)))
        if timeline:
            tree.timeline = [
                (r["correlation_id"], TimelineEntry.model_validate(dict(r)))
                for r in await conn.fetch(_TIMELINE, ids, since, until)
            ]
    fold_tool_telemetry(tree)
    return tree


def _telemetry_of(row: ActionRow) -> str | None:
    if row.action_type != "decision" or row.action_name not in TOOL_TELEMETRY_EVENTS:
        return None
    use_id = row.action_details.get(TELEMETRY_OF)
    return use_id if isinstance(use_id, str) and use_id else None


def fold_tool_telemetry(tree: TraceTree) -> None:
    """Fold each tool telemetry action into the tool call of its ``tool_use_id`` (in place):
    the call's ``action_details.telemetry`` gains ``{event name: the record's attributes,
    event id and time}`` and the telemetry row leaves ``actions`` and ``timeline``. Telemetry
    of a call no hook recorded becomes one ``tool_call`` of its own (the first record's row)."""
    groups: dict[str, list[ActionRow]] = defaultdict(list)
    out: list[ActionRow] = []
    for row in tree.actions:
        use_id = _telemetry_of(row)
        if use_id is None:
            out.append(row)
        else:
            groups[use_id].append(row)
    if not groups:
        return
    calls = {r.tool_use_id: i for i, r in enumerate(out) if r.action_type == "tool_call"}
    shown: set[uuid.UUID] = set()
    for use_id, records in groups.items():
        telemetry = {
            r.action_name: {
                "event_id": str(r.event_id),
                "at": r.created_at.isoformat(),
                "attributes": r.action_details.get("attributes"),
            }
            for r in records
        }
        index = calls.get(use_id)
        if index is not None:
            call = out[index]
            merged = {**call.action_details.get("telemetry", {}), **telemetry}
            details = {**call.action_details, "telemetry": merged}
            out[index] = call.model_copy(update={"action_details": details})
            continue
        first = records[0]
        attrs = first.action_details.get("attributes")
        name = attrs.get("tool_name") if isinstance(attrs, dict) else None
        out.append(
            first.model_copy(
                update={
                    "action_type": "tool_call",
                    "action_name": name if isinstance(name, str) and name else "tool",
                    "tool_use_id": use_id,
                    "action_details": {"orphan_telemetry": True, "telemetry": telemetry},
                }
            )
        )
        shown.add(first.event_id)
    out.sort(key=lambda r: r.started_at)  # stable: the order they began, as read
    tree.actions = out
    folded = {r.event_id for records in groups.values() for r in records} - shown
    tree.timeline = [(cid, e) for cid, e in tree.timeline if e.event_id not in folded]


class Trace(BaseModel):
    """A complete trace: one execution, everything recorded for it, its children nested."""

    correlation_id: uuid.UUID
    execution: ExecutionRow | None = Field(description="None while only its events are known.")
    lifecycle: list[LifecycleRow]
    routing_decisions: list[RoutingRow]
    manifest_injections: list[ManifestRow]
    transformations: list[TransformationRow]
    actions: list[ActionRow]
    llm_calls: list[LlmCallRow]
    timeline: list[TimelineEntry] = Field(description="Every row above, in the order it began.")
    children: list[Trace] = Field(description="Traces of the child executions, oldest first.")
    truncated: bool = Field(
        default=False,
        description=f"True when the tree held over {MAX_TRACE_EXECUTIONS} executions.",
    )

    @classmethod
    def from_tree(cls, tree: TraceTree) -> Trace:
        """Nest a tree's rows under their executions."""
        by_id: dict[uuid.UUID, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
        for name in _SECTIONS:
            for row in getattr(tree, name):
                by_id[row.correlation_id][name].append(row)
        for cid, entry in tree.timeline:
            by_id[cid]["timeline"].append(entry)
        executions = {e.correlation_id: e for e in tree.executions}
        kids: dict[uuid.UUID, list[ExecutionRow]] = defaultdict(list)
        for e in tree.executions:
            if e.parent_correlation_id is not None and e.correlation_id != tree.root:
                kids[e.parent_correlation_id].append(e)

        def build(cid: uuid.UUID, seen: frozenset[uuid.UUID]) -> Trace:
            rows = by_id[cid]
            children = sorted(kids.get(cid, []), key=lambda e: e.started_at or e.created_at)
            return cls(
                correlation_id=cid,
                execution=executions.get(cid),
                lifecycle=rows["lifecycle"],
                routing_decisions=rows["routing"],
                manifest_injections=rows["manifests"],
                transformations=rows["transformations"],
                actions=rows["actions"],
                llm_calls=rows["llm_calls"],
                timeline=rows["timeline"],
                children=[
                    build(c.correlation_id, seen | {cid})
                    for c in children
                    if c.correlation_id not in seen
                ],
            )

        trace = build(tree.root, frozenset())
        return trace.model_copy(update={"truncated": tree.truncated})


async def get_trace(db: Reader, correlation_id: uuid.UUID) -> Trace | None:
    """Return the complete trace of one execution (children nested), or None if unknown."""
    tree = await fetch_trace_tree(db, correlation_id, timeline=True)
    return None if tree.empty else Trace.from_tree(tree)


# ------------------------------------------------------------------ one record
_RECORDS: dict[str, tuple[type[BaseModel], str]] = {
    "execution": (
        ExecutionRow,
        (
            f"SELECT {column_list(ExecutionRow)} FROM agent_execution_logs "  # noqa: S608
            "WHERE correlation_id = $1"
        ),
    ),
    "lifecycle": (
        LifecycleRow,
        (
            f"SELECT {_LIFECYCLE_COLUMNS} FROM agent_execution_events "  # noqa: S608
            "WHERE event_id = $1"
        ),
    ),
    **{
        source: (model, f"SELECT {column_list(model)} FROM {table} WHERE event_id = $1")  # noqa: S608
        for source, model, table in (
            ("action", ActionRow, "agent_actions"),
            ("routing", RoutingRow, "agent_routing_decisions"),
            ("manifest", ManifestRow, "agent_manifest_injections"),
            ("transformation", TransformationRow, "agent_transformation_events"),
            ("llm", LlmCallRow, "agent_llm_calls"),
        )
    },
}
RECORD_SOURCES = tuple(_RECORDS)
"""The kinds of record :func:`fetch_record` reads (a waterfall span's ``source``)."""


async def fetch_record(db: Reader, source: str, record_id: uuid.UUID) -> BaseModel | None:
    """Return one row of a trace by its source and id (an execution's id: its correlation
    id), or None when unknown.

    Raises:
        KeyError: ``source`` is not one of :data:`RECORD_SOURCES`.
    """
    model, statement = _RECORDS[source]
    record = await db.fetchrow(statement, record_id)
    return None if record is None else model.model_validate(dict(record))


async def fetch_lifecycle(db: Reader, correlation_id: uuid.UUID) -> list[LifecycleRow]:
    """The lifecycle events of one execution, oldest first."""
    statement = _SECTIONS["lifecycle"][1]
    return rows_as(LifecycleRow, await db.fetch(statement, [correlation_id], *EVERYWHEN))


# ------------------------------------------------------------------ live
class ActivityItem(TimelineEntry):
    """A row of a trace as a live view sees it: which execution, and when it was stored."""

    correlation_id: uuid.UUID
    ingested_at: datetime


class TraceActivity(BaseModel):
    """What was written for a trace after a cursor: for a live view."""

    items: list[ActivityItem] = Field(description="New rows, in the order they were stored.")
    next_cursor: str | None = Field(description="Pass as ``after`` to get what comes next.")
    running: bool = Field(description="True while an execution of the trace is in progress.")


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ACTIVITY_TABLES = (
    ("execution", "agent_execution_events", "event_type", "agent_name", "payload",
     "created_at"),
    ("action", "agent_actions", "action_type", "agent_name",
     "jsonb_build_object('action_name', action_name, 'duration_ms', duration_ms)", "started_at"),
    ("routing", "agent_routing_decisions", "'routing_decision'", "selected_agent",
     "jsonb_build_object('confidence_score', confidence_score)", "started_at"),
    ("manifest", "agent_manifest_injections", "'manifest_injection'", "agent_name",
     "jsonb_build_object('total_query_time_ms', total_query_time_ms)", "started_at"),
    ("transformation", "agent_transformation_events", "event_type", "target_agent",
     "jsonb_build_object('source_agent', source_agent)", "started_at"),
    ("llm", "agent_llm_calls", "'llm_call'", "agent_name",
     "jsonb_build_object('model', model, 'total_tokens', total_tokens)", "started_at"),
)  # fmt: skip
"""Per table: the source name, the kind, the agent and a few details (as the trace view)."""
_ACTIVITY = (
    "SELECT * FROM ("  # noqa: S608 - constants only
    + " UNION ALL ".join(
        f"(SELECT correlation_id, ingested_at, '{source}' AS source, event_id, "  # noqa: S608
        f"{kind} AS kind, {agent} AS agent_name, {details} AS details, "
        f"{started} AS started_at, "
        f"created_at FROM {table} "
        "WHERE correlation_id = ANY($1::uuid[]) AND (ingested_at, event_id) > ($2, $3) "
        "AND created_at >= $5 AND created_at < $6 ORDER BY ingested_at, event_id LIMIT $4)"
        for source, table, kind, agent, details, started in _ACTIVITY_TABLES
    )
    + ") AS a ORDER BY ingested_at, event_id LIMIT $4"
)


_LATEST = (
    "SELECT ingested_at, event_id FROM ("  # noqa: S608 - constants only
    + " UNION ALL ".join(
        f"(SELECT ingested_at, event_id FROM {table} WHERE correlation_id = ANY($1::uuid[]) "  # noqa: S608
        "AND created_at >= $2 AND created_at < $3 ORDER BY ingested_at DESC, event_id DESC LIMIT 1)"
        for _, table, *_rest in _ACTIVITY_TABLES
    )
    + ") AS a ORDER BY ingested_at DESC, event_id DESC LIMIT 1"
)


async def _tree_ids(db: Reader, correlation_id: uuid.UUID) -> tuple[list[uuid.UUID], bool, Window]:
    """The trace's correlation ids, whether it runs, and its window."""
    tree = await db.fetch(_TREE_IDS, correlation_id, MAX_TRACE_DEPTH, MAX_TRACE_EXECUTIONS)
    ids = list(dict.fromkeys([correlation_id, *(r["correlation_id"] for r in tree)]))
    known = [r for r in tree if r["status"] is not None]
    window = trace_window(
        (r["created_at"], r["last_event_at"], r["status"] == "in_progress") for r in known
    )
    return ids, any(r["status"] == "in_progress" for r in known), window


async def latest_activity(db: Reader, correlation_id: uuid.UUID) -> Cursor | None:
    """The position of the last row stored for a trace (where a live view starts), or None."""
    async with one_connection(db) as conn:
        ids, _, window = await _tree_ids(conn, correlation_id)
        row = await conn.fetchrow(_LATEST, ids, *window)
    return None if row is None else (row["ingested_at"], row["event_id"])


async def trace_activity(
    db: Reader, correlation_id: uuid.UUID, *, after: Cursor | None, limit: int = 200
) -> TraceActivity:
    """Return the rows of a trace stored after ``after`` (an ``(ingested_at, event_id)``
    position; None: from the beginning), oldest first, and the cursor to continue from.

    A writer's transaction can commit after a later one; a live view should ask again from
    a little before its cursor and drop the ids it has (the viewer does).
    """
    since, since_id = after or (_EPOCH, uuid.UUID(int=0))
    async with one_connection(db) as conn:
        ids, running, window = await _tree_ids(conn, correlation_id)
        rows = await conn.fetch(_ACTIVITY, ids, since, since_id, limit, *window)
    items = rows_as(ActivityItem, rows)
    cursor = encode_cursor(rows[-1]["ingested_at"], rows[-1]["event_id"]) if rows else None
    if cursor is None and after is not None:
        cursor = encode_cursor(*after)
    return TraceActivity(items=items, next_cursor=cursor, running=running)
