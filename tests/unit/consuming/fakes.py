"""In-memory stand-ins for the broker client, the store and the dead-letter producer."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from omniclaude.consuming.batcher import Item
from omniclaude.consuming.dead_letters import DeadLetter
from omniclaude.consuming.store import TransientStoreError
from tests.unit.consuming.records import TP, Record


class FakeConsumer:
    """Serves scripted records per partition; records commits, pauses and resumes."""

    def __init__(self, partitions: Sequence[TP], log: list[str]) -> None:
        self.assigned = set(partitions)
        self.waiting: dict[TP, list[Record]] = {tp: [] for tp in partitions}
        self.commits: list[dict[Any, int]] = []
        self.commit_errors: list[BaseException] = []
        self.fetch_errors: list[BaseException] = []
        self.paused_tps: set[TP] = set()
        self.log = log
        self.polls_while_paused = 0
        self.broker_down: BaseException | None = None

    def feed(self, records: Sequence[Record]) -> None:
        for rec in records:
            self.waiting[TP(rec.topic, rec.partition)].append(rec)

    async def getmany(self, *, timeout_ms: int, max_records: int | None) -> dict[TP, list[Any]]:
        if self.fetch_errors:
            raise self.fetch_errors.pop(0)
        if self.paused_tps:
            self.polls_while_paused += 1
        out: dict[TP, list[Any]] = {}
        budget = max_records or 1_000_000
        for tp, records in self.waiting.items():
            if tp in self.paused_tps or tp not in self.assigned or not records or budget <= 0:
                continue
            take, self.waiting[tp] = records[:budget], records[budget:]
            budget -= len(take)
            out[tp] = take
        if not out:
            await asyncio.sleep(min(timeout_ms, 5) / 1000)
        return out

    def assignment(self) -> frozenset[TP]:
        return frozenset(self.assigned)

    async def topics(self) -> set[str]:
        """The broker's metadata: fails while ``broker_down`` is set (readiness probe)."""
        if self.broker_down is not None:
            raise self.broker_down
        return {tp.topic for tp in self.assigned}

    def pause(self, *tps: TP) -> None:
        self.paused_tps.update(tps)

    def resume(self, *tps: TP) -> None:
        self.paused_tps.difference_update(tps)

    def paused(self) -> set[TP]:
        return set(self.paused_tps)

    async def commit(self, offsets: dict[Any, int]) -> None:
        if self.commit_errors:
            raise self.commit_errors.pop(0)
        self.commits.append(dict(offsets))
        self.log.append("commit")

    def highwater(self, tp: TP) -> int | None:
        return 100


class FakeStore:
    """Writes in memory; refuses 'poison*' actions; can be made unreachable."""

    def __init__(self, log: list[str]) -> None:
        self.rows: list[Any] = []
        self.log = log
        self.up = asyncio.Event()
        self.up.set()
        self.failures = 0
        self.down_error: BaseException = TransientStoreError("database: ConnectionRefusedError")

    async def write(self, items: Sequence[Item]) -> list[tuple[Item, BaseException]]:
        if not self.up.is_set():
            self.failures += 1
            raise self.down_error
        refused = [(i, ValueError("refused")) for i in items
                   if getattr(i.event, "action_name", "").startswith("poison")]  # fmt: skip
        bad = {id(i) for i, _ in refused}
        self.rows.extend(i.event for i in items if id(i) not in bad)
        self.log.append(f"write {len(items)}")
        return refused

    async def close(self) -> None:
        return None


class FakeDeadLetters:
    """Collects dead letters; can fail a number of times first."""

    def __init__(self, log: list[str]) -> None:
        self.letters: list[DeadLetter] = []
        self.log = log
        self.failures_left = 0

    async def publish(self, letters: Sequence[DeadLetter]) -> None:
        if self.failures_left:
            self.failures_left -= 1
            raise ConnectionError("broker away")
        self.letters.extend(letters)
        self.log.append(f"dlq {len(letters)}")


class FakeKafkaConsumer(FakeConsumer):
    """``aiokafka.AIOKafkaConsumer`` stand-in: subscribing assigns partition 0 of each topic."""

    made: list[FakeKafkaConsumer] = []

    def __init__(self, **options: Any) -> None:
        super().__init__([], [])
        self.options = options
        self.listener: Any = None
        self.started = self.stopped = False
        FakeKafkaConsumer.made.append(self)

    def subscribe(self, *, topics: list[str], listener: Any) -> None:
        self.listener = listener
        for topic in topics:
            self.assigned.add(TP(topic, 0))
            self.waiting[TP(topic, 0)] = []

    async def start(self) -> None:
        self.started = True
        await self.listener.on_partitions_assigned(frozenset(self.assigned))

    async def stop(self) -> None:
        self.stopped = True


class FakeKafkaProducer:
    """``aiokafka.AIOKafkaProducer`` stand-in."""

    def __init__(self, **options: Any) -> None:
        self.options = options
        self.stopped = False

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self.stopped = True
