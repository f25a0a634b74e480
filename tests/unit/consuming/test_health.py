"""The probe endpoint: routes, status codes, and a real request over a socket."""

from __future__ import annotations

import asyncio
import json

from omniclaude.consuming.health import HealthServer
from omniclaude.consuming.metrics import IngestMetrics


def _server(*, ready: bool = True) -> HealthServer:
    metrics = IngestMetrics()
    metrics.written.labels(topic="agent-actions").inc(3)
    return HealthServer(
        host="127.0.0.1", port=0,
        health=lambda: (True, {"loop": "running"}),
        ready=lambda: (ready, {"database": "ok" if ready else "unavailable"}),
        metrics=metrics.render,
    )  # fmt: skip


def _split(response: bytes) -> tuple[str, bytes]:
    head, _, body = response.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0].decode(), body


def test_probes_answer_200_when_ok_and_503_when_not() -> None:
    """/ready is 503 with the reason while a dependency is away."""
    status, body = _split(_server().respond("GET", "/health"))
    assert status == "HTTP/1.1 200 OK"
    assert json.loads(body) == {"status": "ok", "loop": "running"}
    status, body = _split(_server(ready=False).respond("GET", "/ready?verbose=1"))
    assert status == "HTTP/1.1 503 Service Unavailable"
    assert json.loads(body)["database"] == "unavailable"


def test_metrics_are_served_in_the_prometheus_format() -> None:
    """/metrics has the text format's content type and the service's counters."""
    response = _server().respond("GET", "/metrics")
    assert b"Content-Type: text/plain; version=0.0.4" in response
    assert b'omniclaude_ingest_events_written_total{topic="agent-actions"} 3.0' in response


def test_unknown_paths_and_methods_are_refused() -> None:
    """404 for an unknown path, 405 for a method other than GET/HEAD."""
    assert _split(_server().respond("GET", "/nope"))[0].endswith("404 Not Found")
    assert _split(_server().respond("POST", "/health"))[0].endswith("405 Method Not Allowed")


async def _request(port: int, raw: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(raw)
    await writer.drain()
    data = await reader.read()
    writer.close()
    await writer.wait_closed()
    return data


async def test_the_server_answers_real_http_requests() -> None:
    """GET and HEAD over TCP; a garbled request line gets a 400."""
    server = _server()
    await server.start()
    try:
        assert server.port != 0
        get = await _request(server.port, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _split(get)[0] == "HTTP/1.1 200 OK"
        head = await _request(server.port, b"HEAD /ready HTTP/1.1\r\n\r\n")
        assert _split(head) == ("HTTP/1.1 200 OK", b"")
        bad = await _request(server.port, b"\r\n")
        assert _split(bad)[0].endswith("400 Bad Request")
    finally:
        await server.stop()
        await server.stop()
