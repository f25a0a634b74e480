"""Find the services a command should talk to: the environment first, then a running stack.

``trace``, ``executions`` and ``demo`` work with no configuration after ``omniclaude up``:
when ``OMNICLAUDE_DATABASE_URL`` / ``OMNICLAUDE_KAFKA_BOOTSTRAP`` are not set, they read the
addresses from the state file of the stack in the data directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from omniclaude.settings import Settings
from omniclaude.stack.state import Phase, StackState, load_state

__all__ = ["Targets", "locate"]


@dataclass(frozen=True, slots=True)
class Targets:
    """Where the database, the broker and the viewer are (None: unknown)."""

    database_url: str | None
    kafka_bootstrap: str | None
    viewer_url: str
    state: StackState | None

    @property
    def from_stack(self) -> bool:
        """True when a running local stack supplied at least one address."""
        return self.state is not None

    def trace_url(self, correlation_id: object) -> str:
        """The viewer's address of one trace."""
        return f"{self.viewer_url.rstrip('/')}/traces/{correlation_id}"


def _running(state: StackState | None) -> StackState | None:
    if state is None or state.phase is not Phase.RUNNING:
        return None
    if state.supervisor is None or not state.supervisor.alive():
        return None
    return state


def locate(settings: Settings, data_dir: Path | None = None) -> Targets:
    """Return the addresses to use: the settings' where given, else the running stack's.

    A stack's database URL is used only when it carries no password (the embedded one never
    does; an external one is in the environment already).
    """
    state = _running(load_state(data_dir or settings.data_dir))
    database_url = settings.database_dsn() if settings.database_url is not None else None
    if (
        database_url is None
        and state is not None
        and state.database_url
        and "***" not in (state.database_url)
    ):
        database_url = state.database_url
    bootstrap = settings.kafka_bootstrap or (state.kafka_bootstrap if state else None)
    viewer = state.viewer_url if state and state.viewer_url else None
    if viewer is None:
        viewer = f"http://{settings.api.host}:{settings.api.port}/viewer/"
    return Targets(database_url, bootstrap, viewer, state)
