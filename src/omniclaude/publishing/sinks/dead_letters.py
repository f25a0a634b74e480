"""The Kafka sink's dead-letter stage: events that can never be delivered, kept and published.

An event is dead-lettered when the broker refused it with a non-retriable error
(:func:`omniclaude.retry.is_retriable`: too large for this broker's limit, not authorized,
invalid topic, ...). The stage

1. records it at once in the outbox's dead-letter table (full payload, reason, error class),
   so it survives a crash and ``omniclaude dlq list --local`` shows it;
2. publishes it to ``<topic><dead_letter_suffix>`` when the broker is reachable, with the
   ``omniclaude.dlq.*`` headers of :class:`~omniclaude.kafka.DeadLetterHeaders` (stage
   ``produce``) and the value cut to the contract's size limit when the broker refused it for
   its size (``truncated: true``; the outbox keeps the whole payload);
3. marks it published once the broker acknowledged it (or refused even the dead letter with a
   non-retriable error: it then stays in the outbox table only, never retried forever).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

from omniclaude.events.limits import MAX_EVENT_BYTES
from omniclaude.kafka import DeadLetterHeaders
from omniclaude.publishing.outbox import DeadLetter, Outbox, OutboxRecord
from omniclaude.publishing.producer import BrokerProducer, SendRequest
from omniclaude.retry import is_retriable

__all__ = ["DeadLetterStage"]

log = logging.getLogger(__name__)

_HEADROOM: Final = 16 * 1024
"""Bytes kept free for the headers when a dead letter's value is cut to the size limit."""


class DeadLetterStage:
    """Records and publishes the sink's dead letters (see the module docstring).

    Args:
        outbox: the sink's outbox (its dead-letter table).
        dead_letter_suffix: appended to the original topic.
    """

    def __init__(self, outbox: Outbox, *, dead_letter_suffix: str) -> None:
        self.outbox = outbox
        self.suffix = dead_letter_suffix
        self.pending = 0
        """Dead letters recorded but not yet published."""
        self.count = 0
        """Dead letters recorded by this sink so far."""

    async def load(self) -> None:
        """Count the unpublished dead letters an earlier run left (call after the outbox opened)."""
        self.pending = await asyncio.to_thread(self.outbox.pending_dead_letters)

    def record(self, record: OutboxRecord, reason: str, error_class: str) -> None:
        """Keep ``record`` as a dead letter (step 1); it is published by :meth:`publish`."""
        log.error(
            "dead letter: event %s for %s cannot be delivered: %s (%s)",
            record.event_id, record.topic, reason, error_class,
            extra={"event_id": record.event_id, "error_class": error_class},
        )  # fmt: skip
        letter = DeadLetter(
            topic=record.topic, key=record.key, value=record.value, event_id=record.event_id,
            reason=reason, error_class=error_class,
        )  # fmt: skip
        self.outbox.add_dead_letters([letter])
        self.pending += 1
        self.count += 1

    def request(self, letter: DeadLetter) -> SendRequest:
        """The record that publishes ``letter`` (step 2)."""
        value = letter.value[: MAX_EVENT_BYTES - _HEADROOM]
        headers = DeadLetterHeaders(
            error_class=letter.error_class, error_message=letter.reason, stage="produce",
            original_topic=letter.topic, event_id=letter.event_id,
            original_size=len(letter.value), truncated=len(value) < len(letter.value),
        ).encode()  # fmt: skip
        return SendRequest(f"{letter.topic}{self.suffix}", letter.key, value, headers)

    async def publish(self, broker: BrokerProducer) -> bool:
        """Publish every unpublished dead letter (steps 2-3); False if some must wait."""
        letters = await asyncio.to_thread(self.outbox.dead_letters, unpublished_only=True)
        if not letters:
            self.pending = 0
            return True
        outcomes = await broker.send_batch([self.request(x) for x in letters])
        done = [
            x.id for x, o in zip(letters, outcomes, strict=True) if o is None or not is_retriable(o)
        ]
        await asyncio.to_thread(self.outbox.mark_dead_letters, [i for i in done if i is not None])
        self.pending = max(self.pending - len(done), 0)
        return len(done) == len(letters)
