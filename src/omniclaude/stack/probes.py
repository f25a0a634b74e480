"""Small readiness and liveness probes: TCP ports and HTTP endpoints on loopback.

Each probe returns a bool (never raises for an unreachable service) so a readiness loop can
call it until it answers. Only loopback and configured addresses are ever probed.
"""

from __future__ import annotations

import socket
import urllib.error
import urllib.request

__all__ = ["http_ok", "port_free", "tcp_open"]


def port_free(host: str, port: int) -> bool:
    """Return True when nothing listens on ``host:port`` and we could bind it.

    A bind is the true test (another process may hold the port without answering); the
    socket uses ``SO_REUSEADDR`` like the servers we start, so a port in ``TIME_WAIT`` from
    a stack just stopped counts as free.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def tcp_open(host: str, port: int, timeout_s: float = 0.5) -> bool:
    """Return True when a TCP connection to ``host:port`` succeeds."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def http_ok(url: str, timeout_s: float = 1.0) -> bool:
    """Return True when ``GET url`` answers with a 2xx status.

    Raises:
        ValueError: ``url`` is not an http:// URL (only local services are probed).
    """
    if not url.startswith("http://"):
        raise ValueError(f"only http:// URLs are probed, got {url!r}")
    request = urllib.request.Request(url, method="GET")  # noqa: S310 - scheme checked above
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
            return 200 <= int(response.status) < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False
