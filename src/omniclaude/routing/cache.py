"""A bounded time-to-live cache (LRU order) for routing results of identical prompts."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["TtlCache"]

V = TypeVar("V")


class TtlCache(Generic[V]):
    """At most ``max_entries`` values, each forgotten ``ttl_s`` seconds after it was stored.

    Not thread-safe; the router is used from one event loop.
    """

    def __init__(
        self,
        *,
        max_entries: int = 1024,
        ttl_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Create an empty cache (``max_entries`` 0 disables it)."""
        if max_entries < 0 or ttl_s < 0:
            raise ValueError("max_entries and ttl_s must not be negative")
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self._clock = clock
        self._items: OrderedDict[Hashable, tuple[float, V]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: Hashable) -> V | None:
        """Return the live value for ``key`` (and mark it recently used), or None."""
        item = self._items.get(key)
        if item is None:
            self.misses += 1
            return None
        stored_at, value = item
        if self._clock() - stored_at > self.ttl_s:
            del self._items[key]
            self.misses += 1
            return None
        self._items.move_to_end(key)
        self.hits += 1
        return value

    def put(self, key: Hashable, value: V) -> None:
        """Store ``value``, evicting the least recently used entries beyond the bound."""
        if self.max_entries == 0:
            return
        self._items[key] = (self._clock(), value)
        self._items.move_to_end(key)
        while len(self._items) > self.max_entries:
            self._items.popitem(last=False)

    def clear(self) -> None:
        """Forget everything (after the registry or the history changed)."""
        self._items.clear()
