"""OTLP/HTTP requests decoded and answers encoded, as the OTLP/HTTP specification says.

Decoding uses the official ``opentelemetry-proto`` message classes only (never a protobuf
parser of our own):

* ``Content-Type: application/x-protobuf``: ``Export*ServiceRequest.FromString``;
* ``Content-Type: application/json``: OTLP/JSON, protobuf's JSON mapping with two OTLP rules —
  ``traceId``/``spanId``/``parentSpanId`` are hex (not base64), unknown fields are ignored —
  parsed by :func:`google.protobuf.json_format.ParseDict` after the ids are turned into what
  it expects (base64 ids, which some exporters send, are accepted as they are);
* ``Content-Encoding: gzip`` is inflated with a bound (:data:`MAX_REQUEST_BYTES` of output),
  so a small body that inflates to gigabytes stops at the bound: a 413.

Errors are :class:`OtlpRequestError` with the HTTP status the spec gives (400 undecodable,
413 too large, 415 unsupported media type or encoding) and a message naming the field; the
answer's body is a ``google.rpc.Status`` in the request's encoding (:func:`encode_status`).
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from google.rpc import status_pb2
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from omniclaude.events.limits import MAX_REQUEST_BYTES

__all__ = [
    "SIGNALS",
    "Encoding",
    "OtlpRequestError",
    "Signal",
    "SignalKind",
    "decode_request",
    "encode_message",
    "encode_status",
    "encoding_of",
    "export_response",
    "inflate",
]


class Signal(StrEnum):
    """The three OTLP signals, as named in their paths (``/v1/<signal>``)."""

    TRACES = "traces"
    LOGS = "logs"
    METRICS = "metrics"


@dataclass(frozen=True, slots=True)
class SignalKind:
    """The official classes of a signal's request and answer, and what it counts."""

    request: type[Message]
    response: type[Message]
    rejected_field: str
    """``partial_success`` field counting the refused records (``rejected_spans``...)."""
    unit: str
    """What one record is called in messages (``span``, ``log record``, ``data point``)."""


SIGNALS: Final[dict[Signal, SignalKind]] = {
    Signal.TRACES: SignalKind(
        trace_service_pb2.ExportTraceServiceRequest,
        trace_service_pb2.ExportTraceServiceResponse,
        "rejected_spans",
        "span",
    ),
    Signal.LOGS: SignalKind(
        logs_service_pb2.ExportLogsServiceRequest,
        logs_service_pb2.ExportLogsServiceResponse,
        "rejected_log_records",
        "log record",
    ),
    Signal.METRICS: SignalKind(
        metrics_service_pb2.ExportMetricsServiceRequest,
        metrics_service_pb2.ExportMetricsServiceResponse,
        "rejected_data_points",
        "data point",
    ),
}
"""Every signal's classes."""


class Encoding(StrEnum):
    """The two OTLP/HTTP encodings, by their media type."""

    PROTOBUF = "application/x-protobuf"
    JSON = "application/json"


class OtlpRequestError(ValueError):
    """A request the receiver cannot take; ``status_code`` is the answer the spec gives."""

    def __init__(self, status_code: int, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.status_code = status_code
        self.field = field


_ID_BYTES: Final = {
    "traceId": 16,
    "trace_id": 16,
    "spanId": 8,
    "span_id": 8,
    "parentSpanId": 8,
    "parent_span_id": 8,
}
_HEX: Final = frozenset("0123456789abcdefABCDEF")


def encoding_of(content_type: str | None) -> Encoding:
    """The encoding a ``Content-Type`` names (parameters such as ``charset`` are ignored).

    Raises:
        OtlpRequestError: 415, missing or not one of the two OTLP media types.
    """
    media = (content_type or "").split(";", 1)[0].strip().lower()
    for encoding in Encoding:
        if media == encoding.value:
            return encoding
    shown = repr(media) if media else "missing"
    raise OtlpRequestError(
        415, "content-type", f"{shown}: send application/x-protobuf or application/json"
    )


def inflate(body: bytes, content_encoding: str | None, *, limit: int = MAX_REQUEST_BYTES) -> bytes:
    """``body`` decoded from its ``Content-Encoding`` (none/identity or gzip), at most ``limit``
    bytes of output: the inflater never makes more than ``limit + 1`` bytes, whatever the ratio.

    Raises:
        OtlpRequestError: 415 for another encoding, 400 for a corrupt or truncated gzip
            stream, 413 when it inflates past ``limit``.
    """
    coding = (content_encoding or "").strip().lower()
    if coding in ("", "identity"):
        return body
    if coding not in ("gzip", "x-gzip"):
        raise OtlpRequestError(
            415, "content-encoding", f"{coding!r} is not supported (send gzip or none)"
        )
    out = bytearray()
    data = body
    try:
        while data:
            inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            out += inflater.decompress(data, limit + 1 - len(out))
            if len(out) > limit:
                raise OtlpRequestError(
                    413, "body", f"larger than {limit:,} bytes once gzip-decoded (the limit)"
                )
            if not inflater.eof:
                raise OtlpRequestError(400, "body", "truncated gzip stream")
            data = inflater.unused_data  # a gzip file may hold several members
    except zlib.error as exc:
        raise OtlpRequestError(400, "body", f"not a valid gzip stream ({exc})") from None
    return bytes(out)


def _ids_for_protobuf_json(node: Any) -> None:
    """Rewrite OTLP/JSON's hex ids in place into the base64 protobuf's JSON mapping reads."""
    if isinstance(node, dict):
        for key, value in node.items():
            size = _ID_BYTES.get(key)
            if size is not None and isinstance(value, str):
                if len(value) == 2 * size and _HEX.issuperset(value):
                    node[key] = base64.b64encode(bytes.fromhex(value)).decode("ascii")
            elif isinstance(value, dict | list):
                _ids_for_protobuf_json(value)
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, dict | list):
                _ids_for_protobuf_json(item)


