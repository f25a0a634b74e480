"""OTLP export against the real stack: a toy agent recorded through the SDK, the broker and
the consumer into PostgreSQL, sent by ``omniclaude export-otlp`` (and by the consumer's
continuous export) to a local OTLP collector that decodes it with opentelemetry-proto."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from typing import Any

import asyncpg
import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from omniclaude.otel.export import nanos
from omniclaude.otel.ids import span_id_for_event
from omniclaude.publishing import ActionLogger, KafkaSink
from omniclaude.settings import OtlpExportSettings
from omniclaude.stack.ports import unused_port
from omniclaude.storage.queries import TraceTree
from tests.fixtures.ingest import IngestServiceFactory
from tests.fixtures.otlp_sink import OtlpSink, ReceivedSpan, value_of
from tests.fixtures.waiting import wait_for
from tests.integration.otel.toy import export_otlp, record_toy_agent, stored

pytestmark = pytest.mark.covers(
    "topic:agent-actions",
    "topic:agent-execution-logs",
    "topic:agent-routing-decisions",
    "topic:intelligence-events",
    "topic:agent-transformations",
    "topic:agent-llm-calls",
    "table:agent_actions",
    "table:agent_execution_events",
    "table:agent_execution_logs",
    "table:agent_routing_decisions",
    "table:agent_manifest_injections",
    "table:agent_transformation_events",
    "table:agent_llm_calls",
)


def span_id(key: uuid.UUID) -> bytes:
    return span_id_for_event(key)


def assert_same_tree(received: list[ReceivedSpan], tree: TraceTree) -> None:
    """The spans are the tree: one per row, in the root's trace, parents, names, times."""
    assert {s.span.trace_id for s in received} == {tree.root.bytes}
    by_id = {s.span.span_id: s for s in received}
    rows: list[Any] = [
        *tree.actions,
        *tree.llm_calls,
        *tree.routing,
        *tree.manifests,
        *tree.transformations,
    ]
    assert len(by_id) == len(received) == len(rows) + len(tree.executions)
    for row in rows:
        got = by_id[span_id(row.event_id)]
        assert got.attributes["omniclaude.event_id"] == str(row.event_id)
        assert got.attributes["omniclaude.correlation_id"] == str(row.correlation_id)
        assert got.span.parent_span_id == span_id(row.correlation_id), got.span.name
        assert got.span.start_time_unix_nano == nanos(row.started_at), got.span.name
        assert got.span.end_time_unix_nano == nanos(row.created_at), got.span.name
    for execution in tree.executions:
        got = by_id[span_id(execution.correlation_id)]
        assert got.span.name == f"invoke_agent {execution.agent_name}"
        assert got.attributes["gen_ai.operation.name"] == "invoke_agent"
        assert got.attributes["omniclaude.correlation_id"] == str(execution.correlation_id)
        parent = execution.parent_correlation_id
        assert got.span.parent_span_id == (b"" if parent is None else span_id(parent))
        assert got.span.start_time_unix_nano == nanos(execution.started_at or execution.created_at)
        assert execution.completed_at is not None
        assert got.span.end_time_unix_nano == nanos(execution.completed_at)
        lifecycle = {str(e.event_id) for e in tree.lifecycle
                     if e.correlation_id == execution.correlation_id}  # fmt: skip
        kept = {value_of(kv.value) for ev in got.span.events for kv in ev.attributes
                if kv.key == "omniclaude.event_id"}  # fmt: skip
        assert kept == lifecycle, got.span.name


def by_name(received: list[ReceivedSpan]) -> dict[str, ReceivedSpan]:
    return {s.span.name: s for s in received}


