"""Settings, read once at the edge (CLI callback, ``create_app``) and passed down.

Every variable has the prefix ``OMNICLAUDE_``; nested areas use ``__`` (for example
``OMNICLAUDE_CONSUMER__BATCH_MAX_EVENTS``). A TOML file named by ``OMNICLAUDE_CONFIG_FILE``
(or ``--config``) supplies defaults that environment variables override. SDK classes never
read the environment themselves.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Final, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from omniclaude.errors import ConfigurationError

__all__ = [
    "ApiSettings",
    "ConsumerSettings",
    "Duration",
    "HookSettings",
    "KafkaSecuritySettings",
    "OtlpExportSettings",
    "PartitionSettings",
    "ProducerSettings",
    "RetentionSettings",
    "Settings",
    "TopicSettings",
    "check_retention",
    "default_data_dir",
    "format_duration",
    "load_settings",
    "parse_bootstrap",
    "parse_duration",
    "validate_database_url",
]

ENV_PREFIX = "OMNICLAUDE_"
CONFIG_FILE_ENV = "OMNICLAUDE_CONFIG_FILE"
_PG_SCHEMES = {"postgres", "postgresql"}
_MAX_PORT = 65535


def default_data_dir() -> Path:
    """Return the per-user data directory (``$XDG_DATA_HOME/omniclaude``)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "omniclaude"


def _check_port(port_text: str, what: str) -> None:
    if not port_text.isdigit() or not 1 <= int(port_text) <= _MAX_PORT:
        raise ValueError(f"{what}: port {port_text!r} is not in 1..{_MAX_PORT}")


def validate_database_url(url: str) -> str:
    """Check that ``url`` is a libpq-style PostgreSQL URL and return it unchanged.

    Accepts the host form ``postgresql://user:pw@host:5432/db`` and the Unix-socket form
    ``postgresql://user@/db?host=/run/postgresql``.

    Raises:
        ValueError: the scheme is not postgres/postgresql, or a port is out of range.
    """
    parts = urlsplit(url)
    if parts.scheme not in _PG_SCHEMES:
        raise ValueError(f"expected a postgresql:// URL, got scheme {parts.scheme or '(none)'!r}")
    netloc = parts.netloc.rpartition("@")[2]
    # Several hosts are allowed by libpq: host1:5432,host2:5433.
    for host in filter(None, netloc.split(",")):
        if host.startswith("["):
            port = host.partition("]")[2].removeprefix(":")
        else:
            port = host.partition(":")[2]
        if port:
            _check_port(port, "database URL")
    return url


def parse_bootstrap(value: str) -> list[str]:
    """Split a comma-separated ``host:port`` list, checking every port.

    Raises:
        ValueError: an entry lacks a host or a valid port.
    """
    servers = [item.strip() for item in value.split(",") if item.strip()]
    if not servers:
        raise ValueError("expected at least one host:port")
    for server in servers:
        host, sep, port = server.rpartition(":")
        if not sep or not host:
            raise ValueError(f"{server!r} is not host:port")
        _check_port(port, server)
    return servers


_DURATION: Final = re.compile(r"^\s*(\d{1,6})\s*([hdw])\s*$")
_UNITS: Final = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


def parse_duration(text: str) -> timedelta:
    """Parse a retention duration: a whole number of hours, days or weeks (``12h``, ``30d``,
    ``2w``).

    Raises:
        ValueError: not such a duration, or zero (the message quotes the text).
    """
    match = _DURATION.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{str(text)[:40]!r} is not a duration like 12h, 30d or 2w")
    value = int(match.group(1)) * _UNITS[match.group(2)]
    if not value:
        raise ValueError(f"{text.strip()!r}: a duration must be more than zero")
    return value


def format_duration(value: timedelta) -> str:
    """Write a duration in days or hours, as :func:`parse_duration` reads it (else seconds)."""
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86_400), ("h", 3_600)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{value.total_seconds():g}s"


def _duration(value: Any) -> Any:
    return parse_duration(value) if isinstance(value, str) else value


