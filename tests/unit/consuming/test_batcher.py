"""Batches: decoded items, dead letters for bad records, offsets one past the last record."""

from __future__ import annotations

import uuid

from omniclaude.consuming.batcher import Batch, BatchPolicy
from tests.unit.consuming.records import ACTIONS, EXECUTIONS, ROUTES, TP, bare_action, record


def test_offsets_are_one_past_the_last_record_of_each_partition() -> None:
    """Committing the batch's offsets settles exactly the records it holds."""
    batch = Batch()
    raw = bare_action(str(uuid.uuid4()))
    batch.add(TP(ACTIONS, 0), [record(raw, offset=o) for o in (4, 5, 6)], ROUTES)
    batch.add(TP(ACTIONS, 2), [record(raw, partition=2, offset=9)], ROUTES)
    assert batch.offsets == {TP(ACTIONS, 0): 7, TP(ACTIONS, 2): 10}
    assert batch.size == 4
    assert len(batch.items) == 4
    assert batch.consumed == {ACTIONS: 4}


def test_a_bad_record_becomes_a_dead_letter_and_the_rest_goes_on() -> None:
    """A poison record never stops its batch; its offset is still settled."""
    batch = Batch()
    good = bare_action(str(uuid.uuid4()))
    batch.add(TP(ACTIONS, 0), [record(good, offset=0), record(b"{", offset=1),
                               record(good, offset=2)], ROUTES)  # fmt: skip
    assert [item.record.offset for item in batch.items] == [0, 2]
    (letter,) = batch.dead_letters
    assert letter.record.offset == 1
    assert letter.topic == f"{ACTIONS}-dlq"
    assert letter.error_class == "EventValidationError"
    assert letter.stage == "decode"
    assert batch.offsets == {TP(ACTIONS, 0): 3}


def test_an_empty_fetch_leaves_the_batch_unstarted() -> None:
    """No records, no start time: an idle consumer never hands over empty batches."""
    batch = Batch()
    batch.add(TP(ACTIONS, 0), [], ROUTES)
    assert batch.started is None
    assert batch.size == 0
    assert not BatchPolicy().is_full(batch, now=1e12)


def test_the_policy_closes_a_batch_by_size_or_by_time() -> None:
    """Full at max_events records, or max_ms after the first record."""
    policy = BatchPolicy(max_events=2, max_ms=100)
    batch = Batch()
    batch.add(TP(ACTIONS, 0), [record(bare_action(str(uuid.uuid4())))], ROUTES)
    assert batch.started is not None
    assert not policy.is_full(batch, batch.started)
    assert policy.is_full(batch, batch.started + 0.1)
    batch.add(TP(ACTIONS, 0), [record(bare_action(str(uuid.uuid4())), offset=1)], ROUTES)
    assert policy.is_full(batch, batch.started)


def test_the_wait_for_records_ends_at_the_batch_deadline() -> None:
    """An empty batch waits a poll; a started one only until its deadline."""
    policy = BatchPolicy(max_events=10, max_ms=100)
    batch = Batch()
    assert policy.remaining_ms(batch, 0.0, poll_ms=250) == 250
    batch.add(TP(ACTIONS, 0), [record(bare_action(str(uuid.uuid4())))], ROUTES)
    assert batch.started is not None
    assert policy.remaining_ms(batch, batch.started + 0.04, poll_ms=250) in {59, 60}
    assert policy.remaining_ms(batch, batch.started + 5, poll_ms=250) == 0


def test_merge_appends_later_records() -> None:
    """A carried-over batch absorbs the records fetched while the writer was stuck."""
    first, later = Batch(), Batch()
    first.add(TP(ACTIONS, 0), [record(bare_action(str(uuid.uuid4())), offset=0)], ROUTES)
    later.add(TP(ACTIONS, 0), [record(bare_action(str(uuid.uuid4())), offset=1)], ROUTES)
    later.add(TP(EXECUTIONS, 1), [record(b"x", topic=EXECUTIONS, partition=1)], ROUTES)
    started = first.started
    first.merge(later)
    first.merge(Batch())
    assert first.size == 3
    assert first.offsets == {TP(ACTIONS, 0): 2, TP(EXECUTIONS, 1): 1}
    assert len(first.dead_letters) == 1
    assert first.started == started


def test_written_counts_leave_out_refused_items() -> None:
    """Events refused by the database are not counted as written."""
    batch = Batch()
    batch.add(TP(ACTIONS, 0), [record(bare_action(str(uuid.uuid4())), offset=o)
                               for o in range(3)], ROUTES)  # fmt: skip
    assert batch.written_per_topic() == {ACTIONS: 3}
    assert batch.written_per_topic(batch.items[:1]) == {ACTIONS: 2}
    assert batch.written_per_topic(batch.items) == {}


def test_adaptive_batches_close_early_only_when_drained_and_the_writer_is_free() -> None:
    """Records in hand + nothing more to fetch + an idle writer: hand over; else keep filling."""
    policy = BatchPolicy(max_events=100, max_ms=1000)
    empty, started = Batch(), Batch(started=1.0, size=3)
    assert not policy.hand_over_now(empty, drained=True, writer_idle=True)
    assert policy.hand_over_now(started, drained=True, writer_idle=True)
    assert not policy.hand_over_now(started, drained=False, writer_idle=True), "backlog: fill"
    assert not policy.hand_over_now(started, drained=True, writer_idle=False), "writer busy"
    fixed = BatchPolicy(max_events=100, max_ms=1000, adaptive=False)
    assert not fixed.hand_over_now(started, drained=True, writer_idle=True)
