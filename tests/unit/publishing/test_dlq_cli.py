"""``omniclaude dlq``: listing the local dead letters, and clear errors without a broker."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from omniclaude.cli import dlq as dlq_cli
from omniclaude.events import TOPICS
from omniclaude.publishing.dlq import dead_letter_topics, local_dead_letters
from omniclaude.publishing.outbox import DeadLetter, Outbox
from omniclaude.settings import TopicSettings


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """Root."""

    dlq_cli.register(app)
    return app


def test_list_local_dead_letters(tmp_path: Path) -> None:
    """--local prints each stored dead letter with its reason and class."""
    path = tmp_path / "outbox.sqlite3"
    with Outbox(path) as outbox:
        outbox.add_dead_letters(
            [DeadLetter("agent-actions", b"k", b"{}", "e1", "too big", "MessageSizeTooLargeError")]
        )
    result = CliRunner().invoke(
        _app(), ["dlq", "list", "--local", "--json"], env={"OMNICLAUDE_SPOOL_DIR": str(tmp_path)}
    )
    assert result.exit_code == 0, result.output
    row = json.loads(result.output.splitlines()[0])
    assert (row["error_class"], row["reason"], row["event_id"]) == (
        "MessageSizeTooLargeError", "too big", "e1",
    )  # fmt: skip
    text = CliRunner().invoke(_app(), ["dlq", "list", "--local", "--outbox", str(path)])
    assert "1 dead letter(s)" in text.output


def test_replay_dry_run_local(tmp_path: Path) -> None:
    """--dry-run says how many would be replayed and sends nothing."""
    path = tmp_path / "outbox.sqlite3"
    with Outbox(path) as outbox:
        outbox.add_dead_letters([DeadLetter("t", None, b"{}", None, "r", "E")])
    result = CliRunner().invoke(
        _app(), ["dlq", "replay", "--local", "--dry-run", "--outbox", str(path)],
        env={"OMNICLAUDE_KAFKA_BOOTSTRAP": "127.0.0.1:9"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "would replay 1" in result.output


def test_broker_commands_need_a_bootstrap(tmp_path: Path) -> None:
    """Without OMNICLAUDE_KAFKA_BOOTSTRAP the broker commands fail with one clear line."""
    for args in (["dlq", "list"], ["dlq", "replay"]):
        result = CliRunner().invoke(_app(), args, env={"OMNICLAUDE_KAFKA_BOOTSTRAP": ""})
        assert result.exit_code == 2
        assert "OMNICLAUDE_KAFKA_BOOTSTRAP" in result.output


def test_dead_letter_topics_follow_the_catalogue() -> None:
    """One dead-letter topic per topic family, prefixed and suffixed."""
    topics = dead_letter_topics(TopicSettings(), "p.")
    assert topics["p.agent-actions-dlq"] == "p.agent-actions"
    assert len(topics) == len(TOPICS)


def test_missing_outbox_has_no_dead_letters(tmp_path: Path) -> None:
    """No outbox file means no local dead letters (and no file is created)."""
    assert local_dead_letters(tmp_path / "none.sqlite3") == []
    assert not (tmp_path / "none.sqlite3").exists()