Duration = Annotated[timedelta, BeforeValidator(_duration)]
"""A duration written ``12h``, ``30d`` or ``2w`` (a ``timedelta`` is taken as is)."""


class TopicSettings(BaseModel):
    """Kafka topic names (the prefix from ``Settings.topic_prefix`` is added on use)."""

    model_config = ConfigDict(frozen=True)

    actions: str = "agent-actions"
    routing_decisions: str = "agent-routing-decisions"
    manifest_injections: str = "intelligence-events"
    executions: str = "agent-execution-logs"
    transformations: str = "agent-transformations"
    llm_calls: str = "agent-llm-calls"
    metrics: str = "agent-metrics"
    partitions: int = Field(default=3, ge=1, le=1024)
    dead_letter_suffix: str = "-dlq"


class KafkaSecuritySettings(BaseModel):
    """How every Kafka client authenticates to a real cluster (``OMNICLAUDE_KAFKA__*``).

    The default, ``PLAINTEXT``, suits the embedded broker and a local Kafka. ``SSL`` and
    ``SASL_SSL`` verify the broker's certificate against ``ssl_cafile`` (or the system's trust
    store); ``ssl_certfile``/``ssl_keyfile`` add a client certificate (mutual TLS). ``SASL_*``
    protocols need ``sasl_mechanism``, ``sasl_username`` and ``sasl_password``. Passwords are
    secrets: they are never printed, logged or written to a state file.
    """

    model_config = ConfigDict(frozen=True)

    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    ssl_key_password: SecretStr | None = None

    @property
    def uses_sasl(self) -> bool:
        """Whether the protocol authenticates with SASL."""
        return self.security_protocol.startswith("SASL_")

    @property
    def uses_ssl(self) -> bool:
        """Whether the protocol encrypts with TLS."""
        return self.security_protocol in ("SSL", "SASL_SSL")

    @model_validator(mode="after")
    def _check_consistent(self) -> KafkaSecuritySettings:
        if self.uses_sasl:
            for name in ("sasl_mechanism", "sasl_username", "sasl_password"):
                if getattr(self, name) is None:
                    raise ValueError(
                        f"{name}: required with security_protocol {self.security_protocol}"
                    )
        elif self.sasl_mechanism or self.sasl_username or self.sasl_password:
            raise ValueError(
                "sasl_mechanism: SASL options need security_protocol SASL_PLAINTEXT or SASL_SSL"
            )
        tls_files = (self.ssl_cafile, self.ssl_certfile, self.ssl_keyfile)
        if not self.uses_ssl and any(tls_files):
            raise ValueError("ssl_cafile: TLS options need security_protocol SSL or SASL_SSL")
        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            raise ValueError(
                "ssl_keyfile: a client certificate needs both ssl_certfile and ssl_keyfile"
            )
        for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
            path = getattr(self, name)
            if path is not None and not Path(path).is_file():
                raise ValueError(f"{name}: no such file: {path}")
        return self


class ProducerSettings(BaseModel):
    """How the SDK's Kafka producer batches and retries."""

    model_config = ConfigDict(frozen=True)

    linger_ms: int = Field(default=5, ge=0, le=10_000)
    max_batch_bytes: int = Field(default=1_048_576, ge=1024)
    flush_timeout_s: float = Field(default=5.0, ge=0)
    outbox_max_events: int = Field(default=1_000_000, ge=1)
    queue_max_events: int = Field(default=100_000, ge=1)


class ConsumerSettings(BaseModel):
    """How the ingestion service batches, retries and reports."""

    model_config = ConfigDict(frozen=True)

    group_id: str = "omniclaude-ingest"
    batch_max_events: int = Field(default=2000, ge=1, le=100_000)
    batch_max_ms: int = Field(default=200, ge=1, le=60_000)
    batch_adaptive: bool = True
    """Write a batch at once when the fetch is drained and the writer idle (low latency at low
    load); batches still grow to ``batch_max_events`` under a backlog."""
    fetch_max_wait_ms: int = Field(default=50, ge=0, le=30_000)
    """The longest a fetch may wait at the broker for records (bounds latency at low load)."""
    session_timeout_ms: int = Field(default=10_000, ge=1_000, le=300_000)
    """Consumer-group session timeout; Tansu completes a join only after about half of it,
    so the embedded stack uses 3000."""
    retry_initial_s: float = Field(default=0.2, gt=0)
    retry_max_s: float = Field(default=10.0, gt=0)
    health_host: str = "127.0.0.1"
    health_port: int = Field(default=8081, ge=0, le=_MAX_PORT)


