"""What ``omniclaude up`` starts and where: ports, directories, external services.

Built once from :class:`~omniclaude.settings.Settings` and the command-line options
(:meth:`StackConfig.from_settings`); the supervisor and the CLI only read it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from omniclaude.settings import Settings
from omniclaude.stack.ports import unused_port
from omniclaude.stack.state import stack_dir

__all__ = [
    "DATABASE_NAME",
    "DEFAULT_KAFKA_PORT",
    "DEFAULT_PG_PORT",
    "PortSpec",
    "StackConfig",
]

DEFAULT_PG_PORT = 15432
"""Default port of the embedded PostgreSQL (not 5432, so a system PostgreSQL can coexist)."""
DEFAULT_KAFKA_PORT = 19092
"""Default port of the embedded Tansu broker (not 9092, so a local Kafka can coexist)."""
DATABASE_NAME = "omniclaude"
"""The database the embedded server holds OmniClaude's tables in."""


@dataclass(frozen=True, slots=True)
class PortSpec:
    """One port the stack listens on, and the option that changes it."""

    component: str
    port: int
    option: str


@dataclass(frozen=True, slots=True)
class StackConfig:
    """Everything the supervisor needs to know, resolved (no port is 0 here)."""

    data_dir: Path
    spool_dir: Path | None = None
    """``OMNICLAUDE_SPOOL_DIR`` when set; :attr:`spool` is the directory in either case."""
    host: str = "127.0.0.1"
    pg_port: int = DEFAULT_PG_PORT
    kafka_port: int = DEFAULT_KAFKA_PORT
    api_port: int = 8080
    consumer_port: int = 8081
    external_database_url: str | None = None
    external_bootstrap: str | None = None
    with_emitter: bool = True
    config_file: Path | None = None
    topic_prefix: str = ""
    start_timeout_s: float = 90.0

    @property
    def spool(self) -> Path:
        """The hook spool the stack's emitter ships: ``spool_dir`` or ``<data dir>/spool``."""
        return self.spool_dir if self.spool_dir is not None else self.data_dir / "spool"

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        data_dir: Path | None = None,
        pg_port: int | None = None,
        kafka_port: int | None = None,
        api_port: int | None = None,
        consumer_port: int | None = None,
        with_emitter: bool = True,
        config_file: Path | None = None,
    ) -> StackConfig:
        """Resolve the configuration; a port given as 0 is replaced by a free one.

        ``OMNICLAUDE_DATABASE_URL`` / ``OMNICLAUDE_KAFKA_BOOTSTRAP`` (in ``settings``) make the
        stack use those services instead of starting its own.
        """
        root = (data_dir or settings.data_dir).expanduser().absolute()
        config = cls(
            data_dir=root,
            spool_dir=settings.spool_dir.expanduser().absolute() if settings.spool_dir else None,
            host=settings.api.host,
            pg_port=DEFAULT_PG_PORT if pg_port is None else pg_port,
            kafka_port=DEFAULT_KAFKA_PORT if kafka_port is None else kafka_port,
            api_port=settings.api.port if api_port is None else api_port,
            consumer_port=settings.consumer.health_port if consumer_port is None else consumer_port,
            external_database_url=(
                settings.database_dsn() if settings.database_url is not None else None
            ),
            external_bootstrap=settings.kafka_bootstrap,
            with_emitter=with_emitter,
            config_file=config_file,
            topic_prefix=settings.topic_prefix,
        )
        return config.with_free_ports()

    def with_free_ports(self) -> StackConfig:
        """Return a copy in which every port given as 0 is a free port."""

        def pick(port: int) -> int:
            return unused_port(self.host) if port == 0 else port

        return replace(
            self,
            pg_port=pick(self.pg_port),
            kafka_port=pick(self.kafka_port),
            api_port=pick(self.api_port),
            consumer_port=pick(self.consumer_port),
        )

    @property
    def embedded_postgres(self) -> bool:
        """True when the stack runs its own PostgreSQL."""
        return self.external_database_url is None

    @property
    def embedded_kafka(self) -> bool:
        """True when the stack runs its own (memory-only) Tansu broker."""
        return self.external_bootstrap is None

    @property
    def pgdata(self) -> Path:
        """The embedded PostgreSQL cluster directory."""
        return self.data_dir / "postgres"

    @property
    def logs_dir(self) -> Path:
        """Where the component logs go."""
        return stack_dir(self.data_dir) / "logs"

    @property
    def api_url(self) -> str:
        """The API's base URL."""
        return f"http://{self.host}:{self.api_port}"

    @property
    def consumer_url(self) -> str:
        """The consumer's health and metrics server."""
        return f"http://{self.host}:{self.consumer_port}"

    def ports(self) -> list[PortSpec]:
        """Every port this stack will listen on (external services excluded)."""
        ports = []
        if self.embedded_postgres:
            ports.append(PortSpec("postgres", self.pg_port, "--pg-port"))
        if self.embedded_kafka:
            ports.append(PortSpec("kafka", self.kafka_port, "--kafka-port"))
        ports.append(PortSpec("consumer", self.consumer_port, "--consumer-port"))
        ports.append(PortSpec("api", self.api_port, "--api-port"))
        return ports
