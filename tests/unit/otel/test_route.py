"""The OTLP routes on an in-memory sink: auth, answers, whole-record refusal, retryable 503."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from google.rpc import status_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from omniclaude.api import create_app
from omniclaude.errors import DeliveryError
from omniclaude.events import EventBase
from omniclaude.publishing.sinks.base import EventSink
from omniclaude.settings import Settings
from omniclaude.testing import InMemorySink
from tests.fixtures.otel import otlp_json, span_request, toy_agent_spans
from tests.fixtures.stack import write_sample_project
from tests.unit.api.conftest import MemoryKeys

PROTOBUF = {"Content-Type": "application/x-protobuf", "Authorization": "Bearer key-ingest"}


class _DownSink(InMemorySink):
    """A sink whose destination is away: every delivery fails, retriably."""

    async def _deliver(self, events: list[EventBase]) -> None:
        del events
        raise DeliveryError("broker and outbox unavailable")


class _PerEventSink:
    """An EventSink that is no BaseSink (the route then sends event by event): forwards
    everything to an in-memory sink."""

    def __init__(self, inner: InMemorySink) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def _client(tmp_path: Path, sink: Any) -> AsyncIterator[httpx.AsyncClient]:
    await sink.start()
    app = create_app(
        Settings(data_dir=tmp_path / "data"),
        sink=cast("EventSink", sink),
        key_store=MemoryKeys(),
        workspace=write_sample_project(tmp_path / "ws"),
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield client
    await sink.stop()


@pytest.fixture
def sink() -> InMemorySink:
    """The sink the API publishes to."""
    return InMemorySink()


@pytest.fixture
async def client(tmp_path: Path, sink: InMemorySink) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the API on ``sink``."""
    async for made in _client(tmp_path, sink):
        yield made


