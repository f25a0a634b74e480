"""OTLP export: a trace tree's rows as GenAI-convention spans (ids, parents, names, times)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode
from prometheus_client import CollectorRegistry

from omniclaude.otel import export as export_module
from omniclaude.otel.export import (
    ContinuousExporter,
    ExportMetrics,
    SpanSender,
    attribute_value,
    nanos,
    spans_for_tree,
)
from omniclaude.otel.ids import span_id_for_event, trace_id_for_correlation
from omniclaude.otel.target import parse_header, parse_headers, traces_endpoint
from omniclaude.storage.queries import (
    ActionRow,
    ExecutionRow,
    LifecycleRow,
    LlmCallRow,
    ManifestRow,
    RoutingRow,
    TraceTree,
    TransformationRow,
)

T0 = datetime(2026, 11, 3, 10, 0, 0, 123456, tzinfo=UTC)


def at(ms: float) -> datetime:
    return T0 + timedelta(milliseconds=ms)


def execution(cid: uuid.UUID, parent: uuid.UUID | None, **over: Any) -> ExecutionRow:
    fields: dict[str, Any] = {
        "correlation_id": cid, "parent_correlation_id": parent, "agent_name": "agent-root",
        "status": "success", "created_at": at(0), "started_at": at(0), "completed_at": at(900),
        "last_event_at": at(900), "execution_id": uuid.uuid4(), "metadata": {"k": "v"},
        "session_id": "sess-1", "user_prompt": "Analyze this codebase",
    }  # fmt: skip
    fields.update(over)
    return ExecutionRow(**fields)


def lifecycle(cid: uuid.UUID, kind: str, ms: float, status: str = "in_progress") -> LifecycleRow:
    return LifecycleRow(
        event_id=uuid.uuid4(), correlation_id=cid, event_type=kind, status=status,
        payload={"n": 1}, started_at=at(ms), created_at=at(ms),
    )  # fmt: skip


def action(
    cid: uuid.UUID, kind: str, name: str, start: float, end: float, **over: Any
) -> ActionRow:
    fields: dict[str, Any] = {
        "event_id": uuid.uuid4(), "correlation_id": cid, "agent_name": "agent-root",
        "action_type": kind, "action_name": name, "action_details": {}, "metadata": {},
        "started_at": at(start), "created_at": at(end),
    }  # fmt: skip
    fields.update(over)
    return ActionRow(**fields)


def llm_call(cid: uuid.UUID) -> LlmCallRow:
    return LlmCallRow(
        event_id=uuid.uuid4(), correlation_id=cid, is_sidechain=False, provider="anthropic",
        model="claude-sonnet-4-5", input_tokens=12, output_tokens=345,
        cache_creation_input_tokens=1000, cache_read_input_tokens=20000, total_tokens=21357,
        stop_reason="tool_use", request_id="req_1", message_id="msg_1",
        tool_use_ids=["toolu_1"], duration_ms=250.0, cost_usd=0.0123, cost_source="exact",
        source="otel", started_at=at(100), created_at=at(350), session_id="sess-1",
    )  # fmt: skip


def toy_tree() -> tuple[TraceTree, dict[str, Any]]:
    """A root with a failed child; tool call, error, decision, LLM call, routing, manifest,
    transformation."""
    root, child = uuid.uuid4(), uuid.uuid4()
    rows: dict[str, Any] = {
        "root": execution(root, None),
        "child": execution(
            child,
            root,
            agent_name="agent-child",
            status="failed",
            created_at=at(200),
            started_at=at(200),
            completed_at=at(600),
            last_event_at=at(600),
            error_type="TimeoutError",
            error_message="too slow",
            session_id=None,
        ),
        "tool": action(
            root,
            "tool_call",
            "Read",
            50,
            80,
            tool_use_id="toolu_1",
            action_details={"file_path": "/a.py"},
            duration_ms=30.0,
        ),
        "error": action(
            child,
            "error",
            "TimeoutError",
            590,
            590,
            action_details={
                "error_type": "TimeoutError",
                "error_message": "too slow",
                "traceback": "Traceback ...",
            },
        ),
        "decision": action(root, "decision", "plan", 10, 10, action_details={"choice": "a"}),
        "llm": llm_call(root),
        "routing": RoutingRow(
            event_id=uuid.uuid4(),
            correlation_id=root,
            user_request="Analyze",
            selected_agent="agent-root",
            confidence_score=0.9,
            routing_strategy="enhanced",
            alternatives=[{"agent_name": "b", "confidence": 0.4}],
            matched_triggers=["analyze"],
            matched_capabilities=[],
            routing_time_ms=1.5,
            cache_hit=False,
            is_fallback=False,
            context_snapshot={},
            metadata={},
            started_at=at(1),
            created_at=at(2),
        ),
        "manifest": ManifestRow(
            event_id=uuid.uuid4(),
            correlation_id=root,
            agent_name="agent-root",
            is_fallback=False,
            sections_included=["agent_definition"],
            sections=[{"name": "x"}],
            query_times={},
            total_query_time_ms=0.5,
            warnings=[],
            query_failures={},
            metadata={},
            started_at=at(3),
            created_at=at(4),
        ),
        "transformation": TransformationRow(
            event_id=uuid.uuid4(),
            event_type="transformation_complete",
            correlation_id=root,
            source_agent="polymorphic",
            target_agent="agent-root",
            success=True,
            metadata={},
            started_at=at(5),
            created_at=at(6),
        ),
    }
    tree = TraceTree(
        root=root,
        executions=[rows["root"], rows["child"]],
        lifecycle=[
            lifecycle(root, "execution_started", 0),
            lifecycle(child, "execution_started", 200),
            lifecycle(child, "execution_failed", 600, "failed"),
            lifecycle(root, "execution_completed", 900, "success"),
        ],
        routing=[rows["routing"]],
        manifests=[rows["manifest"]],
        transformations=[rows["transformation"]],
        actions=[rows["decision"], rows["tool"], rows["error"]],
        llm_calls=[rows["llm"]],
    )
    return tree, rows


def span_of(spans: list[ReadableSpan], row: Any) -> ReadableSpan:
    key = str(getattr(row, "event_id", None) or row.correlation_id)
    for span in spans:
        assert span.attributes is not None
        if span.attributes.get("omniclaude.event_id") == key:
            return span
    raise AssertionError(f"no span for {key}")


def test_one_tree_is_one_trace_with_the_roots_id_and_span_ids_from_event_ids() -> None:
    """Every span is in the root's trace; a child execution keeps its own correlation id."""
    tree, rows = toy_tree()
    spans = spans_for_tree(tree)
    assert len(spans) == 9
    trace_id = int.from_bytes(trace_id_for_correlation(tree.root), "big")
    assert {s.context.trace_id for s in spans if s.context} == {trace_id}
    tool = span_of(spans, rows["tool"])
    assert tool.context is not None
    assert tool.context.span_id == int.from_bytes(span_id_for_event(rows["tool"].event_id), "big")
    ids = [s.context.span_id for s in spans if s.context]
    assert len(set(ids)) == len(ids)
    child = next(s for s in spans if s.name == "invoke_agent agent-child")
    assert child.attributes is not None
    assert child.attributes["omniclaude.correlation_id"] == str(rows["child"].correlation_id)
    assert child.attributes["omniclaude.parent_correlation_id"] == str(tree.root)


