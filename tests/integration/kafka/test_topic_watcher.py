"""The topic watcher against a real broker that dies and comes back empty (memory-only Tansu):
the connection-closed adapter sees it go, and the next check re-creates the topics."""

from __future__ import annotations

import pytest

from omniclaude.kafka import KafkaClients, TopicWatcher, close_quietly
from omniclaude.stack.tansu import TansuBroker
from tests.fixtures.waiting import wait_for

pytestmark = pytest.mark.covers("topic:agent-actions")


async def test_a_restarted_broker_gets_its_topics_back(
    own_broker: TansuBroker, topic_prefix: str
) -> None:
    """A closed connection marks the topics stale at once; the next ensure() re-creates them."""
    topic = f"{topic_prefix}agent-actions"
    clients = KafkaClients([own_broker.bootstrap], client_id="watcher-test")
    watcher = TopicWatcher(clients, [topic, f"{topic}-dlq"], partitions=2, timeout_ms=5000)
    producer = clients.producer(acks="all", request_timeout_ms=5000)
    watcher.watch(producer)
    await producer.start()
    try:
        assert sorted(await watcher.ensure()) == [topic, f"{topic}-dlq"]
        assert await watcher.ensure() == [], "a fresh check ran although nothing changed"
        await (await producer.send(topic, b"v", key=b"k"))
        assert not watcher.stale

        own_broker.kill()

        async def stale() -> bool:
            return watcher.stale

        await wait_for(stale, what="the closed connection to mark the topics stale")
        own_broker.start(timeout_s=60)
        assert sorted(await watcher.ensure()) == [topic, f"{topic}-dlq"], "topics not re-created"
        assert watcher.checks == 2
    finally:
        await close_quietly(producer, 5.0)