async def test_export_otlp_sends_the_recorded_tree(
    ingest_service: Any,
    kafka_sink: KafkaSink,
    postgres_connection: asyncpg.Connection,
    database_url: str,
) -> None:
    """The toy agent's trace arrives as one OTLP trace: GenAI names and attributes, the
    child under its parent, every row's event id, times exact to the microsecond."""
    toy = await record_toy_agent(kafka_sink)
    tree = await stored(postgres_connection, toy)
    with OtlpSink() as collector:
        result = await asyncio.to_thread(
            export_otlp, database_url, "--endpoint", collector.url, "--since", "1h",
            "--header", "Authorization=Bearer sekret", "--compression", "gzip",
        )  # fmt: skip
        received = collector.spans
        headers = collector.headers
    assert result.returncode == 0, result.stderr
    assert f"sent 1 traces ({toy.rows} spans)" in result.stdout, result.stdout
    assert "sekret" not in result.stdout + result.stderr
    assert headers, "no request arrived"
    assert all(h.get("authorization") == "Bearer sekret" for h in headers), headers
    assert_same_tree(received, tree)
    spans = by_name(received)
    root, child = spans["invoke_agent toy-planner"], spans["invoke_agent toy-worker"]
    assert root.resource["service.name"] == "omniclaude"
    assert root.span.status.code == Status.STATUS_CODE_OK
    assert child.span.parent_span_id == root.span.span_id
    assert child.span.status.code == Status.STATUS_CODE_ERROR
    assert child.attributes["omniclaude.parent_correlation_id"] == str(toy.root)
    assert root.attributes["gen_ai.conversation.id"] == "sess-toy"
    read = spans["execute_tool Read"]
    assert read.attributes["gen_ai.tool.name"] == "Read"
    assert read.attributes["gen_ai.tool.call.id"] == "toolu_01"
    assert read.span.parent_span_id == root.span.span_id
    bash = spans["execute_tool Bash"]
    assert bash.span.parent_span_id == child.span.span_id
    chat = spans["chat claude-sonnet-4-5"]
    assert chat.span.kind == Span.SPAN_KIND_CLIENT
    assert chat.attributes["gen_ai.usage.input_tokens"] == 10 + 300 + 4000
    assert chat.attributes["gen_ai.usage.output_tokens"] == 200
    assert chat.attributes["gen_ai.usage.cache_read.input_tokens"] == 4000
    assert chat.attributes["gen_ai.usage.cache_creation.input_tokens"] == 300
    assert chat.attributes["gen_ai.response.finish_reasons"] == ("end_turn",)
    assert chat.attributes["omniclaude.cost_usd"] == pytest.approx(0.0042)
    assert chat.attributes["omniclaude.cost_source"] == "exact"
    error = spans["error TimeoutError"]
    assert error.span.status.code == Status.STATUS_CODE_ERROR
    assert error.span.parent_span_id == child.span.span_id
    exception = next(e for e in error.span.events if e.name == "exception")
    assert {kv.key for kv in exception.attributes} >= {"exception.type", "exception.message"}
    assert spans["routing_decision toy-planner"].attributes["omniclaude.confidence_score"] == 0.92
    assert "manifest_injection toy-planner" in spans
    assert any(name.startswith("decision ") for name in spans)


async def test_a_window_without_traces_sends_nothing(
    database_url: str,
) -> None:
    """An empty window is not an error: exit 0, nothing sent, saying so."""
    with OtlpSink() as collector:
        result = await asyncio.to_thread(
            export_otlp, database_url, "--endpoint", collector.url, "--since", "15m"
        )
        assert not collector.requests
    assert result.returncode == 0, result.stderr
    assert "nothing recorded" in result.stdout


async def test_a_refusing_collector_fails_naming_the_endpoint_and_its_answer(
    ingest_service: Any,
    kafka_sink: KafkaSink,
    postgres_connection: asyncpg.Connection,
    database_url: str,
) -> None:
    """A 4xx answer: exit 1, the message names --endpoint, the status and the reason."""
    toy = await record_toy_agent(kafka_sink)
    await stored(postgres_connection, toy)
    with OtlpSink(status=401, message="missing or bad API key") as collector:
        result = await asyncio.to_thread(
            export_otlp, database_url, "--endpoint", collector.url, "--since", "1h"
        )
    assert result.returncode == 1, result.stdout
    assert "--endpoint" in result.stderr
    assert "HTTP 401" in result.stderr
    assert "missing or bad API key" in result.stderr
    assert "0 traces sent" in result.stderr


async def test_an_unreachable_collector_fails_naming_the_endpoint(
    ingest_service: Any,
    kafka_sink: KafkaSink,
    postgres_connection: asyncpg.Connection,
    database_url: str,
) -> None:
    """Nothing listening: exit 1 after the exporter's own retries, saying it is unreachable."""
    toy = await record_toy_agent(kafka_sink)
    await stored(postgres_connection, toy)
    url = f"http://127.0.0.1:{unused_port('127.0.0.1')}"
    result = await asyncio.to_thread(
        export_otlp, database_url, "--endpoint", url, "--since", "1h", "--timeout", "1"
    )
    assert result.returncode == 1, result.stdout
    assert "--endpoint" in result.stderr
    assert "could not be reached" in result.stderr


async def test_bad_options_exit_2_naming_them(database_url: str) -> None:
    """A bad endpoint, header or window: exit 2 and the option's name."""
    for args, option in (
        (["--endpoint", "localhost:4318"], "--endpoint"),
        (["--endpoint", "http://h:4318", "--header", "nothing"], "--header"),
        (["--endpoint", "http://h:4318", "--since", "yesterday"], "--since"),
        (["--endpoint", "http://h:4318", "--compression", "zstd"], "--compression"),
    ):
        result = await asyncio.to_thread(export_otlp, database_url, *args)
        assert result.returncode == 2, (args, result.stderr)
        assert option in result.stderr, (args, result.stderr)


