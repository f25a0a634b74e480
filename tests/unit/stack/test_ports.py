"""unused_port: a port nothing listens on, that the caller can bind right away."""

from __future__ import annotations

import socket

import pytest

from omniclaude.stack.ports import unused_port


def test_port_is_in_the_unprivileged_range() -> None:
    """The port is an int the kernel handed out, above the privileged range."""
    port = unused_port()
    assert isinstance(port, int)
    assert 1024 < port <= 65535


def test_port_can_be_bound_and_listened_on() -> None:
    """The caller can bind and listen on the returned port at once."""
    port = unused_port("127.0.0.1")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", port))
        server.listen()
        assert server.getsockname()[1] == port


def test_nothing_answers_on_the_port() -> None:
    """No server listens on the returned port: a connection is refused."""
    port = unused_port()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_a_port_in_use_is_never_returned() -> None:
    """While a socket holds a port, unused_port never hands that port out."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        taken = held.getsockname()[1]
        assert all(unused_port() != taken for _ in range(50))


def test_ipv6_loopback_is_supported_when_the_host_has_it() -> None:
    """An IPv6 literal gives a port bindable on that address (IPv4-only hosts raise OSError)."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        with pytest.raises(OSError, match=r"(?i)address"):
            unused_port("::1")
        return
    port = unused_port("::1")
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as server:
        server.bind(("::1", port))


def test_a_non_local_address_is_refused() -> None:
    """Asking for a port on an address this host does not have raises OSError."""
    with pytest.raises(OSError, match=r"(?i)cannot assign requested address"):
        unused_port("192.0.2.1")  # TEST-NET-1: never assigned to a local interface