class PartitionSettings(BaseModel):
    """How the event tables are partitioned by day, in UTC (see docs/operations.md)."""

    model_config = ConfigDict(frozen=True)

    ahead_days: int = Field(default=7, ge=1, le=366)
    """Days after today whose partitions the consumer (or ``db maintain``) creates ahead."""
    daily_days: int = Field(default=35, ge=0, le=3660)
    """Days before today that get a partition each; older events share one per month."""


def _text(value: timedelta | None) -> str:
    return "forever" if value is None else format_duration(value)


def check_retention(
    keep: timedelta | None,
    tables: Mapping[str, timedelta],
    rollups: timedelta | None,
    *,
    event_tables: Sequence[str],
    summary: str,
) -> None:
    """Refuse a policy that would lose figures or traces before their rows.

    * every duration is positive and every table is one of ``event_tables`` or ``summary``;
    * the execution summaries outlive every event table (a trace is found by its summary:
      events without one are unreachable);
    * the rollups outlive everything else (they are the only record of dropped days).

    Raises:
        ValueError: naming the setting at fault (``tables.<name>``, ``rollups``).
    """
    for name, value in (("keep", keep), ("rollups", rollups), *tables.items()):
        if value is not None and value <= timedelta(0):
            raise ValueError(f"{name}: a retention must be more than zero")
    known = (*event_tables, summary)
    unknown = sorted(set(tables) - set(known))
    if unknown:
        raise ValueError(
            f"tables: unknown table {unknown[0]!r}; tables with a retention: " + ", ".join(known)
        )
    kept = {t: tables.get(t, keep) for t in known}
    summary_keep = kept[summary]
    if summary_keep is not None:
        for table in event_tables:
            other = kept[table]
            if other is None or other > summary_keep:
                raise ValueError(
                    f"tables.{summary}: summaries kept {_text(summary_keep)} but {table} "
                    f"{_text(other)}; the summaries must be kept at least as long as every "
                    "event table"
                )
    if rollups is not None:
        for table, value in kept.items():
            if value is None or value > rollups:
                raise ValueError(
                    f"rollups: {_text(rollups)} is shorter than the retention of {table} "
                    f"({_text(value)}); rollups must outlive the rows they summarise"
                )


class RetentionSettings(BaseModel):
    """How long stored events are kept (``omniclaude retention``; applied daily by the
    consumer when set; see docs/operations.md, "Retention"). Nothing is set by default:
    nothing is ever deleted unless asked."""

    model_config = ConfigDict(frozen=True)

    keep: Duration | None = None
    """Every event table's days (and the execution summaries) older than this are dropped."""
    tables: dict[str, Duration] = Field(default_factory=dict)
    """Per table, overriding ``keep`` (``agent_actions = "7d"``; ``agent_execution_logs`` is
    the execution summaries)."""
    rollups: Duration | None = None
    """The rollups' buckets older than this are deleted; unset: rollups are kept forever.
    At least as long as every other retention (the figures outlive the rows)."""
    batch_rows: int = Field(default=5000, ge=1, le=1_000_000)
    """Rows deleted per statement from the unpartitioned tables (summaries, rollups)."""

    @model_validator(mode="after")
    def _coherent(self) -> RetentionSettings:
        from omniclaude.events import TOPICS

        event_tables = sorted(spec.table for spec in TOPICS)
        check_retention(
            self.keep, self.tables, self.rollups,
            event_tables=event_tables, summary="agent_execution_logs",
        )  # fmt: skip
        return self

    @property
    def configured(self) -> bool:
        """Whether any retention is set (otherwise nothing is ever deleted)."""
        return self.keep is not None or bool(self.tables) or self.rollups is not None


