"""Logging: JSON lines for services with bound ids, console lines for the CLI, no credential."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from omniclaude import logs
from omniclaude.logs import add_scrubber, bind, choose_format, configure_logging, scrub_text


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    """Logging configured into a buffer; put back to the CLI's console set-up afterwards."""
    buffer = io.StringIO()
    root = logging.getLogger()
    level = root.level
    yield buffer
    for handler in list(root.handlers):
        if handler.get_name() == "omniclaude":
            root.removeHandler(handler)
    root.setLevel(level)


def _json(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


def test_services_write_one_json_object_per_line_with_bound_ids(lines: io.StringIO) -> None:
    """Standard-library loggers come out as JSON with time, level, logger, service and ids."""
    configure_logging(fmt="json", level="INFO", service="consumer", stream=lines)
    log = logging.getLogger("omniclaude.consuming.runner")
    with bind(correlation_id="8c7a1c4e-0b1d-4a53-9a55-3c2b0d8a9f10", request_id=None):
        log.warning("writer stuck for %ds", 3, extra={"event_id": "e-1"})
    log.info("outside the block")
    first, second = _json(lines)
    assert first["event"] == "writer stuck for 3s"
    assert first["level"] == "warning"
    assert first["logger"] == "omniclaude.consuming.runner"
    assert first["service"] == "consumer"
    assert first["correlation_id"] == "8c7a1c4e-0b1d-4a53-9a55-3c2b0d8a9f10"
    assert first["event_id"] == "e-1"
    assert "request_id" not in first, "a None id was bound"
    assert first["timestamp"].endswith("Z")
    assert "correlation_id" not in second, "the binding outlived its block"


def test_exceptions_are_structured(lines: io.StringIO) -> None:
    """A logged exception carries its type and traceback as JSON, not as loose lines."""
    configure_logging(fmt="json", stream=lines)
    try:
        int("boom")
    except ValueError:
        logging.getLogger("x").exception("failed")
    (line,) = _json(lines)
    assert line["exception"][0]["exc_type"] == "ValueError"


def test_credentials_never_reach_a_line(lines: io.StringIO) -> None:
    """URL passwords, query-string keys, bearer tokens, API keys and secret fields are masked."""
    configure_logging(fmt="json", stream=lines)
    logging.getLogger("x").error(
        "connect postgresql://omni:pg-s3cret@db:5432/x failed; GET /events?api_key=k-123&x=1 "
        "Authorization: Bearer abcdefgh12345678 key oc_0123456789ab_SECRETPART",
        extra={"password": "hunter2", "dsn": "postgresql://u:p@h/db", "harmless": "kept"},
    )
    (line,) = _json(lines)
    text = json.dumps(line)
    for secret in ("pg-s3cret", "k-123", "abcdefgh12345678", "SECRETPART", "hunter2"):
        assert secret not in text, f"{secret} leaked into a log line"
    assert "postgresql://omni:***@db:5432/x" in line["event"]
    assert "?api_key=***&x=1" in line["event"]
    assert "oc_0123456789ab_***" in line["event"], "the key's public prefix should stay"
    assert line["harmless"] == "kept"


def test_more_scrubbers_join_the_chain(lines: io.StringIO, monkeypatch: pytest.MonkeyPatch) -> None:
    """A scrubber added by another module runs on every line too."""
    monkeypatch.setattr(logs, "_scrubbers", [])
    add_scrubber(lambda text: text.replace("tenant-secret", "[gone]"))
    configure_logging(fmt="json", stream=lines)
    logging.getLogger("x").warning("token tenant-secret here")
    assert _json(lines)[0]["event"] == "token [gone] here"
    assert scrub_text("") == ""


def test_uvicorn_access_lines_are_fields_once_and_scrubbed(lines: io.StringIO) -> None:
    """uvicorn's access log goes through ours only (no second copy), with its own fields."""
    uvicorn_access = logging.getLogger("uvicorn.access")
    uvicorn_access.addHandler(logging.StreamHandler(io.StringIO()))
    uvicorn_access.propagate = False
    configure_logging(fmt="json", level="INFO", service="api", stream=lines)
    assert not uvicorn_access.handlers
    assert uvicorn_access.propagate
    uvicorn_access.info(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", "/traces?token=t0k3n", "1.1", 200
    )
    (line,) = _json(lines)
    assert (line["method"], line["status"], line["service"]) == ("GET", 200, "api")
    assert line["path"] == "/traces?token=***"
    assert "t0k3n" not in line["event"]


def test_the_cli_writes_readable_lines(lines: io.StringIO) -> None:
    """Console format: not JSON, the message and the level readable by a person."""
    configure_logging(fmt="console", level="WARNING", stream=lines)
    logging.getLogger("omniclaude.cli").warning("outbox holds %d events", 4)
    logging.getLogger("omniclaude.cli").info("not shown at WARNING")
    text = lines.getvalue()
    assert "outbox holds 4 events" in text
    assert "warning" in text.lower()
    assert "not shown" not in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text.splitlines()[0])


@pytest.mark.parametrize(
    ("requested", "service", "expected"),
    [("auto", True, "json"), ("auto", False, "console"), ("console", True, "console"),
     ("json", False, "json")],
)  # fmt: skip
def test_services_default_to_json_and_the_cli_to_console(
    requested: str, service: bool, expected: str
) -> None:
    """OMNICLAUDE_LOG_FORMAT overrides; auto means JSON for services."""
    assert choose_format(requested, service=service) == expected


_KEY = "oc_0123456789ab_" + "S3cr3tS3cr3tS3cr3tS3cr3tS3cr3tS3cr3tS3cr3tA"


@pytest.mark.parametrize(
    "line",
    [
        f'127.0.0.1:5000 - "GET /executions?api_key={_KEY} HTTP/1.1" 401',
        f'"GET /traces/x?limit=5&x-api-key={_KEY}&q=a HTTP/1.1"',
        f"GET /x?KEY={_KEY}#frag",
        f"GET /x?session={_KEY}",
        f"GET /executions/{_KEY} 404",
        f"Authorization: Bearer {_KEY}",
        f"x-api-key: {_KEY}",
        f"headers={{'X-API-Key': '{_KEY}'}}",
        f"postgresql://user:{_KEY}@db:5432/x",
        "a malformed key oc_" + "Z" * 40,
    ],
)
def test_no_credential_survives_scrubbing_in_any_shape(line: str) -> None:
    """Query strings, headers, bare and malformed oc_ keys, URL passwords: no secret part
    remains (issue 12, item 6)."""
    clean = scrub_text(line)
    assert _KEY[16:] not in clean, f"the key's secret survived: {clean}"
    assert "Z" * 40 not in clean, f"a key-shaped token survived: {clean}"
    assert "***" in clean
