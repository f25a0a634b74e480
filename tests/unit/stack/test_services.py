"""Database and topic steps that need no server."""

from __future__ import annotations

import pytest

from omniclaude.errors import StackError
from omniclaude.events import TOPICS
from omniclaude.settings import TopicSettings
from omniclaude.stack.ports import unused_port
from omniclaude.stack.services import (
    create_database,
    create_topics,
    mask_password,
    migrate,
    topic_names,
)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://postgres@127.0.0.1:5/db", "postgresql://postgres@127.0.0.1:5/db"),
        (
            "postgresql://u:s3cret@h:5432/db?sslmode=require",
            "postgresql://u:***@h:5432/db?sslmode=require",
        ),
    ],
)
def test_mask_password_hides_only_the_password(url: str, shown: str) -> None:
    """A URL is shown without its password, otherwise unchanged."""
    assert mask_password(url) == shown


def test_topic_names_cover_every_family_and_its_dead_letters() -> None:
    """One topic per catalogue family, each with its -dlq twin, prefixed."""
    names = topic_names(TopicSettings(), "t.")
    assert len(names) == 2 * len(TOPICS)
    assert "t.agent-actions" in names
    assert "t.agent-actions-dlq" in names


def test_unreachable_services_give_one_line() -> None:
    """No database or broker at the address: a StackError naming it, with no password."""
    port = unused_port()
    with pytest.raises(StackError, match=r"cannot reach PostgreSQL at postgresql://u:\*\*\*@"):
        migrate(f"postgresql://u:pw@127.0.0.1:{port}/db")
    with pytest.raises(StackError, match="cannot"):
        create_database(f"postgresql://u:pw@127.0.0.1:{port}/postgres", "omniclaude")
    with pytest.raises(StackError, match="refusing"):
        create_database("postgresql://h/postgres", 'x"; DROP')
    with pytest.raises(StackError, match="cannot create the topics"):
        create_topics(f"127.0.0.1:{port}", ["a"], 1)
