"""Every event type crosses a real broker unchanged: produce, consume, decode, compare."""

from __future__ import annotations

import uuid
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from omniclaude.events import CATALOG, decode, encode, kind_of
from tests.unit.storage.samples import sample_events


async def _create_topics(bootstrap: str, names: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(n, num_partitions=1, replication_factor=1) for n in names]
        )
    finally:
        await admin.close()


async def test_every_event_type_round_trips_through_its_topic(
    kafka_service: Any, topic_prefix: str, kafka_consumer_factory: Any
) -> None:
    """Bytes consumed equal bytes produced, and decode to an equal event, for every type."""
    events = sample_events(uuid.uuid4())
    topics = {e.event_id: topic_prefix + kind_of(e.event_type).topic.default_name for e in events}  # type: ignore[union-attr]
    await _create_topics(kafka_service.bootstrap, sorted(set(topics.values())))
    producer = AIOKafkaProducer(bootstrap_servers=kafka_service.bootstrap, acks="all")
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(
                topics[event.event_id], encode(event), key=str(event.correlation_id).encode()
            )
    finally:
        await producer.stop()
    consumer = await kafka_consumer_factory(*sorted(set(topics.values())))
    received: dict[uuid.UUID, bytes] = {}
    while len(received) < len(events):
        batch = await consumer.getmany(timeout_ms=10_000)
        assert batch, f"timed out; missing {len(events) - len(received)} events"
        for records in batch.values():
            for record in records:
                received[decode(record.value).event_id] = record.value
    for event in events:
        assert received[event.event_id] == encode(event), f"{event.event_type} bytes changed"
        assert decode(received[event.event_id]) == event, f"{event.event_type} changed"
    assert {k.event_type for k in CATALOG} <= {e.event_type for e in events}


async def test_spec_dict_value_with_uuid_is_published(
    kafka_service: Any, kafka_producer: Any, topic_prefix: str, kafka_consumer_factory: Any
) -> None:
    """The spec's kafka_producer.send_and_wait(value={...}) works with a uuid.UUID inside."""
    topic = topic_prefix + "agent-actions"
    await _create_topics(kafka_service.bootstrap, [topic])
    cid = uuid.uuid4()
    await kafka_producer.send_and_wait(
        topic,
        value={
            "correlation_id": cid,
            "action_type": "tool_call",
            "action_name": "bash",
            "action_details": {"command": "ls", "run": uuid.uuid4()},
        },
    )
    consumer = await kafka_consumer_factory(topic)
    batch = await consumer.getmany(timeout_ms=10_000)
    values = [r.value for records in batch.values() for r in records]
    assert len(values) == 1, f"expected one message, got {len(values)}"
    event = decode(values[0], default_type="agent_action")
    assert event.correlation_id == cid
