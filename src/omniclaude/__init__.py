"""OmniClaude: observability and orchestration for AI coding agents.

The package namespace is lazy: ``import omniclaude`` loads nothing but this file, so the
Claude Code hook command starts at interpreter speed. Public names are resolved on first use.
"""

from __future__ import annotations

from omniclaude._version import __version__

# ``typing`` costs ~10 ms of start-up that the hook path must not pay; see PEP 563/649.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from omniclaude.events import (
        ActionType,
        AgentAction,
        AgentTransformation,
        ExecutionCompleted,
        ExecutionFailed,
        ExecutionProgress,
        ExecutionStarted,
        ManifestInjection,
        RoutingDecision,
    )
    from omniclaude.publishing.loggers import ActionLogger, AgentExecutionLogger
    from omniclaude.publishing.redaction import sanitize_pii
    from omniclaude.settings import Settings

__all__ = [
    "ActionLogger",
    "ActionType",
    "AgentAction",
    "AgentExecutionLogger",
    "AgentTransformation",
    "ExecutionCompleted",
    "ExecutionFailed",
    "ExecutionProgress",
    "ExecutionStarted",
    "ManifestInjection",
    "RoutingDecision",
    "Settings",
    "__version__",
    "sanitize_pii",
]

_LAZY: dict[str, str] = {
    "ActionType": "omniclaude.events",
    "AgentAction": "omniclaude.events",
    "AgentTransformation": "omniclaude.events",
    "ExecutionCompleted": "omniclaude.events",
    "ExecutionFailed": "omniclaude.events",
    "ExecutionProgress": "omniclaude.events",
    "ExecutionStarted": "omniclaude.events",
    "ManifestInjection": "omniclaude.events",
    "RoutingDecision": "omniclaude.events",
    "ActionLogger": "omniclaude.publishing.loggers",
    "AgentExecutionLogger": "omniclaude.publishing.loggers",
    "sanitize_pii": "omniclaude.publishing.redaction",
    "Settings": "omniclaude.settings",
}


def __getattr__(name: str) -> Any:
    """Import a public name on first access (PEP 562)."""
    import importlib

    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'omniclaude' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
