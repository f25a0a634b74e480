"""The consume loop's protocol: write, commit the transaction, dead letters, then offsets."""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka.errors import CommitFailedError, KafkaConnectionError

from omniclaude.consuming import runner as runner_module
from omniclaude.consuming.batcher import BatchPolicy
from omniclaude.consuming.metrics import IngestMetrics
from omniclaude.consuming.runner import IngestStats, Runner
from omniclaude.consuming.store import StoreRefusedError
from omniclaude.retry import Backoff
from tests.fixtures.waiting import wait_for
from tests.unit.consuming.fakes import FakeConsumer, FakeDeadLetters, FakeStore
from tests.unit.consuming.records import ACTIONS, ROUTES, TP, bare_action, record

PARTS = [TP(ACTIONS, 0), TP(ACTIONS, 1)]


@dataclass
class Loop:
    """A runner wired to fakes, running in a task."""

    runner: Runner
    consumer: FakeConsumer
    store: FakeStore
    dead_letters: FakeDeadLetters
    log: list[str]
    topic_checks: list[int]
    task: asyncio.Task[None]

    async def stop(self) -> None:
        self.runner.request_stop()
        await asyncio.wait_for(self.task, 10)


@pytest.fixture
async def loop(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
               ) -> AsyncIterator[Loop]:  # fmt: skip
    """A running loop; ``@pytest.mark.parametrize('policy', ...)`` changes the batching."""
    monkeypatch.setattr(runner_module, "HOLD_AFTER_S", 0.05)
    monkeypatch.setattr(runner_module, "TOPIC_CHECK_S", 0.0)
    policy = getattr(request, "param", BatchPolicy(max_events=10, max_ms=20))
    log: list[str] = []
    consumer = FakeConsumer(PARTS, log)
    store = FakeStore(log)
    dead_letters = FakeDeadLetters(log)
    checks: list[int] = []

    async def ensure_topics() -> None:
        checks.append(1)

    runner = Runner(
        consumer=consumer, store=store, dead_letters=dead_letters,  # type: ignore[arg-type]
        routes=ROUTES, policy=policy, backoff=Backoff(0.001, 0.01, rng=random.Random(1)),
        metrics=IngestMetrics(), stats=IngestStats(), ensure_topics=ensure_topics,
    )  # fmt: skip
    task = asyncio.create_task(runner.run())
    harness = Loop(runner, consumer, store, dead_letters, log, checks, task)
    yield harness
    if not task.done():
        await harness.stop()


def _actions(n: int, *, partition: int = 0, start: int = 0, poison: set[int] = frozenset()
             ) -> list[Any]:  # fmt: skip
    cid = str(uuid.uuid4())
    out = []
    for offset in range(start, start + n):
        name = "poison" if offset in poison else "bash"
        out.append(record(bare_action(cid, action_name=name), partition=partition, offset=offset))
    return out


async def test_every_record_is_written_and_its_offset_committed_after(loop: Loop) -> None:
    """Rows first, then offsets one past the last record of each partition."""
    loop.consumer.feed(_actions(25) + _actions(5, partition=1))

    committed: dict[Any, int] = {}

    async def settled() -> bool:  # a batch is counted before its commit runs: wait for both
        committed.clear()
        for offsets in loop.consumer.commits:
            committed.update(offsets)
        return len(loop.store.rows) == 30 and len(committed) == 2 and sum(committed.values()) == 30

    await wait_for(settled, what="30 rows written and their offsets committed")
    assert committed == {TP(ACTIONS, 0): 25, TP(ACTIONS, 1): 5}, "an offset was not committed"
    assert loop.log[0].startswith("write"), loop.log
    assert loop.log[1] == "commit", loop.log
    assert loop.runner.stats.events_written == {ACTIONS: 30}
    assert loop.runner.stats.last_commit_time is not None


async def test_dead_letters_are_published_before_the_offsets_are_committed(loop: Loop) -> None:
    """Undecodable and refused records both reach the DLQ, ahead of the commit."""
    records = _actions(4, poison={2})
    records.append(record(b"not json", offset=4))
    loop.consumer.feed(records)

    async def letters() -> int:
        return len(loop.dead_letters.letters) == 2 and "commit" in loop.log

    await wait_for(letters, what="two dead letters and a commit")
    assert loop.log.index("dlq 2") < loop.log.index("commit"), loop.log
    stages = sorted(letter.stage for letter in loop.dead_letters.letters)
    assert stages == ["decode", "store"]
    assert len(loop.store.rows) == 3, "a good record was lost"
    assert loop.runner.stats.dead_lettered == 2
    assert loop.runner.stats.events_written == {ACTIONS: 3}


