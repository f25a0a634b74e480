"""Free TCP ports for local services."""

from __future__ import annotations

import socket

__all__ = ["unused_port"]


def unused_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on ``host`` that nothing listens on right now.

    The kernel picks the port (bind to port 0); the socket is closed before returning, so
    another process *could* take the port before the caller binds it. Callers that start a
    server on it should treat "address already in use" as a reason to pick another port.

    Args:
        host: the address the port must be free on; an IPv6 literal (``"::1"``) works too.

    Raises:
        OSError: ``host`` is not a local address (or cannot be resolved).
    """
    infos = socket.getaddrinfo(host, 0, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.bind(address)
        port: int = sock.getsockname()[1]
    return port