class ApiSettings(BaseModel):
    """Where the HTTP API listens."""

    model_config = ConfigDict(frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=_MAX_PORT)
    viewer_session_ttl_s: float = Field(default=12 * 3600, ge=60, le=30 * 86400)
    """How long a viewer session (traded for a read key at login) lasts."""
    exports_at_once: int = Field(default=2, ge=1, le=64)
    """How many ``GET /export`` read the database at once (each holds a connection; more
    are answered 429)."""
    export_idle_timeout_s: float = Field(default=30.0, gt=0, le=3600)
    """How long an export waits for its client to take a chunk before it ends (a client
    that stops reading gives its database connection back after this)."""
    export_statement_timeout_s: float = Field(default=60.0, gt=0, le=3600)
    """The longest one statement of an HTTP export may run (a day's rows sorted, a fetch)."""


class HookSettings(BaseModel):
    """Claude Code hook behaviour."""

    model_config = ConfigDict(frozen=True)

    max_tool_response_bytes: int = Field(default=16_384, ge=256)
    session_timeout_s: float = Field(default=6 * 3600, gt=0)
    spool_rotate_after_s: float = Field(default=10.0, gt=0)
    """Shipped spool records are deleted about this long after they were received."""
    spool_rotate_bytes: int = Field(default=16 * 1024 * 1024, ge=1)
    """...or once this many bytes of the active segment were shipped, whichever is first."""


class OtlpExportSettings(BaseModel):
    """The consumer's continuous OTLP export (``OMNICLAUDE_OTLP_EXPORT__*``; off without an
    endpoint). Each finished trace is sent as GenAI spans in the background (docs/otel.md,
    "Exporting OTLP"); the write path never waits for it."""

    model_config = ConfigDict(frozen=True)

    endpoint: str | None = None
    """The collector: a base URL (``/v1/traces`` is added) or the full traces URL."""
    headers: SecretStr | None = None
    """Sent with every request, ``K=V,K2=V2`` (the ``OTEL_EXPORTER_OTLP_HEADERS`` form;
    values may be percent-encoded). A secret: never printed or logged."""
    timeout_s: float = Field(default=10.0, gt=0, le=600)
    """Per request, the exporter's own retries of a 429/502/503/504 included."""
    compression: Literal["gzip", "none"] = "gzip"
    max_queue_traces: int = Field(default=1000, ge=1, le=1_000_000)
    """Finished traces waiting to be sent; beyond it they are dropped (and counted)."""
    max_spans_per_request: int = Field(default=512, ge=1, le=100_000)
    settle_s: float = Field(default=1.0, ge=0, le=60)
    """How long a finished trace must go without another of its rows before it is read and
    sent (its rows come on several topics, so in several batches)."""

    @field_validator("endpoint")
    @classmethod
    def _check_endpoint(cls, value: str | None) -> str | None:
        from omniclaude.otel.target import traces_endpoint

        return None if value is None or not value.strip() else traces_endpoint(value)

    @field_validator("headers")
    @classmethod
    def _check_headers(cls, value: SecretStr | None) -> SecretStr | None:
        from omniclaude.otel.target import parse_headers

        if value is not None:
            parse_headers(value.get_secret_value())
        return value

    def header_map(self) -> dict[str, str]:
        """The headers as a dict, in plain text (for the exporter only)."""
        from omniclaude.otel.target import parse_headers

        return {} if self.headers is None else parse_headers(self.headers.get_secret_value())


