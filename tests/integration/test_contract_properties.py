"""Every input stored exactly or refused: the contract as a property, on every path.

Hypothesis generates events — valid agent actions, routing decisions and execution starts
inside the limits
(any text but NUL and surrogates, any JSON details, timestamps anywhere in the stored range
and offset, floats, ids at their longest...) and actions carrying each kind of value the
contract refuses (:data:`tests.strategies.BAD_VALUES`) — and sends each through the three
ways in: ``POST /events``, the SDK (an ``ActionLogger``/``EventPublisher`` on a Kafka sink) and
raw Kafka records. Then:

1. every valid event is stored exactly: its row equals the row its redacted event makes;
2. every bad one is refused synchronously naming the field (HTTP per item, the SDK's
   ``EventValidationError``) or, on raw Kafka only, dead-lettered with the field in its
   headers; nothing accepted by HTTP or the SDK is ever dead-lettered;
3. the API and the viewer read every stored row (trace, list, detail, overview) without a 5xx.

The example count is bounded (about 30 s; under a minute on a loaded machine). Generation
happens first, then one pass through the running stack, so a failure names the event and
the path.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omniclaude.errors import EventValidationError
from omniclaude.events import EventBase, ExecutionStarted, decode_mapping, kind_of
from omniclaude.kafka import DeadLetterHeaders
from omniclaude.publishing import ActionLogger, EventPublisher
from omniclaude.publishing.emitter import build_event
from omniclaude.publishing.sinks.kafka import sink_from_settings
from omniclaude.settings import Settings, TopicSettings
from omniclaude.storage.writers import WRITERS
from tests.fixtures.kafka import ConsumerFactory
from tests.fixtures.stack import FullStack
from tests.fixtures.waiting import wait_for
from tests.strategies import (
    BAD_VALUES,
    BadValue,
    actions,
    executions_started,
    routing_decisions,
)

pytestmark = pytest.mark.covers(
    "endpoint:POST /events",
    "endpoint:GET /traces/{correlation_id}",
    "endpoint:GET /executions",
    "topic:agent-actions",
    "topic:agent-routing-decisions",
    "table:agent_actions",
    "table:agent_routing_decisions",
    "feature:contract-properties",
)

_SOURCES = {
    "agent_action": "action",
    "routing_decision": "routing",
    "execution_started": "lifecycle",
}
"""The viewer's record source per event type (its detail partial)."""
VALID_PER_PATH = 150
"""Valid events generated per way in (the bad ones: one of each kind per way in)."""
TRACES = 4
"""Correlation ids the events share, so traces hold many kinds of row."""


def _generate(strategy: st.SearchStrategy[Any], count: int) -> list[Any]:
    """Draw ``count`` examples with hypothesis (bounded, no example database)."""
    drawn: list[Any] = []

    @given(strategy)
    @settings(
        max_examples=count, deadline=None, database=None,
        suppress_health_check=list(HealthCheck),
    )  # fmt: skip
    def draw(example: Any) -> None:
        drawn.append(example)

    draw()
    return drawn[:count]


def _valid_events(cids: list[uuid.UUID]) -> list[dict[str, Any]]:
    per_trace = st.sampled_from(cids).flatmap(
        lambda cid: st.one_of(
            actions(cid), actions(cid), routing_decisions(cid), executions_started(cid)
        )
    )
    # Hypothesis draws small uuids again and again: every event gets its own id (a reused id
    # with other content is a conflict, tested elsewhere).
    return [
        {**event, "event_id": str(uuid.uuid4())} for event in _generate(per_trace, VALID_PER_PATH)
    ]


def _bad_event(bad: BadValue, cid: uuid.UUID) -> dict[str, Any]:
    base = {
        "event_id": str(uuid.uuid4()), "event_type": "agent_action", "correlation_id": str(cid),
        "action_type": "tool_call", "action_name": f"bad {bad.kind}",
        "action_details": {"ok": True},
    }  # fmt: skip
    return {**base, **bad.patch}


def _expected(payload: dict[str, Any], redact: Callable[[EventBase], EventBase]) -> EventBase:
    """The event a payload must be stored as: decoded by the contract, redacted as it leaves."""
    return redact(decode_mapping(payload, default_type="agent_action"))


