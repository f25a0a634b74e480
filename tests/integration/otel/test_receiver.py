"""The OTLP receiver end to end: the official OTel exporters → the API → Kafka → consumer →
PostgreSQL, read back from the tables and from GET /traces/{id}."""

from __future__ import annotations

import gzip
import time
import uuid
from collections.abc import Sequence
from typing import Any

import httpx
import pytest
from opentelemetry._logs import LogRecord
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult

from omniclaude.hooks.sessions import session_correlation_id
from tests.fixtures.otel import MODEL, otlp_json, span_request, toy_agent_spans
from tests.fixtures.waiting import wait_for
from tests.integration.otel.conftest import OtlpApi

PROTOBUF = {"Content-Type": "application/x-protobuf"}
JSON = {"Content-Type": "application/json"}


def _root(spans: Sequence[ReadableSpan]) -> str:
    context = spans[0].context
    assert context is not None
    return str(uuid.UUID(bytes=context.trace_id.to_bytes(16, "big")))


async def _export(api: OtlpApi, spans: Sequence[ReadableSpan], *, gzipped: bool) -> None:
    result = await api.export(OTLPSpanExporter, "traces", spans, gzipped=gzipped)
    assert result is SpanExportResult.SUCCESS, f"the OTLP exporter failed: {result}"


async def _post(api: OtlpApi, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=api.url, timeout=30) as client:
        return await client.post(path, content=body, headers={**api.headers(), **headers})


def _assert_toy_agent(trace: dict[str, Any], root: str) -> None:
    """The toy agent's trace: planner with a chat and a tool call, researcher nested."""
    execution = trace["execution"]
    assert execution is not None, f"no execution stored for trace {root}"
    assert (execution["agent_name"], execution["status"]) == ("planner", "success"), execution
    tools = [a for a in trace["actions"] if a["action_type"] == "tool_call"]
    assert [(t["action_name"], t["tool_use_id"]) for t in tools] == [("search_docs", "call_1")]
    assert tools[0]["action_details"]["tool_input"] == {"query": "retry policy"}
    assert tools[0]["action_details"]["tool_response"] == {"hits": 3}
    [llm] = trace["llm_calls"]
    assert (llm["model"], llm["input_tokens"], llm["cache_read_input_tokens"]) == (MODEL, 1000, 200)
    assert (llm["output_tokens"], llm["stop_reason"], llm["cost_source"]) == (
        80,
        "tool_use",
        "estimate",
    )
    assert llm["cost_usd"] > 0, f"the chat call of {root} was not priced: {llm}"
    [child] = trace["children"]
    assert child["execution"]["agent_name"] == "researcher", child["execution"]
    assert child["execution"]["parent_correlation_id"] == root
    assert [c["input_tokens"] for c in child["llm_calls"]] == [300]
    kinds = sorted((a["action_type"], a["action_name"]) for a in child["actions"])
    assert kinds == [("decision", "GET /search"), ("error", "TimeoutError")], kinds


async def _wait_for_trace(api: OtlpApi, root: str) -> dict[str, Any]:
    async def complete() -> dict[str, Any] | None:
        response = await api.stack.client.get(f"/traces/{root}", headers=api.headers("read"))
        if response.status_code != 200:
            return None
        body = dict(response.json())
        children = body["children"]
        ready = (
            body["execution"] is not None
            and body["execution"]["status"] == "success"
            and len(body["actions"]) == 1
            and len(body["llm_calls"]) == 1
            and len(children) == 1
            and children[0]["execution"] is not None
            and len(children[0]["actions"]) == 2
            and len(children[0]["llm_calls"]) == 1
        )
        return body if ready else None

    return await wait_for(complete, what=f"the toy agent's trace {root} complete", timeout_s=60)


@pytest.mark.covers("endpoint:POST /v1/traces")
@pytest.mark.parametrize("gzipped", [False, True], ids=["plain", "gzip"])
async def test_sdk_protobuf_export_lands_as_an_execution_tree(
    otlp_api: OtlpApi, gzipped: bool
) -> None:
    """The SDK's protobuf exporter's spans of a GenAI toy agent are one execution in GET
    /traces: its tool call, its LLM call (priced), and the nested agent as a child."""
    spans = toy_agent_spans()
    await _export(otlp_api, spans, gzipped=gzipped)
    root = _root(spans)
    _assert_toy_agent(await _wait_for_trace(otlp_api, root), root)