class Settings(BaseSettings):
    """All OmniClaude settings. Build once with :func:`load_settings`.

    The names ``OMNICLAUDE_DATABASE_URL``, ``OMNICLAUDE_KAFKA_BOOTSTRAP``,
    ``OMNICLAUDE_TOPIC_PREFIX``, ``OMNICLAUDE_SPOOL_DIR`` and ``OMNICLAUDE_DATA_DIR`` are fixed.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        frozen=True,
        extra="ignore",
    )

    database_url: SecretStr | None = None
    kafka_bootstrap: str | None = None
    topic_prefix: str = ""
    data_dir: Path = Field(default_factory=default_data_dir)
    spool_dir: Path | None = None
    pricing_file: Path | None = None
    """A price table of your own (``OMNICLAUDE_PRICING_FILE``; default ``<data dir>/pricing.toml``
    when that file exists), added to and overriding the shipped one."""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: Literal["auto", "json", "console"] = "auto"
    """``auto``: JSON lines for services (consumer, API, emitter, supervisor), console lines
    for the CLI's own commands (:mod:`omniclaude.logs`)."""
    kafka: KafkaSecuritySettings = KafkaSecuritySettings()
    topics: TopicSettings = TopicSettings()
    producer: ProducerSettings = ProducerSettings()
    consumer: ConsumerSettings = ConsumerSettings()
    partitions: PartitionSettings = PartitionSettings()
    retention: RetentionSettings = RetentionSettings()
    api: ApiSettings = ApiSettings()
    hooks: HookSettings = HookSettings()
    otlp_export: OtlpExportSettings = OtlpExportSettings()

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            validate_database_url(value.get_secret_value())
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("kafka_bootstrap")
    @classmethod
    def _check_bootstrap(cls, value: str | None) -> str | None:
        if value is not None:
            parse_bootstrap(value)
        return value

    @field_validator("topic_prefix")
    @classmethod
    def _check_prefix(cls, value: str) -> str:
        allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        if not set(value) <= allowed:
            raise ValueError(
                "only letters, digits, '.', '_' and '-' are legal in Kafka topic names"
            )
        return value

    @property
    def effective_spool_dir(self) -> Path:
        """The spool directory: ``spool_dir`` or ``<data_dir>/spool``."""
        return self.spool_dir if self.spool_dir is not None else self.data_dir / "spool"

    @property
    def effective_pricing_file(self) -> Path | None:
        """The user's price table: ``pricing_file``, else ``<data_dir>/pricing.toml`` if present."""
        if self.pricing_file is not None:
            return self.pricing_file
        default = self.data_dir / "pricing.toml"
        return default if default.is_file() else None

    @property
    def bootstrap_servers(self) -> list[str]:
        """The Kafka bootstrap servers as a list (empty when none is configured)."""
        return parse_bootstrap(self.kafka_bootstrap) if self.kafka_bootstrap else []

    def database_dsn(self) -> str:
        """Return the database URL as plain text, for the driver only.

        Raises:
            ConfigurationError: no database URL is configured.
        """
        if self.database_url is None:
            raise ConfigurationError(f"{ENV_PREFIX}DATABASE_URL is not set")
        return self.database_url.get_secret_value()

    def topic(self, name: str) -> str:
        """Return the full name of the topic called ``name`` (with the prefix)."""
        return f"{self.topic_prefix}{name}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,  # noqa: ARG003 - no .env files
        file_secret_settings: PydanticBaseSettingsSource,  # noqa: ARG003 - no secret dirs
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Order: explicit arguments, environment, then the optional TOML config file."""
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if settings_cls.model_config.get("toml_file"):
            sources.append(TomlConfigSettingsSource(settings_cls))
        return tuple(sources)


def _variable_name(loc: tuple[int | str, ...]) -> str:
    return ENV_PREFIX + "__".join(str(part).upper() for part in loc)


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build :class:`Settings` from the environment (and ``config_file``), or explain why not.

    Raises:
        ConfigurationError: one line naming the variable at fault and the reason.
    """
    if config_file is None and os.environ.get(CONFIG_FILE_ENV):
        config_file = Path(os.environ[CONFIG_FILE_ENV])
    settings_cls: type[Settings] = Settings
    if config_file is not None:
        if not config_file.is_file():
            raise ConfigurationError(f"{CONFIG_FILE_ENV}: no such file: {config_file}")
        config = SettingsConfigDict(**{**Settings.model_config, "toml_file": config_file})
        settings_cls = type("Settings", (Settings,), {"model_config": config})
    try:
        return settings_cls(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigurationError(f"{_variable_name(first['loc'])}: {message}") from exc
