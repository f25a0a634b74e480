"""A very small HTTP endpoint for probes and scrapes: ``/health``, ``/ready``, ``/metrics``.

* ``GET /health`` - liveness: 200 while the consume loop runs, 503 once it died.
* ``GET /ready`` - readiness: 200 when the last database write and the broker connection
  succeeded, 503 (with the reason in the JSON body) while either is failing.
* ``GET /metrics`` - Prometheus text format (see :mod:`omniclaude.consuming.metrics`).

It runs on the service's event loop with :mod:`asyncio` streams: no web framework to import,
one short response per connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Any, Final

from omniclaude.consuming.metrics import CONTENT_TYPE

__all__ = ["HealthServer", "Probe"]

log = logging.getLogger(__name__)

Probe = Callable[[], tuple[bool, dict[str, Any]]]
"""Returns (healthy, details to show)."""

_READ_TIMEOUT_S: Final = 5.0
_MAX_HEADER_LINES: Final = 100


def _response(status: HTTPStatus, body: bytes, content_type: str) -> bytes:
    head = (
        f"HTTP/1.1 {status.value} {status.phrase}\r\n"
        f"Content-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Cache-Control: no-store\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


def _json(ok: bool, details: dict[str, Any]) -> bytes:
    status = HTTPStatus.OK if ok else HTTPStatus.SERVICE_UNAVAILABLE
    body = json.dumps({"status": "ok" if ok else "unavailable", **details}, default=str)
    return _response(status, body.encode(), "application/json")


class HealthServer:
    """Serves the probes and the metrics of one service.

    Args:
        host: interface to listen on.
        port: port to listen on (0 picks a free one; see :attr:`port`).
        health: liveness probe.
        ready: readiness probe.
        metrics: returns the metrics in the Prometheus text format.
    """

    def __init__(
        self, *, host: str, port: int, health: Probe, ready: Probe, metrics: Callable[[], bytes]
    ) -> None:
        self._host = host
        self._port = port
        self._probes = {"/health": health, "/ready": ready}
        self._metrics = metrics
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        """The port actually listened on (after :meth:`start`)."""
        if self._server is None or not self._server.sockets:
            return self._port
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        """Start listening.

        Raises:
            OSError: the address is in use or not available.
        """
        if self._server is None:
            self._server = await asyncio.start_server(self._handle, self._host, self._port)
            log.info("health and metrics on http://%s:%d/", self._host, self.port)

    async def stop(self) -> None:
        """Stop listening (safe to call twice)."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), timeout=5)

    def respond(self, method: str, target: str) -> bytes:
        """Return the full HTTP response to ``method target`` (the routing, without I/O)."""
        path = target.split("?", 1)[0]
        if method not in {"GET", "HEAD"}:
            return _response(HTTPStatus.METHOD_NOT_ALLOWED, b"", "text/plain")
        if path == "/metrics":
            return _response(HTTPStatus.OK, self._metrics(), CONTENT_TYPE)
        probe = self._probes.get(path)
        if probe is None:
            return _response(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain")
        ok, details = probe()
        return _json(ok, details)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), _READ_TIMEOUT_S)
            parts = request.decode("latin-1").split()
            if len(parts) < 2:
                response = _response(HTTPStatus.BAD_REQUEST, b"", "text/plain")
            else:
                for _ in range(_MAX_HEADER_LINES):
                    line = await asyncio.wait_for(reader.readline(), _READ_TIMEOUT_S)
                    if line in {b"\r\n", b"\n", b""}:
                        break
                response = self.respond(parts[0], parts[1])
                if parts[0] == "HEAD":
                    response = response.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
            writer.write(response)
            await writer.drain()
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
            pass  # a client that went away or never spoke
        except Exception:
            log.exception("health endpoint failed")
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