def test_parents_follow_the_execution_tree() -> None:
    """The child execution's parent is the root's span; each row's is its own execution's."""
    tree, rows = toy_tree()
    spans = spans_for_tree(tree)
    root = next(s for s in spans if s.name == "invoke_agent agent-root")
    child = next(s for s in spans if s.name == "invoke_agent agent-child")
    assert root.parent is None
    assert root.context is not None
    assert child.context is not None
    assert child.parent is not None
    assert child.parent.span_id == root.context.span_id
    assert span_of(spans, rows["tool"]).parent.span_id == root.context.span_id  # type: ignore[union-attr]
    assert span_of(spans, rows["error"]).parent.span_id == child.context.span_id  # type: ignore[union-attr]
    assert span_of(spans, rows["llm"]).parent.span_id == root.context.span_id  # type: ignore[union-attr]


def test_genai_names_and_attributes() -> None:
    """invoke_agent, execute_tool and chat spans carry the conventions' attributes."""
    tree, rows = toy_tree()
    spans = spans_for_tree(tree)
    root = next(s for s in spans if s.name == "invoke_agent agent-root")
    assert root.attributes is not None
    assert root.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert root.attributes["gen_ai.agent.name"] == "agent-root"
    assert root.attributes["gen_ai.conversation.id"] == "sess-1"
    assert root.attributes["omniclaude.user_prompt"] == "Analyze this codebase"
    assert json.loads(str(root.attributes["omniclaude.metadata"])) == {"k": "v"}
    tool = span_of(spans, rows["tool"])
    assert tool.name == "execute_tool Read"
    assert tool.attributes is not None
    assert tool.attributes["gen_ai.operation.name"] == "execute_tool"
    assert tool.attributes["gen_ai.tool.name"] == "Read"
    assert tool.attributes["gen_ai.tool.call.id"] == "toolu_1"
    assert tool.attributes["omniclaude.action_type"] == "tool_call"
    assert json.loads(str(tool.attributes["omniclaude.action_details"])) == {"file_path": "/a.py"}
    chat = span_of(spans, rows["llm"])
    assert chat.name == "chat claude-sonnet-4-5"
    assert chat.kind is SpanKind.CLIENT
    a = chat.attributes
    assert a is not None
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.request.model"] == a["gen_ai.response.model"] == "claude-sonnet-4-5"
    assert a["gen_ai.provider.name"] == "anthropic"
    # The convention counts cached tokens in input_tokens; ours is the provider's own figure.
    assert a["gen_ai.usage.input_tokens"] == 12 + 20000 + 1000
    assert a["omniclaude.input_tokens"] == 12
    assert a["gen_ai.usage.output_tokens"] == 345
    assert a["gen_ai.usage.cache_read.input_tokens"] == 20000
    assert a["gen_ai.usage.cache_creation.input_tokens"] == 1000
    assert a["gen_ai.response.finish_reasons"] == ("tool_use",)
    assert a["omniclaude.cost_usd"] == 0.0123
    assert a["omniclaude.cost_source"] == "exact"
    assert a["omniclaude.tool_use_ids"] == ("toolu_1",)
    assert "omniclaude.model" not in a  # written once, as the convention's attribute


