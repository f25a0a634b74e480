"""``create_app(settings)``: the FastAPI application, with everything built in its lifespan.

Nothing is created at import: the database pool, the event sink, the agent registry, the
router and the runtime are built when the app starts (and closed when it stops), from the
settings given — or from objects a test injects (``sink=``, ``pool=``, ``key_store=``).

Startup, in order: 1. the pool (when a database is configured); 2. the sink (Kafka when a
bootstrap is configured, else PostgreSQL on the pool) and start it; 3. the registry (shipped
agents, ``<data_dir>/agents``, ``agent_dirs``), the router, the runner; 4. a task refreshing
the router's success rates from the database. Shutdown reverses it: running executions are
cancelled (and recorded as such), the sink is flushed and stopped, the pool closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from omniclaude._version import __version__
from omniclaude.api.body_limit import BodyLimitMiddleware
from omniclaude.api.errors import install_error_handlers
from omniclaude.api.log_context import LogContextMiddleware
from omniclaude.api.metrics import ApiMetrics, MetricsMiddleware
from omniclaude.api.routes import ROUTERS
from omniclaude.api.state import ApiState, KeyStore
from omniclaude.errors import ConfigurationError
from omniclaude.events.limits import MAX_REQUEST_BYTES
from omniclaude.publishing.sinks.base import EventSink
from omniclaude.routing import AgentRegistry, AgentStats, Router, RouterConfig
from omniclaude.runtime import AgentRunner, RuntimeConfig, Workspace
from omniclaude.settings import Settings, load_settings
from omniclaude.storage import queries

__all__ = ["DOCS_ASSETS", "create_app"]

DOCS_ASSETS = "/_docs"
"""Where the API documentation pages' own scripts, styles and icon are served."""

log = logging.getLogger(__name__)


async def _refresh_history(router: Router, pool: Any, every_s: float) -> None:
    """Keep the router's per-agent success rates fresh (errors are logged, never fatal)."""
    while True:
        try:
            rates = await queries.agent_success_rates(pool)
            router.set_history({name: AgentStats(n, rate) for name, (n, rate) in rates.items()})
        except Exception as exc:  # noqa: BLE001 - history is an optional signal
            log.warning("could not refresh routing history: %s: %s", type(exc).__name__, exc)
        await asyncio.sleep(every_s)


def create_app(
    settings: Settings | None = None,
    *,
    sink: EventSink | None = None,
    pool: Any = None,
    key_store: KeyStore | None = None,
    registry: AgentRegistry | None = None,
    router_config: RouterConfig | None = None,
    runtime_config: RuntimeConfig | None = None,
    workspace: Path | None = None,
    agent_dirs: Sequence[Path] = (),
    history_refresh_s: float = 60.0,
) -> FastAPI:
    """Build the API application (started by its lifespan: uvicorn, or a test).

    Args:
        settings: the settings; None reads them from the environment.
        sink: an event sink owned by the caller (started and stopped by it); None builds one.
        pool: an asyncpg pool owned by the caller; None opens one when a database is set.
        key_store: authenticates API keys; None uses the ``api_keys`` table.
        registry: the agents; None loads the shipped ones plus ``agent_dirs``.
        router_config: routing thresholds and cache.
        runtime_config: timeouts, retries, manifest budget.
        workspace: the code tree agents work on (default: the current directory).
        agent_dirs: more directories of agent YAML files.
        history_refresh_s: how often the router's success rates are re-read.

    Returns:
        The FastAPI application.
    """
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            db = pool
            if db is None and settings.database_url is not None:
                from omniclaude.storage.pool import create_pool

                db = await create_pool(settings.database_dsn(), min_size=1, max_size=10)
                stack.push_async_callback(db.close)
            events = sink
            if events is None:
                events = _build_sink(settings, db)
                await events.start()
                stack.push_async_callback(events.stop)
            keys = key_store
            if keys is None and db is not None:
                from omniclaude.storage.api_keys import ApiKeyStore

                keys = ApiKeyStore(db)
            dirs = [
                *(
                    [settings.data_dir / "agents"]
                    if (settings.data_dir / "agents").is_dir()
                    else []
                ),
                *agent_dirs,
            ]
            agents = registry or AgentRegistry.load(dirs)
            for problem in agents.problems:
                log.warning("agent registry: %s", problem)
            router = Router(agents, router_config)
            runner = AgentRunner(
                registry=agents,
                router=router,
                sink=events,
                workspace=Workspace(workspace or Path.cwd()),
                config=runtime_config,
                recent=queries.recent_successes(db) if db is not None else None,
            )
            metrics = ApiMetrics()
            metrics.watch_runtime(lambda: runner.stats, lambda: runner.running)
            sessions = None
            if db is not None:
                from omniclaude.storage.viewer_sessions import ViewerSessionStore

                sessions = ViewerSessionStore(db, ttl_s=settings.api.viewer_session_ttl_s)
            app.state.omniclaude = ApiState(
                settings=settings, sink=events, registry=agents, router=router, runner=runner,
                metrics=metrics, keys=keys, pool=db, sessions=sessions,
            )  # fmt: skip
            if db is not None:
                task = asyncio.create_task(_refresh_history(router, db, history_refresh_s))
                stack.push_async_callback(_cancel, task)
            await runner.start()
            stack.push_async_callback(runner.stop)
            try:
                yield
            finally:
                app.state.omniclaude = None

    # /docs loads its script, style and icon from this package (fastapi-offline's pinned
    # copies under DOCS_ASSETS), never from a CDN, and asks no validator badge. /redoc is off:
    # ReDoc fetches its logo from its vendor's CDN whatever it is given.
    app: FastAPI = FastAPIOffline(
        title="OmniClaude API",
        version=__version__,
        description="Route prompts, run agents, ingest events and read complete traces.",
        lifespan=lifespan,
        static_url=DOCS_ASSETS,
        redoc_url=None,
        swagger_ui_parameters={"validatorUrl": None},
    )
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    app.add_middleware(MetricsMiddleware, metrics=lambda: _metrics_of(app))
    app.add_middleware(LogContextMiddleware)
    # Outermost: a body over the limit is answered 413 before it is read whole.
    app.add_middleware(BodyLimitMiddleware, max_bytes=MAX_REQUEST_BYTES)
    _mount_viewer(app)
    return app


def _build_sink(settings: Settings, pool: Any) -> EventSink:
    if settings.kafka_bootstrap:
        from omniclaude.publishing.sinks.kafka import sink_from_settings

        return sink_from_settings(settings)
    if pool is not None:
        from omniclaude.publishing.sinks.postgres import PostgresSink

        return PostgresSink(db=pool)
    raise ConfigurationError(
        "OMNICLAUDE_KAFKA_BOOTSTRAP / OMNICLAUDE_DATABASE_URL: the API needs a broker or a database"
    )


def _metrics_of(app: FastAPI) -> ApiMetrics | None:
    state = getattr(app.state, "omniclaude", None)
    return state.metrics if isinstance(state, ApiState) else None


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _mount_viewer(app: FastAPI) -> None:
    """Mount the web viewer when its package is installed (it registers its own routes)."""
    try:
        from omniclaude.api import viewer
    except ImportError:
        return
    register = getattr(viewer, "register", None)
    if callable(register):
        register(app)
