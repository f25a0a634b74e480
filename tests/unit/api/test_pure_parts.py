"""Pure parts of the API and its storage helpers (no database, no broker)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from omniclaude.api.app import _build_sink, _refresh_history
from omniclaude.api.errors import field_of
from omniclaude.api.schemas import unstorable
from omniclaude.cli import _register_all, app
from omniclaude.errors import ConfigurationError
from omniclaude.publishing.sinks.kafka import KafkaSink
from omniclaude.publishing.sinks.postgres import PostgresSink
from omniclaude.routing import Router
from omniclaude.settings import Settings


def test_field_paths_and_unstorable_strings() -> None:
    """Validation locations become readable paths; NULs and lone surrogates are found."""
    assert field_of(("body", "events", 0, "x")) == "body.events[0].x"
    assert field_of(()) == "(request)"
    assert unstorable({"a": [1, "ok", "b\x00"]}, "ctx") == (
        "ctx.a[2]: contains a NUL character, which PostgreSQL cannot store"
    )
    assert unstorable({"\ud800": 1}, "ctx") == (
        "ctx: key '\\ud800' contains an unpaired surrogate, which is not UTF-8"
    )
    assert unstorable({"a": [float("nan")]}, "ctx") == (
        "ctx.a[0]: is not a finite number (NaN and Infinity cannot be stored)"
    )
    assert unstorable({"a": ["fine"]}, "ctx") is None


def test_sink_choice(tmp_path: Path) -> None:
    """Kafka when a bootstrap is set, else PostgreSQL on the pool, else a clear error."""
    kafka = Settings(kafka_bootstrap="127.0.0.1:1", spool_dir=tmp_path)
    assert isinstance(_build_sink(kafka, None), KafkaSink)
    assert isinstance(_build_sink(Settings(), object()), PostgresSink)
    with pytest.raises(ConfigurationError, match="OMNICLAUDE_DATABASE_URL"):
        _build_sink(Settings(), None)


async def test_history_refresh_survives_database_errors(caplog: pytest.LogCaptureFixture) -> None:
    """A failing history query is logged and retried, never fatal; a good one updates the router."""
    router = Router.default()
    calls: list[int] = []

    class Pool:
        async def fetch(self, *args: Any) -> list[dict[str, Any]]:
            calls.append(1)
            if len(calls) == 1:
                raise ConnectionError("away")
            return [{"agent_name": "test-finder", "finished": 9, "rate": 0.0}]

    task = asyncio.create_task(_refresh_history(router, Pool(), 0.01))

    async def refreshed() -> bool:
        return router._history_of("test-finder") == 0.0

    from tests.fixtures.waiting import wait_for

    await wait_for(refreshed, what="the history to refresh")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert "could not refresh routing history: ConnectionError" in caplog.text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["api"], "OMNICLAUDE_DATABASE_URL: not set"),
        (["keys", "list"], "OMNICLAUDE_DATABASE_URL: not set"),
        (["keys", "create", "--name", "x", "--scope", "read"], "OMNICLAUDE_DATABASE_URL: not set"),
    ],
)
def test_cli_commands_need_a_database(args: list[str], message: str) -> None:
    """``api`` and ``keys`` refuse to start without a database, naming the variable."""
    _register_all()
    result = CliRunner().invoke(app, args, env={"OMNICLAUDE_DATABASE_URL": None})
    assert result.exit_code == 2
    assert message in result.output.replace("\n", " ")


def test_cli_api_refuses_a_missing_workspace(tmp_path: Path) -> None:
    """``api --workspace`` must name a directory."""
    _register_all()
    env = {"OMNICLAUDE_DATABASE_URL": "postgresql://u@127.0.0.1:1/db"}
    result = CliRunner().invoke(app, ["api", "--workspace", str(tmp_path / "nope")], env=env)
    assert result.exit_code == 2
    assert "--workspace" in result.output