def decode_request(
    signal: Signal,
    body: bytes,
    *,
    content_type: str | None,
    content_encoding: str | None = None,
    limit: int = MAX_REQUEST_BYTES,
) -> tuple[Message, Encoding]:
    """Decode an OTLP/HTTP request body into the signal's official request message.

    Returns:
        The request message and the encoding it came in (the answer uses the same).

    Raises:
        OtlpRequestError: 415 (media type or content encoding), 413 (inflates past
            ``limit``) or 400 (not a valid message in that encoding; the message says where).
    """
    encoding = encoding_of(content_type)
    raw = inflate(body, content_encoding, limit=limit)
    kind = SIGNALS[signal]
    message = kind.request()
    if encoding is Encoding.PROTOBUF:
        try:
            message.ParseFromString(raw)
        except (DecodeError, RecursionError) as exc:
            raise OtlpRequestError(
                400, "body", f"not a valid protobuf {_name(kind)}: {exc}"
            ) from None
        return message, encoding
    try:
        document = json.loads(raw)
    except UnicodeDecodeError:
        raise OtlpRequestError(400, "body", "not UTF-8 text") from None
    except (ValueError, RecursionError) as exc:  # json.JSONDecodeError is a ValueError
        raise OtlpRequestError(400, "body", f"not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise OtlpRequestError(400, "body", f"expected a JSON object ({_name(kind)})")
    try:
        _ids_for_protobuf_json(document)
        json_format.ParseDict(document, message, ignore_unknown_fields=True)
    except UnicodeDecodeError:
        raise OtlpRequestError(400, "body", "not UTF-8 text") from None
    except (ValueError, RecursionError) as exc:  # json.JSONDecodeError is a ValueError
        raise OtlpRequestError(400, "body", f"not valid OTLP/JSON: {exc}") from None
    except json_format.ParseError as exc:
        raise OtlpRequestError(400, "body", f"not a valid OTLP/JSON {_name(kind)}: {exc}") from None
    return message, encoding


def _name(kind: SignalKind) -> str:
    return str(kind.request.DESCRIPTOR.name)


def _ids_as_hex(node: Any) -> Any:
    """OTLP/JSON's ids (hex) in a protobuf JSON mapping document (base64), in place."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _ID_BYTES and isinstance(value, str):
                try:
                    node[key] = base64.b64decode(value, validate=True).hex()
                except (binascii.Error, ValueError):
                    continue
            else:
                _ids_as_hex(value)
    elif isinstance(node, list):
        for item in node:
            _ids_as_hex(item)
    return node


def encode_message(message: Message, encoding: Encoding) -> bytes:
    """``message`` in ``encoding``: binary protobuf, or OTLP/JSON (lowerCamelCase, hex ids)."""
    if encoding is Encoding.PROTOBUF:
        return bytes(message.SerializeToString())
    document = _ids_as_hex(json_format.MessageToDict(message))
    return json.dumps(document, separators=(",", ":")).encode()


def export_response(signal: Signal, rejected: int, error_message: str) -> Message:
    """The signal's ``Export*ServiceResponse``: empty when all was taken, else a
    ``partial_success`` with the refused count and what was wrong."""
    kind = SIGNALS[signal]
    response = kind.response()
    if rejected or error_message:
        partial = response.partial_success
        setattr(partial, kind.rejected_field, rejected)
        partial.error_message = error_message
    return response


def encode_status(code: int, message: str, encoding: Encoding) -> bytes:
    """A ``google.rpc.Status`` (the body of an OTLP/HTTP error answer) in ``encoding``.

    ``code`` is the gRPC code (3 invalid argument, 8 resource exhausted, 14 unavailable...).
    """
    return encode_message(status_pb2.Status(code=code, message=message), encoding)
