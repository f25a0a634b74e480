"""KafkaSink without a broker: the pump's decisions (deliver, spool, dead-letter, re-send in
order) against a scripted broker stage, and a real unreachable bootstrap address."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Sequence
from pathlib import Path

import pytest

from omniclaude.errors import (
    ConfigurationError,
    DeliveryError,
    EventValidationError,
    UnknownEventTypeError,
)
from omniclaude.events import CATALOG, AgentAction, EventBase, decode
from omniclaude.events.limits import MAX_EVENT_BYTES
from omniclaude.publishing import ActionLogger, KafkaSink, PostgresSink, sink_from_settings
from omniclaude.publishing.producer import SendRequest
from omniclaude.retry import is_retriable
from omniclaude.settings import ProducerSettings, Settings
from omniclaude.stack.ports import unused_port
from tests.fixtures.waiting import wait_for
from tests.unit.storage.samples import sample_events


class MessageSizeTooLargeError(Exception):
    """Stands in for aiokafka's error of the same name (not retriable, like the real one)."""

    retriable = False


class FakeBroker:
    """A scripted broker stage: up or down, records what it acknowledged."""

    def __init__(self) -> None:
        self.up = True
        self.connected = False
        self.acked: list[SendRequest] = []
        self.refuse: set[bytes] = set()
        self.last_error: BaseException | None = None
        self.idempotent = False
        self.request_timeout_ms = 100

    async def connect(self) -> bool:
        self.connected = self.up
        return self.up

    async def send_batch(self, requests: Sequence[SendRequest]) -> list[BaseException | None]:
        await asyncio.sleep(0)
        if not self.up:
            self.last_error = ConnectionError("down")
            return [self.last_error] * len(requests)
        out: list[BaseException | None] = []
        for request in requests:
            if request.value in self.refuse and not request.topic.endswith("-dlq"):
                out.append(MessageSizeTooLargeError("refused by broker"))
            else:
                self.acked.append(request)
                out.append(None)
        return out

    async def close(self, timeout_s: float = 5.0) -> None:
        self.connected = False


def _sink(tmp_path: Path, **producer: int | float) -> tuple[KafkaSink, FakeBroker]:
    sink = KafkaSink(
        bootstrap_servers=["127.0.0.1:1"], spool_dir=tmp_path, topic_prefix="p.",
        producer=ProducerSettings(**producer), request_timeout_ms=100,  # type: ignore[arg-type]
    )  # fmt: skip
    fake = FakeBroker()
    sink.broker = fake  # type: ignore[assignment]
    return sink, fake


def _event(i: int, cid: uuid.UUID | None = None) -> AgentAction:
    return AgentAction(
        correlation_id=cid or uuid.uuid4(), action_type="tool_call", action_name="bash",
        action_details={"i": i},
    )  # fmt: skip


def _ids(requests: Sequence[SendRequest]) -> list[str]:
    return [str(decode(r.value).event_id) for r in requests]


async def test_delivers_with_topic_and_key(tmp_path: Path) -> None:
    """Events go to the catalogue's topic (prefixed), keyed by correlation id, redacted."""
    sink, fake = _sink(tmp_path)
    async with sink:
        event = _event(1).model_copy(update={"action_details": {"password": "p"}})
        await sink.send(event)
        await sink.flush(5)
        assert sink.pending == 0
    (request,) = fake.acked
    assert request.topic == "p.agent-actions"
    assert request.key == str(event.correlation_id).encode()
    decoded = decode(request.value)
    assert isinstance(decoded, AgentAction)
    assert decoded.action_details == {"password": "***REDACTED***"}
    assert sink.stats()["delivered"] == 1


def test_record_names_each_event_and_its_catalogue_topic(tmp_path: Path) -> None:
    """A record carries its event's id as text and its trace's id as key (both read from the
    encoded bytes, where the codec writes them first) and the topic of its type, for every
    catalogue type; an event outside
    the catalogue is still refused by name."""
    sink, _ = _sink(tmp_path)
    events = sample_events(uuid.uuid4())
    assert {e.event_type for e in events} == {kind.event_type for kind in CATALOG}  # type: ignore[attr-defined]
    for event in events:
        record = sink._encode(event)
        assert record.event_id == str(event.event_id)
        assert record.key == str(event.correlation_id).encode()
        assert record.topic == sink.topic_for(event)
    with pytest.raises(UnknownEventTypeError, match="event_type"):
        sink._encode(EventBase(correlation_id=uuid.uuid4()))


async def test_broker_down_spools_then_resends_in_order(tmp_path: Path) -> None:
    """While the broker is away events wait in the outbox; afterwards all arrive, in order."""
    sink, fake = _sink(tmp_path)
    cid = uuid.uuid4()
    async with sink:
        fake.up = False
        sent = [_event(i, cid) for i in range(50)]
        await sink.send_many(sent[:30])
        await wait_for(_outbox_holds(sink, 30), what="30 events spooled to the outbox")
        fake.up = True
        await sink.send_many(sent[30:])
        await sink.flush(10)
        assert sink.pending == 0
    assert _ids(fake.acked) == [str(e.event_id) for e in sent], "order or events lost"


