"""The broker stage without a broker: connection failures are reported, never raised."""

from __future__ import annotations

from omniclaude.publishing.producer import BrokerProducer, SendRequest
from omniclaude.retry import is_retriable
from omniclaude.settings import ProducerSettings
from omniclaude.stack.ports import unused_port


async def test_unreachable_broker_fails_every_record_retriably() -> None:
    """connect() says False; send_batch reports a retriable error per record; close is safe."""
    producer = BrokerProducer(
        bootstrap_servers=[f"127.0.0.1:{unused_port()}"], settings=ProducerSettings(),
        request_timeout_ms=500, topics=["t"],
    )  # fmt: skip
    assert producer.idempotent is None
    assert not await producer.connect()
    assert not producer.connected
    assert producer.last_error is not None
    outcomes = await producer.send_batch([SendRequest("t", b"k", b"v")] * 3)
    assert len(outcomes) == 3
    assert all(o is not None and is_retriable(o) for o in outcomes)
    await producer.close()
    await producer.close()
    assert not await producer.reconnect()


def test_explicit_idempotence_setting_is_reported() -> None:
    """idempotent reflects an explicit choice before any connection."""
    producer = BrokerProducer(
        bootstrap_servers=["127.0.0.1:1"], settings=ProducerSettings(), idempotence=False
    )
    assert producer.idempotent is False
