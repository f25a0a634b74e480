"""Stack configuration: defaults, free ports for 0, external services."""

from __future__ import annotations

from pathlib import Path

import pytest

from omniclaude.settings import Settings
from omniclaude.stack.config import DEFAULT_KAFKA_PORT, DEFAULT_PG_PORT, StackConfig


def test_defaults_come_from_the_settings(tmp_path: Path) -> None:
    """Ports and addresses default to the documented values."""
    config = StackConfig.from_settings(Settings(data_dir=tmp_path))
    assert config.data_dir == tmp_path
    assert (config.pg_port, config.kafka_port) == (DEFAULT_PG_PORT, DEFAULT_KAFKA_PORT)
    assert (config.api_port, config.consumer_port) == (8080, 8081)
    assert config.api_url == "http://127.0.0.1:8080"
    assert config.consumer_url == "http://127.0.0.1:8081"
    assert config.embedded_postgres
    assert config.embedded_kafka
    assert config.pgdata == tmp_path / "postgres"
    assert config.logs_dir == tmp_path / "stack" / "logs"
    assert [p.component for p in config.ports()] == ["postgres", "kafka", "consumer", "api"]


def test_port_zero_picks_distinct_free_ports(tmp_path: Path) -> None:
    """0 means any free port; each one differs."""
    config = StackConfig.from_settings(
        Settings(data_dir=tmp_path), pg_port=0, kafka_port=0, api_port=0, consumer_port=0
    )
    ports = [p.port for p in config.ports()]
    assert 0 not in ports
    assert len(set(ports)) == 4


def test_external_services_are_not_started(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a database URL and a bootstrap set, only the consumer and API listen."""
    settings = Settings(
        data_dir=tmp_path,
        database_url="postgresql://u:pw@db.example:5432/x",
        kafka_bootstrap="kafka.example:9092",
    )
    config = StackConfig.from_settings(settings)
    assert not config.embedded_postgres
    assert not config.embedded_kafka
    assert config.external_database_url == "postgresql://u:pw@db.example:5432/x"
    assert [p.component for p in config.ports()] == ["consumer", "api"]
