"""``omniclaude consume``: options override settings; missing settings fail with one line."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from omniclaude.cli.consume import _apply, register
from omniclaude.settings import Settings


def test_options_override_the_consumer_settings() -> None:
    """Given options replace their settings; omitted ones keep the configured value."""
    base = Settings(consumer={"group_id": "g0", "batch_max_ms": 300})
    changed = _apply(base, group_id="g1", batch_max_events=None)
    assert changed.consumer.group_id == "g1"
    assert changed.consumer.batch_max_ms == 300
    assert _apply(base, group_id=None) is base


def test_an_invalid_option_value_exits_with_code_2() -> None:
    """A batch size out of range is refused before anything starts."""
    with pytest.raises(typer.Exit) as caught:
        _apply(Settings(), batch_max_events=0)
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"OMNICLAUDE_KAFKA_BOOTSTRAP": "127.0.0.1:9092"}, "OMNICLAUDE_DATABASE_URL"),
        ({"OMNICLAUDE_DATABASE_URL": "postgresql://u@127.0.0.1/db"}, "OMNICLAUDE_KAFKA_BOOTSTRAP"),
    ],
)
def test_missing_settings_fail_naming_the_variable(
    env: dict[str, str], needle: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command exits 2 with the variable's name instead of a traceback."""
    for name in ("OMNICLAUDE_KAFKA_BOOTSTRAP", "OMNICLAUDE_DATABASE_URL", "OMNICLAUDE_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """Root."""

    register(app)
    result = CliRunner().invoke(app, ["consume"], env=env)
    assert result.exit_code == 2
    assert needle in result.output
