"""The one adapter over aiokafka internals: being told that a broker connection closed.

aiokafka has no public hook for it. Every connection an ``AIOKafkaClient`` opens calls the
client's ``_on_connection_closed(conn, reason)``; :func:`on_connection_closed` chains a
callback onto it, here and nowhere else. ``tests/unit/kafka/test_aiokafka_adapter.py`` checks
the hook against the installed aiokafka (a real connection closed by a real server), so an
aiokafka upgrade that moves it fails the unit tests instead of silently losing the signal.

(aiokafka's public ``ClusterMetadata.add_listener`` fires only after the *next successful*
metadata refresh, i.e. after the restarted broker already accepted produce requests for
topics it no longer has; the close itself is the earliest sign, which is why this hook.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

__all__ = ["HOOK", "on_connection_closed"]

HOOK: Final = "_on_connection_closed"


def on_connection_closed(producer: Any, callback: Callable[[], None]) -> None:
    """Call ``callback()`` whenever a broker connection of the given client closes.

    Install before ``start()``: connections capture the hook when they are opened.

    Args:
        producer: an ``AIOKafkaProducer`` (its public ``client`` attribute is the
            ``AIOKafkaClient``), or an ``AIOKafkaClient``.
        callback: called with no argument; must not raise.

    Raises:
        RuntimeError: the installed aiokafka has no such hook (an incompatible upgrade).
    """
    client = getattr(producer, "client", producer)
    original = getattr(client, HOOK, None)
    if not callable(original):
        raise RuntimeError(  # noqa: TRY004 - an incompatible library, not a caller's bad type
            f"aiokafka {type(client).__name__} has no {HOOK}: this aiokafka version is not "
            "supported (see omniclaude/kafka/_aiokafka.py)"
        )

    def chained(conn: Any, reason: Any) -> None:
        callback()
        original(conn, reason)

    setattr(client, HOOK, chained)
