"""Which topics the consumer reads, where each one's dead letters go, and creating them.

The catalogue (:data:`omniclaude.events.TOPICS`) is the one list of topic families; the
settings name each family's topic and the prefix is added here, so nothing else spells a
topic name.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from omniclaude.events import TOPICS, TopicSpec
from omniclaude.settings import TopicSettings

__all__ = ["TopicRoute", "dead_letter_topics", "ensure_topics", "missing_topics", "topic_routes"]

log = logging.getLogger(__name__)

_TOPIC_ALREADY_EXISTS = 36
"""Kafka error code returned by CreateTopics when another client created the topic first."""


@dataclass(frozen=True, slots=True)
class TopicRoute:
    """One consumed topic: its full name, its catalogue entry and its dead-letter topic."""

    name: str
    spec: TopicSpec
    dead_letter_topic: str


def topic_routes(topics: TopicSettings, prefix: str = "") -> dict[str, TopicRoute]:
    """Map every consumed topic name (prefix included) to its route.

    Args:
        topics: the configured topic names and dead-letter suffix.
        prefix: prepended to every name (``Settings.topic_prefix``).

    Returns:
        One entry per topic family of the catalogue, keyed by full topic name.

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
        if code not in (0, _TOPIC_ALREADY_EXISTS):
            errors[topic] = f"error code {code}: {message or 'no message'}"
    return errors


async def ensure_topics(
    bootstrap_servers: list[str], names: Iterable[str], *, partitions: int
) -> list[str]:
    """Create whichever of ``names`` do not exist yet, with ``partitions`` partitions.

    Safe to call at every start and after a broker restart (Tansu is memory-only: a restart
    loses every topic). A topic another client creates concurrently is not an error.

    Args:
        bootstrap_servers: the brokers to ask.
        names: every topic that must exist (event topics and their dead-letter topics).
        partitions: partition count for the topics created now.

    Returns:
        The topics this call created.

    Raises:
        aiokafka.errors.KafkaError: the broker is unreachable or refused a topic.
    """
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import KafkaError

    wanted = list(names)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        todo = missing_topics(wanted, await admin.list_topics())
        if not todo:
            return []
        response = await admin.create_topics(
            [NewTopic(name, partitions, 1) for name in todo], timeout_ms=10_000
        )
        errors = _creation_errors(response)
        if errors:
            detail = "; ".join(f"{topic}: {why}" for topic, why in errors.items())
            raise KafkaError(f"could not create topics: {detail}")
        log.info("created topics %s", ", ".join(todo))
        return todo
    finally:
        await admin.close()


def dead_letter_topics(routes: Mapping[str, TopicRoute]) -> list[str]:
    """Return the dead-letter topic of every route."""
    return [route.dead_letter_topic for route in routes.values()]
