"""Event contracts: pure data, no I/O. One model per event type, one catalogue, one codec."""

from omniclaude.events.actions import ActionType, AgentAction
from omniclaude.events.base import EventBase, JsonObject, ProducerInfo, TimedEvent, utc_now
from omniclaude.events.catalog import (
    CATALOG,
    EXECUTION_SUMMARY_TABLE,
    TOPICS,
    Event,
    EventKind,
    TopicSpec,
    kind_of,
    topic_spec,
)
from omniclaude.events.codec import decode, decode_mapping, dumps, encode, loads
from omniclaude.events.executions import (
    STATUS_RANK,
    ExecutionCompleted,
    ExecutionFailed,
    ExecutionProgress,
    ExecutionStarted,
    ExecutionStatus,
)
from omniclaude.events.llm import COST_SOURCE_RANK, CostSource, LlmCall, llm_call_id
from omniclaude.events.manifests import ManifestInjection, ManifestSection
from omniclaude.events.metrics import MetricKind, MetricPoint, Temporality
from omniclaude.events.routing import AgentAlternative, RoutingDecision
from omniclaude.events.transformations import AgentTransformation, TransformationPhase

__all__ = [
    "CATALOG",
    "COST_SOURCE_RANK",
    "EXECUTION_SUMMARY_TABLE",
    "STATUS_RANK",
    "TOPICS",
    "ActionType",
    "AgentAction",
    "AgentAlternative",
    "AgentTransformation",
    "CostSource",
    "Event",
    "EventBase",
    "EventKind",
    "ExecutionCompleted",
    "ExecutionFailed",
    "ExecutionProgress",
    "ExecutionStarted",
    "ExecutionStatus",
    "JsonObject",
    "LlmCall",
    "ManifestInjection",
    "ManifestSection",
    "MetricKind",
    "MetricPoint",
    "ProducerInfo",
    "RoutingDecision",
    "Temporality",
    "TimedEvent",
    "TopicSpec",
    "TransformationPhase",
    "decode",
    "decode_mapping",
    "dumps",
    "encode",
    "kind_of",
    "llm_call_id",
    "loads",
    "topic_spec",
    "utc_now",
]
