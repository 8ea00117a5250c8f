"""Bounded LRU cache."""

from __future__ import annotations

import pytest

from processors.cache import LRUCache


def test_cache_evicts_least_recently_used() -> None:
    cache: LRUCache[str, int] = LRUCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # a is now most recent
    cache.put("c", 3)
    assert "b" not in cache and "a" in cache and "c" in cache
    assert len(cache) == 2 and cache.stats.evictions == 1


def test_cache_counts_hits_and_misses() -> None:
    cache: LRUCache[str, int] = LRUCache(10)
    assert cache.get("x") is None
    cache.put("x", 1)
    assert cache.get("x") == 1
    assert (cache.stats.hits, cache.stats.misses, cache.stats.hit_rate) == (1, 1, 0.5)


def test_cache_size_zero_stores_nothing() -> None:
    cache: LRUCache[str, int] = LRUCache(0)
    cache.put("x", 1)
    assert len(cache) == 0 and cache.get("x") is None
    with pytest.raises(ValueError):
        LRUCache(-1)
