"""``POST /events``: publish a batch of events for clients that cannot speak Kafka."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse

from omniclaude.api.deps import IngestKey, State, http_error
from omniclaude.api.errors import ERROR_RESPONSES, printable
from omniclaude.api.schemas import ErrorResponse, EventBatch, EventBatchResponse
from omniclaude.errors import EventValidationError
from omniclaude.events import CATALOG, EventBase, decode_mapping

__all__ = ["router"]

router = APIRouter(
    tags=["events"],
    responses={
        **ERROR_RESPONSES,
        413: {"model": ErrorResponse, "description": "The body is larger than the API reads"},
    },
)


_KNOWN = {kind.event_type for kind in CATALOG}


@router.post("/events", status_code=status.HTTP_202_ACCEPTED, response_model=EventBatchResponse)
async def publish_events(body: EventBatch, state: State, _: IngestKey) -> Any:
    """Validate each event with the shared codec and publish the valid ones through the
    durable sink (Kafka with its local outbox, or PostgreSQL). Every event is checked against
    the contract's limits (the same models the consumer decodes with, and the encoded size
    the broker takes), so an accepted event is one the database will store. Invalid items are
    listed with the field at fault; nothing valid is dropped. 202 when at least one event was
    accepted, 422 (with every item's problem) when none was; 413 for a body over the size
    limit (``docs/operations.md`` lists the limits). Needs ``ingest``.

    Send an ``event_id`` with each event to make retries idempotent."""
    if body.default_type is not None and body.default_type not in _KNOWN:
        raise http_error(
            422, "body.default_type", f"unknown event type {printable(repr(body.default_type))}"
        )
    decoded: list[tuple[int, EventBase]] = []
    errors: list[dict[str, Any]] = []

    def refuse(index: int, exc: EventValidationError) -> None:
        where = f"body.events[{index}]"
        field = f"{where}.{exc.field}" if exc.field else where
        errors.append({"index": index, "field": printable(field), "message": printable(str(exc))})

    for index, item in enumerate(body.events):
        try:
            decoded.append((index, decode_mapping(item, default_type=body.default_type)))
        except EventValidationError as exc:
            refuse(index, exc)
    accepted: list[EventBase] = []
    if decoded:
        # 202 means durable: on the local disk (the Kafka sink's outbox) or committed
        # (PostgreSQL); the sink returns what it refused (too large once redacted...).
        refused_by_sink = await state.sink.send_durably([event for _, event in decoded])
        for position, why in refused_by_sink:
            refuse(decoded[position][0], why)
        dropped = {position for position, _ in refused_by_sink}
        accepted = [event for position, (_, event) in enumerate(decoded) if position not in dropped]
        errors.sort(key=lambda e: int(e["index"]))
    state.metrics.events.labels("rejected").inc(len(errors))
    if not accepted:
        text = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        return JSONResponse(
            {
                "error": "invalid_request",
                "message": text,
                "errors": [{"field": e["field"], "message": e["message"]} for e in errors],
            },
            status_code=422,
        )
    state.metrics.events.labels("accepted").inc(len(accepted))
    return {
        "accepted": len(accepted),
        "rejected": len(errors),
        "event_ids": [e.event_id for e in accepted],
        "errors": errors,
    }
