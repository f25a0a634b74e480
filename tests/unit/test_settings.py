"""Settings: fixed variable names, validated values, one line naming the culprit."""

from __future__ import annotations

from pathlib import Path

import pytest

from omniclaude.errors import ConfigurationError
from omniclaude.settings import load_settings, parse_bootstrap, validate_database_url


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("OMNICLAUDE_"):
            monkeypatch.delenv(name)


def test_fixed_names_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """OMNICLAUDE_DATABASE_URL, _KAFKA_BOOTSTRAP, _TOPIC_PREFIX, _SPOOL_DIR, _DATA_DIR work."""
    monkeypatch.setenv("OMNICLAUDE_DATABASE_URL", "postgresql://u:pw@db:5432/x")
    monkeypatch.setenv("OMNICLAUDE_KAFKA_BOOTSTRAP", "k1:9092, k2:9093")
    monkeypatch.setenv("OMNICLAUDE_TOPIC_PREFIX", "dev.")
    monkeypatch.setenv("OMNICLAUDE_SPOOL_DIR", "/tmp/spool")
    monkeypatch.setenv("OMNICLAUDE_DATA_DIR", "/tmp/data")
    settings = load_settings()
    assert settings.database_dsn() == "postgresql://u:pw@db:5432/x"
    assert "pw" not in repr(settings), "the database password leaked into repr"
    assert settings.bootstrap_servers == ["k1:9092", "k2:9093"]
    assert settings.topic("agent-actions") == "dev.agent-actions"
    assert settings.effective_spool_dir == Path("/tmp/spool")
    assert settings.data_dir == Path("/tmp/data")


def test_spool_defaults_under_the_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without OMNICLAUDE_SPOOL_DIR the spool lives in <data_dir>/spool."""
    monkeypatch.setenv("OMNICLAUDE_DATA_DIR", "/srv/oc")
    assert load_settings().effective_spool_dir == Path("/srv/oc/spool")


def test_unix_socket_urls_are_accepted() -> None:
    """The libpq socket form is a valid database URL."""
    url = "postgresql://user@/db?host=/var/run/postgresql"
    assert validate_database_url(url) == url


@pytest.mark.parametrize(
    ("variable", "value", "needle"),
    [
        ("OMNICLAUDE_DATABASE_URL", "mysql://x/y", "OMNICLAUDE_DATABASE_URL"),
        ("OMNICLAUDE_DATABASE_URL", "postgresql://h:99999/db", "OMNICLAUDE_DATABASE_URL"),
        ("OMNICLAUDE_KAFKA_BOOTSTRAP", "host:0", "OMNICLAUDE_KAFKA_BOOTSTRAP"),
        ("OMNICLAUDE_KAFKA_BOOTSTRAP", "justahost", "OMNICLAUDE_KAFKA_BOOTSTRAP"),
        ("OMNICLAUDE_TOPIC_PREFIX", "bad prefix!", "OMNICLAUDE_TOPIC_PREFIX"),
        ("OMNICLAUDE_CONSUMER__BATCH_MAX_EVENTS", "0", "OMNICLAUDE_CONSUMER__BATCH_MAX_EVENTS"),
        ("OMNICLAUDE_API__PORT", "70000", "OMNICLAUDE_API__PORT"),
    ],
)
def test_bad_values_are_refused_with_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, needle: str
) -> None:
    """Each bad value raises ConfigurationError whose single line names the variable."""
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    message = str(info.value)
    assert message.startswith(needle)
    assert "\n" not in message


def test_config_file_supplies_defaults_env_overrides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A TOML file sets values; an environment variable wins over it."""
    config = tmp_path / "omniclaude.toml"
    config.write_text('topic_prefix = "file."\n[consumer]\nbatch_max_events = 42\n')
    monkeypatch.setenv("OMNICLAUDE_TOPIC_PREFIX", "env.")
    settings = load_settings(config)
    assert settings.topic_prefix == "env."
    assert settings.consumer.batch_max_events == 42


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    """A config file that does not exist is reported with its path."""
    with pytest.raises(ConfigurationError, match="no such file"):
        load_settings(tmp_path / "absent.toml")


def test_database_dsn_without_url_names_the_variable() -> None:
    """Asking for the DSN when none is set names OMNICLAUDE_DATABASE_URL."""
    with pytest.raises(ConfigurationError, match="OMNICLAUDE_DATABASE_URL"):
        load_settings().database_dsn()


def test_parse_bootstrap_and_ipv6_database_ports() -> None:
    """Bootstrap lists and bracketed IPv6 hosts are parsed with their ports checked."""
    assert parse_bootstrap("a:1") == ["a:1"]
    with pytest.raises(ValueError, match="at least one"):
        parse_bootstrap(" , ")
    assert validate_database_url("postgresql://[::1]:5432/db")
    with pytest.raises(ValueError, match="port"):
        validate_database_url("postgresql://[::1]:0/db")