@pytest.mark.parametrize("gzipped", [False, True], ids=["plain", "gzip"])
async def test_otlp_json_lands_like_protobuf(otlp_api: OtlpApi, gzipped: bool) -> None:
    """The same spans in OTLP/JSON (hex ids), gzip on or off, give the same trace; the answer
    is an ExportTraceServiceResponse in JSON with nothing rejected."""
    spans = toy_agent_spans()
    body = otlp_json(span_request(spans))
    headers = {**JSON, **({"Content-Encoding": "gzip"} if gzipped else {})}
    response = await _post(
        otlp_api, "/v1/traces", gzip.compress(body) if gzipped else body, headers
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {}, f"a full success has no partial_success: {response.text}"
    root = _root(spans)
    _assert_toy_agent(await _wait_for_trace(otlp_api, root), root)


async def _counts(api: OtlpApi, cids: Sequence[str]) -> dict[str, int]:
    tables = ("agent_actions", "agent_llm_calls", "agent_execution_events")
    ids = [uuid.UUID(c) for c in cids]
    return {
        table: await api.stack.pool.fetchval(
            f"SELECT count(*) FROM {table} WHERE correlation_id = ANY($1::uuid[])",
            ids,
        )
        for table in tables
    }


async def test_a_resend_adds_nothing(otlp_api: OtlpApi) -> None:
    """The same spans exported twice are stored once: the second request's events have the
    same ids, which the consumer's idempotent writes turn into nothing new."""
    spans = toy_agent_spans()
    root = _root(spans)
    await _export(otlp_api, spans, gzipped=False)
    trace = await _wait_for_trace(otlp_api, root)
    cids = [root, trace["children"][0]["correlation_id"]]
    before = await _counts(otlp_api, cids)
    await _export(otlp_api, spans, gzipped=True)
    # A marker span sent after the resend, in the same trace (same partition, so stored after
    # it): once it is in the table, the resend has been consumed too.
    marker = ExportTraceServiceRequest()
    span = (
        marker.resource_spans.add()
        .scope_spans.add()
        .spans.add(trace_id=uuid.UUID(root).bytes, span_id=uuid.uuid4().bytes[:8], name="marker")
    )
    span.start_time_unix_nano = span.end_time_unix_nano = time.time_ns()  # a day with a partition
    response = await _post(otlp_api, "/v1/traces", marker.SerializeToString(), PROTOBUF)
    assert response.status_code == 200, response.text

    async def marked() -> bool:
        rows = await otlp_api.stack.rows("agent_actions", root)
        return any(r["action_name"] == "marker" for r in rows)

    await wait_for(marked, what=f"the marker span after the resend in {root}")
    after = await _counts(otlp_api, cids)
    after["agent_actions"] -= 1  # the marker
    assert after == before, f"the resend of trace {root} added rows: {before} → {after}"


async def test_malformed_bodies_get_the_otlp_error_answer(otlp_api: OtlpApi) -> None:
    """Undecodable protobuf and JSON: 400; another media type: 415; a gzip bomb: 413 — each
    with a google.rpc.Status naming the problem."""
    from google.rpc import status_pb2

    bad = await _post(otlp_api, "/v1/traces", b"\x0a\xff\xff\xff\xff\x0f", PROTOBUF)
    assert bad.status_code == 400, bad.text
    status = status_pb2.Status.FromString(bad.content)
    assert status.message.startswith("body: not a valid protobuf"), status.message
    bad_json = await _post(otlp_api, "/v1/traces", b'{"resourceSpans": 3}', JSON)
    assert bad_json.status_code == 400, bad_json.text
    assert "resourceSpans" in bad_json.json()["message"], bad_json.text
    text = await _post(otlp_api, "/v1/logs", b"hello", {"Content-Type": "text/plain"})
    assert text.status_code == 415, text.text
    assert text.json()["message"].startswith("content-type: 'text/plain'"), text.text
    bomb = gzip.compress(b"\x00" * (11 * 1024 * 1024))
    big = await _post(otlp_api, "/v1/traces", bomb, {**PROTOBUF, "Content-Encoding": "gzip"})
    assert big.status_code == 413, big.text
    assert "gzip-decoded" in status_pb2.Status.FromString(big.content).message


async def test_bad_spans_are_refused_whole_and_the_others_stored(otlp_api: OtlpApi) -> None:
    """In a valid request, a span with a bad token count (refused by the mapping) and a span
    too large once encoded (refused by the Kafka sink's check): both counted and named, none
    of their events stored; the other spans of the request are stored."""
    spans = toy_agent_spans()
    request: ExportTraceServiceRequest = span_request(spans)
    own = request.resource_spans[0].scope_spans[0].spans
    chat = next(s for s in own if s.name.startswith("chat"))
    for pair in chat.attributes:
        if pair.key == "gen_ai.usage.output_tokens":
            pair.value.int_value = -5
    tool = next(s for s in own if s.name.startswith("execute_tool"))
    tool.attributes.add(key="blob").value.string_value = "x" * 1_100_000
    response = await _post(otlp_api, "/v1/traces", request.SerializeToString(), PROTOBUF)
    assert response.status_code == 200, response.text
    answer = ExportTraceServiceResponse.FromString(response.content)
    assert answer.partial_success.rejected_spans == 2, answer
    message = answer.partial_success.error_message
    assert "attributes.gen_ai.usage.output_tokens" in message, message
    assert "bytes once encoded" in message, message
    root = _root(spans)

    async def stored() -> dict[str, Any] | None:
        # Everything accepted: the planner's execution and the researcher's whole subtree
        # (its LLM call and actions on the same topics as the refused spans' events).
        rows = await otlp_api.stack.rows("agent_execution_events", root)
        if len(rows) != 2:
            return None
        trace = await otlp_api.trace(root)
        child = trace["children"][0] if trace["children"] else None
        done = child and len(child["llm_calls"]) == 1 and len(child["actions"]) == 2
        return trace if done else None

    trace = await wait_for(stored, what=f"the accepted spans of {root}")
    # The refused chat and tool spans were the planner's own (the researcher's are a child's).
    assert trace["llm_calls"] == [], f"a refused span was stored: {trace['llm_calls']}"
    assert trace["actions"] == [], f"a refused span was stored: {trace['actions']}"


@pytest.mark.covers("endpoint:POST /v1/logs")
async def test_sdk_log_export_is_kept_as_decision_actions(otlp_api: OtlpApi) -> None:
    """Log records from the SDK's OTLP log exporter (gzip) are stored as decisions in the
    session their session.id names; the answer is an empty ExportLogsServiceResponse."""
    memory = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=Resource.create({"service.name": "toy-agent"}))
    provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    logger = provider.get_logger("toy.logs")
    session = f"s-{uuid.uuid4()}"
    logger.emit(
        LogRecord(body="compacted", attributes={"session.id": session}, event_name="toy.note")
    )
    provider.shutdown()
    result = await otlp_api.export(
        OTLPLogExporter, "logs", memory.get_finished_logs(), gzipped=True
    )
    assert result.name == "SUCCESS", result
    cid = str(session_correlation_id(session))
    [row] = await otlp_api.stack.wait_for_count("agent_actions", cid, 1)
    assert (row["action_type"], row["action_name"]) == ("decision", "toy.note"), row
    assert row["session_id"] == session