def _outbox_holds(sink: KafkaSink, n: int):  # type: ignore[no-untyped-def]
    async def check() -> bool:
        return len(sink.outbox) == n

    return check


async def test_stop_while_down_keeps_events_and_restart_resends(tmp_path: Path) -> None:
    """stop() leaves unacknowledged events in the outbox; the next sink re-sends them."""
    sink, fake = _sink(tmp_path, flush_timeout_s=0.2)
    fake.up = False
    await sink.start()
    events = [_event(i) for i in range(10)]
    await sink.send_many(events)
    await sink.stop()
    await sink.stop()  # idempotent
    again, fake2 = _sink(tmp_path)
    async with again:
        await again.flush(5)
    assert _ids(fake2.acked) == [str(e.event_id) for e in events]
    assert len(again.outbox) == 0


async def test_too_large_event_is_refused_at_send(tmp_path: Path) -> None:
    """An event over the contract's size is refused by send() at once; nothing is queued."""
    sink, fake = _sink(tmp_path)
    async with sink:
        big = _event(0).model_copy(update={"action_details": {"blob": "x" * MAX_EVENT_BYTES}})
        with pytest.raises(EventValidationError, match="bytes once encoded"):
            await sink.send(big)
        small, later = _event(1), _event(2)
        refused = await sink.send_durably([big, small])
        assert [index for index, _ in refused] == [0]
        await sink.send(later)
        await sink.flush(5)
    assert _ids(fake.acked) == [str(small.event_id), str(later.event_id)]
    assert sink.stats()["dead_lettered"] == 0


async def test_refused_by_broker_becomes_a_dead_letter(tmp_path: Path) -> None:
    """A permanent broker error dead-letters the event instead of retrying it forever."""
    sink, fake = _sink(tmp_path)
    async with sink:
        event = _event(7)
        fake.refuse.add(sink._encode(event).value)
        await sink.send(event)
        await sink.flush(5)
    assert [r.topic for r in fake.acked] == ["p.agent-actions-dlq"]
    assert not is_retriable(MessageSizeTooLargeError())


async def test_dead_letters_wait_while_the_broker_is_away(tmp_path: Path) -> None:
    """A dead letter made while the broker is down is published once it is back."""
    sink, fake = _sink(tmp_path)
    fake.up = False
    async with sink:
        event = _event(0)
        fake.refuse.add(sink._encode(event).value)
        await sink.send(event)
        assert sink.pending == 1
        fake.up = True
        await sink.flush(5)
    assert [r.topic for r in fake.acked] == ["p.agent-actions-dlq"]


async def test_full_queue_spills_to_the_outbox_in_order(tmp_path: Path) -> None:
    """Past queue_max_events the queue moves to the outbox; order is kept."""
    sink, fake = _sink(tmp_path, queue_max_events=5)
    fake.up = False
    async with sink:
        events = [_event(i) for i in range(12)]
        for event in events:
            await sink.send(event)
        fake.up = True
        await sink.flush(5)
    assert _ids(fake.acked) == [str(e.event_id) for e in events]


async def test_send_before_start_and_after_stop(tmp_path: Path) -> None:
    """send() outside the sink's lifetime is a clear DeliveryError."""
    sink, _ = _sink(tmp_path)
    with pytest.raises(DeliveryError, match="start"):
        await sink.send(_event(0))
    await sink.start()
    await sink.stop()
    with pytest.raises(DeliveryError, match="after stop"):
        await sink.send(_event(0))


async def test_unknown_event_type_is_refused(tmp_path: Path) -> None:
    """An event type outside the catalogue has no topic: refused, naming event_type."""
    sink, _ = _sink(tmp_path)
    event = EventBase(correlation_id=uuid.uuid4())
    with pytest.raises(UnknownEventTypeError, match="event_type"):
        sink.topic_for(event)


async def test_unreachable_broker_never_blocks_logging(tmp_path: Path) -> None:
    """With nothing listening, log calls return at once and events reach the outbox."""
    sink = KafkaSink(
        bootstrap_servers=[f"127.0.0.1:{unused_port()}"], spool_dir=tmp_path,
        producer=ProducerSettings(flush_timeout_s=0.1), request_timeout_ms=500,
    )  # fmt: skip
    logger = ActionLogger(sink=sink)
    async with sink:
        loop = asyncio.get_running_loop()
        started = loop.time()
        for i in range(100):
            await logger.log_tool_call(uuid.uuid4(), "bash", {"i": i})
        assert loop.time() - started < 1.0, "logging waited on the unreachable broker"
        await wait_for(_outbox_holds(sink, 100), what="100 events in the outbox")
        assert not sink.stats()["connected"]
    assert sink.outbox.open().count() == 100
    sink.outbox.close()


