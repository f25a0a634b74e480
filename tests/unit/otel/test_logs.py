"""Log records: the generic mapping (a decision action) and the dispatch to specialised ones."""

from __future__ import annotations

import uuid

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from omniclaude.hooks.sessions import session_correlation_id
from omniclaude.otel import logs
from omniclaude.otel.ids import EVENT_ID_ATTRIBUTE, correlation_id_for_trace
from omniclaude.otel.logs import LogMapper

T0 = 1_800_000_000_000_000_000


def _request(**fields: object) -> ExportLogsServiceRequest:
    request = ExportLogsServiceRequest()
    resource_logs = request.resource_logs.add()
    resource_logs.resource.attributes.add(key="service.name").value.string_value = "svc"
    record = resource_logs.scope_logs.add().log_records.add()
    attrs = fields.pop("attrs", {})
    body = fields.pop("body", None)
    for key, value in fields.items():
        setattr(record, key, value)
    assert isinstance(attrs, dict)
    for key, value in attrs.items():
        record.attributes.add(key=key).value.string_value = value
    if body is not None:
        record.body.string_value = str(body)
    return request


def test_a_record_is_a_decision_in_the_trace_its_trace_id_names() -> None:
    """trace_id set: that trace; named by event_name; body and severity in the details."""
    trace = bytes(range(1, 17))
    mapped, refused = LogMapper().map_request(
        _request(
            time_unix_nano=T0, trace_id=trace, event_name="note", body="hi", severity_text="INFO"
        )
    )
    assert refused == []
    [action] = mapped[0].events
    assert action.correlation_id == correlation_id_for_trace(trace)
    assert (action.action_type, action.action_name) == ("decision", "note")  # type: ignore[attr-defined]
    details = action.action_details  # type: ignore[attr-defined]
    assert (details["body"], details["severity_text"]) == ("hi", "INFO")


def test_without_trace_id_session_then_service_place_the_record() -> None:
    """No trace id: the session.id's execution; neither: a trace of the service."""
    mapped, _ = LogMapper().map_request(_request(time_unix_nano=T0, attrs={"session.id": "s1"}))
    assert mapped[0].events[0].correlation_id == session_correlation_id("s1")
    first, _ = LogMapper().map_request(_request(time_unix_nano=T0, body="a"))
    second, _ = LogMapper().map_request(_request(time_unix_nano=T0 + 5, body="b"))
    assert first[0].events[0].correlation_id == second[0].events[0].correlation_id


def test_ids_are_the_same_on_resend_and_the_attribute_wins() -> None:
    """The same record maps to the same id; a different one to another; omniclaude.event_id
    is honoured."""
    one, _ = LogMapper().map_request(_request(time_unix_nano=T0, body="a"))
    again, _ = LogMapper().map_request(_request(time_unix_nano=T0, body="a"))
    other, _ = LogMapper().map_request(_request(time_unix_nano=T0, body="b"))
    assert one[0].events[0].event_id == again[0].events[0].event_id
    assert one[0].events[0].event_id != other[0].events[0].event_id
    given = uuid.uuid4()
    named, _ = LogMapper().map_request(
        _request(time_unix_nano=T0, attrs={EVENT_ID_ATTRIBUTE: str(given)})
    )
    assert named[0].events[0].event_id == given


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        ({}, "timeUnixNano: missing"),
        ({"time_unix_nano": T0, "trace_id": b"\x01" * 3}, "traceId: must be 16 bytes"),
        ({"time_unix_nano": T0, "span_id": b"\x01" * 3}, "spanId: must be 8 bytes"),
        ({"time_unix_nano": T0, "attrs": {"session.id": "s" * 300}}, "attributes.session.id"),
        ({"time_unix_nano": T0, "body": "a\x00b"}, "action_details.body"),
    ],
)
def test_bad_records_are_refused_by_name(fields: dict[str, object], text: str) -> None:
    """Each bad value refuses the record, naming the field."""
    mapped, refused = LogMapper().map_request(_request(**fields))
    assert mapped == []
    [reason] = refused
    assert reason.where == "resourceLogs[0].scopeLogs[0].logRecords[0]"
    assert text in reason.reason, reason


def test_a_specialised_mapper_is_asked_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """A specialised mapper's events replace the generic ones; None falls back."""
    taken: list[str] = []

    def special(resource: object, scope: object, record: object) -> list[object] | None:
        del resource, scope
        body = record.body.string_value  # type: ignore[attr-defined]
        taken.append(body)
        return [] if body == "mine" else None

    monkeypatch.setattr(logs, "specialised_mappers", lambda: (special,))
    mine, _ = LogMapper().map_request(_request(time_unix_nano=T0, body="mine"))
    theirs, _ = LogMapper().map_request(_request(time_unix_nano=T0, body="theirs"))
    assert (mine[0].events, len(theirs[0].events)) == ([], 1)
    assert taken == ["mine", "theirs"]
