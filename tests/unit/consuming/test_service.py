"""Building the service from settings, and its state before it runs."""

from __future__ import annotations

import pytest

from omniclaude.consuming import IngestService
from omniclaude.errors import ConfigurationError
from omniclaude.settings import ConsumerSettings, Settings


def test_from_settings_uses_the_prefix_topics_and_consumer_settings() -> None:
    """Topic names carry the prefix; the group and batch settings are the configured ones."""
    settings = Settings(
        kafka_bootstrap="127.0.0.1:9092",
        database_url="postgresql://u@127.0.0.1:5432/db",
        topic_prefix="dev-",
        consumer=ConsumerSettings(group_id="g1", batch_max_events=42),
    )
    service = IngestService.from_settings(settings)
    assert "dev-agent-actions" in service.routes
    assert service.settings.group_id == "g1"
    assert service.bootstrap_servers == ["127.0.0.1:9092"]
    assert "g1" in repr(service)


def test_the_daily_maintenance_gets_the_configured_retention() -> None:
    """A retention in the settings reaches the consumer's daily job; none means none."""
    from datetime import timedelta

    base = {"kafka_bootstrap": "127.0.0.1:9092", "database_url": "postgresql://u@h/db"}
    configured = Settings(**base, retention={"keep": "30d", "tables": {"agent_actions": "7d"}})
    retention = IngestService.from_settings(configured).maintenance.retention
    assert retention is not None
    assert retention.keep_for("agent_llm_calls") == timedelta(days=30)
    assert retention.keep_for("agent_actions") == timedelta(days=7)
    assert IngestService.from_settings(Settings(**base)).maintenance.retention is None


def test_from_settings_refuses_missing_bootstrap_or_database() -> None:
    """A missing setting is a ConfigurationError naming the variable."""
    with pytest.raises(ConfigurationError, match="KAFKA_BOOTSTRAP"):
        IngestService.from_settings(Settings(database_url="postgresql://u@h/db"))
    with pytest.raises(ConfigurationError, match="DATABASE_URL"):
        IngestService.from_settings(Settings(kafka_bootstrap="127.0.0.1:9092"))
    with pytest.raises(ConfigurationError):
        IngestService(bootstrap_servers=[], database_url="postgresql://u@h/db")


async def test_a_service_that_never_started_is_neither_alive_nor_ready() -> None:
    """Probes say so before start; stop before start is a no-op; stats are empty."""
    service = IngestService(bootstrap_servers=["127.0.0.1:9"], database_url="postgresql://h/db")
    assert service.health()[0] is False
    ok, details = service.ready()
    assert ok is False
    assert details["assigned_partitions"] == 0
    assert service.events_written == {}
    assert service.dead_lettered == 0
    assert service.last_commit_time is None
    assert service.health_port is None
    await service.stop()
