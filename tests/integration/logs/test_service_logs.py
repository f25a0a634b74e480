"""Services log JSON lines: ``omniclaude consume`` and ``omniclaude api`` run as real processes
against the test services; every line they write is one JSON object, ids are bound, and no
credential reaches a line."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from omniclaude.stack.children import omniclaude_argv
from omniclaude.stack.ports import unused_port
from tests.fixtures.kafka import KafkaService
from tests.fixtures.waiting import wait_for

pytestmark = pytest.mark.covers("endpoint:GET /health")


def _env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNICLAUDE_")}
    env.update(values)
    return env


def _records(path: Path) -> list[dict[str, Any]]:
    """Every line of ``path`` as JSON; a line that is not JSON fails the test, named."""
    out = []
    for line in path.read_text().splitlines():
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                pytest.fail(f"a service wrote a line that is not JSON: {line!r}")
    return out


class Service:
    """One CLI service process with its standard error captured in a file."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("w") as err:
            self.process = subprocess.Popen(
                omniclaude_argv(*args), env=env, stdout=subprocess.DEVNULL, stderr=err
            )

    async def wait_for_line(self, pattern: str) -> dict[str, Any]:
        """The first JSON line whose event matches ``pattern``."""
        found: list[dict[str, Any]] = []

        async def seen() -> bool:
            assert self.process.poll() is None, f"exited early: {self.log.read_text()}"
            found[:] = [r for r in _records(self.log) if re.search(pattern, r.get("event", ""))]
            return bool(found)

        await wait_for(seen, what=f"a log line matching {pattern!r}", timeout_s=60)
        return found[0]

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait()


@pytest.fixture
def services(tmp_path: Path) -> Iterator[list[Service]]:
    """Processes started by the test; each is stopped at teardown."""
    started: list[Service] = []
    yield started
    for service in started:
        service.stop()


async def test_the_consumer_logs_json_lines(
    services: list[Service], kafka_service: KafkaService, database_url: str, topic_prefix: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    """Every line of ``omniclaude consume`` is JSON with ``service: consumer``; SIGTERM is clean."""
    env = _env(
        OMNICLAUDE_DATABASE_URL=database_url, OMNICLAUDE_KAFKA_BOOTSTRAP=kafka_service.bootstrap,
        OMNICLAUDE_TOPIC_PREFIX=topic_prefix, OMNICLAUDE_LOG_LEVEL="INFO",
    )  # fmt: skip
    consumer = Service(
        ["consume", "--group-id", f"{topic_prefix}logs", "--health-port", "0"], env,
        tmp_path / "consume.err",
    )  # fmt: skip
    services.append(consumer)
    line = await consumer.wait_for_line(r"^consuming ")
    assert line["service"] == "consumer"
    assert line["level"] == "info"
    assert line["logger"] == "omniclaude.consuming.service"
    assert consumer.stop() == 0
    assert all(r.get("service") == "consumer" for r in _records(consumer.log))


async def test_the_api_logs_json_lines_with_request_ids_and_no_credentials(
    services: list[Service], database_url: str, tmp_path: Path
) -> None:
    """uvicorn's lines come through ours: JSON, one access line per request with its
    request id, and a key sent in the query string masked."""
    port = unused_port()
    env = _env(OMNICLAUDE_DATABASE_URL=database_url, OMNICLAUDE_LOG_LEVEL="INFO")
    api = Service(
        ["api", "--port", str(port), "--workspace", str(tmp_path)], env, tmp_path / "api.err"
    )
    services.append(api)
    await api.wait_for_line(r"Uvicorn running|Application startup complete")
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        answer = await client.get(
            "/health?api_key=oc_0123456789ab_leakedsecret", headers={"X-Request-ID": "req-42"}
        )
    assert answer.headers["x-request-id"] == "req-42"
    access = await api.wait_for_line(r'"GET /health')
    assert access["service"] == "api"
    assert access["request_id"] == "req-42"
    assert access["method"] == "GET"
    assert api.stop() in (0, -signal.SIGTERM), "uvicorn re-raises SIGTERM after a clean stop"
    text = api.log.read_text()
    assert "leakedsecret" not in text, "a key from the query string reached the log"
    access_lines = [r for r in _records(api.log) if r.get("logger") == "uvicorn.access"]
    assert len(access_lines) == 1, "uvicorn printed its own copy of the access line"
