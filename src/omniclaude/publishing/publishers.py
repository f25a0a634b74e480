"""``EventPublisher``: routing decisions, manifest injections and agent transformations.

Each method builds its event (validated, with a clear error naming a bad field), sends it to
the sink and returns it. The correlation id may be omitted inside a correlation scope.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from omniclaude.events import (
    AgentAlternative,
    AgentTransformation,
    EventBase,
    ManifestInjection,
    ManifestSection,
    RoutingDecision,
    TransformationPhase,
)
from omniclaude.publishing.context import resolve_correlation_id
from omniclaude.publishing.emitter import Emitter, build_event
from omniclaude.publishing.redaction import Redactor
from omniclaude.publishing.sinks.base import EventSink

__all__ = ["EventPublisher"]

E = TypeVar("E", bound=EventBase)


class EventPublisher(Emitter):
    """Publish the router's, the manifest builder's and the transformer's events.

    Args:
        sink: where events go (None: the process default sink).
        db: instead of a sink, an asyncpg connection or pool.
        redactor: extra redaction before the sink's own.
    """

    def __init__(
        self, sink: EventSink | None = None, *, db: Any = None, redactor: Redactor | None = None
    ) -> None:
        super().__init__(db, sink=sink, redactor=redactor)

    async def publish(self, event: E) -> E:
        """Send any already-built event; return it."""
        return await self.emit(event)

    async def routing_decision(
        self,
        /,
        correlation_id: uuid.UUID | str | None = None,
        *,
        user_request: str,
        selected_agent: str,
        confidence_score: float,
        routing_strategy: str,
        routing_time_ms: float,
        alternatives: Iterable[AgentAlternative | Mapping[str, Any]] = (),
        reasoning: str | None = None,
        **fields: Any,
    ) -> RoutingDecision:
        """Publish the router's choice for one request.

        Args:
            correlation_id: the trace; None means the current one.
            user_request: the prompt routed.
            selected_agent: the agent chosen.
            confidence_score: 0..1.
            routing_strategy: how it was chosen (``fuzzy``, ``explicit``, ``fallback``...).
            routing_time_ms: how long routing took.
            alternatives: the other candidates with their confidence.
            reasoning: why, in words.
            **fields: other :class:`RoutingDecision` fields (component confidences,
                ``matched_triggers``, ``cache_hit``, ``is_fallback``, ``session_id``...).

        Raises:
            EventValidationError: a field is invalid; the message names it.
            NoCorrelationIdError: no correlation id and no current scope.
        """
        event = build_event(
            RoutingDecision,
            correlation_id=resolve_correlation_id(correlation_id),
            user_request=user_request,
            selected_agent=selected_agent,
            confidence_score=confidence_score,
            routing_strategy=routing_strategy,
            routing_time_ms=routing_time_ms,
            alternatives=list(alternatives),
            reasoning=reasoning,
            **fields,
        )
        return await self.emit(event)

    async def manifest_injection(
        self,
        /,
        correlation_id: uuid.UUID | str | None = None,
        *,
        agent_name: str,
        sections: Sequence[ManifestSection | Mapping[str, Any]] = (),
        total_query_time_ms: float,
        **fields: Any,
    ) -> ManifestInjection:
        """Publish what context was injected into an agent.

        Args:
            correlation_id: the trace; None means the current one.
            agent_name: the agent that received the manifest.
            sections: the sections (name, size_bytes, query_time_ms...).
            total_query_time_ms: the time spent building it.
            **fields: other :class:`ManifestInjection` fields (``routing_decision_id``,
                ``is_fallback``, ``warnings``, ``query_failures``...).

        Raises:
            EventValidationError: a field is invalid; the message names it.
            NoCorrelationIdError: no correlation id and no current scope.
        """
        event = build_event(
            ManifestInjection,
            correlation_id=resolve_correlation_id(correlation_id),
            agent_name=agent_name,
            sections=list(sections),
            total_query_time_ms=total_query_time_ms,
            **fields,
        )
        return await self.emit(event)

    async def transformation(
        self,
        /,
        correlation_id: uuid.UUID | str | None = None,
        *,
        target_agent: str,
        source_agent: str | None = None,
        phase: TransformationPhase | str = TransformationPhase.COMPLETE,
        transformation_reason: str | None = None,
        confidence: float | None = None,
        **fields: Any,
    ) -> AgentTransformation:
        """Publish an agent handing over to another (start, complete or failed).

        Args:
            correlation_id: the trace; None means the current one.
            target_agent: the agent taking over.
            source_agent: the agent handing over.
            phase: ``transformation_start``, ``transformation_complete`` or
                ``transformation_failed``.
            transformation_reason: why.
            confidence: the router's confidence, 0..1.
            **fields: other :class:`AgentTransformation` fields.

        Raises:
            EventValidationError: a field is invalid; the message names it.
            NoCorrelationIdError: no correlation id and no current scope.
        """
        event = build_event(
            AgentTransformation,
            correlation_id=resolve_correlation_id(correlation_id),
            target_agent=target_agent,
            source_agent=source_agent,
            phase=phase,
            transformation_reason=transformation_reason,
            confidence=confidence,
            **fields,
        )
        return await self.emit(event)
