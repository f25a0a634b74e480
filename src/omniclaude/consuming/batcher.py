"""Batches: records decoded into events, dead letters, and the offsets they settle.

A batch closes when it holds ``max_events`` records or ``max_ms`` after its first record,
whichever comes first. Everything in it is written in one database transaction, and only then
are its offsets committed: the offset committed for a partition is one past the last record of
that partition in the batch, so a batch's records are all settled (a row or a dead letter)
before Kafka forgets them.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

from omniclaude.consuming.dead_letters import DeadLetter
from omniclaude.consuming.decoding import RecordLike, decode_record
from omniclaude.errors import UnknownEventTypeError
from omniclaude.events import CATALOG, Event
from omniclaude.kafka.topics import TopicRoute
from omniclaude.storage.writers import WRITERS, TableWriter

__all__ = ["Batch", "BatchPolicy", "Decoder", "Item"]

Decoder = Callable[[RecordLike, TopicRoute], Event]
"""Turns a record of a route's topic into an event, or raises why it cannot."""


def _decode(record: RecordLike, route: TopicRoute) -> Event:
    return decode_record(record, default_type=route.spec.default_event_type)


_WRITER_OF: Final[dict[str, TableWriter]] = {
    kind.event_type: WRITERS[kind.topic.table] for kind in CATALOG
}
"""The writer of each catalogued event type (one lookup per event on the hot path)."""


class Item(NamedTuple):
    """One decoded event, its row, and the record it came from (for a dead letter).

    Immutable; a named tuple rather than a frozen dataclass because one is built per event
    (a frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``: about
    four times the cost).
    """

    event: Event
    record: RecordLike
    route: TopicRoute
    table: str
    row: tuple[Any, ...]
    """The event as a row of ``table`` (built while fetching, off the write's critical path)."""

    @classmethod
    def build(cls, event: Event, record: RecordLike, route: TopicRoute) -> Item:
        """Map ``event`` to its table and row.

        Raises:
            UnknownEventTypeError: no table takes this event type.
            ValueError: a value cannot be represented in its column.
        """
        writer = _WRITER_OF.get(event.event_type)
        if writer is None:  # pragma: no cover - the decoder only returns catalogued types
            raise UnknownEventTypeError(f"event_type: no table for {event.event_type!r}")
        return cls(event, record, route, writer.table, writer.row(event))


@dataclass(frozen=True, slots=True)
class BatchPolicy:
    """When a batch is full: ``max_events`` records, or ``max_ms`` after its first record.

    ``adaptive`` (the default) also closes a batch as soon as the fetch is drained (a poll
    returned fewer records than it could take) *and* the writer is idle: at low load an event
    is written at once instead of waiting out ``max_ms``; under a backlog the writer is busy,
    so batches keep growing to ``max_events`` while it writes (throughput unchanged).
    """

    max_events: int = 2000
    max_ms: int = 200
    adaptive: bool = True

    def hand_over_now(self, batch: Batch, *, drained: bool, writer_idle: bool) -> bool:
        """Adaptive early close: records in hand, nothing more waiting, a writer free."""
        return self.adaptive and batch.started is not None and drained and writer_idle

    def remaining_ms(self, batch: Batch, now: float, *, poll_ms: int) -> int:
        """How long the next fetch may wait: until the batch's deadline, at most ``poll_ms``."""
        if batch.started is None:
            return poll_ms
        left = batch.started + self.max_ms / 1000 - now
        return max(0, min(poll_ms, int(left * 1000)))

    def is_full(self, batch: Batch, now: float) -> bool:
        """True once the batch holds ``max_events`` records or its time is up."""
        if batch.started is None:
            return False
        return batch.size >= self.max_events or now >= batch.started + self.max_ms / 1000


@dataclass(slots=True)
class Batch:
    """Records of one or more partitions, decoded, waiting to be written together."""

    items: list[Item] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    offsets: dict[Any, int] = field(default_factory=dict)
    """Per ``TopicPartition``: the offset to commit (one past the last record)."""
    consumed: Counter[str] = field(default_factory=Counter)
    """Records per topic."""
    decoded: Counter[str] = field(default_factory=Counter)
    """Items (records decoded into events) per topic."""
    size: int = 0
    started: float | None = None
    """``time.monotonic()`` at the first record."""

    def add(
        self,
        partition: Any,
        records: Iterable[RecordLike],
        routes: Mapping[str, TopicRoute],
        decoder: Decoder = _decode,
    ) -> None:
        """Decode ``records`` of one partition into this batch.

        A record that cannot be decoded becomes a dead letter (stage ``decode``); it never
        stops the batch.

        Args:
            partition: the ``TopicPartition`` the records come from (in offset order).
            records: the records.
            routes: consumed topics by name.
            decoder: record to event (the default is the consumer's liberal decoder).
        """
        route = routes[partition.topic]
        items = self.items
        before = len(items)
        count = 0
        last = None
        for record in records:
            count += 1
            last = record
            try:
                items.append(Item.build(decoder(record, route), record, route))
            except Exception as exc:  # noqa: BLE001 - any decoding failure is the record's fault
                self.dead_letters.append(
                    DeadLetter.from_exception(record, route.dead_letter_topic, exc, stage="decode")
                )
        if last is None:
            return
        if self.started is None:
            self.started = time.monotonic()
        self.size += count
        self.consumed[route.name] += count
        self.decoded[route.name] += len(items) - before
        self.offsets[partition] = last.offset + 1

    def merge(self, other: Batch) -> None:
        """Append ``other`` (later records) to this batch."""
        if other.started is None:
            return
        self.items.extend(other.items)
        self.dead_letters.extend(other.dead_letters)
        self.offsets.update(other.offsets)
        self.consumed.update(other.consumed)
        self.decoded.update(other.decoded)
        self.size += other.size
        if self.started is None:
            self.started = other.started

    def rows_by_table(self) -> dict[str, list[tuple[Any, ...]]]:
        """The batch's rows grouped by table, in record order within each table."""
        out: dict[str, list[tuple[Any, ...]]] = {}
        for item in self.items:
            out.setdefault(item.table, []).append(item.row)
        return out

    def written_per_topic(self, refused: Iterable[Item] = ()) -> Counter[str]:
        """Count the events written per topic, leaving out ``refused`` items."""
        counts = Counter(self.decoded)
        counts.subtract(item.route.name for item in refused)
        return +counts
