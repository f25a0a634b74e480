"""Probes of ports and HTTP endpoints."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator

import pytest

from omniclaude.stack.ports import unused_port
from omniclaude.stack.probes import http_ok, port_free, tcp_open


@pytest.fixture
def listening() -> Iterator[int]:
    """A port with a listening socket on it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_a_listening_port_is_taken_and_open(listening: int) -> None:
    """A port with a listener is not free, and accepts connections."""
    assert not port_free("127.0.0.1", listening)
    assert tcp_open("127.0.0.1", listening)


def test_an_unused_port_is_free_and_closed() -> None:
    """Nothing listens on a free port."""
    port = unused_port()
    assert port_free("127.0.0.1", port)
    assert not tcp_open("127.0.0.1", port, timeout_s=0.2)


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/ok" else 503)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        """Quiet."""


def test_http_ok_needs_a_2xx() -> None:
    """200 passes; 503 and a closed port do not."""
    server = http.server.HTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        assert http_ok(f"{base}/ok")
        assert not http_ok(f"{base}/ready")
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert not http_ok(f"http://127.0.0.1:{unused_port()}/", timeout_s=0.2)


def test_http_ok_only_probes_http() -> None:
    """Other schemes (file:, https:) are refused outright."""
    with pytest.raises(ValueError, match="only http"):
        http_ok("file:///etc/passwd")
