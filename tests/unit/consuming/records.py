"""Fake Kafka records and partitions for the consumer's unit tests."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from omniclaude.kafka.topics import topic_routes
from omniclaude.settings import TopicSettings

ROUTES = topic_routes(TopicSettings(), "t-")
ACTIONS = "t-agent-actions"
EXECUTIONS = "t-agent-execution-logs"


class TP(NamedTuple):
    """Stands in for ``aiokafka.TopicPartition`` (same fields, hashable)."""

    topic: str
    partition: int


@dataclass(frozen=True)
class Record:
    """Stands in for ``aiokafka.ConsumerRecord``."""

    topic: str
    partition: int
    offset: int
    value: bytes | None
    key: bytes | None = None
    timestamp: int = 1_767_225_600_000  # 2026-01-01T00:00:00Z
    headers: tuple[tuple[str, bytes], ...] = field(default=())


def bare_action(correlation_id: str, **extra: Any) -> bytes:
    """The spec's bare agent-action object (no envelope), as JSON bytes."""
    body = {
        "correlation_id": correlation_id,
        "action_type": "tool_call",
        "action_name": "bash",
        "action_details": {"command": "ls"},
        "timestamp": "2026-01-02T03:04:05",
        **extra,
    }
    return json.dumps(body).encode()


def record(
    value: bytes | None, *, topic: str = ACTIONS, partition: int = 0, offset: int = 0, **kwargs: Any
) -> Record:
    """Build one record of ``topic``."""
    return Record(topic=topic, partition=partition, offset=offset, value=value, **kwargs)
