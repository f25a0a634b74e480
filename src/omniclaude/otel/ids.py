"""Deterministic ids between OpenTelemetry and OmniClaude, the same in both directions.

* A trace id (16 bytes) **is** a correlation id (a UUID is 16 bytes): ``UUID(bytes=trace_id)``
  and back with ``.bytes``, lossless both ways, so a trace exported and imported again keeps
  its id, and a span from any framework lands in the trace its trace id names.
* An event exported as a span gets a span id derived from its event id (the first 8 bytes of
  a hash of it; never all zero, which OTLP reserves for "no span"). The span also carries the
  event id as the attribute :data:`EVENT_ID_ATTRIBUTE`, which an import honours, so a round
  trip gives the same event ids.
* A span or log record without that attribute gets event ids derived from what identifies it
  (trace id, span id, and a role such as ``"started"``/``"completed"`` when one span becomes
  several events): resending the same OTLP request gives the same event ids, which the
  consumer's idempotency turns into nothing new.
"""

from __future__ import annotations

import hashlib
import uuid

__all__ = [
    "EVENT_ID_ATTRIBUTE",
    "OTEL_NAMESPACE",
    "correlation_id_for_trace",
    "derived_event_id",
    "span_id_for_event",
    "trace_id_for_correlation",
]

OTEL_NAMESPACE = uuid.UUID("6f6d6e69-636c-6175-6465-6f74656c0001")
"""The UUIDv5 namespace of every id OmniClaude derives from OpenTelemetry identities."""

EVENT_ID_ATTRIBUTE = "omniclaude.event_id"
"""Span/log attribute carrying the OmniClaude event id an exported record came from."""

_TRACE_ID_BYTES = 16
_SPAN_ID_BYTES = 8


def correlation_id_for_trace(trace_id: bytes) -> uuid.UUID:
    """Return the correlation id a 16-byte OTLP trace id stands for.

    Raises:
        ValueError: when ``trace_id`` is not 16 bytes or is all zero (OTLP's invalid trace id).
    """
    if len(trace_id) != _TRACE_ID_BYTES:
        raise ValueError(f"trace_id: must be {_TRACE_ID_BYTES} bytes, got {len(trace_id)}")
    if not any(trace_id):
        raise ValueError("trace_id: all zero is OTLP's invalid trace id")
    return uuid.UUID(bytes=trace_id)


def trace_id_for_correlation(correlation_id: uuid.UUID) -> bytes:
    """Return the OTLP trace id of a correlation id (its 16 bytes)."""
    return correlation_id.bytes


def span_id_for_event(event_id: uuid.UUID) -> bytes:
    """Return the 8-byte span id an exported event gets (derived, never all zero)."""
    digest = hashlib.blake2b(event_id.bytes, digest_size=_SPAN_ID_BYTES).digest()
    return digest if any(digest) else b"\x00" * (_SPAN_ID_BYTES - 1) + b"\x01"


def derived_event_id(kind: str, *parts: str | bytes) -> uuid.UUID:
    """Return the event id of an OTLP record: UUIDv5 of its kind and identifying parts.

    ``kind`` names the record family (``"span"``, ``"log"``, ``"metric"``); ``parts`` are what
    identifies the record within it (hex trace and span ids, a role ...). Bytes are hex-encoded.
    The same parts always give the same id; different parts give different ids.
    """
    texts = [kind, *(p.hex() if isinstance(p, bytes) else p for p in parts)]
    # Length-prefixed, so no two different part lists can spell the same name.
    return uuid.uuid5(OTEL_NAMESPACE, "".join(f"{len(t)}:{t};" for t in texts))
