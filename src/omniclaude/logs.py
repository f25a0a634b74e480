"""Logging, configured once per process at its entry point: JSON lines for services.

:func:`configure_logging` sets up structlog and routes the standard library's loggers (ours,
uvicorn's, aiokafka's, asyncpg's) through the same processors, so every line of a process has
one shape:

* services (``omniclaude consume``, ``omniclaude api``, the hook emitter, the stack's
  supervisor) write one JSON object per line to standard error: ``timestamp`` (ISO 8601,
  UTC), ``level``, ``logger``, ``event`` (the message), the process's bound ``service``, any
  ids bound in the current context (``correlation_id``, ``request_id``), the fields a call
  passed with ``extra={...}``, and ``exception`` with the traceback when there is one;
* the CLI's commands write readable console lines.

``OMNICLAUDE_LOG_FORMAT=json|console`` overrides the choice; ``OMNICLAUDE_LOG_LEVEL`` sets the
level.

Credentials never reach a line: :func:`scrub_credentials` runs on every record, after every
other processor that adds text. It masks passwords in URLs (``postgresql://u:***@h/db``),
credentials in query strings (``?api_key=***``), bearer tokens, ``X-API-Key:`` values,
OmniClaude API keys (``oc_<prefix>_***``; anything else shaped like one: ``oc_***``) and any
field whose name says it holds a secret. Extra scrubbers (for
example one that knows more query-string keys) are added with :func:`add_scrubber` and run
on the same text.

Correlation ids are bound with :func:`bind` (a context manager over structlog's contextvars):
the API binds a ``request_id`` (and the ``correlation_id`` a request names), the runtime binds
each execution's ``correlation_id`` for the code that runs it.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
from collections.abc import Callable, Iterator, MutableMapping
from typing import TYPE_CHECKING, Any, Final, Literal, TextIO

import structlog

if TYPE_CHECKING:
    from omniclaude.settings import Settings

__all__ = [
    "LogFormat",
    "add_scrubber",
    "bind",
    "choose_format",
    "configure_logging",
    "configure_service_logging",
    "scrub_credentials",
    "scrub_text",
]

LogFormat = Literal["json", "console"]

_URL_PASSWORD: Final = re.compile(r"(?P<head>[a-zA-Z][\w+.-]*://[^\s:/@]+:)[^\s@/]+@")
_QUERY_SECRET: Final = re.compile(
    r"(?P<head>[?&;](?:api[_-]?key|x[_-]api[_-]key|key|token|access_token|refresh_token|"
    r"id_token|password|passwd|pwd|secret|client_secret|auth|authorization|signature|sig|"
    r"session|sessionid|code)=)[^&\s\"';]+",
    re.IGNORECASE,
)
_KEY_HEADER: Final = re.compile(
    r"(?P<head>\bx-api-key[\"']?\s*[:=]\s*[\"']?)[^\s\"',;&]+", re.IGNORECASE
)
_ANY_OC_KEY: Final = re.compile(r"(?<![A-Za-z0-9])oc_(?![0-9a-f]{12}_)[A-Za-z0-9_-]{8,}")
"""A token that looks like an OmniClaude key but not a well-formed one (masked whole)."""
_BEARER: Final = re.compile(r"(?P<head>\b(?:Bearer|Basic)\s+)[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE)
_API_KEY: Final = re.compile(r"(?P<head>\boc_[0-9a-f]{12}_)[A-Za-z0-9_-]+")
_SECRET_FIELD: Final = re.compile(
    r"(pass(word|wd)?|secret|token|api[_-]?key|authorization|credential|cookie|dsn)", re.I
)
_MASK: Final = "***"
_KEEP_FIELDS: Final = frozenset({"event", "logger", "level", "timestamp", "service"})

_HANDLER_NAME: Final = "omniclaude"

_scrubbers: list[Callable[[str], str]] = []


def add_scrubber(scrubber: Callable[[str], str]) -> None:
    """Run ``scrubber`` on the text of every log record too (idempotent for one function)."""
    if scrubber not in _scrubbers:
        _scrubbers.append(scrubber)


def scrub_text(text: str) -> str:
    """Mask every credential :mod:`omniclaude.logs` knows how to find in ``text``."""
    if not text:
        return text
    text = _URL_PASSWORD.sub(rf"\g<head>{_MASK}@", text)
    text = _QUERY_SECRET.sub(rf"\g<head>{_MASK}", text)
    text = _BEARER.sub(rf"\g<head>{_MASK}", text)
    text = _API_KEY.sub(rf"\g<head>{_MASK}", text)
    text = _ANY_OC_KEY.sub(f"oc_{_MASK}", text)
    text = _KEY_HEADER.sub(rf"\g<head>{_MASK}", text)
    for scrubber in _scrubbers:
        text = scrubber(text)
    return text


def _scrub_value(name: str, value: Any) -> Any:
    if name not in _KEEP_FIELDS and _SECRET_FIELD.search(name) and value not in (None, ""):
        return _MASK
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {k: _scrub_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub_value(name, v) for v in value]
    return value


def scrub_credentials(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: mask credentials in every field (see the module docstring)."""
    for name in list(event_dict):
        if not name.startswith("_"):
            event_dict[name] = _scrub_value(name, event_dict[name])
    return event_dict


