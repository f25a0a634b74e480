"""The steps of a stack's start that are not child processes: database, schema, topics.

Each function is synchronous (the supervisor is a plain loop, not an event loop) and raises
:class:`~omniclaude.errors.StackError` with one line saying what to do.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit, urlunsplit

from omniclaude.errors import StackError
from omniclaude.settings import TopicSettings

__all__ = [
    "create_database",
    "create_topics",
    "mask_password",
    "migrate",
    "topic_names",
]


def mask_password(url: str) -> str:
    """Return ``url`` with its password (if any) replaced by ``***``, for display."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


async def _create_database(admin_url: str, name: str) -> bool:
    from omniclaude.storage.pool import connect

    conn = await connect(admin_url)
    try:
        if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return False
        # CREATE DATABASE takes no parameters; the name is a module constant, quoted anyway.
        await conn.execute(f'CREATE DATABASE "{name}"')
        return True
    finally:
        await conn.close()


def create_database(admin_url: str, name: str) -> bool:
    """Create database ``name`` through ``admin_url`` unless it exists.

    Returns:
        True when it was created now.

    Raises:
        StackError: the server refused.
    """
    if not name.replace("_", "").isalnum():
        raise StackError(f"refusing an unusual database name {name!r}")
    try:
        return asyncio.run(_create_database(admin_url, name))
    except (OSError, ConnectionError) as exc:
        raise StackError(f"cannot reach PostgreSQL at {mask_password(admin_url)}: {exc}") from exc
    except Exception as exc:
        raise StackError(f"cannot create database {name!r}: {exc}") from exc


def migrate(database_url: str) -> str:
    """Bring the schema to the newest revision; return that revision.

    Raises:
        StackError: the database is unreachable, or was migrated by a newer OmniClaude.
    """
    from omniclaude.storage import migrations

    shown = mask_password(database_url)
    try:
        migrations.upgrade(database_url)
    except (OSError, ConnectionError) as exc:
        raise StackError(f"cannot reach PostgreSQL at {shown}: {exc}") from exc
    except Exception as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "Can't locate revision" in message:
            raise StackError(
                f"the database at {shown} was migrated by a newer OmniClaude ({message}); "
                "upgrade omniclaude, or use another --data-dir"
            ) from exc
        raise StackError(f"migrating the database at {shown} failed: {message}") from exc
    return migrations.head()


def topic_names(topics: TopicSettings, prefix: str) -> list[str]:
    """Return every topic the stack needs: one per catalogue family and its dead letters."""
    from omniclaude.kafka import dead_letter_topics, topic_routes

    routes = topic_routes(topics, prefix)
    return [*routes, *dead_letter_topics(routes)]


def create_topics(bootstrap: str, names: list[str], partitions: int) -> list[str]:
    """Create the missing topics; return the ones created now.

    Raises:
        StackError: the broker is unreachable or refused.
    """
    from omniclaude.kafka import KafkaClients, ensure_topics
    from omniclaude.settings import parse_bootstrap

    clients = KafkaClients(parse_bootstrap(bootstrap), client_id="omniclaude-stack")
    try:
        return asyncio.run(ensure_topics(clients, names, partitions=partitions))
    except Exception as exc:
        raise StackError(f"cannot create the topics on {bootstrap}: {exc}") from exc
