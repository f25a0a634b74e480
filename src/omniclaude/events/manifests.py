"""Manifest injections: the context sections injected into an agent before it runs."""

from __future__ import annotations

import uuid
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from omniclaude.events.base import (
    AgentName,
    DurationMs,
    Identifier,
    JsonObject,
    StorableModel,
    TimedEvent,
    unstorable_error,
)
from omniclaude.events.limits import INT4_MAX

__all__ = ["ManifestInjection", "ManifestSection"]


class ManifestSection(StorableModel):
    """One section of an agent's context manifest."""

    name: str = Field(min_length=1)
    size_bytes: int = Field(ge=0, le=INT4_MAX)
    source: str | None = None
    item_count: int | None = Field(default=None, ge=0, le=INT4_MAX)
    query_time_ms: DurationMs | None = None


class ManifestInjection(TimedEvent):
    """What context was injected into an agent, how big it was and how long it took.

    Timed: it ends at ``timestamp`` and began at ``started_at`` (``total_query_time_ms``).
    """

    DURATION_FIELD: ClassVar[str] = "total_query_time_ms"

    event_type: Literal["manifest_injection"] = "manifest_injection"
    agent_name: AgentName = Field(min_length=1)
    sections: list[ManifestSection] = Field(default_factory=list)
    total_query_time_ms: DurationMs
    is_fallback: bool = False
    manifest_version: str | None = None
    generation_source: str | None = None
    manifest_size_bytes: int | None = Field(default=None, ge=0, le=INT4_MAX)
    routing_decision_id: uuid.UUID | None = None
    warnings: list[str] = Field(default_factory=list)
    query_failures: JsonObject = Field(default_factory=dict)
    session_id: Identifier | None = None

    @model_validator(mode="after")
    def _size_fits(self) -> ManifestInjection:
        """Without ``manifest_size_bytes`` the stored size is the sections' sum: it must fit."""
        if self.manifest_size_bytes is None:
            total = sum(s.size_bytes for s in self.sections)
            if total > INT4_MAX:
                raise unstorable_error(
                    type(self),
                    ("sections",),
                    f"size_bytes add up to {total}, more than the manifest_size_bytes column "
                    f"holds ({INT4_MAX}); send manifest_size_bytes",
                    total,
                )
        return self