async def _sdk_send(
    payload: dict[str, Any], logger: ActionLogger, publisher: EventPublisher
) -> EventBase:
    fields = dict(payload)
    event_type = fields.pop("event_type")
    cid = uuid.UUID(fields.pop("correlation_id"))
    if event_type == "routing_decision":
        return await publisher.routing_decision(cid, **fields)
    if event_type == "execution_started":
        return await publisher.publish(build_event(ExecutionStarted, correlation_id=cid, **fields))
    details = fields.pop("action_details")
    action_type = fields.pop("action_type")
    name = fields.pop("action_name")
    return await logger.log_action(cid, action_type, details, action_name=name, **fields)


async def _stored_row(stack: FullStack, event: EventBase) -> Any:
    kind = kind_of(str(getattr(event, "event_type", "")))
    assert kind is not None
    writer = WRITERS[kind.topic.table]
    # Table and columns are the writers' constants; the id is a parameter.
    sql = f"SELECT {', '.join(writer.columns)} FROM {writer.table} WHERE event_id = $1"
    rows = await stack.pool.fetch(sql, event.event_id)
    assert len(rows) <= 1, f"event {event.event_id} stored {len(rows)} times"
    return rows[0] if rows else None


async def test_every_event_is_stored_exactly_or_refused_on_every_path(
    full_stack: FullStack, kafka_producer: Any, kafka_consumer_factory: ConsumerFactory,
    topic_prefix: str,
) -> None:  # fmt: skip
    """Generated valid events are stored exactly through POST /events, the SDK and raw Kafka;
    every kind of bad value is refused there naming the field (or dead-lettered with it, raw
    Kafka only); no accepted event is dead-lettered; every stored row reads without a 5xx."""
    stack = full_stack
    cids = [uuid.uuid4() for _ in range(TRACES)]
    api_sink = stack.app.state.omniclaude.sink
    sdk_settings = Settings(
        kafka_bootstrap=stack.settings.kafka_bootstrap, topic_prefix=topic_prefix,
        data_dir=stack.settings.data_dir, spool_dir=stack.settings.data_dir / "sdk-spool",
    )  # fmt: skip
    sdk_sink = sink_from_settings(sdk_settings)
    await sdk_sink.start()
    expected: dict[uuid.UUID, tuple[str, EventBase]] = {}
    problems: list[str] = []
    try:
        # 1. POST /events: valid and bad events in one batch; each bad one refused by name.
        http_valid = _valid_events(cids)
        http_bad = [(bad, _bad_event(bad, cids[0])) for bad in BAD_VALUES]
        body = json.dumps(
            {"events": http_valid + [event for _, event in http_bad],
             "default_type": "agent_action"}
        ).encode()  # fmt: skip
        response = await stack.client.post(
            "/events", content=body,
            headers={**stack.headers("ingest"), "Content-Type": "application/json"},
        )  # fmt: skip
        assert response.status_code == 202, response.text
        answer = response.json()
        errors = {e["index"]: e for e in answer["errors"]}
        for index, payload in enumerate(http_valid):
            if index in errors:
                problems.append(f"POST /events refused a valid event: {errors[index]} {payload}")
            else:
                expected[uuid.UUID(payload["event_id"])] = (
                    "http",
                    _expected(payload, api_sink.redact),
                )
        for offset, (bad, _) in enumerate(http_bad):
            error = errors.get(len(http_valid) + offset)
            want = f"body.events[{len(http_valid) + offset}].{bad.field}"
            if error is None or error["field"] != want:
                problems.append(f"POST /events, {bad.kind}: expected {want}, got {error}")

        # 2. The SDK: the loggers refuse each bad value with EventValidationError by name.
        logger, publisher = ActionLogger(sink=sdk_sink), EventPublisher(sink=sdk_sink)
        for payload in _valid_events(cids):
            try:
                sent = await _sdk_send(payload, logger, publisher)
            except EventValidationError as exc:
                problems.append(f"the SDK refused a valid event ({exc}): {payload}")
                continue
            expected[sent.event_id] = ("sdk", sdk_sink.redact(sent))
        for bad in BAD_VALUES:
            try:
                await _sdk_send(_bad_event(bad, cids[1]), logger, publisher)
            except EventValidationError as exc:
                if exc.field != bad.field:
                    problems.append(f"SDK, {bad.kind}: named {exc.field!r}, not {bad.field!r}")
            else:
                problems.append(f"SDK, {bad.kind}: accepted")
        await sdk_sink.flush(20)

        # 3. Raw Kafka: valid records stored, bad ones dead-lettered naming the field.
        topics = TopicSettings()
        raw_bad: dict[bytes, BadValue] = {}
        for payload in _valid_events(cids):
            kind = kind_of(payload["event_type"])
            assert kind is not None
            topic = getattr(topics, kind.topic.key)
            await kafka_producer.send_and_wait(
                f"{topic_prefix}{topic}", json.dumps(payload).encode(), key=b"k"
            )
            expected[uuid.UUID(payload["event_id"])] = ("kafka", _expected(payload, lambda e: e))
        for bad in BAD_VALUES:
            value = json.dumps(_bad_event(bad, cids[2])).encode()
            raw_bad[value] = bad
            await kafka_producer.send_and_wait(f"{topic_prefix}{topics.actions}", value, key=b"k")

        # Stored exactly: every valid event's row is the row its (redacted) event makes.
        async def all_stored() -> bool:
            found = 0
            for _, event in expected.values():
                found += await _stored_row(stack, event) is not None
            return found == len(expected)

        assert len(expected) + len(problems) >= 3 * VALID_PER_PATH, "examples went missing"
        await wait_for(all_stored, what=f"all {len(expected)} valid events stored", timeout_s=90)
        for event_id, (path, event) in expected.items():
            kind = kind_of(str(getattr(event, "event_type", "")))
            assert kind is not None
            writer = WRITERS[kind.topic.table]
            differ = writer.differences(await _stored_row(stack, event), writer.row(event))
            if differ:
                problems.append(f"{path}: event {event_id} stored with other {differ}")

        # Dead letters: only the raw bad records, each naming its field.
        dlq = await kafka_consumer_factory(
            f"{topic_prefix}{topics.actions}-dlq", group_id=f"{topic_prefix}property-dlq"
        )
        letters: dict[bytes, DeadLetterHeaders] = {}

        async def all_dead_lettered() -> bool:
            for records in (await dlq.getmany(timeout_ms=200)).values():
                for record in records:
                    letters[record.value] = DeadLetterHeaders.decode(record.headers)
            return len(letters) >= len(raw_bad)

        await wait_for(all_dead_lettered, what="a dead letter per bad raw record", timeout_s=60)
        assert set(letters) == set(raw_bad), "a dead letter that is not a bad raw record"
        for value, headers in letters.items():
            bad = raw_bad[value]
            if "surrogate" not in bad.kind and headers.error_field != bad.field:
                problems.append(f"raw Kafka, {bad.kind}: dead letter names {headers.error_field}")
        assert stack.ingest.dead_lettered == len(raw_bad), "an accepted event was dead-lettered"
        for name, sink in (("API", api_sink), ("SDK", sdk_sink)):
            assert sink.stats()["dead_lettered"] == 0, f"the {name}'s sink dead-lettered events"
    finally:
        await sdk_sink.stop()

    # Every stored row reads back through the API and the viewer without a 5xx.
    read = stack.headers("read")
    wide = "since=1900-01-01T00:00:00Z&limit=200"
    urls = [f"/executions?{wide}", f"/viewer/?{wide}",
            "/overview?since=1900-01-01T00:00:00Z", "/usage?since=1900-01-01T00:00:00Z",
            "/viewer/overview?since=1900-01-01T00:00:00Z"]  # fmt: skip
    for cid in cids:
        urls += [f"/traces/{cid}", f"/viewer/traces/{cid}", f"/executions/{cid}"]
    for event_id, (_, event) in expected.items():
        source = _SOURCES[str(getattr(event, "event_type", ""))]
        urls += [f"/viewer/partials/events/{source}/{event_id}"]
    for url in urls:
        response = await stack.client.get(url, headers=read)
        if response.status_code >= 500:
            problems.append(f"GET {url}: {response.status_code} {response.text[:200]}")
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:15])