async def test_a_database_outage_pauses_fetching_and_loses_nothing(loop: Loop) -> None:
    """While the store is down: retries, partitions paused, no DLQ; afterwards every row lands."""
    loop.store.up.clear()
    loop.consumer.feed(_actions(50))

    async def paused() -> bool:
        return bool(loop.consumer.paused_tps) and loop.consumer.polls_while_paused > 0

    await wait_for(paused, what="partitions paused while the database is down")
    assert loop.runner.stats.database_ok is False
    assert loop.runner.metrics.paused._value.get() == 1
    assert loop.store.failures > 1
    loop.store.up.set()

    async def all_rows() -> bool:
        return len(loop.store.rows) == 50 and not loop.consumer.waiting[TP(ACTIONS, 0)]

    await wait_for(all_rows, what="every row after the outage")
    await loop.stop()
    assert loop.dead_letters.letters == [], "a transient fault sent events to the DLQ"
    assert not loop.consumer.paused_tps, "partitions left paused"
    assert loop.runner.stats.database_ok is True
    assert len({e.event_id for e in loop.store.rows}) == 50, "an event was duplicated"


@pytest.mark.parametrize("loop", [BatchPolicy(max_events=1000, max_ms=60_000)], indirect=True)
async def test_stop_settles_the_batch_in_hand(loop: Loop) -> None:
    """A partial batch (far from full, far from its deadline) is written and committed on stop."""
    loop.consumer.feed(_actions(7))

    async def fetched() -> bool:
        return not loop.consumer.waiting[TP(ACTIONS, 0)]

    await wait_for(fetched, what="records fetched")
    await loop.stop()
    assert len(loop.store.rows) == 7
    assert loop.consumer.commits[-1] == {TP(ACTIONS, 0): 7}


@pytest.mark.parametrize("loop", [BatchPolicy(max_events=1000, max_ms=60_000)], indirect=True)
async def test_drain_settles_fetched_records_before_a_rebalance(loop: Loop) -> None:
    """Revoked partitions' records are written and committed before they go."""
    loop.consumer.feed(_actions(3))

    async def fetched() -> bool:
        return not loop.consumer.waiting[TP(ACTIONS, 0)]

    await wait_for(fetched, what="records fetched")
    assert await loop.runner.drain(5.0) is True
    assert len(loop.store.rows) == 3
    assert loop.consumer.commits[-1] == {TP(ACTIONS, 0): 3}


async def test_drain_gives_up_when_the_database_stays_away(loop: Loop) -> None:
    """A rebalance is not blocked forever: drain reports failure after its timeout."""
    loop.store.up.clear()
    loop.consumer.feed(_actions(3))

    async def fetched() -> bool:
        return not loop.consumer.waiting[TP(ACTIONS, 0)]

    await wait_for(fetched, what="records fetched")
    assert await loop.runner.drain(0.2) is False
    loop.store.up.set()


async def test_a_refused_commit_is_dropped_and_a_broker_error_retried(loop: Loop) -> None:
    """After a rebalance the commit is moot; after a broker hiccup it goes with the next one."""
    loop.consumer.commit_errors = [CommitFailedError("rebalanced"), KafkaConnectionError("away")]
    loop.consumer.feed(_actions(10))

    async def first_two() -> bool:
        return loop.runner.metrics.commit_failures._value.get() == 1

    await wait_for(first_two, what="the refused commit")
    loop.consumer.feed(_actions(10, start=10))

    async def second() -> bool:
        return loop.runner.metrics.commit_failures._value.get() == 2

    await wait_for(second, what="the failed commit")
    loop.consumer.feed(_actions(10, partition=1))

    async def third() -> bool:
        return bool(loop.consumer.commits)

    await wait_for(third, what="a successful commit")
    assert loop.consumer.commits[0] == {TP(ACTIONS, 0): 20, TP(ACTIONS, 1): 10}, (
        "the offset of the failed commit was not retried"
    )
    assert len(loop.store.rows) == 30


async def test_offsets_of_revoked_partitions_are_not_committed(loop: Loop) -> None:
    """A partition another member now owns is left out of the commit."""
    loop.consumer.commit_errors = [KafkaConnectionError("away")]
    loop.consumer.feed(_actions(10, partition=1))

    async def failed() -> bool:
        return loop.runner.metrics.commit_failures._value.get() == 1

    await wait_for(failed, what="the failed commit")
    loop.consumer.assigned.discard(TP(ACTIONS, 1))
    loop.runner.on_assigned(frozenset({TP(ACTIONS, 0)}))
    loop.consumer.feed(_actions(10))

    async def committed() -> bool:
        return bool(loop.consumer.commits)

    await wait_for(committed, what="a commit")
    assert loop.consumer.commits == [{TP(ACTIONS, 0): 10}]