def test_other_records_are_spans_with_omniclaude_attributes() -> None:
    """Decisions, routing, manifests and transformations: named spans, every column kept."""
    tree, rows = toy_tree()
    spans = spans_for_tree(tree)
    decision = span_of(spans, rows["decision"])
    assert decision.name == "decision plan"
    assert decision.attributes is not None
    assert "gen_ai.operation.name" not in decision.attributes
    routing = span_of(spans, rows["routing"])
    assert routing.name == "routing_decision agent-root"
    assert routing.attributes is not None
    assert routing.attributes["omniclaude.record"] == "routing_decision"
    assert routing.attributes["omniclaude.confidence_score"] == 0.9
    assert routing.attributes["omniclaude.matched_triggers"] == ("analyze",)
    assert routing.attributes["omniclaude.matched_capabilities"] == ()
    assert json.loads(str(routing.attributes["omniclaude.alternatives"]))[0]["agent_name"] == "b"
    manifest = span_of(spans, rows["manifest"])
    assert manifest.name == "manifest_injection agent-root"
    assert manifest.attributes is not None
    assert manifest.attributes["omniclaude.total_query_time_ms"] == 0.5
    transformation = span_of(spans, rows["transformation"])
    assert transformation.name == "transformation_complete agent-root"
    assert transformation.status.status_code is StatusCode.UNSET


