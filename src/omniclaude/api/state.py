"""What the API holds while it runs (built in the lifespan, never at import)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Protocol

from omniclaude.api.metrics import ApiMetrics
from omniclaude.publishing.sinks.base import EventSink
from omniclaude.routing import AgentRegistry, Router
from omniclaude.runtime import AgentRunner
from omniclaude.settings import Settings
from omniclaude.storage.api_keys import ApiKey

__all__ = ["ApiState", "KeyStore", "SessionStore"]


class SessionStore(Protocol):
    """What the viewer's sessions need (:class:`~omniclaude.storage.viewer_sessions.
    ViewerSessionStore` in production)."""

    async def create(self, key: ApiKey) -> str:
        """Open a session for ``key``; return its token."""
        ...

    async def authenticate(self, token: str) -> ApiKey | None:
        """Return the key of a live session (``read`` scope only), or None."""
        ...

    async def end(self, token: str) -> None:
        """End a session."""
        ...


class KeyStore(Protocol):
    """What authentication needs from a key store (:class:`~omniclaude.storage.api_keys.
    ApiKeyStore` in production)."""

    async def authenticate(self, key: str) -> ApiKey | None:
        """Return the active key matching ``key``, or None."""
        ...


@dataclass(slots=True)
class ApiState:
    """The API's live objects."""

    settings: Settings
    sink: EventSink
    registry: AgentRegistry
    router: Router
    runner: AgentRunner
    metrics: ApiMetrics
    keys: KeyStore | None = None
    pool: Any = None
    sessions: SessionStore | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    live_readers: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(8))
    """Bounds the live views' reads running at once (more: 429)."""
    exports: asyncio.Semaphore | None = None
    """Bounds the exports reading at once (``api.exports_at_once``; more: 429)."""

    def __post_init__(self) -> None:
        if self.exports is None:
            self.exports = asyncio.Semaphore(self.settings.api.exports_at_once)