def _uvicorn_fields(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Give uvicorn's access lines fields of their own (client, method, path, status), and
    drop the ANSI-coloured copy of the message uvicorn adds."""
    event_dict.pop("color_message", None)  # uvicorn's ANSI-coloured copy of the message
    args = event_dict.pop("positional_args", None)  # kept by ProcessorFormatter for this
    record = event_dict.get("_record")
    access = record is not None and record.name == "uvicorn.access"
    if access and isinstance(args, tuple) and len(args) == 5:
        client, method, path, http_version, status = args
        event_dict.update(
            client=client, method=method, path=path, http_version=http_version, status=status
        )
    return event_dict


@contextlib.contextmanager
def bind(**values: Any) -> Iterator[None]:
    """Bind ``values`` (ids; None ones are skipped) to every log line of the current context
    for the block's length."""
    present = {k: str(v) for k, v in values.items() if v is not None}
    with structlog.contextvars.bound_contextvars(**present):
        yield


def _shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        _uvicorn_fields,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]


class _StandardError(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time of each line (as logging's own
    last-resort handler does), so a replaced stderr is followed, never written after close."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        """The current standard error."""
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        return


def configure_logging(
    *,
    fmt: LogFormat,
    level: str | int = "INFO",
    service: str | None = None,
    stream: TextIO | None = None,
    quiet: dict[str, int] | None = None,
) -> None:
    """Configure structlog and the standard library's logging for this process.

    Call once, at the entry point (a CLI command, a service's ``main``); calling again
    replaces the earlier set-up (tests do).

    Args:
        fmt: ``json`` (services) or ``console`` (the CLI).
        level: the root level (``OMNICLAUDE_LOG_LEVEL``).
        service: bound to every line as ``service`` (``consumer``, ``api``, ``emitter``, ...).
        stream: where lines go (default: standard error).
        quiet: logger name → level, for chatty libraries (``{"aiokafka": logging.ERROR}``).
    """
    shared = _shared_processors()
    if fmt == "json":
        renderer: Any = structlog.processors.JSONRenderer(default=str)
        tail: list[Any] = [structlog.processors.dict_tracebacks]
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=False)
        tail = []
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        pass_foreign_args=True,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *tail,
            scrub_credentials,
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream) if stream is not None else _StandardError()
    handler.setFormatter(formatter)
    handler.set_name(_HANDLER_NAME)
    root = logging.getLogger()
    for old in list(root.handlers):
        if old.get_name() == _HANDLER_NAME:  # ours from an earlier call; others are kept
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        # uvicorn's own handlers would print a second, unstructured copy; its filters stay.
        library = logging.getLogger(name)
        for old in list(library.handlers):
            library.removeHandler(old)
        library.propagate = True
    for name, quiet_level in (quiet or {}).items():
        logging.getLogger(name).setLevel(quiet_level)
    structlog.contextvars.clear_contextvars()
    if service is not None:
        structlog.contextvars.bind_contextvars(service=service)


def choose_format(requested: str, *, service: bool) -> LogFormat:
    """The format for a process: ``requested`` unless ``auto`` (JSON for services)."""
    if requested in ("json", "console"):
        return requested  # type: ignore[return-value]
    return "json" if service else "console"


def configure_service_logging(
    settings: Settings, *, service: str, quiet: dict[str, int] | None = None
) -> None:
    """Configure a service process from its settings: JSON lines unless told otherwise.

    Args:
        settings: ``log_format`` (``auto``: JSON) and ``log_level``.
        service: the name bound to every line (``consumer``, ``api``, ``emitter``, ...).
        quiet: logger name → level, for chatty libraries.
    """
    configure_logging(
        fmt=choose_format(settings.log_format, service=True),
        level=settings.log_level,
        service=service,
        quiet=quiet,
    )
