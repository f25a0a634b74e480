"""The one catalogue: event type ↔ model ↔ topic ↔ table.

Code and tests enumerate this table; nothing else lists event types, topics or tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from omniclaude.events.actions import AgentAction
from omniclaude.events.base import EventBase
from omniclaude.events.executions import (
    ExecutionCompleted,
    ExecutionFailed,
    ExecutionProgress,
    ExecutionStarted,
)
from omniclaude.events.llm import LlmCall
from omniclaude.events.manifests import ManifestInjection
from omniclaude.events.metrics import MetricPoint
from omniclaude.events.routing import RoutingDecision
from omniclaude.events.transformations import AgentTransformation

__all__ = [
    "CATALOG",
    "EXECUTION_SUMMARY_TABLE",
    "TOPICS",
    "Event",
    "EventKind",
    "TopicSpec",
    "kind_of",
    "topic_spec",
]

Event = (
    AgentAction
    | ExecutionStarted
    | ExecutionProgress
    | ExecutionCompleted
    | ExecutionFailed
    | RoutingDecision
    | ManifestInjection
    | AgentTransformation
    | LlmCall
    | MetricPoint
)
"""Any event the system carries."""


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """A topic family: its settings key, its default name, and the table it feeds."""

    key: str
    default_name: str
    table: str
    default_event_type: str | None
    """Event type assumed for a bare object without ``event_type`` (None: infer from fields)."""


@dataclass(frozen=True, slots=True)
class EventKind:
    """One event type: its model, the topic family that carries it and its table."""

    event_type: str
    model: type[EventBase]
    topic: TopicSpec


EXECUTION_SUMMARY_TABLE: Final = "agent_execution_logs"
"""One row per execution, maintained from ``agent_execution_events`` in the same transaction."""

TOPICS: Final[tuple[TopicSpec, ...]] = (
    TopicSpec("actions", "agent-actions", "agent_actions", "agent_action"),
    TopicSpec(
        "routing_decisions",
        "agent-routing-decisions",
        "agent_routing_decisions",
        "routing_decision",
    ),
    TopicSpec(
        "manifest_injections",
        "intelligence-events",
        "agent_manifest_injections",
        "manifest_injection",
    ),
    TopicSpec("executions", "agent-execution-logs", "agent_execution_events", None),
    TopicSpec(
        "transformations",
        "agent-transformations",
        "agent_transformation_events",
        "agent_transformation",
    ),
    TopicSpec("llm_calls", "agent-llm-calls", "agent_llm_calls", "llm_call"),
    TopicSpec("metrics", "agent-metrics", "agent_metric_points", "metric_point"),
)

_BY_KEY = {spec.key: spec for spec in TOPICS}

CATALOG: Final[tuple[EventKind, ...]] = (
    EventKind("agent_action", AgentAction, _BY_KEY["actions"]),
    EventKind("execution_started", ExecutionStarted, _BY_KEY["executions"]),
    EventKind("execution_progress", ExecutionProgress, _BY_KEY["executions"]),
    EventKind("execution_completed", ExecutionCompleted, _BY_KEY["executions"]),
    EventKind("execution_failed", ExecutionFailed, _BY_KEY["executions"]),
    EventKind("routing_decision", RoutingDecision, _BY_KEY["routing_decisions"]),
    EventKind("manifest_injection", ManifestInjection, _BY_KEY["manifest_injections"]),
    EventKind("agent_transformation", AgentTransformation, _BY_KEY["transformations"]),
    EventKind("llm_call", LlmCall, _BY_KEY["llm_calls"]),
    EventKind("metric_point", MetricPoint, _BY_KEY["metrics"]),
)

_BY_TYPE = {kind.event_type: kind for kind in CATALOG}


def kind_of(event_type: str) -> EventKind | None:
    """Return the catalogue entry for ``event_type``, or None when it is unknown."""
    return _BY_TYPE.get(event_type)


def topic_spec(key: str) -> TopicSpec:
    """Return the topic family with settings key ``key``.

    Raises:
        KeyError: no such topic family.
    """
    return _BY_KEY[key]
