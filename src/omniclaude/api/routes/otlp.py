"""``POST /v1/traces``, ``/v1/logs``, ``/v1/metrics``: an OTLP/HTTP receiver.

Point any OpenTelemetry SDK or collector at the API (``OTEL_EXPORTER_OTLP_ENDPOINT=<api>``,
``OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer <ingest key>``). Each request:

1. is decoded with the official message classes (:mod:`omniclaude.otel.receive`: protobuf or
   OTLP/JSON, gzip inflated with a bound); undecodable: 400, unsupported type: 415, too
   large: 413, each with a ``google.rpc.Status`` body in the request's encoding;
2. is mapped record by record into events (:mod:`omniclaude.otel.spans`,
   :mod:`omniclaude.otel.logs`, :mod:`omniclaude.otel.metrics`: one per data point); a
   record that cannot be mapped is refused, named;
3. each record's events go, all or none, through the same durable sink as ``POST /events``
   (:meth:`~omniclaude.publishing.sinks.base.BaseSink.send_durably_grouped`: redacted, checked
   against the contract's limits, then Kafka's local outbox or PostgreSQL) before the answer,
   so 200 means durable, and a record with one event the sink refuses is refused whole:
   nothing is half stored;
4. the answer is the signal's ``Export*ServiceResponse``, with ``partial_success`` counting the
   refused records and naming what was wrong; 503 with ``Retry-After`` when the sink cannot
   take the events now (the exporter retries; the ids are the same, so nothing doubles).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Final

from fastapi import APIRouter, Request, Response

from omniclaude.api.deps import IngestKey, State
from omniclaude.api.errors import ERROR_RESPONSES
from omniclaude.api.state import ApiState
from omniclaude.errors import OmniClaudeError
from omniclaude.otel.logs import LogMapper
from omniclaude.otel.metrics import MetricMapper
from omniclaude.otel.receive import (
    Encoding,
    OtlpRequestError,
    Signal,
    decode_request,
    encode_message,
    encode_status,
    export_response,
)
from omniclaude.otel.spans import SpanMapper
from omniclaude.otel.values import Mapped, Refused
from omniclaude.publishing.sinks.base import BaseSink

__all__ = ["RETRY_AFTER_S", "router"]

log = logging.getLogger(__name__)

router = APIRouter(tags=["otlp"], responses=ERROR_RESPONSES)

RETRY_AFTER_S: Final = 5
"""The ``Retry-After`` of a 503 (the sink cannot take events now)."""
_INLINE_BYTES: Final = 64 * 1024
"""Bodies up to this size are decoded and mapped on the event loop; larger ones in a thread,
so one large request never holds the loop for long."""
_SHOWN_PROBLEMS: Final = 5
_GRPC_INVALID_ARGUMENT: Final = 3
_GRPC_RESOURCE_EXHAUSTED: Final = 8
_GRPC_UNAVAILABLE: Final = 14
_GRPC_CODES: Final = {400: _GRPC_INVALID_ARGUMENT, 413: _GRPC_RESOURCE_EXHAUSTED}
_PRICES: Final = "otel.prices"

_DOC_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Export*ServiceResponse (partial_success names refused records)",
        "content": {"application/x-protobuf": {}, "application/json": {}},
    },
    400: {"description": "The body is not a valid OTLP request (google.rpc.Status)"},
    413: {"description": "The body, or its gzip-decoded form, is larger than the API reads"},
    415: {"description": "Neither application/x-protobuf nor application/json, or not gzip"},
    503: {"description": "The sink cannot take events now: retry after Retry-After"},
}


def _answer(
    status_code: int, body: bytes, encoding: Encoding, headers: dict[str, str] | None = None
) -> Response:
    return Response(body, status_code=status_code, media_type=encoding.value, headers=headers)


def _error(exc: OtlpRequestError, content_type: str | None) -> Response:
    encoding = Encoding.PROTOBUF if "protobuf" in (content_type or "") else Encoding.JSON
    code = _GRPC_CODES.get(exc.status_code, _GRPC_INVALID_ARGUMENT)
    return _answer(exc.status_code, encode_status(code, str(exc), encoding), encoding)


def _mappers(state: ApiState, signal: Signal) -> Any:
    if signal is Signal.TRACES:
        prices = state.extras.get(_PRICES)
        if prices is None:
            from omniclaude.pricing import PricingError, default_price_table, load_price_table

            try:
                prices = load_price_table(state.settings.effective_pricing_file)
            except PricingError as exc:
                log.error("%s; pricing OTLP spans with the shipped table only", exc)
                prices = default_price_table()
            state.extras[_PRICES] = prices
        return SpanMapper(prices=prices)
    if signal is Signal.METRICS:
        return MetricMapper()
    return LogMapper()


def _decode_and_map(
    state: ApiState, signal: Signal, body: bytes, content_type: str | None, coding: str | None
) -> tuple[Encoding, list[Mapped], list[Refused]]:
    message, encoding = decode_request(
        signal, body, content_type=content_type, content_encoding=coding
    )
    mapped, refused = _mappers(state, signal).map_request(message)
    return encoding, mapped, refused


async def _send(state: ApiState, mapped: list[Mapped]) -> tuple[int, list[Refused]]:
    """Send every record's events durably, all or none per record; return how many events
    were sent and the records refused (with the sink's reason)."""
    sink = state.sink
    groups = [record.events for record in mapped if record.events]
    owners = [record for record in mapped if record.events]
    if not groups:
        return 0, []
    if isinstance(sink, BaseSink):
        refusals = await sink.send_durably_grouped(groups)
        refused = [Refused(owners[index].where, str(why)) for index, why in refusals]
        taken = {index for index, _ in refusals}
        return sum(len(g) for i, g in enumerate(groups) if i not in taken), refused
    # Another EventSink: events one by one (it decides per event; a record is reported
    # refused when any of its events was).
    events = [event for group in groups for event in group]
    position = [index for index, group in enumerate(groups) for _ in group]
    failed: dict[int, str] = {}
    per_event = await sink.send_durably(events)
    for index, why in per_event:
        failed.setdefault(position[index], str(why))
    refused = [Refused(owners[index].where, reason) for index, reason in failed.items()]
    return len(events) - len(per_event), refused


async def _receive(signal: Signal, request: Request, state: ApiState) -> Response:
    content_type = request.headers.get("content-type")
    coding = request.headers.get("content-encoding")
    body = await request.body()
    try:
        if len(body) <= _INLINE_BYTES:
            encoding, mapped, refused = _decode_and_map(state, signal, body, content_type, coding)
        else:
            encoding, mapped, refused = await asyncio.to_thread(
                _decode_and_map, state, signal, body, content_type, coding
            )
    except OtlpRequestError as exc:
        return _error(exc, content_type)
    try:
        stored, refused_by_sink = await _send(state, mapped)
    except (OmniClaudeError, OSError) as exc:
        if isinstance(exc, OmniClaudeError) and not exc.retriable:
            raise
        log.warning("OTLP %s: the sink cannot take events now: %s", signal.value, exc)
        message = f"sink: unavailable ({type(exc).__name__}); retry later"
        return _answer(
            503, encode_status(_GRPC_UNAVAILABLE, message, encoding), encoding,
            {"Retry-After": str(RETRY_AFTER_S)},
        )  # fmt: skip
    refused += refused_by_sink
    state.metrics.events.labels("accepted").inc(stored)
    state.metrics.events.labels("rejected").inc(len(refused))
    shown = "; ".join(str(r) for r in refused[:_SHOWN_PROBLEMS])
    if len(refused) > _SHOWN_PROBLEMS:
        shown += f"; and {len(refused) - _SHOWN_PROBLEMS} more"
    response = export_response(signal, len(refused), shown)
    return _answer(200, encode_message(response, encoding), encoding)


@router.post("/v1/traces", responses=_DOC_RESPONSES, response_class=Response)
async def receive_traces(request: Request, state: State, _: IngestKey) -> Response:
    """OTLP/HTTP traces (``ExportTraceServiceRequest``, protobuf or JSON, gzip or not):
    GenAI spans become executions, tool calls and LLM calls; every other span a decision
    (``docs/otel.md`` has the mapping). Refused spans are counted in ``partial_success``
    with what was wrong. Needs ``ingest``."""
    return await _receive(Signal.TRACES, request, state)


@router.post("/v1/logs", responses=_DOC_RESPONSES, response_class=Response)
async def receive_logs(request: Request, state: State, _: IngestKey) -> Response:
    """OTLP/HTTP logs (``ExportLogsServiceRequest``): Claude Code's events by their own
    mapping, every other record as a decision action with its body and attributes. Refused
    records are counted in ``partial_success``. Needs ``ingest``."""
    return await _receive(Signal.LOGS, request, state)


@router.post("/v1/metrics", responses=_DOC_RESPONSES, response_class=Response)
async def receive_metrics(request: Request, state: State, _: IngestKey) -> Response:
    """OTLP/HTTP metrics (``ExportMetricsServiceRequest``): every data point of a sum, gauge,
    histogram, exponential histogram or summary becomes a ``metric_point`` row (a time
    series; ``docs/otel.md`` "Metrics"). Refused points are counted in ``partial_success``
    (``rejected_data_points``) with what was wrong. Needs ``ingest``."""
    return await _receive(Signal.METRICS, request, state)
