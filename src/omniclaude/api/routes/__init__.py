"""The API's routers, one module per resource."""

from omniclaude.api.routes import (
    agents,
    events,
    executions,
    export,
    health,
    keys,
    otlp,
    overview,
    routing,
    traces,
)

ROUTERS = (
    health.router,
    routing.router,
    executions.router,
    events.router,
    traces.router,
    overview.router,
    agents.router,
    export.router,
    keys.router,
    otlp.router,
)
"""Every router, in the order they are mounted."""

__all__ = ["ROUTERS"]
