"""OTLP/HTTP decoding: media types, gzip with a bound, OTLP/JSON's hex ids, the answers."""

from __future__ import annotations

import base64
import gzip
import json

import pytest
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from omniclaude.otel.receive import (
    Encoding,
    OtlpRequestError,
    Signal,
    decode_request,
    encode_message,
    encode_status,
    encoding_of,
    export_response,
    inflate,
)
from tests.fixtures.otel import otlp_json, span_request, toy_agent_spans


def _request() -> ExportTraceServiceRequest:
    request: ExportTraceServiceRequest = span_request(toy_agent_spans())
    return request


def test_media_types_pick_the_encoding_and_others_are_415() -> None:
    """Parameters are ignored; anything else (or nothing) is a 415 naming content-type."""
    assert encoding_of("application/x-protobuf") is Encoding.PROTOBUF
    assert encoding_of("Application/JSON; charset=utf-8") is Encoding.JSON
    for bad in (None, "", "text/plain", "application/grpc"):
        with pytest.raises(OtlpRequestError) as caught:
            encoding_of(bad)
        assert caught.value.status_code == 415
        assert str(caught.value).startswith("content-type: ")


def test_protobuf_and_otlp_json_decode_to_the_same_message() -> None:
    """The SDK's request, as binary protobuf and as OTLP/JSON with hex ids: the same message."""
    request = _request()
    binary, _ = decode_request(
        Signal.TRACES, request.SerializeToString(), content_type="application/x-protobuf"
    )
    from_json, encoding = decode_request(
        Signal.TRACES, otlp_json(request), content_type="application/json"
    )
    assert binary == request
    assert from_json == request
    assert encoding is Encoding.JSON


def test_base64_ids_in_json_are_accepted_too() -> None:
    """Some exporters send protobuf's own JSON mapping (base64 ids): read as such."""
    from google.protobuf import json_format

    request = _request()
    body = json_format.MessageToJson(request).encode()
    decoded, _ = decode_request(Signal.TRACES, body, content_type="application/json")
    assert decoded == request


def test_json_answers_use_hex_ids_and_lower_camel_case() -> None:
    """encode_message writes OTLP/JSON: the ids as hex."""
    request = _request()
    document = json.loads(encode_message(request, Encoding.JSON))
    span = document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert (
        span["traceId"] == bytes(request.resource_spans[0].scope_spans[0].spans[0].trace_id).hex()
    )
    assert "startTimeUnixNano" in span


def test_gzip_is_inflated_and_a_bomb_stops_at_the_limit() -> None:
    """gzip (several members too) inflates; past the limit: 413 without inflating the rest."""
    assert inflate(gzip.compress(b"abc") + gzip.compress(b"def"), "gzip") == b"abcdef"
    assert inflate(b"raw", None) == b"raw"
    assert inflate(b"raw", "identity") == b"raw"
    with pytest.raises(OtlpRequestError) as caught:
        inflate(gzip.compress(b"\x00" * 100_000), "gzip", limit=1000)
    assert caught.value.status_code == 413
    assert "gzip-decoded" in str(caught.value)


@pytest.mark.parametrize(
    ("body", "coding", "status", "text"),
    [
        (b"not gzip", "gzip", 400, "body: not a valid gzip stream"),
        (gzip.compress(b"x" * 100, mtime=0)[:-12], "gzip", 400, "body: truncated gzip stream"),
        (b"x", "br", 415, "content-encoding: 'br' is not supported"),
    ],
    ids=["corrupt", "truncated", "brotli"],
)
def test_bad_encodings_are_named(body: bytes, coding: str, status: int, text: str) -> None:
    """Corrupt or truncated gzip: 400; an encoding we do not read: 415."""
    with pytest.raises(OtlpRequestError) as caught:
        inflate(body, coding)
    assert caught.value.status_code == status
    assert str(caught.value).startswith(text), str(caught.value)


@pytest.mark.parametrize(
    ("body", "content_type", "text"),
    [
        (b"\x0a\xff\xff\xff\xff\x0f", "application/x-protobuf", "body: not a valid protobuf"),
        (b"{", "application/json", "body: not valid JSON"),
        (b"[]", "application/json", "body: expected a JSON object"),
        (b"\xff\xfe", "application/json", "body: not"),
        (b'{"resourceSpans": 3}', "application/json", "body: not a valid OTLP/JSON"),
        (b"[" * 100_000, "application/json", "body: not valid JSON"),
    ],
    ids=["protobuf", "json-syntax", "json-array", "not-utf8", "json-shape", "json-deep"],
)
def test_undecodable_bodies_are_400(body: bytes, content_type: str, text: str) -> None:
    """Anything that is not the signal's message in its encoding: 400 saying so."""
    with pytest.raises(OtlpRequestError) as caught:
        decode_request(Signal.TRACES, body, content_type=content_type)
    assert caught.value.status_code == 400
    assert str(caught.value).startswith(text), str(caught.value)


def test_partial_success_and_status_answers() -> None:
    """A full success is an empty response; refusals fill partial_success; errors are a
    google.rpc.Status in either encoding."""
    assert export_response(Signal.TRACES, 0, "") == ExportTraceServiceResponse()
    partial = export_response(Signal.TRACES, 2, "spans[0]: bad")
    assert isinstance(partial, ExportTraceServiceResponse)
    assert (partial.partial_success.rejected_spans, partial.partial_success.error_message) == (
        2,
        "spans[0]: bad",
    )
    logs = export_response(Signal.LOGS, 1, "x")
    assert logs.partial_success.rejected_log_records == 1  # type: ignore[attr-defined]
    status = status_pb2.Status.FromString(encode_status(3, "body: bad", Encoding.PROTOBUF))
    assert (status.code, status.message) == (3, "body: bad")
    assert json.loads(encode_status(14, "later", Encoding.JSON)) == {"code": 14, "message": "later"}


def test_hex_looking_base64_is_not_misread() -> None:
    """A 16-byte id in base64 is 24 characters, never mistaken for 32 hex digits."""
    trace_id = bytes(range(16))
    document = {"resourceSpans": [{"scopeSpans": [{"spans": [{
        "traceId": base64.b64encode(trace_id).decode(), "spanId": "0102030405060708",
        "name": "x"}]}]}]}  # fmt: skip
    decoded, _ = decode_request(
        Signal.TRACES, json.dumps(document).encode(), content_type="application/json"
    )
    span = decoded.resource_spans[0].scope_spans[0].spans[0]  # type: ignore[attr-defined]
    assert (bytes(span.trace_id), bytes(span.span_id)) == (trace_id, bytes(range(1, 9)))
