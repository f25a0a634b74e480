"""The Kafka sink's accumulator without a loop: spill order, batches, leftovers."""

from __future__ import annotations

from omniclaude.publishing.outbox import OutboxRecord
from omniclaude.publishing.sinks.accumulator import Accumulator


def _record(i: int, size: int = 10) -> OutboxRecord:
    return OutboxRecord(topic="t", key=b"k", value=b"x" * size, event_id=f"e{i}")


def _ids(records: list[OutboxRecord]) -> list[str | None]:
    return [r.event_id for r in records]


def test_a_full_queue_spills_everything_in_order() -> None:
    """Past the cap the queue and the new record go out together, oldest first."""
    acc = Accumulator(queue_max_events=3)
    assert acc.extend(_record(i) for i in range(3)) == []
    spilled = acc.append(_record(3))
    assert _ids(spilled) == ["e0", "e1", "e2", "e3"]
    assert acc.empty
    assert _ids(acc.extend(_record(i) for i in range(4, 9))) == ["e4", "e5", "e6", "e7"]
    assert _ids(list(acc.queue)) == ["e8"]


def test_batches_are_taken_oldest_first_and_count_until_settled() -> None:
    """A batch is in flight (still pending) until settle(); the rest stays queued."""
    acc = Accumulator(queue_max_events=100, batch_max_events=2)
    acc.extend(_record(i) for i in range(5))
    assert _ids(acc.next_batch()) == ["e0", "e1"]
    assert acc.unsettled == 5
    acc.settle()
    assert acc.unsettled == 3
    assert _ids(acc.take_queue()) == ["e2", "e3", "e4"]
    assert not acc.queue
    assert acc.unsettled == 3, "taken for the outbox but not written yet"


def test_leftovers_keep_order_and_skip_what_the_outbox_already_holds() -> None:
    """On stop, in-flight records not from the outbox come first, then the queue."""
    acc = Accumulator(queue_max_events=100, batch_max_events=2)
    acc.extend(_record(i) for i in range(4))
    batch = acc.next_batch()
    batch[0].seq = 7  # re-sent from the outbox: already durable
    assert _ids(acc.leftovers()) == ["e1", "e2", "e3"]
    assert acc.empty
