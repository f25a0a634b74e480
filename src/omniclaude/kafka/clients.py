"""Kafka client factories: the only place that constructs an aiokafka client.

:class:`KafkaClients` holds what every client of one cluster shares (bootstrap servers, the
security options of :class:`~omniclaude.settings.KafkaSecuritySettings`, a client id) and
builds producers, consumers and admin clients from it, so a SASL/TLS cluster needs its options
in one place only. Callers add their own options (``acks``, ``group_id``, ...) as keyword
arguments; the security options cannot be overridden by accident.

aiokafka is imported when a client is built, never at import time (the hook's hot path and
the CLI stay fast).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from omniclaude.errors import ConfigurationError
from omniclaude.settings import KafkaSecuritySettings

if TYPE_CHECKING:
    from omniclaude.settings import Settings

__all__ = ["KafkaClients", "clients_for", "close_quietly"]

log = logging.getLogger(__name__)

_SECURITY_KEYS = frozenset(
    {"security_protocol", "ssl_context", "sasl_mechanism", "sasl_plain_username",
     "sasl_plain_password"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class KafkaClients:
    """Builds aiokafka clients for one cluster.

    Args:
        bootstrap_servers: ``host:port`` of the brokers.
        security: TLS and SASL options (default: plaintext).
        client_id: the Kafka client id of the clients built (a suffix may be added per client).
    """

    bootstrap_servers: Sequence[str]
    security: KafkaSecuritySettings = field(default_factory=KafkaSecuritySettings)
    client_id: str = "omniclaude"

    def __post_init__(self) -> None:
        if not self.bootstrap_servers:
            raise ConfigurationError("OMNICLAUDE_KAFKA_BOOTSTRAP: no Kafka bootstrap server given")
        object.__setattr__(self, "bootstrap_servers", tuple(self.bootstrap_servers))

    @classmethod
    def from_settings(cls, settings: Settings, *, client_id: str = "omniclaude") -> KafkaClients:
        """The clients of the cluster the settings name.

        Raises:
            ConfigurationError: ``OMNICLAUDE_KAFKA_BOOTSTRAP`` is not set.
        """
        return cls(settings.bootstrap_servers, settings.kafka, client_id)

    @property
    def servers(self) -> list[str]:
        """The bootstrap servers as a list (what aiokafka takes)."""
        return list(self.bootstrap_servers)

    def with_servers(self, bootstrap_servers: Sequence[str]) -> KafkaClients:
        """The same security and client id for another broker address."""
        return KafkaClients(bootstrap_servers, self.security, self.client_id)

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context of the security settings (None for a plaintext protocol)."""
        sec = self.security
        if not sec.uses_ssl:
            return None
        from aiokafka.helpers import create_ssl_context

        password = sec.ssl_key_password.get_secret_value() if sec.ssl_key_password else None
        context: ssl.SSLContext = create_ssl_context(
            cafile=sec.ssl_cafile, certfile=sec.ssl_certfile, keyfile=sec.ssl_keyfile,
            password=password,
        )  # fmt: skip
        return context

    def options(self, client_suffix: str = "") -> dict[str, Any]:
        """The keyword arguments every client of this cluster takes (servers, id, security)."""
        sec = self.security
        out: dict[str, Any] = {
            "bootstrap_servers": self.servers,
            "client_id": f"{self.client_id}{client_suffix}",
            "security_protocol": sec.security_protocol,
        }
        context = self.ssl_context()
        if context is not None:
            out["ssl_context"] = context
        if sec.uses_sasl:
            out["sasl_mechanism"] = sec.sasl_mechanism
            out["sasl_plain_username"] = sec.sasl_username
            out["sasl_plain_password"] = (
                sec.sasl_password.get_secret_value() if sec.sasl_password else None
            )
        return out

    def _merge(self, suffix: str, options: dict[str, Any]) -> dict[str, Any]:
        clash = _SECURITY_KEYS.intersection(options)
        if clash:
            raise ConfigurationError(
                f"{sorted(clash)[0]}: set Kafka security in OMNICLAUDE_KAFKA__*, not per client"
            )
        base = self.options(suffix)
        if "client_id" in options:
            base.pop("client_id")
        return {**base, **options}

    def producer(self, *, client_suffix: str = "", **options: Any) -> Any:
        """A new, unstarted ``AIOKafkaProducer`` (``options`` are aiokafka's)."""
        import aiokafka

        return aiokafka.AIOKafkaProducer(**self._merge(client_suffix, options))

    def consumer(self, *topics: str, client_suffix: str = "", **options: Any) -> Any:
        """A new, unstarted ``AIOKafkaConsumer`` (subscribed to ``topics`` if any are given)."""
        import aiokafka

        return aiokafka.AIOKafkaConsumer(*topics, **self._merge(client_suffix, options))

    def admin(self, *, client_suffix: str = "-admin", **options: Any) -> Any:
        """A new, unstarted ``AIOKafkaAdminClient``."""
        from aiokafka.admin import AIOKafkaAdminClient

        return AIOKafkaAdminClient(**self._merge(client_suffix, options))


def clients_for(target: KafkaClients | Sequence[str]) -> KafkaClients:
    """``target`` itself, or plaintext clients of the bootstrap servers it lists."""
    return target if isinstance(target, KafkaClients) else KafkaClients(target)


async def close_quietly(client: Any, timeout_s: float | None = None) -> None:
    """Stop an aiokafka client whose broker may be gone: never raises, bounded if asked.

    With the broker unreachable, aiokafka's ``stop()`` can leak the ``CancelledError`` of its
    own fetch tasks; that one is swallowed unless this task itself is being cancelled.
    """
    stop = getattr(client, "stop", None) or client.close
    try:
        if timeout_s is None:
            await stop()
        else:
            await asyncio.wait_for(stop(), timeout_s)
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
        log.debug("kafka client stop: internal task cancelled")
    except Exception as exc:  # noqa: BLE001 - closing: report, never fail
        log.warning("kafka client stop: %s: %s", type(exc).__name__, exc)
