"""Where OTLP goes: an endpoint URL and headers, checked (standard library only).

Shared by ``omniclaude export-otlp`` and the consumer's settings
(``OMNICLAUDE_OTLP_EXPORT__ENDPOINT`` / ``__HEADERS``), so both accept the same forms.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

__all__ = ["parse_header", "parse_headers", "shown_url", "traces_endpoint"]

_TOKEN = frozenset("!#$%&'*+-.^_`|~")


def traces_endpoint(url: str) -> str:
    """The traces URL of ``url``: a base URL (no path) gets ``/v1/traces``, a URL with a
    path is used as given (OTLP/HTTP's signal-specific endpoint form).

    Raises:
        ValueError: not an ``http``/``https`` URL with a host.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not an http:// or https:// URL with a host")
    try:
        parts.port  # noqa: B018 - validates the port
    except ValueError as exc:
        raise ValueError(f"{url!r}: bad port ({exc})") from None
    path = parts.path if parts.path not in ("", "/") else "/v1/traces"
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def parse_header(text: str) -> tuple[str, str]:
    """``K=V`` (the ``OTEL_EXPORTER_OTLP_HEADERS`` form of one header) as a pair.

    Raises:
        ValueError: no ``=``, an empty or invalid name, or a line break in the value.
    """
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise ValueError("an entry is not NAME=VALUE (not repeated here: it may be a secret)")
    if not all((c.isascii() and c.isalnum()) or c in _TOKEN for c in name):
        raise ValueError(f"{name!r} is not a valid header name")
    if "\r" in value or "\n" in value:
        raise ValueError(f"{name}: a header value cannot hold a line break")
    return name, value.strip()


def parse_headers(text: str) -> dict[str, str]:
    """``K=V,K2=V2`` (``OTEL_EXPORTER_OTLP_HEADERS``'s form) as a dict; values may be
    percent-encoded as that variable allows.

    Raises:
        ValueError: an entry is not a valid ``NAME=VALUE``.
    """
    from urllib.parse import unquote

    pairs = (parse_header(part) for part in text.split(",") if part.strip())
    return {name: unquote(value) for name, value in pairs}


def shown_url(url: str) -> str:
    """``url`` without the user and password it may hold (for messages and logs)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port is not None else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
