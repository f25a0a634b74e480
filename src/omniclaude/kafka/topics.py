"""Topic names, and keeping the topics present on a broker that may forget them.

The catalogue (:data:`omniclaude.events.TOPICS`) is the one list of topic families; the
settings name each family's topic, the prefix is added here, and every topic has a
dead-letter topic (``<topic><dead_letter_suffix>``). The SDK, the consumer and
``omniclaude dlq`` all take their names from :func:`topic_routes`.

A memory-only broker (Tansu) forgets every topic when it restarts, and then *acknowledges*
produce requests for a topic it no longer has while storing nothing. :class:`TopicWatcher`
keeps a set of topics present: it creates the missing ones on first use, and again after any
broker connection of a watched client closed (the sign of a restart) or when asked.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from omniclaude.errors import DeliveryError
from omniclaude.events import TOPICS, TopicSpec
from omniclaude.kafka._aiokafka import on_connection_closed
from omniclaude.kafka.clients import KafkaClients, close_quietly
from omniclaude.settings import TopicSettings

__all__ = [
    "TopicCreationError",
    "TopicRoute",
    "TopicWatcher",
    "all_topics",
    "dead_letter_topics",
    "ensure_topics",
    "missing_topics",
    "topic_routes",
]

log = logging.getLogger(__name__)

TOPIC_ALREADY_EXISTS: Final = 36
"""Kafka error code returned by CreateTopics when another client created the topic first."""


class TopicCreationError(DeliveryError):
    """The broker refused to create a topic (retriable: the broker may be starting up)."""


@dataclass(frozen=True, slots=True)
class TopicRoute:
    """One topic family on the wire: its full name, catalogue entry and dead-letter topic."""

    name: str
    spec: TopicSpec
    dead_letter_topic: str


def topic_routes(topics: TopicSettings, prefix: str = "") -> dict[str, TopicRoute]:
    """Map every topic name (prefix included) to its route, in catalogue order.

    Args:
        topics: the configured topic names and dead-letter suffix.
        prefix: prepended to every name (``Settings.topic_prefix``).

    Raises:
        ValueError: two families were configured with the same topic name.
    """
    routes: dict[str, TopicRoute] = {}
    for spec in TOPICS:
        name = f"{prefix}{getattr(topics, spec.key)}"
        if name in routes:
            raise ValueError(f"topics.{spec.key}: topic {name!r} is configured twice")
        routes[name] = TopicRoute(name, spec, f"{name}{topics.dead_letter_suffix}")
    return routes


def dead_letter_topics(routes: Mapping[str, TopicRoute]) -> list[str]:
    """Return the dead-letter topic of every route."""
    return [route.dead_letter_topic for route in routes.values()]


def all_topics(routes: Mapping[str, TopicRoute]) -> list[str]:
    """Every topic of the routes: each event topic followed by its dead-letter topic."""
    return [name for route in routes.values() for name in (route.name, route.dead_letter_topic)]


def missing_topics(wanted: Iterable[str], existing: Iterable[str]) -> list[str]:
    """Return the names in ``wanted`` that are not in ``existing``, in order, once each."""
    have = set(existing)
    out: list[str] = []
    for name in wanted:
        if name not in have and name not in out:
            out.append(name)
    return out


def _creation_errors(response: Any) -> dict[str, str]:
    """Extract ``{topic: message}`` for the failed entries of a CreateTopics response."""
    errors: dict[str, str] = {}
    for entry in getattr(response, "topic_errors", ()):
        topic, code = entry[0], entry[1]
        message = entry[2] if len(entry) > 2 else None
        if code not in (0, TOPIC_ALREADY_EXISTS):
            errors[topic] = f"error code {code}: {message or 'no message'}"
    return errors


async def ensure_topics(
    clients: KafkaClients, names: Iterable[str], *, partitions: int, timeout_ms: int = 10_000
) -> list[str]:
    """Create whichever of ``names`` do not exist yet, with ``partitions`` partitions.

    Safe at every start and after a broker restart; a topic another client creates
    concurrently is not an error.

    Args:
        clients: the cluster.
        names: every topic that must exist.
        partitions: partition count for the topics created now.
        timeout_ms: how long the broker may take to answer.

    Returns:
        The topics this call created.

    Raises:
        TopicCreationError: the broker refused a topic.
        aiokafka.errors.KafkaError: the broker is unreachable.
    """
    from aiokafka.admin import NewTopic

    wanted = list(names)
    admin = clients.admin(request_timeout_ms=timeout_ms)
    await admin.start()
    try:
        todo = missing_topics(wanted, await admin.list_topics())
        if not todo:
            return []
        response = await admin.create_topics(
            [NewTopic(name, partitions, 1) for name in todo], timeout_ms=timeout_ms
        )
        errors = _creation_errors(response)
        if errors:
            detail = "; ".join(f"{topic}: {why}" for topic, why in errors.items())
            raise TopicCreationError(f"could not create topics: {detail}")
        log.info("created topics %s", ", ".join(todo))
        return todo
    finally:
        await close_quietly(admin)


class TopicWatcher:
    """Keeps ``names`` present on the broker (see the module docstring).

    Args:
        clients: the cluster.
        names: the topics to keep.
        partitions: partition count of the topics it creates.
        timeout_ms: how long one check may take.
    """

    def __init__(
        self, clients: KafkaClients, names: Iterable[str], *, partitions: int,
        timeout_ms: int = 10_000,
    ) -> None:  # fmt: skip
        self.clients = clients
        self.names = list(dict.fromkeys(names))
        self.partitions = partitions
        self.timeout_ms = timeout_ms
        self.stale = True
        """True until the next check: the topics may be missing."""
        self.checks = 0
        """How many checks ran (tests read it)."""

    def invalidate(self) -> None:
        """Check again before the next use (a connection closed, a send failed)."""
        self.stale = True

    def watch(self, client: Any) -> None:
        """Invalidate whenever a broker connection of the aiokafka producer ``client`` closes."""
        on_connection_closed(client, self.invalidate)

    async def ensure(self, *, force: bool = False) -> list[str]:
        """Create the missing topics if a check is due (or ``force``); return those created.

        Raises:
            TopicCreationError: the broker refused a topic (still stale).
            aiokafka.errors.KafkaError: the broker is unreachable (still stale).
        """
        if not (self.stale or force):
            return []
        if not self.names:
            self.stale = False
            return []
        self.stale = False
        try:
            created = await ensure_topics(
                self.clients, self.names, partitions=self.partitions, timeout_ms=self.timeout_ms
            )
        except BaseException:
            self.stale = True
            raise
        self.checks += 1
        return created
