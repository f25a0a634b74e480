"""Client factories: every client of a cluster gets the same servers, id and security."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest

from omniclaude.errors import ConfigurationError
from omniclaude.kafka import KafkaClients, clients_for, close_quietly
from omniclaude.settings import KafkaSecuritySettings, Settings, load_settings

SASL = KafkaSecuritySettings(
    security_protocol="SASL_PLAINTEXT", sasl_mechanism="SCRAM-SHA-512",
    sasl_username="ingest", sasl_password="s3cret-pw",  # type: ignore[arg-type]
)  # fmt: skip


def test_plaintext_by_default_with_servers_and_client_id() -> None:
    """No security settings: plaintext, the bootstrap list and a per-client id suffix."""
    clients = KafkaClients(["127.0.0.1:9092", "127.0.0.1:9093"], client_id="svc")
    options = clients.options("-dlq")
    assert options == {
        "bootstrap_servers": ["127.0.0.1:9092", "127.0.0.1:9093"],
        "client_id": "svc-dlq",
        "security_protocol": "PLAINTEXT",
    }
    assert clients_for(["h:1"]).servers == ["h:1"]
    assert clients_for(clients) is clients


async def test_sasl_options_reach_every_kind_of_client() -> None:
    """Producer, consumer and admin are all built with the SASL mechanism and credentials."""
    clients = KafkaClients(["127.0.0.1:9092"], SASL)
    built = [clients.producer(acks="all"), clients.consumer(group_id="g"), clients.admin()]
    try:
        for client in built:
            conn_options = _client_config(client)
            assert conn_options["security_protocol"] == "SASL_PLAINTEXT"
            assert conn_options["sasl_mechanism"] == "SCRAM-SHA-512"
            assert conn_options["sasl_plain_username"] == "ingest"
            assert conn_options["sasl_plain_password"] == "s3cret-pw"
    finally:
        for client in built:
            await close_quietly(client)


def _client_config(client: Any) -> dict[str, Any]:
    inner = getattr(client, "client", None) or getattr(client, "_client", None)
    return {
        name: getattr(inner, f"_{name}")
        for name in ("security_protocol", "sasl_mechanism", "sasl_plain_username",
                     "sasl_plain_password")
    }  # fmt: skip


def test_tls_builds_a_verifying_context(tmp_path: Path) -> None:
    """SSL without a CA file uses the system trust store and checks host names."""
    clients = KafkaClients(["kafka.example:9093"], KafkaSecuritySettings(security_protocol="SSL"))
    context = clients.ssl_context()
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert clients.options()["ssl_context"] is not None
    assert KafkaClients(["h:1"]).ssl_context() is None


def test_security_cannot_be_overridden_per_client() -> None:
    """A caller passing its own SASL options is refused: security lives in the settings."""
    with pytest.raises(ConfigurationError, match="OMNICLAUDE_KAFKA__"):
        KafkaClients(["h:1"]).producer(sasl_mechanism="PLAIN")


def test_no_bootstrap_is_a_configuration_error() -> None:
    """An empty server list names the variable."""
    with pytest.raises(ConfigurationError, match="OMNICLAUDE_KAFKA_BOOTSTRAP"):
        KafkaClients([])


def test_security_settings_come_from_the_environment_and_stay_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """OMNICLAUDE_KAFKA__* configures SASL; the password never appears in a repr or dump."""
    monkeypatch.setenv("OMNICLAUDE_KAFKA_BOOTSTRAP", "kafka.example:9094")
    monkeypatch.setenv("OMNICLAUDE_KAFKA__SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("OMNICLAUDE_KAFKA__SASL_MECHANISM", "PLAIN")
    monkeypatch.setenv("OMNICLAUDE_KAFKA__SASL_USERNAME", "u")
    monkeypatch.setenv("OMNICLAUDE_KAFKA__SASL_PASSWORD", "hunter2-kafka")
    settings = load_settings()
    assert settings.kafka.security_protocol == "SASL_SSL"
    assert "hunter2-kafka" not in repr(settings)
    assert "hunter2-kafka" not in settings.model_dump_json()
    clients = KafkaClients.from_settings(settings)
    assert clients.options()["sasl_plain_password"] == "hunter2-kafka"
    assert "hunter2-kafka" not in repr(clients)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"security_protocol": "SASL_SSL", "sasl_mechanism": "PLAIN"}, "sasl_username"),
        ({"sasl_mechanism": "PLAIN", "sasl_username": "u", "sasl_password": "p"}, "SASL_"),
        ({"ssl_cafile": "/etc/hostname"}, "SSL"),
        ({"security_protocol": "SSL", "ssl_cafile": "/nonexistent/ca.pem"}, "no such file"),
        ({"security_protocol": "SSL", "ssl_certfile": "/etc/hostname"}, "ssl_keyfile"),
    ],
)
def test_inconsistent_security_settings_are_refused(options: dict[str, str], message: str) -> None:
    """SASL without credentials, TLS files without TLS, a missing file: refused, named."""
    with pytest.raises(ValueError, match=message):
        KafkaSecuritySettings(**options)  # type: ignore[arg-type]
    assert Settings().kafka.security_protocol == "PLAINTEXT"
