"""Request and response bodies of the HTTP API (the events themselves live in ``events``).

Every value a request carries must be storable, by the event contract's rules
(:mod:`omniclaude.events.limits`): PostgreSQL text cannot hold a NUL character, UTF-8 cannot
hold a lone surrogate, JSON cannot hold NaN; such input is refused with a 422 naming the field
instead of failing later in the database.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from omniclaude.events import ExecutionStatus, dumps
from omniclaude.events.limits import MAX_BATCH_EVENTS, json_problem
from omniclaude.routing.router import MAX_PROMPT_CHARS
from omniclaude.storage.queries import ExecutionListItem, Overview

__all__ = [
    "AgentInfo",
    "AgentList",
    "ChildSummary",
    "ErrorItem",
    "ErrorResponse",
    "EventBatch",
    "EventBatchResponse",
    "ExecuteRequest",
    "ExecuteResponse",
    "ExecutionError",
    "ExecutionList",
    "ExecutionView",
    "HealthResponse",
    "IngestFigures",
    "KeyCreate",
    "KeyCreated",
    "KeyView",
    "OverviewResponse",
    "ReadyResponse",
    "RejectedEvent",
    "RouteAlternative",
    "RouteRequest",
    "RouteResponse",
    "unstorable",
]

MAX_CONTEXT_BYTES = 65_536
MAX_BATCH = MAX_BATCH_EVENTS


def unstorable(value: Any, path: str) -> str | None:
    """Return ``"<path>: <why>"`` for the first value in ``value`` that cannot be stored (the
    contract's rules for JSON: :func:`omniclaude.events.limits.json_problem`), or None."""
    found = json_problem(value)
    if found is None:
        return None
    where = path
    for part in found.path():
        where += f"[{part}]" if isinstance(part, int) else f".{part}"
    return f"{where}: {found.message}"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: Any, info: Any) -> Any:
        problem = unstorable(value, str(info.field_name))
        if problem:
            raise ValueError(problem)
        return value


def _bounded_context(value: dict[str, Any]) -> dict[str, Any]:
    if len(dumps(value)) > MAX_CONTEXT_BYTES:
        raise ValueError(f"context: larger than {MAX_CONTEXT_BYTES} bytes once encoded")
    return value


class ErrorItem(BaseModel):
    """One problem with a request: the field at fault and what is wrong."""

    field: str
    message: str


class ErrorResponse(BaseModel):
    """Every 4xx/5xx body: a code, a message naming the field, and the individual problems."""

    error: str = Field(description="A short code: invalid_request, unauthorized, forbidden...")
    message: str = Field(description="What went wrong, naming the field at fault.")
    errors: list[ErrorItem] = Field(default_factory=list)


class RouteRequest(_Strict):
    """A prompt to route."""

    user_prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS)
    context: dict[str, Any] = Field(default_factory=dict, description="e.g. files, domain")
    correlation_id: uuid.UUID | None = Field(default=None, description="Trace to attach to.")
    parent_correlation_id: uuid.UUID | None = None
    session_id: str | None = Field(default=None, max_length=256)
    exclude: list[str] = Field(default_factory=list, max_length=100)

    _context = field_validator("context")(_bounded_context)


class RouteAlternative(BaseModel):
    """Another agent the router considered."""

    agent_name: str
    confidence: float
    reason: str | None = None


class RouteResponse(BaseModel):
    """The router's decision (also published as a routing decision event)."""

    correlation_id: uuid.UUID
    event_id: uuid.UUID
    selected_agent: str
    confidence: float
    routing_strategy: str
    is_fallback: bool
    reasoning: str
    alternatives: list[RouteAlternative]
    matched_triggers: list[str]
    routing_time_ms: float
    cache_hit: bool


class ExecuteRequest(_Strict):
    """Run an agent: routed from the prompt, or the one named, or several in parallel."""

    user_prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS)
    context: dict[str, Any] = Field(
        default_factory=dict, description="files (relative paths), path (a directory)..."
    )
    agent: str | None = Field(default=None, max_length=128, description="Skip routing.")
    agents: list[str] = Field(
        default_factory=list, max_length=16, description="Run these in parallel as children."
    )
    correlation_id: uuid.UUID | None = Field(default=None, description="Choose the id.")
    parent_correlation_id: uuid.UUID | None = None
    session_id: str | None = Field(default=None, max_length=256)
    timeout_s: float | None = Field(default=None, gt=0, le=3600)
    max_attempts: int | None = Field(default=None, ge=1, le=10)

    _context = field_validator("context")(_bounded_context)