def test_errors_are_error_spans_with_an_exception_event() -> None:
    """A failed execution and an error action: status ERROR and an ``exception`` event."""
    tree, rows = toy_tree()
    spans = spans_for_tree(tree)
    child = next(s for s in spans if s.name == "invoke_agent agent-child")
    assert child.status.status_code is StatusCode.ERROR
    assert child.status.description == "too slow"
    exc = [e for e in child.events if e.name == "exception"]
    assert exc
    assert exc[0].attributes is not None
    assert exc[0].attributes["exception.type"] == "TimeoutError"
    error = span_of(spans, rows["error"])
    assert error.name == "error TimeoutError"
    assert error.status.status_code is StatusCode.ERROR
    event = next(e for e in error.events if e.name == "exception")
    assert event.attributes is not None
    assert event.attributes["exception.message"] == "too slow"
    assert event.attributes["exception.stacktrace"] == "Traceback ..."
    root = next(s for s in spans if s.name == "invoke_agent agent-root")
    assert root.status.status_code is StatusCode.OK


def test_times_are_exact_to_the_microsecond_and_lifecycle_events_are_span_events() -> None:
    """Start and end are the rows' started_at and created_at (an execution: its start and
    completion); each lifecycle event is a span event keeping its event id."""
    tree, rows = toy_tree()
    spans = spans_for_tree(tree)
    tool = span_of(spans, rows["tool"])
    assert tool.start_time == nanos(at(50))
    assert tool.end_time == nanos(at(80))
    assert nanos(T0) % 1_000_000_000 == 123_456_000
    root = next(s for s in spans if s.name == "invoke_agent agent-root")
    assert root.start_time == nanos(at(0))
    assert root.end_time == nanos(at(900))
    started = tree.lifecycle[0]
    assert root.attributes is not None
    assert root.attributes["omniclaude.event_id"] == str(started.event_id)
    names = [(e.name, e.attributes["omniclaude.event_id"]) for e in root.events if e.attributes]
    assert names == [
        ("execution_started", str(tree.lifecycle[0].event_id)),
        ("execution_completed", str(tree.lifecycle[3].event_id)),
    ]


def test_rows_without_an_execution_are_root_spans_of_their_own_trace() -> None:
    """Actions logged without any execution: their correlation id is the trace, no parent."""
    cid = uuid.uuid4()
    only = action(cid, "tool_call", "bash", 0, 5)
    spans = spans_for_tree(TraceTree(root=cid, actions=[only]))
    assert len(spans) == 1
    assert spans[0].parent is None
    assert spans[0].context is not None
    assert spans[0].context.trace_id == cid.int


def test_the_sdk_encodes_every_span() -> None:
    """The official encoder takes the spans (attribute types are OTLP's)."""
    tree, _ = toy_tree()
    request = encode_spans(spans_for_tree(tree))
    encoded = request.resource_spans[0].scope_spans[0].spans
    assert len(encoded) == 9
    assert request.resource_spans[0].resource.attributes[0].key  # service.name and co.
    assert {s.trace_id for s in encoded} == {tree.root.bytes}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (True, True),
        (3, 3),
        ("x", "x"),
        (uuid.UUID(int=1), "00000000-0000-0000-0000-000000000001"),
        (["a", "b"], ("a", "b")),
        ([1, "a"], '[1,"a"]'),
        ({"a": [1]}, '{"a":[1]}'),
    ],
)
def test_attribute_values(value: Any, expected: Any) -> None:
    """Scalars stay, ids become text, string lists stay arrays, the rest is JSON text."""
    assert attribute_value(value) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://localhost:4318", "http://localhost:4318/v1/traces"),
        ("http://localhost:4318/", "http://localhost:4318/v1/traces"),
        ("https://otel.example/api/v1/traces", "https://otel.example/api/v1/traces"),
    ],
)
def test_endpoint_base_urls_get_the_traces_path(url: str, expected: str) -> None:
    """A base URL gets /v1/traces; a URL with a path is the signal endpoint as given."""
    assert traces_endpoint(url) == expected


@pytest.mark.parametrize("url", ["localhost:4318", "ftp://x/v1/traces", "http://", "http://h:x"])
def test_bad_endpoints_are_refused(url: str) -> None:
    """Not http(s) with a host (and a numeric port): a ValueError saying so."""
    with pytest.raises(ValueError, match=r"URL|port"):
        traces_endpoint(url)