@pytest.mark.covers("endpoint:POST /v1/metrics")
async def test_metrics_points_are_stored_and_a_bad_one_is_refused_by_name(
    otlp_api: OtlpApi,
) -> None:
    """A metrics request's good points are stored as rows; the one without a time comes back
    rejected with where it is and why, never dropped silently."""
    from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
    from opentelemetry.proto.metrics.v1 import metrics_pb2

    session = f"s-{uuid.uuid4()}"
    now = time.time_ns()
    request = metrics_service_pb2.ExportMetricsServiceRequest()
    metric = (
        request.resource_metrics.add()
        .scope_metrics.add()
        .metrics.add(name="claude_code.commit.count")
    )
    metric.sum.aggregation_temporality = metrics_pb2.AGGREGATION_TEMPORALITY_DELTA
    for value, at in ((2, now - 60_000_000_000), (3, now), (4, 0)):
        point = metric.sum.data_points.add(as_int=value, time_unix_nano=at)
        attr = point.attributes.add(key="session.id")
        attr.value.string_value = session
    response = await _post(otlp_api, "/v1/metrics", request.SerializeToString(), PROTOBUF)
    assert response.status_code == 200, response.text
    answer = metrics_service_pb2.ExportMetricsServiceResponse.FromString(response.content)
    assert answer.partial_success.rejected_data_points == 1, answer
    assert answer.partial_success.error_message == (
        "resourceMetrics[0].scopeMetrics[0].metrics[0].sum.dataPoints[2]: "
        "timeUnixNano: missing (0 is unset)"
    )
    rows = await otlp_api.stack.wait_for_count(
        "agent_metric_points", str(session_correlation_id(session)), 2
    )
    assert [r["value"] for r in rows] == [2, 3]
