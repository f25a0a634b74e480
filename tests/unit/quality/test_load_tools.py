"""The load and chaos tests' own tools: percentiles, reports, events of every type, the PII
scanner's detection, and the raw HTTP client."""

from __future__ import annotations

import asyncio
import json
import random
import uuid

import pytest

from omniclaude.events import decode_mapping
from omniclaude.publishing.redaction import REDACTED, Redactor
from tests.integration.security.support import INJECTIONS, Injector, stored_strings
from tests.load.http import RawHttpClient, RawHttpError
from tests.load.pii import find_leaks, pattern_names
from tests.load.report import LatencyRecorder, format_table, load_seconds, percentile
from tests.load.workload import (
    EVENT_TYPES,
    PII_SAMPLES,
    HookSession,
    event_payload,
    may_hold_pii,
    realistic_text,
    string_paths,
)


def test_percentile_is_nearest_rank() -> None:
    """p50/p95/p99 of 1..100 are 50, 95, 99; one sample is every percentile; none is None."""
    samples = [float(i) for i in range(100, 0, -1)]
    assert [percentile(samples, p) for p in (50, 95, 99, 100)] == [50.0, 95.0, 99.0, 100.0]
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) is None
    with pytest.raises(ValueError, match="pct"):
        percentile([1.0], 0)


def test_recorder_summarises_throughput_latency_and_errors() -> None:
    """Per operation and total: requests, per second, 5xx, failures, latencies in ms."""
    recorder = LatencyRecorder()
    for i in range(10):
        recorder.record("POST /route", 0.01 * (i + 1), 200)
    recorder.record("POST /events", 0.5, 503, "database: unavailable")
    summary = recorder.summary(seconds=2.0)
    route = summary["operations"]["POST /route"]
    assert route["requests"] == 10
    assert route["throughput_per_s"] == 5.0
    assert route["latency_ms"]["p50"] == 50.0
    assert route["latency_ms"]["p99"] == 100.0
    assert summary["total"]["server_errors"] == recorder.server_errors == 1
    assert recorder.failures == ["POST /events: 503: database: unavailable"]
    assert len(format_table(summary)) == 4


def test_load_seconds_reads_the_environment() -> None:
    """Default 60 s; OMNICLAUDE_LOAD_SECONDS overrides; nonsense is refused by name."""
    assert load_seconds({}) == 60.0
    assert load_seconds({"OMNICLAUDE_LOAD_SECONDS": "15"}) == 15.0
    with pytest.raises(ValueError, match="OMNICLAUDE_LOAD_SECONDS"):
        load_seconds({"OMNICLAUDE_LOAD_SECONDS": "-1"})


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_event_payload_builds_a_valid_event_of_every_type(event_type: str) -> None:
    """The generic builder fills every string position of every catalogued type, validly."""
    injector = Injector(event_type)
    payload = event_payload(event_type, text=injector, extra_field=True)
    event = decode_mapping(payload)
    assert str(event.event_id) == payload["event_id"]
    given = injector.take()
    assert len(given) >= 3, f"too few string positions filled: {given}"
    assert set(given.values()) <= set(string_paths(payload).values())
    minimal = event_payload(event_type, text=realistic_text(random.Random(1)), optional=False)
    decode_mapping(minimal)


def test_injection_strings_survive_redaction_and_are_distinct() -> None:
    """Verbatim storage can only be checked exactly if the sinks' redactor leaves the
    payloads alone and the injector never repeats a value."""
    redactor = Redactor()
    assert all(redactor.redact_text(text) == text for text in INJECTIONS)
    assert all("\x00" not in text for text in INJECTIONS)
    injector = Injector("x")
    values = [injector(f"p{i}") for i in range(50)]
    assert len(set(values)) == 50
    assert stored_strings({"k": ["a", {"b": "c"}], "n": 1}) == {"k", "a", "b", "c", "n"}


def test_the_scanner_flags_every_pii_sample_and_nothing_redacted() -> None:
    """Each PII sample is a hit (named by pattern); redacted text, ids and plain text are
    not; sensitive keys and Luhn-valid card integers in JSON are."""
    for sample in PII_SAMPLES:
        assert find_leaks(sample), f"not detected: {sample!r}"
    assert "email" in pattern_names(PII_SAMPLES[0])
    assert not find_leaks(f"mail me at {REDACTED}")
    assert not find_leaks(str(uuid.uuid4()))
    assert not find_leaks({"password": REDACTED, "count": 12, "ok": True, "note": "fine"})
    leaks = find_leaks({"password": "hunter2", "nested": [{"card": 4111111111111111}]})
    assert [path for path, _ in leaks] == [".password", ".nested[0].card"]


def test_pii_goes_nowhere_the_sdk_never_redacts() -> None:
    """Ids, producer metadata and JSON keys are excluded from PII injection."""
    assert not may_hold_pii("session_id")
    assert not may_hold_pii("producer.host")
    assert not may_hold_pii("action_details.<key>")
    assert may_hold_pii("action_details.value")


def test_hook_session_ids_are_the_emitters() -> None:
    """The session's correlation id and a tool call's event id are deterministic."""
    session = HookSession(session_id="s-1")
    pre, post = session.tool_pair("Bash", {"command": "ls"})
    assert pre["tool_use_id"] == post["tool_use_id"]
    assert pre["hook_event_name"] == "PreToolUse"
    assert session.tool_call_event_id("t") == session.tool_call_event_id("t")
    assert session.correlation_id == HookSession(session_id="s-1").correlation_id


async def _serve(responses: list[bytes]) -> tuple[asyncio.Server, int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for response in responses:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(response)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def test_raw_client_reads_length_and_chunked_bodies_on_one_connection() -> None:
    """Keep-alive: two answers on one connection, a Content-Length and a chunked body."""
    body = json.dumps({"ok": True}).encode()
    server, port = await _serve([
        b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body),
        b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    ])  # fmt: skip
    async with server, RawHttpClient(f"http://127.0.0.1:{port}", {"X-Test": "1"}) as client:
        first = await client.request("POST", "/events", json={"events": []})
        second = await client.request("GET", "/executions", params={"limit": 5})
    assert (first.status_code, first.json()) == (200, {"ok": True})
    assert (second.status_code, second.text) == (202, "abc")


async def test_raw_client_reports_a_dead_server_as_a_transport_error() -> None:
    """Nothing listening: RawHttpError (an OSError) naming the request."""
    server, port = await _serve([])
    server.close()
    await server.wait_closed()
    async with RawHttpClient(f"http://127.0.0.1:{port}", {}) as client:
        with pytest.raises(RawHttpError, match="GET /health"):
            await client.request("GET", "/health")
