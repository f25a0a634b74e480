"""Ingestion: Kafka topics into PostgreSQL tables, effectively once.

:class:`IngestService` is the service (``omniclaude consume``); the rest are its parts:
decoding (liberal, deterministic ids), batches, the store (one transaction per batch), dead
letters, topics, health and metrics.
"""

from omniclaude.consuming.dead_letters import HEADER_PREFIX, DeadLetter, Header
from omniclaude.consuming.decoding import EVENT_ID_NAMESPACE, decode_record, derived_event_id
from omniclaude.consuming.metrics import IngestMetrics
from omniclaude.consuming.runner import IngestStats
from omniclaude.consuming.service import IngestService
from omniclaude.kafka.topics import TopicRoute, topic_routes

__all__ = [
    "EVENT_ID_NAMESPACE",
    "HEADER_PREFIX",
    "DeadLetter",
    "Header",
    "IngestMetrics",
    "IngestService",
    "IngestStats",
    "TopicRoute",
    "decode_record",
    "derived_event_id",
    "topic_routes",
]