async def test_the_consumer_exports_each_finished_trace(
    ingest_service_factory: IngestServiceFactory,
    kafka_sink: KafkaSink,
    postgres_connection: asyncpg.Connection,
) -> None:
    """With OMNICLAUDE_OTLP_EXPORT__ENDPOINT the consumer sends a trace once it finished:
    the same tree export-otlp sends."""
    with OtlpSink() as collector:
        service = await ingest_service_factory(
            otlp_export=OtlpExportSettings(endpoint=collector.url, timeout_s=5)
        )
        toy = await record_toy_agent(kafka_sink)
        tree = await stored(postgres_connection, toy)

        async def arrived() -> list[ReceivedSpan] | None:
            # A tree is sent again when rows were added to it after it was sent (the toy's
            # last rows may come in a later batch): the latest telling of each span counts.
            latest = {
                s.span.span_id: s for s in collector.spans if s.span.trace_id == toy.root.bytes
            }
            return list(latest.values()) if len(latest) >= toy.rows else None

        received = await wait_for(arrived, what="the toy's trace at the collector", timeout_s=30)
        sent = len([s for s in collector.spans if s.span.trace_id == toy.root.bytes])
    assert_same_tree(received, tree)
    registry = service.metrics.registry
    traces_sent = registry.get_sample_value(
        "omniclaude_otlp_export_traces_total", {"outcome": "sent"}
    )
    assert traces_sent is not None
    assert traces_sent >= 1
    assert registry.get_sample_value("omniclaude_otlp_export_spans_total", {"outcome": "sent"}) == (
        sent
    )


async def test_a_row_stored_after_its_tree_was_sent_sends_the_tree_again(
    ingest_service_factory: IngestServiceFactory,
    kafka_sink: KafkaSink,
    postgres_connection: asyncpg.Connection,
) -> None:
    """A row of a finished tree that the consumer stores in a later batch than the tree's
    last completion (here: after the tree was already sent) sends the tree again, so the
    collector ends up with every row; the re-sent spans keep their ids."""
    with OtlpSink() as collector:
        await ingest_service_factory(
            otlp_export=OtlpExportSettings(endpoint=collector.url, timeout_s=5, settle_s=0.2)
        )
        toy = await record_toy_agent(kafka_sink)
        await stored(postgres_connection, toy)

        def latest() -> dict[bytes, ReceivedSpan]:
            return {s.span.span_id: s for s in collector.spans if s.span.trace_id == toy.root.bytes}

        async def first_telling() -> bool:
            return len(latest()) >= toy.rows

        await wait_for(first_telling, what="the toy's trace at the collector", timeout_s=30)
        late = await ActionLogger(sink=kafka_sink).log_decision(toy.child, "A late afterthought")
        await kafka_sink.flush()
        tree = await stored(postgres_connection, dataclasses.replace(toy, rows=toy.rows + 1))

        async def resent() -> list[ReceivedSpan] | None:
            spans = latest()
            return list(spans.values()) if span_id(late.event_id) in spans else None

        received = await wait_for(resent, what="the late row's span", timeout_s=30)
    assert len(received) == toy.rows + 1
    assert_same_tree(received, tree)


async def test_a_failing_collector_never_stops_the_consumer(
    ingest_service_factory: IngestServiceFactory,
    kafka_sink: KafkaSink,
    postgres_connection: asyncpg.Connection,
) -> None:
    """The collector refuses: the rows are still written, the failure is counted."""
    with OtlpSink(status=400, message="no") as collector:
        service = await ingest_service_factory(
            otlp_export=OtlpExportSettings(endpoint=collector.url, timeout_s=2)
        )
        toy = await record_toy_agent(kafka_sink)
        await stored(postgres_connection, toy)
        registry = service.metrics.registry

        async def failed() -> float | None:
            value = registry.get_sample_value(
                "omniclaude_otlp_export_traces_total", {"outcome": "failed"}
            )
            return value if value else None

        # At least one: a refused tree may be tried again before it is remembered as done.
        counted = await wait_for(failed, what="the failed export counted", timeout_s=30)
        assert counted is not None
        assert counted >= 1
    assert service.events_written
    assert registry.get_sample_value(
        "omniclaude_otlp_export_traces_total", {"outcome": "sent"}
    ) in (
        None,
        0,
    )
