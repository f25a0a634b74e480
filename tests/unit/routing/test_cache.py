"""The bounded TTL cache."""

from __future__ import annotations

import pytest

from omniclaude.routing import TtlCache


def test_entries_expire_after_ttl() -> None:
    """A value is served until its TTL passes, then forgotten."""
    now = [0.0]
    cache: TtlCache[str] = TtlCache(max_entries=10, ttl_s=5, clock=lambda: now[0])
    cache.put("k", "v")
    now[0] = 4.9
    assert cache.get("k") == "v"
    now[0] = 5.1
    assert cache.get("k") is None
    assert len(cache) == 0
    assert (cache.hits, cache.misses) == (1, 1)


def test_least_recently_used_is_evicted() -> None:
    """Beyond max_entries the least recently used entry goes."""
    cache: TtlCache[int] = TtlCache(max_entries=2, ttl_s=60)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1
    cache.put("c", 3)
    assert cache.get("b") is None
    assert cache.get("a") == 1
    assert cache.get("c") == 3


def test_zero_size_disables_and_negative_is_refused() -> None:
    """max_entries 0 stores nothing; negative bounds are refused; clear() empties."""
    cache: TtlCache[int] = TtlCache(max_entries=0)
    cache.put("a", 1)
    assert cache.get("a") is None
    with pytest.raises(ValueError, match="negative"):
        TtlCache(max_entries=-1)
    other: TtlCache[int] = TtlCache()
    other.put("a", 1)
    other.clear()
    assert len(other) == 0