def test_headers_parse_and_bad_ones_are_refused() -> None:
    """K=V, the value may hold '='; no name, no '=' or a line break is refused."""
    assert parse_header("Authorization=Bearer a=b") == ("Authorization", "Bearer a=b")
    for bad in ("novalue", "=x", "a b=c", "X=a\nb"):
        with pytest.raises(ValueError, match=r"NAME=VALUE|header|line break"):
            parse_header(bad)
    assert parse_headers("Authorization=Bearer%20x, X-Team = a ,") == {
        "Authorization": "Bearer x",
        "X-Team": "a",
    }


class _Event:
    def __init__(
        self, kind: str, cid: uuid.UUID | None = None, parent: uuid.UUID | None = None
    ) -> None:
        self.event_type = kind
        self.correlation_id = cid or uuid.uuid4()
        self.parent_correlation_id = parent


async def test_the_continuous_queue_is_bounded_and_counts_what_it_drops() -> None:
    """offer() queues finished executions only, once each, and drops (counted) when full."""
    registry = CollectorRegistry()
    sender = SpanSender("http://127.0.0.1:9/v1/traces", timeout_s=0.1)
    exporter = ContinuousExporter(pool=None, sender=sender, metrics=ExportMetrics(registry),  # type: ignore[arg-type]
                                  max_queue=2)  # fmt: skip
    done = [
        _Event("execution_completed"),
        _Event("execution_failed"),
        _Event("execution_completed"),
    ]
    exporter.offer([_Event("execution_started"), done[0], done[0], done[1], done[2]])
    assert registry.get_sample_value("omniclaude_otlp_export_traces_dropped_total") == 1
    assert registry.get_sample_value("omniclaude_otlp_export_queue_traces") == 2
    sender.close()


class _Sender:
    """Records what the continuous export sends."""

    def __init__(self) -> None:
        self.requests: list[list[ReadableSpan]] = []

    def send(self, spans: list[ReadableSpan]) -> int:
        self.requests.append(list(spans))
        return len(spans)

    def close(self) -> None:
        pass

    def names(self, request: int = -1) -> list[str]:
        return [span.name for span in self.requests[request]]


class _Database:
    """The read layer's two queries over one tree that rows are added to."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, tree: TraceTree) -> None:
        self.tree = tree
        self.reads = 0
        self.during_read: list[Any] = []
        """Called (once each) while the next read runs: rows committed meanwhile."""
        monkeypatch.setattr(export_module, "find_trace_root", self._root)
        monkeypatch.setattr(export_module, "fetch_trace_tree", self._fetch)

    async def _root(self, _db: Any, cid: uuid.UUID) -> uuid.UUID:
        return self.tree.root

    async def _fetch(self, _db: Any, root: uuid.UUID) -> TraceTree:
        self.reads += 1
        snapshot = dataclasses.replace(self.tree, actions=list(self.tree.actions))
        await asyncio.sleep(0)
        while self.during_read:
            self.during_read.pop(0)()
        return snapshot


def _continuous(settle_s: float = 0.0) -> tuple[ContinuousExporter, _Sender, CollectorRegistry]:
    registry = CollectorRegistry()
    sender = _Sender()
    exporter = ContinuousExporter(
        pool=None,  # type: ignore[arg-type]
        sender=sender,  # type: ignore[arg-type]
        metrics=ExportMetrics(registry),
        settle_s=settle_s,
    )
    return exporter, sender, registry


async def _settled(exporter: ContinuousExporter) -> None:
    await asyncio.wait_for(exporter.idle(), timeout=10)


async def test_a_row_stored_after_its_tree_was_sent_sends_that_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The tree is sent when its root ends; a row of its child stored in a later batch sends
    the tree again, only the span the collector has not had; the same batch again sends
    nothing."""
    tree, rows = toy_tree()
    db = _Database(monkeypatch, tree)
    exporter, sender, registry = _continuous()
    exporter.start()
    try:
        exporter.offer([_Event("execution_completed", tree.root)])
        await _settled(exporter)
        assert len(sender.requests) == 1
        assert len(sender.requests[0]) == len(spans_for_tree(tree))
        late = action(rows["child"].correlation_id, "decision", "afterthought", 700, 700)
        tree.actions.append(late)
        batch = [_Event("agent_action", late.correlation_id)]
        exporter.offer(batch)
        await _settled(exporter)
        assert sender.names() == ["decision afterthought"]
        exporter.offer(batch)  # redelivered
        await _settled(exporter)
        assert len(sender.requests) == 2
        assert db.reads == 3
    finally:
        await exporter.stop()
    sent = registry.get_sample_value("omniclaude_otlp_export_spans_total", {"outcome": "sent"})
    assert sent == len(spans_for_tree(tree))


