"""Agent routing: the YAML agent registry, the routing signals and the router."""

from omniclaude.routing.cache import TtlCache
from omniclaude.routing.registry import (
    AgentDefinition,
    AgentRegistry,
    RegistryProblem,
    default_agents_dir,
    resolve_entrypoint,
)
from omniclaude.routing.router import (
    MAX_PROMPT_CHARS,
    AgentStats,
    Candidate,
    Router,
    RouterConfig,
    RouteResult,
)

__all__ = [
    "MAX_PROMPT_CHARS",
    "AgentDefinition",
    "AgentRegistry",
    "AgentStats",
    "Candidate",
    "RegistryProblem",
    "RouteResult",
    "Router",
    "RouterConfig",
    "TtlCache",
    "default_agents_dir",
    "resolve_entrypoint",
]