async def test_spans_are_sent_and_answered_in_the_requests_encoding(
    client: httpx.AsyncClient, sink: InMemorySink
) -> None:
    """protobuf in, protobuf out (empty response); JSON in, JSON out; events in the sink."""
    request = span_request(toy_agent_spans())
    response = await client.post(
        "/v1/traces", content=request.SerializeToString(), headers=PROTOBUF
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-protobuf"
    assert ExportTraceServiceResponse.FromString(response.content) == ExportTraceServiceResponse()
    count = len(sink.events)
    assert count == 9, [e.event_type for e in sink.events]
    json_headers = {**PROTOBUF, "Content-Type": "application/json"}
    again = await client.post("/v1/traces", content=otlp_json(request), headers=json_headers)
    assert again.status_code == 200, again.text
    assert again.json() == {}
    assert [e.event_id for e in sink.events[count:]] == [e.event_id for e in sink.events[:count]]


async def test_an_ingest_key_is_needed(client: httpx.AsyncClient) -> None:
    """No key: 401; a read-only key: 403; X-API-Key works like Bearer."""
    body = ExportTraceServiceRequest().SerializeToString()
    ctype = {"Content-Type": "application/x-protobuf"}
    assert (await client.post("/v1/traces", content=body, headers=ctype)).status_code == 401
    read = {**ctype, "Authorization": "Bearer key-read"}
    assert (await client.post("/v1/traces", content=body, headers=read)).status_code == 403
    header = {**ctype, "X-API-Key": "key-ingest"}
    assert (await client.post("/v1/logs", content=body, headers=header)).status_code == 200


async def test_a_record_the_sink_would_refuse_is_refused_whole(
    client: httpx.AsyncClient, sink: InMemorySink
) -> None:
    """An agent span whose execution_started is too large once encoded: neither of its two
    events is sent, the span is counted as rejected with the reason."""
    request = span_request(toy_agent_spans())
    root = next(
        s
        for s in request.resource_spans[0].scope_spans[0].spans
        if s.name == "invoke_agent planner"
    )
    root.attributes.add(key="huge").value.string_value = "x" * 1_100_000
    response = await client.post(
        "/v1/traces", content=request.SerializeToString(), headers=PROTOBUF
    )
    answer = ExportTraceServiceResponse.FromString(response.content)
    assert answer.partial_success.rejected_spans == 1, answer
    assert "spans[" in answer.partial_success.error_message
    assert not [e for e in sink.events if e.event_type.startswith("execution_") and
                getattr(e, "agent_name", None) == "planner"]  # fmt: skip


async def test_a_sink_that_cannot_take_events_is_a_retryable_503(tmp_path: Path) -> None:
    """The sink is away: 503 with Retry-After and a google.rpc.Status (UNAVAILABLE)."""
    async for client in _client(tmp_path, _DownSink()):
        request = span_request(toy_agent_spans())
        response = await client.post(
            "/v1/traces", content=request.SerializeToString(), headers=PROTOBUF
        )
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "5"
        status = status_pb2.Status.FromString(response.content)
        assert (status.code, status.message.split(":")[0]) == (14, "sink")


async def test_logs_and_metrics_are_mapped(client: httpx.AsyncClient, sink: InMemorySink) -> None:
    """A log record becomes a decision; a metrics request's points become metric points,
    and a point without a time is refused, named."""
    logs = ExportLogsServiceRequest()
    record = (
        logs.resource_logs.add()
        .scope_logs.add()
        .log_records.add(time_unix_nano=1_800_000_000_000_000_000, event_name="note")
    )
    record.body.string_value = "hello"
    response = await client.post("/v1/logs", content=logs.SerializeToString(), headers=PROTOBUF)
    assert ExportLogsServiceResponse.FromString(response.content) == ExportLogsServiceResponse()
    [action] = sink.events
    assert (action.event_type, getattr(action, "action_name", None)) == ("agent_action", "note")
    from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2

    metrics = metrics_service_pb2.ExportMetricsServiceRequest()
    metric = metrics.resource_metrics.add().scope_metrics.add().metrics.add(name="m")
    metric.gauge.data_points.add(as_double=1.5, time_unix_nano=1_800_000_000_000_000_000)
    metric.gauge.data_points.add(as_double=2.0)  # no time: refused
    json_headers = {**PROTOBUF, "Content-Type": "application/json"}
    answer = await client.post("/v1/metrics", content=otlp_json(metrics), headers=json_headers)
    body = answer.json()
    assert body["partialSuccess"]["rejectedDataPoints"] in ("1", 1), body
    assert body["partialSuccess"]["errorMessage"] == (
        "resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints[1]: "
        "timeUnixNano: missing (0 is unset)"
    ), body
    point = sink.events[-1]
    assert (point.event_type, getattr(point, "value", None)) == ("metric_point", 1.5)


async def test_errors_are_answered_as_status_in_the_requests_encoding(
    client: httpx.AsyncClient,
) -> None:
    """A bad protobuf body: 400 with a protobuf Status; bad JSON: a JSON Status."""
    bad = await client.post("/v1/traces", content=b"\x0a\xff", headers=PROTOBUF)
    assert bad.status_code == 400
    assert status_pb2.Status.FromString(bad.content).message.startswith("body: ")
    json_headers = {**PROTOBUF, "Content-Type": "application/json"}
    bad_json = await client.post("/v1/traces", content=b"{", headers=json_headers)
    assert (bad_json.status_code, bad_json.json()["code"]) == (400, 3)


async def test_a_sink_that_is_no_base_sink_is_sent_event_by_event(tmp_path: Path) -> None:
    """Through a plain EventSink, a record with an event it refuses is reported refused."""
    inner = InMemorySink()
    async for client in _client(tmp_path, _PerEventSink(inner)):
        request = span_request(toy_agent_spans())
        tool = next(
            s
            for s in request.resource_spans[0].scope_spans[0].spans
            if s.name.startswith("execute")
        )
        tool.attributes.add(key="huge").value.string_value = "x" * 1_100_000
        response = await client.post(
            "/v1/traces", content=request.SerializeToString(), headers=PROTOBUF
        )
        answer = ExportTraceServiceResponse.FromString(response.content)
        assert answer.partial_success.rejected_spans == 1, answer
        assert len(inner.events) == 8, [e.event_type for e in inner.events]
