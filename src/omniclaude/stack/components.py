"""The child processes of a stack: their command lines, environment and readiness checks.

Each child is an ``omniclaude`` command run with this interpreter, configured only through
its environment (``OMNICLAUDE_*``), so it reads the same settings a user would set by hand.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from omniclaude.hooks.fast import LOCK_FILE, flock_free
from omniclaude.stack.children import ChildSpec, omniclaude_argv
from omniclaude.stack.config import StackConfig
from omniclaude.stack.probes import http_ok

__all__ = ["child_env", "child_specs", "lock_held"]


def child_env(config: StackConfig, database_url: str, bootstrap: str) -> dict[str, str]:
    """Return the environment of every child: this one, pointed at the stack's services."""
    env = dict(os.environ)
    env.update(
        {
            "OMNICLAUDE_DATABASE_URL": database_url,
            "OMNICLAUDE_KAFKA_BOOTSTRAP": bootstrap,
            "OMNICLAUDE_DATA_DIR": str(config.data_dir),
            "OMNICLAUDE_API__HOST": config.host,
            "OMNICLAUDE_API__PORT": str(config.api_port),
            "OMNICLAUDE_CONSUMER__HEALTH_HOST": config.host,
            "OMNICLAUDE_CONSUMER__HEALTH_PORT": str(config.consumer_port),
            "PYTHONUNBUFFERED": "1",
        }
    )
    if config.config_file is not None:
        env["OMNICLAUDE_CONFIG_FILE"] = str(config.config_file)
    if config.embedded_kafka:
        # Tansu completes a group join only after about half the session timeout (5 s at
        # the default 10 s); one consumer on a local broker needs no more than 3 s.
        env.setdefault("OMNICLAUDE_CONSUMER__SESSION_TIMEOUT_MS", "3000")
    return env


def lock_held(path: Path) -> Callable[[], bool]:
    """A readiness probe passing while someone holds ``path``'s ``flock``.

    For the emitter, which has no endpoint: it takes the spool's lock first thing, and the
    supervisor has stopped every other emitter of the data directory before it starts its
    own, so a held lock means "the stack's emitter owns the spool" — at once, not after a
    fixed wait that every start would pay.
    """
    return lambda: flock_free(str(path)) is False


def child_specs(config: StackConfig, env: dict[str, str]) -> list[ChildSpec]:
    """Return the children in start order: the consumer, the emitter (optional), the API."""
    logs = config.logs_dir
    specs = [
        ChildSpec(
            name="consumer",
            argv=omniclaude_argv("consume"),
            env=env,
            log_file=logs / "consumer.log",
            ready=lambda: http_ok(f"{config.consumer_url}/ready"),
            address=config.consumer_url,
            ready_timeout_s=config.start_timeout_s,
            hint="check the database and broker addresses above",
        )
    ]
    if config.with_emitter:
        specs.append(
            ChildSpec(
                name="emitter",
                argv=omniclaude_argv("emitter", "--started-by", "stack"),
                env=env,
                log_file=logs / "emitter.log",
                ready=lock_held(config.spool / LOCK_FILE),
                ready_timeout_s=config.start_timeout_s,
                hint="or start without it: omniclaude up --no-emitter",
            )
        )
    specs.append(
        ChildSpec(
            name="api",
            argv=omniclaude_argv("api"),
            env=env,
            log_file=logs / "api.log",
            ready=lambda: http_ok(f"{config.api_url}/health"),
            address=config.api_url,
            ready_timeout_s=config.start_timeout_s,
        )
    )
    return specs