class ExecuteResponse(BaseModel):
    """An accepted execution: poll ``links.self`` for its status."""

    correlation_id: uuid.UUID
    status: ExecutionStatus
    links: dict[str, str]


class ChildSummary(BaseModel):
    """A child execution, in its parent's view."""

    correlation_id: uuid.UUID
    agent_name: str | None = None
    status: ExecutionStatus


class ExecutionError(BaseModel):
    """Why an execution failed."""

    type: str | None = None
    message: str | None = None


class EventCounts(BaseModel):
    """How many of an execution's events are stored (readable in its trace)."""

    emitted: int | None = Field(description="Events emitted for it (None: not known).")
    stored: int | None = Field(description="Of them, stored (None: no database to ask).")
    pending: dict[str, int] = Field(
        default_factory=dict, description="Per table, events not stored yet."
    )


class ExecutionView(BaseModel):
    """Where an execution stands, and its result once it ended (and its events are stored)."""

    correlation_id: uuid.UUID
    status: ExecutionStatus
    agent_name: str | None = None
    user_prompt: str | None = None
    parent_correlation_id: uuid.UUID | None = None
    session_id: str | None = None
    created_at: datetime | None = None
    completed_at: datetime | None = None
    duration_ms: float | None = None
    quality_score: float | None = None
    progress_stage: str | None = None
    progress_percent: float | None = None
    result: dict[str, Any] | None = None
    error: ExecutionError | None = None
    routing: dict[str, Any] | None = Field(
        default=None, description="The routing decision (while the runner still holds it)."
    )
    children: list[ChildSummary] = Field(default_factory=list)
    events: EventCounts | None = Field(
        default=None, description="How many of its events are stored (once it ended)."
    )
    source: Literal["live", "database"] = Field(
        description="live: from the runner running it; database: from the stored summary."
    )


class ExecutionList(BaseModel):
    """A page of executions, newest first, and the window it covers."""

    items: list[ExecutionListItem]
    next_cursor: str | None = Field(description="Pass as ``cursor`` for the next page.")
    since: datetime
    until: datetime


class IngestFigures(BaseModel):
    """What the consumer reports about itself (its Prometheus ``/metrics``)."""

    reachable: bool = Field(description="False when the consumer's metrics did not answer.")
    lag_by_topic: dict[str, int] = Field(default_factory=dict)
    dead_letters_by_topic: dict[str, int] = Field(default_factory=dict)
    last_commit_age_s: float | None = None
    paused: bool = False

    @property
    def total_lag(self) -> int:
        """Records not yet committed, over every topic."""
        return sum(self.lag_by_topic.values())

    @property
    def total_dead_letters(self) -> int:
        """Records dead-lettered since the consumer started."""
        return sum(self.dead_letters_by_topic.values())


class OverviewResponse(Overview):
    """The overview: the database's figures over the window, and the consumer's state."""

    ingest: IngestFigures


class EventBatch(BaseModel):
    """Events to publish (each validated on its own)."""

    events: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_BATCH)
    default_type: str | None = Field(
        default=None,
        description="Event type for items without event_type (e.g. agent_action for bare "
        "spec-style action objects); execution lifecycle types are inferred from fields.",
    )


class RejectedEvent(BaseModel):
    """An item of a batch that was not published, and why."""

    index: int
    field: str
    message: str


class EventBatchResponse(BaseModel):
    """What happened to each item: accepted items are published, rejected ones are listed."""

    accepted: int
    rejected: int
    event_ids: list[uuid.UUID]
    errors: list[RejectedEvent]


class AgentInfo(BaseModel):
    """A registered agent."""

    model_config = ConfigDict(extra="allow")

    name: str
    description: str
    domain: str


class AgentList(BaseModel):
    """The registry: agents, and files or fields that failed to load."""

    agents: list[AgentInfo]
    problems: list[ErrorItem]


class KeyCreate(_Strict):
    """A key to create."""

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    scopes: list[Literal["ingest", "read", "admin"]] = Field(min_length=1, max_length=3)


class KeyView(BaseModel):
    """A stored key (never its secret)."""

    key_id: uuid.UUID
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class KeyCreated(KeyView):
    """A new key: ``key`` is shown this once and never stored."""

    key: str


class HealthResponse(BaseModel):
    """Liveness."""

    status: Literal["ok"]
    version: str


class ReadyResponse(BaseModel):
    """Readiness: each dependency's state."""

    status: Literal["ready", "not_ready"]
    checks: dict[str, str]
