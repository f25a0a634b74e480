"""The one place that knows Kafka: clients, topics, dead-letter headers, retry decisions.

* :class:`KafkaClients` builds every aiokafka producer, consumer and admin client from the
  settings (bootstrap servers, SASL/TLS); no other module constructs one.
* :func:`topic_routes`, :func:`ensure_topics` and :class:`TopicWatcher` name the topics and
  keep them present on a broker that forgets them (memory-only Tansu).
* :class:`DeadLetterHeaders` is the codec of the ``omniclaude.dlq.*`` headers that the SDK,
  the consumer and ``omniclaude dlq`` share.
* :func:`is_retriable` and :class:`Backoff` (defined in :mod:`omniclaude.retry`, which the
  agent runtime uses too) decide whether and when to try again.

Importing this package does not import aiokafka; aiokafka's error classes used by callers are
re-exported lazily (``omniclaude.kafka.KafkaError``).
"""

from __future__ import annotations

import importlib
from typing import Any

from omniclaude.kafka.clients import KafkaClients, clients_for, close_quietly
from omniclaude.kafka.dead_letters import (
    HEADER_PREFIX,
    DeadLetterHeaders,
    Header,
    describe_error,
    foreign_headers,
)
from omniclaude.kafka.topics import (
    TopicCreationError,
    TopicRoute,
    TopicWatcher,
    all_topics,
    dead_letter_topics,
    ensure_topics,
    missing_topics,
    topic_routes,
)
from omniclaude.retry import Backoff, is_retriable

__all__ = [
    "HEADER_PREFIX",
    "Backoff",
    "CommitFailedError",
    "ConsumerRebalanceListener",
    "DeadLetterHeaders",
    "Header",
    "IllegalStateError",
    "KafkaClients",
    "KafkaError",
    "TopicCreationError",
    "TopicPartition",
    "TopicRoute",
    "TopicWatcher",
    "all_topics",
    "clients_for",
    "close_quietly",
    "dead_letter_topics",
    "describe_error",
    "ensure_topics",
    "foreign_headers",
    "is_retriable",
    "missing_topics",
    "topic_routes",
]

_LAZY: dict[str, tuple[str, str]] = {
    "KafkaError": ("aiokafka.errors", "KafkaError"),
    "CommitFailedError": ("aiokafka.errors", "CommitFailedError"),
    "IllegalStateError": ("aiokafka.errors", "IllegalStateError"),
    "TopicPartition": ("aiokafka.structs", "TopicPartition"),
    "ConsumerRebalanceListener": ("aiokafka.abc", "ConsumerRebalanceListener"),
}


def __getattr__(name: str) -> Any:
    """aiokafka's public classes that callers name, imported on first access."""
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(target[0]), target[1])
    globals()[name] = value
    return value