async def test_a_late_child_execution_is_found_by_its_parent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A child execution whose start is stored after its tree was sent names its parent:
    the tree goes again with the child in it."""
    tree, _ = toy_tree()
    _Database(monkeypatch, tree)
    exporter, sender, _ = _continuous()
    exporter.start()
    try:
        exporter.offer([_Event("execution_completed", tree.root)])
        await _settled(exporter)
        late = uuid.uuid4()
        tree.executions.append(execution(late, tree.root, agent_name="agent-late"))
        exporter.offer([_Event("execution_started", late, parent=tree.root)])
        await _settled(exporter)
    finally:
        await exporter.stop()
    assert sender.names() == ["invoke_agent agent-late"]


async def test_a_row_stored_while_its_tree_is_read_reads_the_tree_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A row committed (and offered) while the tree is being read, before the export knew
    the tree's executions, is not missed: the tree is read again."""
    tree, rows = toy_tree()
    db = _Database(monkeypatch, tree)
    exporter, sender, _ = _continuous()
    late = action(rows["child"].correlation_id, "decision", "meanwhile", 700, 700)

    def commit() -> None:
        tree.actions.append(late)
        exporter.offer([_Event("agent_action", late.correlation_id)])

    db.during_read.append(commit)
    exporter.start()
    try:
        exporter.offer([_Event("execution_completed", tree.root)])
        await _settled(exporter)
    finally:
        await exporter.stop()
    assert db.reads == 2
    assert len(sender.requests) == 2
    assert sender.names() == ["decision meanwhile"]


async def test_rows_of_unknown_or_running_trees_queue_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Only an ending execution queues a tree nobody sent; a running tree is not sent (its
    end will queue it), and then its rows do not queue it either."""
    tree, rows = toy_tree()
    tree.executions[0] = rows["root"].model_copy(update={"status": "in_progress"})
    db = _Database(monkeypatch, tree)
    exporter, sender, registry = _continuous()
    exporter.start()
    try:
        exporter.offer([_Event("agent_action", tree.root), _Event("llm_call", uuid.uuid4())])
        assert registry.get_sample_value("omniclaude_otlp_export_queue_traces") == 0
        exporter.offer([_Event("execution_failed", rows["child"].correlation_id)])
        await _settled(exporter)
        exporter.offer([_Event("agent_action", tree.root)])
        await _settled(exporter)
    finally:
        await exporter.stop()
    assert db.reads == 1
    assert sender.requests == []


async def test_what_the_continuous_export_remembers_is_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Sent trees are forgotten oldest first, past the tree and the span budget."""
    monkeypatch.setattr(export_module, "_REMEMBERED_SPANS", 25)
    monkeypatch.setattr(export_module, "_MEMBERS", 5)
    exporter, sender, _ = _continuous()
    trees = [toy_tree()[0] for _ in range(4)]  # 9 spans, 2 executions each
    holder = _Database(monkeypatch, trees[0])
    exporter.start()
    try:
        for tree in trees:
            holder.tree = tree
            exporter.offer([_Event("execution_completed", tree.root)])
            await _settled(exporter)
    finally:
        await exporter.stop()
    assert len(sender.requests) == 4
    assert list(exporter._sent) == [trees[2].root, trees[3].root]
    assert exporter._sent_spans == 2 * len(spans_for_tree(trees[3]))
    assert len(exporter._members) == 5
    assert trees[3].root in exporter._members
