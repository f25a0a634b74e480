"""Topic names come from the catalogue and the settings; missing ones are found."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from omniclaude.events import TOPICS
from omniclaude.kafka.topics import (
    _creation_errors,
    dead_letter_topics,
    missing_topics,
    topic_routes,
)
from omniclaude.settings import TopicSettings


def test_every_topic_family_is_consumed_with_prefix_and_dead_letter_topic() -> None:
    """One route per catalogued family; names carry the prefix, DLQs the suffix."""
    routes = topic_routes(TopicSettings(dead_letter_suffix=".dead"), "p-")
    assert [route.spec for route in routes.values()] == list(TOPICS)
    assert "p-agent-actions" in routes
    assert routes["p-agent-actions"].dead_letter_topic == "p-agent-actions.dead"
    assert dead_letter_topics(routes) == [f"{name}.dead" for name in routes]


def test_configured_names_replace_the_defaults() -> None:
    """A renamed topic is consumed under its new name and feeds the same table."""
    routes = topic_routes(TopicSettings(actions="actions-v2"))
    assert routes["actions-v2"].spec.table == "agent_actions"


def test_one_name_for_two_families_is_refused() -> None:
    """Two families on one topic would be ambiguous: a clear error names the setting."""
    with pytest.raises(ValueError, match="configured twice"):
        topic_routes(TopicSettings(actions="same", transformations="same"))


def test_missing_topics_keeps_order_and_drops_duplicates() -> None:
    """Only absent names are returned, each once, in the order asked."""
    assert missing_topics(["a", "b", "a", "c"], ["b"]) == ["a", "c"]


def test_creation_errors_ignore_success_and_already_exists() -> None:
    """Error code 36 (created concurrently by someone else) is not a failure."""
    response = SimpleNamespace(
        topic_errors=[("a", 0, None), ("b", 36, "exists"), ("c", 37, "bad partitions")]
    )
    assert _creation_errors(response) == {"c": "error code 37: bad partitions"}