def test_bootstrap_required(tmp_path: Path) -> None:
    """An empty bootstrap list is a configuration error."""
    with pytest.raises(ConfigurationError, match="bootstrap"):
        KafkaSink(bootstrap_servers=[], spool_dir=tmp_path)


def test_sink_from_settings(tmp_path: Path) -> None:
    """Kafka when a bootstrap is set, else PostgreSQL from the URL, else a clear error."""
    kafka = sink_from_settings(
        Settings(kafka_bootstrap="127.0.0.1:9092", spool_dir=tmp_path, topic_prefix="x.")
    )
    assert isinstance(kafka, KafkaSink)
    assert kafka.outbox.path == tmp_path / "outbox.sqlite3"
    postgres = sink_from_settings(Settings(database_url="postgresql://u@127.0.0.1/db"))
    assert isinstance(postgres, PostgresSink)
    with pytest.raises(ConfigurationError, match="OMNICLAUDE_KAFKA_BOOTSTRAP"):
        sink_from_settings(Settings())


def test_postgres_sink_needs_exactly_one_target() -> None:
    """PostgresSink takes db= or dsn=, not neither or both."""
    with pytest.raises(ConfigurationError):
        PostgresSink()
    with pytest.raises(ConfigurationError):
        PostgresSink(object(), dsn="postgresql://x")


class ScriptedBroker(FakeBroker):
    """A broker stage that answers given records with given errors (real aiokafka classes)."""

    def __init__(self) -> None:
        super().__init__()
        self.script: dict[bytes, list[BaseException]] = {}
        self.attempts: dict[bytes, list[float]] = {}

    async def send_batch(self, requests: Sequence[SendRequest]) -> list[BaseException | None]:
        await asyncio.sleep(0)
        out: list[BaseException | None] = []
        now = asyncio.get_running_loop().time()
        for request in requests:
            if request.topic.endswith("-dlq"):
                self.acked.append(request)
                out.append(None)
                continue
            self.attempts.setdefault(request.value, []).append(now)
            errors = self.script.get(request.value)
            if errors:
                self.last_error = errors[0]
                out.append(errors.pop(0))
            else:
                self.acked.append(request)
                out.append(None)
        return out


async def test_retries_only_for_what_can_succeed_in_the_kafka_sink(tmp_path: Path) -> None:
    """A non-retriable broker error is dead-lettered after one try; a retriable one is
    retried with growing backoff until the broker takes it (issue 12 item 8, issue 16)."""
    from aiokafka.errors import (
        KafkaTimeoutError,
        NotLeaderForPartitionError,
        RecordListTooLargeError,
        TopicAuthorizationFailedError,
    )

    sink = KafkaSink(
        bootstrap_servers=["127.0.0.1:1"], spool_dir=tmp_path, topic_prefix="p.",
        request_timeout_ms=100,
    )  # fmt: skip
    broker = ScriptedBroker()
    sink.broker = broker  # type: ignore[assignment]
    refused, denied, flaky = _event(1), _event(2), _event(3)
    async with sink:
        values = {e.event_id: sink._encode(e).value for e in (refused, denied, flaky)}
        broker.script[values[refused.event_id]] = [RecordListTooLargeError()]
        broker.script[values[denied.event_id]] = [TopicAuthorizationFailedError()]
        broker.script[values[flaky.event_id]] = [
            NotLeaderForPartitionError(), KafkaTimeoutError(), NotLeaderForPartitionError()
        ]  # fmt: skip
        await sink.send_many([refused, denied, flaky])
        await sink.flush(10)
        assert sink.pending == 0
    for event in (refused, denied):
        assert len(broker.attempts[values[event.event_id]]) == 1, "a refused record was retried"
    dead = {
        decode(r.value).event_id: dict(r.headers) for r in broker.acked if r.topic.endswith("-dlq")
    }
    assert dead[refused.event_id]["omniclaude.dlq.error.class"] == b"RecordListTooLargeError"
    assert dead[denied.event_id]["omniclaude.dlq.error.class"] == b"TopicAuthorizationFailedError"
    assert flaky.event_id not in dead, "a retriable failure was dead-lettered"
    tries = broker.attempts[values[flaky.event_id]]
    assert len(tries) == 4, "the retriable record was not retried until delivered"
    gaps = [b - a for a, b in itertools.pairwise(tries)]
    assert gaps[0] >= 0.04, f"no backoff between attempts: {gaps}"
    assert gaps[-1] > gaps[0], f"the backoff did not grow: {gaps}"
    delivered = [r for r in broker.acked if r.topic == "p.agent-actions"]
    assert [decode(r.value).event_id for r in delivered] == [flaky.event_id]
