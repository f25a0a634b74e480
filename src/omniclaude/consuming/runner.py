"""The consume loop: fetch and decode batch N+1 while batch N is written, commit in order.

Two tasks share a queue of one batch:

* the **fetcher** polls the broker, decodes records into a :class:`~.batcher.Batch` (bad
  records become dead letters on the spot) and hands the batch over when it is full or its
  time is up; then it starts on the next one at once, so fetching and decoding overlap with
  the database write;
* the **writer** settles each batch, strictly in order:

  1. write the batch's events in one database transaction (refused rows are isolated and
     become dead letters, see :mod:`.store`);
  2. commit that transaction;
  3. publish the batch's dead letters and wait for the broker's acks;
  4. commit the batch's offsets (one past its last record, per partition).

Offsets are committed only after the rows they cover are durable, and inserts are idempotent
on ``event_id``, so a crash anywhere replays at most the uncommitted batches, adding no row.

When the database is unreachable the writer retries the same batch with exponential backoff
(a failure no retry cures soon - a missing table, a refused password: see
:func:`omniclaude.retry.is_retriable` - is retried at the longest backoff and logged at ERROR;
the batch is never dropped for the database's fault);
the fetcher, finding the queue still full, pauses every partition and keeps polling (which
returns nothing) so the group keeps its membership, then resumes once the batch is written.
On a rebalance, the revoked partitions' batches are written and committed before the
partitions go (:meth:`Runner.drain`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

from omniclaude.consuming.batcher import Batch, BatchPolicy
from omniclaude.consuming.dead_letters import DeadLetter, DeadLetterPublisher
from omniclaude.consuming.metrics import IngestMetrics
from omniclaude.consuming.store import EventStore
from omniclaude.kafka import TopicRoute
from omniclaude.retry import Backoff, is_retriable

__all__ = ["IngestStats", "Runner"]

log = logging.getLogger(__name__)

T = TypeVar("T")

POLL_MS: Final = 200
"""Longest single wait for records, so stop and drain requests are seen promptly."""
ADAPTIVE_RECHECK_MS: Final = 5
"""With records in hand and the fetch drained, how often to look whether the writer is free."""
HOLD_AFTER_S: Final = 1.0
"""How long the fetcher waits for the writer before pausing the partitions."""
DECODE_CHUNK: Final = 64
"""Records decoded between two yields to the event loop, so the writer's round trips to the
database are not held up behind the decoding of a whole fetch."""
BROKER_PROBE_S: Final = 2.0
"""How often an idle consumer checks that the broker still answers (readiness)."""
BROKER_PROBE_TIMEOUT_S: Final = 3.0
TOPIC_CHECK_S: Final = 5.0
"""How often topics are re-created while this consumer has no partition (broker restarts)."""


@dataclass
class IngestStats:
    """What the service did so far (read-only for tests and probes)."""

    events_written: Counter[str] = field(default_factory=Counter)
    """Events in committed transactions, per topic."""
    events_consumed: Counter[str] = field(default_factory=Counter)
    dead_lettered: int = 0
    batches: int = 0
    last_commit_time: float | None = None
    """Unix time of the last offset commit."""
    database_ok: bool = True
    broker_ok: bool = True
    last_error: str | None = None


class Runner:
    """Runs the consume loop of one service (see the module docstring for the protocol).

    Args:
        consumer: a started, subscribed ``AIOKafkaConsumer`` (manual commits).
        store: where events are written.
        dead_letters: where refused records go.
        routes: consumed topics by name.
        policy: batch size and time.
        backoff: retry policy for the database and the broker.
        metrics: where to count.
        stats: where to record progress.
        ensure_topics: re-creates missing topics (after a memory-only broker restarted).
        on_written: told the events of each batch once its transaction committed (the
            continuous OTLP export); it must not block, and what it raises is only logged.
    """

    def __init__(
        self,
        *,
        consumer: Any,
        store: EventStore,
        dead_letters: DeadLetterPublisher,
        routes: Mapping[str, TopicRoute],
        policy: BatchPolicy,
        backoff: Backoff,
        metrics: IngestMetrics,
        stats: IngestStats,
        ensure_topics: Callable[[], Awaitable[object]],
        on_written: Callable[[list[Any]], None] | None = None,
    ) -> None:
        self._consumer = consumer
        self._store = store
        self._dead_letters = dead_letters
        self._routes = routes
        self._policy = policy
        self._backoff = backoff
        self.metrics = metrics
        self.stats = stats
        self._ensure_topics = ensure_topics
        self._on_written = on_written
        self._queue: asyncio.Queue[Batch | None] = asyncio.Queue(maxsize=1)
        self._space = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._queued = 0
        self._current: Batch | None = None
        self._carry = Batch()
        self._stopping = False
        self._flush = False
        self._paused = False
        self._uncommitted: dict[Any, int] = {}
        self._commit_task: asyncio.Task[None] | None = None
        self._last_topic_check = 0.0
        self._last_broker_probe = 0.0

    # ------------------------------------------------------------------ control
    def request_stop(self) -> None:
        """Ask the loop to finish the batch in hand, commit it and return."""
        self._stopping = True

    async def drain(self, timeout_s: float) -> bool:
        """Write and commit every record fetched so far (called before a rebalance).

        Returns:
            True when everything was settled within ``timeout_s``.
        """
        self._flush = True
        self._update_idle()
        try:
            async with asyncio.timeout(timeout_s):
                await self._idle.wait()
        except TimeoutError:
            log.warning("rebalance: batches still unwritten after %.0fs", timeout_s)
            return False
        finally:
            self._flush = False
        return True

    def on_assigned(self, partitions: Any) -> None:
        """Keep newly assigned partitions paused while the writer is stuck."""
        self.metrics.lag.clear()
        if self._paused and partitions:
            self._consumer.pause(*partitions)

    def _update_idle(self) -> None:
        busy = self._queued > 0 or (self._current is not None and self._current.started)
        if busy:
            self._idle.clear()
        else:
            self._idle.set()

    # ------------------------------------------------------------------ main
    async def run(self) -> None:
        """Run the fetcher and the writer until :meth:`request_stop`; settle what was fetched.

        Raises:
            Exception: whatever killed one of the two tasks (the other is cancelled).
        """
        fetcher = asyncio.create_task(self._fetch_loop(), name="omniclaude-ingest-fetch")
        writer = asyncio.create_task(self._write_loop(), name="omniclaude-ingest-write")
        try:
            done, _ = await asyncio.wait({fetcher, writer}, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()
            await asyncio.gather(fetcher, writer)
        finally:
            for task in (fetcher, writer):
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.gather(fetcher, writer, return_exceptions=True)

    # ------------------------------------------------------------------ fetcher
    async def _fetch_loop(self) -> None:
        try:
            while not self._stopping:
                batch, self._carry = self._carry, Batch()
                self._current = batch
                await self._collect(batch)
                if batch.started is not None:
                    await self._hand_over(batch)
                self._current = None
                self._update_idle()
        finally:
            self._current = None
            await self._queue.put(None)

    async def _collect(self, batch: Batch) -> None:
        policy = self._policy
        drained = False
        while True:
            now = time.monotonic()
            if batch.started is not None and (
                self._stopping or self._flush or policy.is_full(batch, now)
            ):
                return
            if self._stopping:
                return
            timeout_ms = policy.remaining_ms(batch, now, poll_ms=POLL_MS)
            if drained and policy.adaptive and batch.started is not None:
                timeout_ms = min(timeout_ms, ADAPTIVE_RECHECK_MS)  # the writer may free up
            room = policy.max_events - batch.size
            records = await self._poll(timeout_ms, room)
            got = 0
            for partition, messages in records.items():
                got += len(messages)
                for start in range(0, len(messages), DECODE_CHUNK):
                    batch.add(partition, messages[start : start + DECODE_CHUNK], self._routes)
                    self._update_idle()
                    await asyncio.sleep(0)
            drained = got < room
            if policy.hand_over_now(batch, drained=drained, writer_idle=self._queued == 0):
                return

    async def _poll(self, timeout_ms: int, max_records: int | None) -> dict[Any, list[Any]]:
        from omniclaude.kafka import KafkaError

        try:
            records: dict[Any, list[Any]] = await self._consumer.getmany(
                timeout_ms=timeout_ms, max_records=max_records
            )
        except KafkaError as exc:
            self._broker_failed(exc)
            await asyncio.sleep(self._backoff.initial_s)
            return {}
        if records:
            self.stats.broker_ok = True
        else:
            # An empty poll says nothing: aiokafka returns {} while the broker is down too.
            await self._probe_broker()
            if not self._consumer.assignment():
                await self._check_topics()
        return records

    async def _probe_broker(self) -> None:
        """While idle, ask the broker for metadata now and then, so readiness tells the truth."""
        from omniclaude.kafka import KafkaError

        now = time.monotonic()
        if self.stats.broker_ok and now - self._last_broker_probe < BROKER_PROBE_S:
            return
        self._last_broker_probe = now
        try:
            await asyncio.wait_for(self._consumer.topics(), BROKER_PROBE_TIMEOUT_S)
        except (KafkaError, TimeoutError, OSError) as exc:
            self._broker_failed(exc)
        else:
            self.stats.broker_ok = True

    async def _check_topics(self) -> None:
        """With no partition assigned, re-create missing topics now and then."""
        now = time.monotonic()
        if now - self._last_topic_check < TOPIC_CHECK_S:
            return
        self._last_topic_check = now
        try:
            await self._ensure_topics()
        except Exception as exc:  # noqa: BLE001 - the broker may be away; try again later
            self._broker_failed(exc)

    def _broker_failed(self, exc: BaseException) -> None:
        self.stats.broker_ok = False
        self.stats.last_error = f"broker: {type(exc).__name__}: {exc}"
        log.warning("broker: %s: %s", type(exc).__name__, exc)

    async def _hand_over(self, batch: Batch) -> None:
        waited_since = time.monotonic()
        while self._queue.full():
            self._space.clear()
            if time.monotonic() - waited_since < HOLD_AFTER_S:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(HOLD_AFTER_S):
                        await self._space.wait()
                continue
            # The writer is stuck (database away): stop fetching, stay in the group.
            self._pause()
            records = await self._poll(POLL_MS, None)
            for partition, messages in records.items():
                self._carry.add(partition, messages, self._routes)
        self._queued += 1
        self._queue.put_nowait(batch)
        self._resume()

    def _pause(self) -> None:
        assigned = self._consumer.assignment()
        if not self._paused:
            log.warning("writer is not keeping up or the database is away: pausing fetches")
            self._paused = True
            self.metrics.paused.set(1)
        if assigned:
            self._consumer.pause(*assigned)

    def _resume(self) -> None:
        if self._paused:
            self._paused = False
            self.metrics.paused.set(0)
            paused = self._consumer.paused()
            if paused:
                self._consumer.resume(*paused)
            log.info("resumed fetching")

    # ------------------------------------------------------------------ writer
    async def _write_loop(self) -> None:
        try:
            while True:
                batch = await self._queue.get()
                self._space.set()
                if batch is None:
                    return
                try:
                    await self._settle(batch)
                except BaseException:
                    self._batch_done()
                    raise
        finally:
            task, self._commit_task = self._commit_task, None
            current = asyncio.current_task()
            if task is not None and current is not None and current.cancelling():
                task.cancel()  # stopping for good: the commit may hang on a dead broker
                await asyncio.gather(task, return_exceptions=True)
            elif task is not None:
                await task

    def _batch_done(self) -> None:
        self._queued -= 1
        self._update_idle()

    async def _await_commit(self) -> None:
        task, self._commit_task = self._commit_task, None
        if task is not None:
            await task

    async def _settle(self, batch: Batch) -> None:
        """Steps 1-4 of the protocol in the module docstring, for one batch.

        Step 4 runs in the background, overlapping the next batch's write; the next batch's
        step 4 first waits for it, so offsets are still committed in order, and each only
        after its own rows and dead letters are stored.
        """
        started = time.perf_counter()
        refused = await self._retry(lambda: self._store.write(batch.items), "database")
        self.metrics.write_seconds.observe(time.perf_counter() - started)
        letters = list(batch.dead_letters)
        letters.extend(
            DeadLetter.from_exception(item.record, item.route.dead_letter_topic, exc, stage="store")
            for item, exc in refused
        )
        if letters:
            await self._retry(lambda: self._dead_letters.publish(letters), "broker")
        self._account(batch, [item for item, _ in refused], letters)
        if self._on_written is not None:
            self._tell_written(batch, refused)
        await self._await_commit()
        self._commit_task = asyncio.create_task(self._commit_batch(batch))

    def _tell_written(self, batch: Batch, refused: list[tuple[Any, BaseException]]) -> None:
        assert self._on_written is not None  # noqa: S101 - checked by the caller
        skipped = {id(item) for item, _ in refused}
        try:
            self._on_written([item.event for item in batch.items if id(item) not in skipped])
        except Exception:  # an observer never fails the write path
            log.exception("on_written failed; the batch is stored")

    async def _commit_batch(self, batch: Batch) -> None:
        try:
            await self._commit(batch.offsets)
        finally:
            self._batch_done()

    async def _retry(self, attempt: Callable[[], Awaitable[T]], what: str) -> T:
        """Run ``attempt`` until it succeeds; the batch in hand is never given up.

        A retriable failure waits the next backoff delay; any other (an operator must act:
        a missing table, a refused password or ACL) waits the longest and is logged at ERROR.
        """
        backoff = self._backoff
        while True:
            try:
                result = await attempt()
            except Exception as exc:  # noqa: BLE001 - the batch is kept whatever failed
                if what == "database":
                    self.stats.database_ok = False
                    self.stats.last_error = str(exc)
                    self.metrics.store_retries.inc()
                else:
                    self._broker_failed(exc)
                if is_retriable(exc):
                    delay = backoff.next_delay()
                    log.warning("%s unavailable (%s); retrying in %.2fs", what, exc, delay)
                else:
                    delay = backoff.longest()
                    log.error(
                        "%s refused the batch (%s: %s), which no retry cures by itself; the "
                        "batch is kept and retried every %.0fs until this is fixed",
                        what, type(exc).__name__, exc, delay,
                    )  # fmt: skip
                await asyncio.sleep(delay)
                if what == "broker":
                    with contextlib.suppress(Exception):
                        await self._ensure_topics()
                continue
            backoff.reset()
            if what == "database":
                self.stats.database_ok = True
            return result

    async def _commit(self, offsets: Mapping[Any, int]) -> None:
        from omniclaude.kafka import CommitFailedError, IllegalStateError, KafkaError

        pending = self._uncommitted
        pending.update(offsets)
        assigned = self._consumer.assignment()
        for partition in [tp for tp in pending if tp not in assigned]:
            del pending[partition]  # another member owns it now; our rows are stored anyway
        if not pending:
            return
        try:
            await self._consumer.commit(dict(pending))
        except (CommitFailedError, IllegalStateError) as exc:
            self.metrics.commit_failures.inc()
            log.warning(
                "offset commit refused (%s); the batch is stored, a redelivery is harmless", exc
            )
            pending.clear()
            return
        except KafkaError as exc:
            self.metrics.commit_failures.inc()
            self._broker_failed(exc)
            return  # kept in pending: committed with the next batch
        committed = dict(pending)
        pending.clear()
        now = time.time()
        self.stats.last_commit_time = now
        self.metrics.last_commit.set(now)
        self._update_lag(committed)

    def _update_lag(self, committed: Mapping[Any, int]) -> None:
        lags: dict[tuple[str, int], int] = {}
        for partition, offset in committed.items():
            highwater = self._consumer.highwater(partition)
            if highwater is not None:
                lags[(partition.topic, partition.partition)] = highwater - offset
        for (topic, number), lag in lags.items():
            self.metrics.lag.labels(topic=topic, partition=str(number)).set(max(0, lag))

    def _account(self, batch: Batch, refused: list[Any], letters: list[DeadLetter]) -> None:
        stats, metrics = self.stats, self.metrics
        stats.batches += 1
        metrics.batch_size.observe(batch.size)
        for topic, count in batch.consumed.items():
            stats.events_consumed[topic] += count
            metrics.consumed.labels(topic=topic).inc(count)
        for topic, count in batch.written_per_topic(refused).items():
            stats.events_written[topic] += count
            metrics.written.labels(topic=topic).inc(count)
        for letter in letters:
            metrics.dead_letters.labels(topic=letter.record.topic, stage=letter.stage).inc()
        stats.dead_lettered += len(letters)