async def test_dead_letters_are_retried_until_the_broker_takes_them(loop: Loop) -> None:
    """A broker hiccup while dead-lettering delays the commit; it never skips the letter."""
    loop.dead_letters.failures_left = 2
    loop.consumer.feed([record(b"[]", offset=0)])

    async def delivered() -> bool:
        return len(loop.dead_letters.letters) == 1 and bool(loop.consumer.commits)

    await wait_for(delivered, what="the dead letter and the commit")
    assert len(loop.topic_checks) >= 2, "topics were not re-created before retrying"


async def test_fetch_errors_mark_the_broker_unavailable_until_it_answers(loop: Loop) -> None:
    """A failed poll is reported (readiness) and the loop goes on."""
    loop.consumer.fetch_errors = [KafkaConnectionError("down")]

    async def failed() -> bool:
        return loop.runner.stats.last_error is not None

    await wait_for(failed, what="the broker error to be recorded")
    loop.consumer.feed(_actions(1))

    async def healthy() -> bool:
        return loop.runner.stats.broker_ok and len(loop.store.rows) == 1

    await wait_for(healthy, what="recovery")


async def test_an_idle_consumer_notices_a_dead_broker(loop: Loop) -> None:
    """Empty polls prove nothing (aiokafka returns {} while the broker is down): the idle
    loop's metadata probe flips readiness off, and back on when the broker answers."""

    async def ready() -> bool:
        return loop.runner.stats.broker_ok

    await wait_for(ready, what="the broker to be seen up")
    loop.consumer.broker_down = KafkaConnectionError("down")

    async def down() -> bool:
        return not loop.runner.stats.broker_ok

    await wait_for(down, what="the idle probe to see the broker down")
    loop.consumer.broker_down = None
    await wait_for(ready, what="the probe to see the broker back")


async def test_topics_are_recreated_while_nothing_is_assigned(loop: Loop) -> None:
    """With no partition (a memory-only broker restarted), the topics are re-created."""
    loop.consumer.assigned.clear()

    async def checked() -> bool:
        return len(loop.topic_checks) > 0

    await wait_for(checked, what="a topic check")


def test_backoff_grows_to_its_ceiling_and_resets() -> None:
    """Delays double up to max_s (with jitter in the upper half) and restart after success."""
    backoff = Backoff(0.1, 1.0, rng=random.Random(7))
    delays = [backoff.next_delay() for _ in range(8)]
    assert 0.05 <= delays[0] <= 0.1
    assert all(0.5 <= d <= 1.0 for d in delays[5:])
    backoff.reset()
    assert backoff.next_delay() <= 0.1


async def test_retries_only_for_what_can_succeed_in_the_consumer(
    loop: Loop, caplog: pytest.LogCaptureFixture
) -> None:
    """A database refusal no retry cures (a missing table) keeps the batch, waits the longest
    backoff and says so at ERROR; once fixed every row lands and nothing is dead-lettered."""
    loop.store.down_error = StoreRefusedError("database: UndefinedTableError: agent_actions")
    loop.store.up.clear()
    loop.consumer.feed(_actions(5))

    async def refused_twice() -> bool:
        return loop.store.failures >= 2

    with caplog.at_level(logging.ERROR, logger="omniclaude.consuming.runner"):
        await wait_for(refused_twice, what="two refused attempts")
    assert any("no retry cures" in r.getMessage() for r in caplog.records), caplog.text
    assert loop.runner._backoff.ceiling() == loop.runner._backoff.max_s
    assert not loop.runner.stats.database_ok
    loop.store.up.set()

    async def written() -> bool:
        return len(loop.store.rows) == 5

    await wait_for(written, what="the kept batch")
    assert not loop.dead_letters.letters, "the database's fault dead-lettered good rows"


@pytest.mark.parametrize("loop", [BatchPolicy(max_events=1000, max_ms=60_000)], indirect=True)
async def test_a_drained_fetch_is_written_at_once_when_the_writer_is_free(loop: Loop) -> None:
    """Adaptive batching: one record at low load is written long before max_ms (60 s here)."""
    loop.consumer.feed(_actions(1))

    async def written() -> bool:
        return len(loop.store.rows) == 1

    await wait_for(written, what="the single record's row", timeout_s=5)
