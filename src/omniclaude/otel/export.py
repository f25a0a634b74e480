"""OmniClaude's records as OpenTelemetry GenAI spans, sent to any OTLP/HTTP collector.

One mapping, :func:`spans_for_tree`, turns a trace tree read by the one read layer
(:func:`~omniclaude.storage.queries.fetch_trace_tree`) into the SDK's ``ReadableSpan`` s,
with explicit ids, parents and times; the official ``OTLPSpanExporter`` sends them. Two
callers: ``omniclaude export-otlp`` (:func:`export_window`, a window of traces read a page
at a time) and the consumer's continuous export (:class:`ContinuousExporter`, a trace once
it has finished, in the background).

* Trace id: the **root** execution's correlation id
  (:func:`~omniclaude.otel.ids.trace_id_for_correlation`), so one tree is one trace;
  every span keeps its own execution's id as ``omniclaude.correlation_id``, so an import
  restores the child executions' ids.
* Span id: :func:`~omniclaude.otel.ids.span_id_for_event` of the row's event id (an
  execution's span: of its correlation id, so a child names its parent's span without
  reading it); the event id itself is the attribute ``omniclaude.event_id``.
* Attributes: the GenAI conventions' where they have one (:data:`GENAI_ATTRIBUTES`), every
  other column as ``omniclaude.<column>`` (objects and mixed lists as JSON text), and
  ``omniclaude.record`` naming the kind of row. docs/otel.md has the tables.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags
from pydantic import BaseModel

from omniclaude._version import __version__
from omniclaude.errors import OmniClaudeError
from omniclaude.otel.ids import EVENT_ID_ATTRIBUTE, span_id_for_event, trace_id_for_correlation
from omniclaude.otel.target import shown_url
from omniclaude.storage.queries import (
    ActionRow,
    ExecutionRow,
    LifecycleRow,
    LlmCallRow,
    ManifestRow,
    Reader,
    RoutingRow,
    TraceTree,
    TransformationRow,
    fetch_trace_tree,
)
from omniclaude.storage.queries.roots import find_trace_root, list_trace_roots, list_unattached

__all__ = [
    "CORRELATION_ATTRIBUTE",
    "GENAI_ATTRIBUTES",
    "RECORD_ATTRIBUTE",
    "ContinuousExporter",
    "ExportFailedError",
    "ExportProgress",
    "SpanSender",
    "export_window",
    "iter_trace_spans",
    "spans_for_tree",
]

log = logging.getLogger(__name__)

RECORD_ATTRIBUTE: Final = "omniclaude.record"
"""Which kind of row a span is: execution, action, llm_call, routing_decision,
manifest_injection or transformation."""
CORRELATION_ATTRIBUTE: Final = "omniclaude.correlation_id"
"""The correlation id of the span's own execution (the trace id is the root's)."""
PREFIX: Final = "omniclaude."

GENAI_ATTRIBUTES: Final[dict[str, dict[str, str]]] = {
    "execution": {
        "agent_name": "gen_ai.agent.name",
        "session_id": "gen_ai.conversation.id",
    },
    "action": {
        "session_id": "gen_ai.conversation.id",
    },
    "tool_call": {
        "action_name": "gen_ai.tool.name",
        "tool_use_id": "gen_ai.tool.call.id",
        "session_id": "gen_ai.conversation.id",
    },
    "llm_call": {
        "provider": "gen_ai.provider.name",
        "model": "gen_ai.request.model",
        "message_id": "gen_ai.response.id",
        "output_tokens": "gen_ai.usage.output_tokens",
        "cache_read_input_tokens": "gen_ai.usage.cache_read.input_tokens",
        "cache_creation_input_tokens": "gen_ai.usage.cache_creation.input_tokens",
        "session_id": "gen_ai.conversation.id",
    },
}
"""Per kind of span: the columns written as a GenAI convention attribute (they are then not
repeated as ``omniclaude.<column>``). Beyond these: an LLM call's ``gen_ai.usage.input_tokens``
is input + cache read + cache write (the convention counts cached tokens in it;
``omniclaude.input_tokens`` keeps the provider's uncached figure), ``gen_ai.response.model``
is its model and ``gen_ai.response.finish_reasons`` its stop reason."""

_TIME_COLUMNS = frozenset({"started_at", "created_at"})
_EXECUTION_SKIP = frozenset(
    {"started_at", "created_at", "completed_at", "last_event_at", "execution_id"}
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_SCOPE = InstrumentationScope("omniclaude.otel.export", __version__)
DEFAULT_SERVICE_NAME: Final = "omniclaude"


# ------------------------------------------------------------------ values
def nanos(moment: datetime) -> int:
    """``moment`` in nanoseconds since the epoch, exact to the microsecond (no float)."""
    delta = moment - _EPOCH
    return ((delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds) * 1_000


def attribute_value(value: Any) -> Any:
    """A column value as an OTLP attribute value (None: leave the attribute out).

    Scalars stay scalars, ids and times become text, a list of strings stays a string
    array, anything else (objects, mixed lists) becomes JSON text.
    """
    if value is None:
        return None
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return json.dumps(value, separators=(",", ":"), default=str, ensure_ascii=False)


def _columns(row: BaseModel, kind: str, skip: frozenset[str] = _TIME_COLUMNS) -> dict[str, Any]:
    genai = GENAI_ATTRIBUTES.get(kind, {})
    out: dict[str, Any] = {}
    for name in type(row).model_fields:
        if name in skip:
            continue
        value = attribute_value(getattr(row, name))
        if value is None:
            continue
        out[genai.get(name, PREFIX + name)] = value
    return out


def _context(trace_id: bytes, span_id: bytes) -> SpanContext:
    return SpanContext(
        trace_id=int.from_bytes(trace_id, "big"),
        span_id=int.from_bytes(span_id, "big"),
        is_remote=False,
        trace_flags=_SAMPLED,
    )


def _exception(kind: str | None, message: str | None, when: datetime, trace: Any = None) -> Event:
    attributes: dict[str, Any] = {"exception.type": kind or "error"}
    if message:
        attributes["exception.message"] = message
    if isinstance(trace, str) and trace:
        attributes["exception.stacktrace"] = trace
    return Event("exception", attributes, timestamp=nanos(when))


# ------------------------------------------------------------------ the mapping
@dataclass(slots=True)
class _Builder:
    """Spans of one trace tree: ids, parents and the resource they share."""

    trace_id: bytes
    executions: set[uuid.UUID]
    resource: Resource
    spans: list[ReadableSpan] = field(default_factory=list)

    def parent_of(self, correlation_id: uuid.UUID) -> SpanContext | None:
        if correlation_id not in self.executions:
            return None
        return _context(self.trace_id, span_id_for_event(correlation_id))

    def add(
        self,
        name: str,
        key: uuid.UUID,
        *,
        parent: SpanContext | None,
        start: datetime,
        end: datetime,
        attributes: dict[str, Any],
        kind: SpanKind = SpanKind.INTERNAL,
        status: Status | None = None,
        events: Sequence[Event] = (),
    ) -> None:
        start_ns, end_ns = nanos(start), nanos(end)
        self.spans.append(
            ReadableSpan(
                name=name,
                context=_context(self.trace_id, span_id_for_event(key)),
                parent=parent,
                resource=self.resource,
                attributes=attributes,
                events=events,
                kind=kind,
                status=status or Status(StatusCode.UNSET),
                start_time=start_ns,
                end_time=max(start_ns, end_ns),
                instrumentation_scope=_SCOPE,
            )
        )


def _execution(b: _Builder, row: ExecutionRow, lifecycle: list[LifecycleRow]) -> None:
    attributes = {
        "gen_ai.operation.name": "invoke_agent",
        RECORD_ATTRIBUTE: "execution",
        **_columns(row, "execution", _EXECUTION_SKIP),
    }
    started = next((e for e in lifecycle if e.event_type == "execution_started"), None)
    first = started or (lifecycle[0] if lifecycle else None)
    if first is not None:
        attributes[EVENT_ID_ATTRIBUTE] = str(first.event_id)
    events = [
        Event(
            e.event_type,
            {
                EVENT_ID_ATTRIBUTE: str(e.event_id),
                PREFIX + "status": e.status.value,
                PREFIX + "payload": attribute_value(e.payload),
            },
            timestamp=nanos(e.created_at),
        )
        for e in lifecycle
    ]
    end = row.completed_at or row.last_event_at
    status = None
    if row.status == "failed":
        status = Status(StatusCode.ERROR, row.error_message or row.error_type)
        events.append(_exception(row.error_type, row.error_message, end))
    elif row.status == "success":
        status = Status(StatusCode.OK)
    parent = None
    if row.parent_correlation_id is not None and row.correlation_id != row.parent_correlation_id:
        parent = b.parent_of(row.parent_correlation_id)
    b.add(
        f"invoke_agent {row.agent_name}",
        row.correlation_id,
        parent=parent,
        start=row.started_at or row.created_at,
        end=end,
        attributes=attributes,
        status=status,
        events=events,
    )


def _action(b: _Builder, row: ActionRow) -> None:
    tool = row.action_type == "tool_call"
    attributes: dict[str, Any] = {RECORD_ATTRIBUTE: "action"}
    if tool:
        attributes["gen_ai.operation.name"] = "execute_tool"
    attributes.update(_columns(row, "tool_call" if tool else "action"))
    status, events = None, []
    if row.action_type == "error":
        details = row.action_details
        kind = details.get("error_type")
        message = details.get("error_message")
        kind = kind if isinstance(kind, str) else row.action_name
        message = message if isinstance(message, str) else None
        status = Status(StatusCode.ERROR, message or kind)
        events.append(_exception(kind, message, row.created_at, details.get("traceback")))
    name = f"execute_tool {row.action_name}" if tool else f"{row.action_type} {row.action_name}"
    b.add(
        name,
        row.event_id,
        parent=b.parent_of(row.correlation_id),
        start=row.started_at,
        end=row.created_at,
        attributes=attributes,
        status=status,
        events=events,
    )


def _llm_call(b: _Builder, row: LlmCallRow) -> None:
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        RECORD_ATTRIBUTE: "llm_call",
        "gen_ai.response.model": row.model,
        "gen_ai.usage.input_tokens": (
            row.input_tokens + row.cache_read_input_tokens + row.cache_creation_input_tokens
        ),
        **_columns(row, "llm_call"),  # omniclaude.input_tokens: the provider's own figure
    }
    if row.stop_reason:
        attributes["gen_ai.response.finish_reasons"] = (row.stop_reason,)
    b.add(
        f"chat {row.model}",
        row.event_id,
        parent=b.parent_of(row.correlation_id),
        start=row.started_at,
        end=row.created_at,
        attributes=attributes,
        kind=SpanKind.CLIENT,
    )


def _record(b: _Builder, row: RoutingRow | ManifestRow, record: str, subject: str) -> None:
    """A routing decision or a manifest injection: one span named by its record and subject."""
    b.add(
        f"{record} {subject}",
        row.event_id,
        parent=b.parent_of(row.correlation_id),
        start=row.started_at,
        end=row.created_at,
        attributes={RECORD_ATTRIBUTE: record, **_columns(row, record)},
    )


def _transformation(b: _Builder, row: TransformationRow) -> None:
    attributes = {RECORD_ATTRIBUTE: "transformation", **_columns(row, "transformation")}
    status, events = None, []
    failed = row.success is False or row.event_type.endswith("failed")
    if failed:
        status = Status(StatusCode.ERROR, row.error_message or row.error_type or "failed")
        events.append(_exception(row.error_type, row.error_message, row.created_at))
    b.add(
        f"{row.event_type} {row.target_agent}",
        row.event_id,
        parent=b.parent_of(row.correlation_id),
        start=row.started_at,
        end=row.created_at,
        attributes=attributes,
        status=status,
        events=events,
    )


def default_resource(service_name: str = DEFAULT_SERVICE_NAME) -> Resource:
    """The resource every exported span names: ``service.name`` (``omniclaude``)."""
    return Resource.create({"service.name": service_name, "service.version": __version__})


def spans_for_tree(tree: TraceTree, *, resource: Resource | None = None) -> list[ReadableSpan]:
    """Every row of one trace tree as a span, parents before children.

    The trace id is ``tree.root`` (the root execution's correlation id, or the correlation
    id of rows recorded without an execution); executions nest by their parent, every other
    row under its own execution (a root span when that execution is not recorded).
    """
    b = _Builder(
        trace_id=trace_id_for_correlation(tree.root),
        executions={e.correlation_id for e in tree.executions},
        resource=resource or default_resource(),
    )
    lifecycle: dict[uuid.UUID, list[LifecycleRow]] = {}
    for event in tree.lifecycle:
        lifecycle.setdefault(event.correlation_id, []).append(event)
    for execution in tree.executions:
        _execution(b, execution, lifecycle.get(execution.correlation_id, []))
    for routing in tree.routing:
        _record(b, routing, "routing_decision", routing.selected_agent)
    for manifest in tree.manifests:
        _record(b, manifest, "manifest_injection", manifest.agent_name)
    for transformation in tree.transformations:
        _transformation(b, transformation)
    for action in tree.actions:
        _action(b, action)
    for call in tree.llm_calls:
        _llm_call(b, call)
    return b.spans


# ------------------------------------------------------------------ sending
class ExportFailedError(OmniClaudeError):
    """The collector did not take a request (unreachable, or it answered an error)."""

    progress: ExportProgress | None = None
    """How far the export had got (set by :func:`export_window`)."""


class _FirstProblem(logging.Handler):
    """Keeps the exporter's first warning or error of a request (why it failed)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.message: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if self.message is None:  # the first says why; later ones only that retries ran out
            text = record.getMessage()
            if text.startswith("Transient error "):
                text = text.removeprefix("Transient error ").partition(" encountered while")[0]
            self.message = text


class SpanSender:
    """Sends spans with the SDK's ``OTLPSpanExporter``, a bounded request at a time.

    The exporter itself retries what OTLP calls retryable (429, 502, 503, 504, a dropped
    connection) within ``timeout_s``; anything else fails the request at once. A failure
    raises :class:`ExportFailedError` saying what the collector answered.

    Args:
        endpoint: the traces URL (see :func:`traces_endpoint`).
        headers: sent with every request (credentials: never logged).
        timeout_s: per request, retries included.
        max_spans: spans per request.
        compression: ``gzip`` or ``none``.
    """

    def __init__(
        self,
        endpoint: str,
        headers: Mapping[str, str] | None = None,
        *,
        timeout_s: float = 10.0,
        max_spans: int = 512,
        compression: str = "gzip",
    ) -> None:
        import requests

        self.endpoint = endpoint
        self.shown = shown_url(endpoint)
        """The endpoint as messages show it (without credentials)."""
        self.max_spans = max(1, max_spans)
        self._answer: tuple[int, str] | None = None
        session = requests.Session()
        session.hooks["response"].append(self._remember)
        self._exporter = OTLPSpanExporter(
            endpoint=endpoint,
            headers=dict(headers or {}),
            timeout=timeout_s,
            compression=Compression.Gzip if compression == "gzip" else Compression.NoCompression,
            session=session,
        )
        self._problems = _FirstProblem()
        self._lock = threading.Lock()

    def _remember(self, response: Any, *_: Any, **__: Any) -> Any:
        if response.status_code >= 400:
            body = (response.text or "").strip().replace("\n", " ")
            self._answer = (response.status_code, body[:300])
        return response

    def send(self, spans: Sequence[ReadableSpan]) -> int:
        """Send ``spans`` (in requests of at most ``max_spans``); return how many were sent.

        Raises:
            ExportFailedError: a request failed (the spans of earlier requests were sent).
        """
        sent = 0
        for start in range(0, len(spans), self.max_spans):
            chunk = spans[start : start + self.max_spans]
            self._send(chunk)
            sent += len(chunk)
        return sent

    def _send(self, chunk: Sequence[ReadableSpan]) -> None:
        logger = logging.getLogger(type(self._exporter).__module__)
        client = logging.getLogger("opentelemetry.exporter.otlp.common.http")
        with self._lock:
            self._answer, self._problems.message = None, None
            for each in (logger, client):
                each.addHandler(self._problems)
            try:
                result = self._exporter.export(chunk)
            finally:
                for each in (logger, client):
                    each.removeHandler(self._problems)
        if result is not SpanExportResult.SUCCESS:
            raise ExportFailedError(self._explain())

    def _explain(self) -> str:
        if self._answer is not None:
            code, body = self._answer
            detail = f": {body}" if body else ""
            return f"{self.shown} answered HTTP {code}{detail}"
        problem = self._problems.message or "no answer"
        return f"{self.shown} could not be reached ({problem})"

    def close(self) -> None:
        """Close the exporter's connections."""
        self._exporter.shutdown()  # type: ignore[no-untyped-call]


# ------------------------------------------------------------------ a window
@dataclass(slots=True)
class ExportProgress:
    """How far an export got."""

    traces: int = 0
    spans: int = 0
    truncated: list[uuid.UUID] = field(default_factory=list)
    """Roots whose tree held more executions than one trace read takes."""
    last_root_at: datetime | None = None
    """First-event time of the last trace fully sent (resume with ``--since`` after it)."""


async def iter_trace_spans(
    db: Reader,
    since: datetime,
    until: datetime,
    *,
    resource: Resource | None = None,
    page: int = 100,
) -> AsyncIterator[tuple[TraceTree, datetime | None, list[ReadableSpan]]]:
    """Every trace of the window as spans, one tree at a time (bounded memory).

    First the trees whose root execution was first seen in the window (oldest first), then
    the rows of the window recorded without any execution, per correlation id. Yields the
    tree, its root's first-event time (None for rows without an execution) and its spans.
    """
    resource = resource or default_resource()
    after: tuple[datetime, uuid.UUID] | None = None
    while True:
        roots = await list_trace_roots(db, since, until, after=after, limit=page)
        for created_at, root in roots:
            tree = await fetch_trace_tree(db, root)
            yield tree, created_at, spans_for_tree(tree, resource=resource)
        if len(roots) < page:
            break
        after = roots[-1]
    last: uuid.UUID | None = None
    while True:
        ids = await list_unattached(db, since, until, after=last, limit=page)
        for cid in ids:
            tree = await fetch_trace_tree(db, cid)
            yield tree, None, spans_for_tree(tree, resource=resource)
        if len(ids) < page:
            break
        last = ids[-1]


async def export_window(
    db: Reader,
    sender: SpanSender,
    since: datetime,
    until: datetime,
    *,
    on_trace: Callable[[ExportProgress], None] | None = None,
    resource: Resource | None = None,
) -> ExportProgress:
    """Send every trace of ``since <= first event < until`` (see :func:`iter_trace_spans`).

    Raises:
        ExportFailedError: the collector refused or could not be reached; the progress so
            far is on the exception's ``progress`` attribute.
    """
    progress = ExportProgress()
    async for tree, created_at, spans in iter_trace_spans(db, since, until, resource=resource):
        try:
            progress.spans += await asyncio.to_thread(sender.send, spans)
        except ExportFailedError as exc:
            exc.progress = progress
            raise
        progress.traces += 1
        if tree.truncated:
            progress.truncated.append(tree.root)
        if created_at is not None:
            progress.last_root_at = created_at
        if on_trace is not None:
            on_trace(progress)
    return progress


# ------------------------------------------------------------------ continuous
_FINAL_EVENTS = frozenset({"execution_completed", "execution_failed"})
_REMEMBERED_TREES: Final = 10_000
"""How many sent trees the continuous export remembers (their spans are not sent twice)."""
_REMEMBERED_SPANS: Final = 200_000
"""How many span digests it keeps for them, all trees together (about 10 MB)."""
_MEMBERS: Final = 50_000
"""How many executions of sent trees it knows the root of (a row of one sends its tree again)."""
_WATCHED: Final = 10_000
"""Correlation ids noted while a tree is read; past it the tree is simply read again."""
_LONGEST_WAIT: Final = 10
"""A tree whose rows keep coming is read at the latest this many ``settle_s`` after it was
first queued."""


def _digest(span: ReadableSpan) -> int:
    """What a span says (ids, times, attributes, events, status), as one number: a span is
    sent again only when this changed."""
    return hash(span.to_json(indent=None))


class ExportMetrics:
    """The continuous export's Prometheus metrics, in the consumer's registry.

    ``omniclaude_otlp_export_spans_total{outcome=sent|failed}``, ``..._traces_total
    {outcome=sent|failed}``, ``..._traces_dropped_total`` (the queue was full) and the gauge
    ``..._queue_traces``.
    """

    def __init__(self, registry: Any) -> None:
        from prometheus_client import Counter, Gauge

        self.spans = Counter(
            "omniclaude_otlp_export_spans", "Spans exported, per outcome.", ["outcome"],
            registry=registry,
        )  # fmt: skip
        self.traces = Counter(
            "omniclaude_otlp_export_traces", "Traces exported, per outcome.", ["outcome"],
            registry=registry,
        )  # fmt: skip
        self.dropped = Counter(
            "omniclaude_otlp_export_traces_dropped",
            "Finished traces not exported because the export queue was full.",
            registry=registry,
        )
        self.queued = Gauge(
            "omniclaude_otlp_export_queue_traces", "Traces waiting to be exported.",
            registry=registry,
        )  # fmt: skip


class ContinuousExporter:
    """Exports each trace once it has finished, and again when rows of it come later.

    :meth:`offer` is called by the consumer after each committed batch with the batch's
    events; it only looks at them (never blocks, never raises) and queues a tree when an
    execution of it ended, or when a row of a tree already sent was stored (a tree's rows
    come on several topics, so some land in a later batch than its last completion). A
    queued tree waits until ``settle_s`` passed without another of its rows (debounced; at
    most ``10 * settle_s`` after it was first queued); a background task then resolves its
    root, reads the tree once none of its executions is still running, and sends, with a
    :class:`SpanSender` in a worker thread, the spans the collector has not had yet: new
    rows, and rows whose span changed (same span id, so a collector that keeps one span per
    id replaces it; see docs/otel.md). A row stored while its tree was being read queues
    the tree again.

    Memory is bounded: at most ``max_queue`` trees wait (beyond it they are dropped and
    counted: the collector is down or slow for long), and what was sent is remembered for
    the last 10,000 trees (200,000 span digests, 50,000 executions). A failed request is
    counted and logged, not retried: the rows are in PostgreSQL, and
    ``omniclaude export-otlp --since`` sends them again.

    Args:
        pool: a connection pool of the database (the read layer's ``Reader``).
        sender: where spans go.
        metrics: the counters.
        max_queue: trees waiting at most.
        settle_s: how long a tree must be quiet before it is read.
        clock: monotonic seconds (tests).
    """

    def __init__(
        self,
        pool: Reader,
        sender: SpanSender,
        metrics: ExportMetrics,
        *,
        max_queue: int = 1000,
        settle_s: float = 1.0,
        resource: Resource | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._pool = pool
        self._sender = sender
        self.metrics = metrics
        self._max_queue = max(1, max_queue)
        self._settle_s = max(0.0, settle_s)
        self._clock = clock
        self._resource = resource or default_resource()
        self._task: asyncio.Task[None] | None = None
        self._due: dict[uuid.UUID, tuple[float, float]] = {}
        """Queued trees (a correlation id of one): when first queued, when to read it."""
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._members: OrderedDict[uuid.UUID, uuid.UUID] = OrderedDict()
        """Executions of trees read complete -> their root."""
        self._sent: OrderedDict[uuid.UUID, frozenset[int]] = OrderedDict()
        """Root -> the digests of the spans sent (or tried) for it."""
        self._sent_spans = 0
        self._watch: set[uuid.UUID] | None = None
        self._watch_overflow = False
        self.sent_traces = 0
        self.failed_traces = 0

    # ---------------------------------------------------------------- the write path
    def offer(self, events: Iterable[Any]) -> None:
        """Queue the trees that ``events`` (a committed batch) finished or added to."""
        for event in events:
            cid = getattr(event, "correlation_id", None)
            if not isinstance(cid, uuid.UUID):
                continue
            parent = getattr(event, "parent_correlation_id", None)
            if self._watch is not None:
                self._note(cid, parent)
            if getattr(event, "event_type", None) in _FINAL_EVENTS:
                key: uuid.UUID | None = self._members.get(cid, cid)
            else:
                key = self._members.get(cid)
                if key is None and isinstance(parent, uuid.UUID):
                    key = self._members.get(parent)
            if key is not None:
                self._queue(key)
        self.metrics.queued.set(len(self._due))

    def _note(self, cid: uuid.UUID, parent: Any) -> None:
        assert self._watch is not None  # noqa: S101 - checked by the caller
        if len(self._watch) >= _WATCHED:
            self._watch_overflow = True
            return
        self._watch.add(cid)
        if isinstance(parent, uuid.UUID):
            self._watch.add(parent)

    def _queue(self, key: uuid.UUID) -> None:
        now = self._clock()
        queued = self._due.get(key)
        if queued is None:
            if len(self._due) >= self._max_queue:
                self.metrics.dropped.inc()
                return
            self._due[key] = (now, now + self._settle_s)
        else:  # debounced: quiet for settle_s, but not put off for ever
            first = queued[0]
            self._due[key] = (
                first,
                min(now + self._settle_s, first + _LONGEST_WAIT * self._settle_s),
            )
        self._idle.clear()
        self._wake.set()

    # ---------------------------------------------------------------- the task
    def start(self) -> None:
        """Start the background task (in the running loop)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="omniclaude-otlp-export")

    async def stop(self) -> None:
        """Stop the task (what is queued is not sent: ``export-otlp --since`` can)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await asyncio.to_thread(self._sender.close)

    async def idle(self) -> None:
        """Wait until every queued tree was handled (for tests and shutdown)."""
        await self._idle.wait()

    async def _run(self) -> None:
        while True:
            if not self._due:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            key, due = min(((k, d) for k, (_, d) in self._due.items()), key=lambda kd: kd[1])
            wait = due - self._clock()
            if wait > 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)
                continue
            del self._due[key]
            self.metrics.queued.set(len(self._due))
            try:
                await self._export(key)
            except ExportFailedError as exc:
                self.failed_traces += 1
                self.metrics.traces.labels(outcome="failed").inc()
                log.warning("OTLP export of trace %s failed: %s", key, exc)
            except Exception:  # the export must never stop the consumer
                self.failed_traces += 1
                self.metrics.traces.labels(outcome="failed").inc()
                log.exception("OTLP export of trace %s failed", key)

    async def _read(self, key: uuid.UUID) -> tuple[TraceTree, set[uuid.UUID] | None]:
        """The tree, and the correlation ids offered while it was read (None: too many)."""
        self._watch, self._watch_overflow = set(), False
        try:
            root = await find_trace_root(self._pool, key)
            tree = await fetch_trace_tree(self._pool, root)
        finally:
            watched, overflow = self._watch, self._watch_overflow
            self._watch = None
        return tree, None if overflow else watched

    async def _export(self, key: uuid.UUID) -> None:
        tree, watched = await self._read(key)
        if tree.empty or tree.running:
            return  # exported when its last execution ends
        root = tree.root
        members = {e.correlation_id for e in tree.executions} | {root}
        self._remember_members(members, root)
        if watched is None or not watched.isdisjoint(members):
            self._queue(root)  # a row of it was stored while it was read: read it again
        spans = spans_for_tree(tree, resource=self._resource)
        digests = [_digest(span) for span in spans]
        before = self._sent.get(root, frozenset())
        new = [span for span, digest in zip(spans, digests, strict=True) if digest not in before]
        if not new:
            return  # a redelivered batch, or two executions of it ending together
        # Remembered before the attempt: a failed one is not retried (docs/otel.md).
        self._remember_sent(root, frozenset(digests))
        try:
            await asyncio.to_thread(self._sender.send, new)
        except ExportFailedError:
            self.metrics.spans.labels(outcome="failed").inc(len(new))
            raise
        self.metrics.spans.labels(outcome="sent").inc(len(new))
        self.metrics.traces.labels(outcome="sent").inc()
        self.sent_traces += 1

    def _remember_members(self, members: set[uuid.UUID], root: uuid.UUID) -> None:
        for cid in members:
            self._members[cid] = root
            self._members.move_to_end(cid)
        while len(self._members) > _MEMBERS:
            self._members.popitem(last=False)

    def _remember_sent(self, root: uuid.UUID, digests: frozenset[int]) -> None:
        self._sent_spans += len(digests) - len(self._sent.pop(root, ()))
        self._sent[root] = digests
        while len(self._sent) > 1 and (
            len(self._sent) > _REMEMBERED_TREES or self._sent_spans > _REMEMBERED_SPANS
        ):
            _, dropped = self._sent.popitem(last=False)
            self._sent_spans -= len(dropped)
