"""Manifest injections: the context sections injected into an agent before it runs."""

from __future__ import annotations

import uuid
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from omniclaude.events.base import JsonObject, TimedEvent

__all__ = ["ManifestInjection", "ManifestSection"]


class ManifestSection(BaseModel):
    """One section of an agent's context manifest."""

    model_config = ConfigDict(frozen=True, extra="allow")

    name: str = Field(min_length=1)
    size_bytes: int = Field(ge=0)
    source: str | None = None
    item_count: int | None = Field(default=None, ge=0)
    query_time_ms: float | None = Field(default=None, ge=0)


class ManifestInjection(TimedEvent):
    """What context was injected into an agent, how big it was and how long it took.

    Timed: it ends at ``timestamp`` and began at ``started_at`` (``total_query_time_ms``).
    """

    DURATION_FIELD: ClassVar[str] = "total_query_time_ms"

    event_type: Literal["manifest_injection"] = "manifest_injection"
    agent_name: str = Field(min_length=1, max_length=256)
    sections: list[ManifestSection] = Field(default_factory=list)
    total_query_time_ms: float = Field(ge=0)
    is_fallback: bool = False
    manifest_version: str | None = None
    generation_source: str | None = None
    manifest_size_bytes: int | None = Field(default=None, ge=0)
    routing_decision_id: uuid.UUID | None = None
    warnings: list[str] = Field(default_factory=list)
    query_failures: JsonObject = Field(default_factory=dict)
    session_id: str | None = None
