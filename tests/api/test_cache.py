"""The result cache: least recently used entries go first, by count and by bytes."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from api.cache import ResultCache


@dataclass(frozen=True)
class Body:
    cache_bytes: int


def test_entries_past_the_count_go_least_recently_used_first():
    cache = ResultCache(max_entries=2)
    cache.get_or_compute("a", lambda: 1)
    cache.get_or_compute("b", lambda: 2)
    assert cache.get_or_compute("a", lambda: -1) == 1  # a is now the most recent
    cache.get_or_compute("c", lambda: 3)
    assert cache.get_or_compute("b", lambda: "again") == "again"  # b was evicted
    assert cache.get_or_compute("c", lambda: -1) == 3


def test_bodies_past_the_byte_budget_go_least_recently_used_first():
    cache = ResultCache(max_entries=100, max_bytes=250)
    for key in "abc":
        cache.get_or_compute(key, lambda: Body(100))
    # 300 bytes > 250: a went; b and c stay
    assert cache.nbytes == 200 and len(cache) == 2
    assert cache.get_or_compute("a", lambda: "recomputed") == "recomputed"
    cache.get_or_compute("small", lambda: 7)  # values without a size count 0 bytes
    assert cache.nbytes == 200
    cache.get_or_compute("huge", lambda: Body(1000))  # over the budget alone: kept, others go
    assert len(cache) == 1 and cache.nbytes == 1000
    cache.clear()
    assert cache.nbytes == 0 and len(cache) == 0


def test_bad_limits_are_refused():
    with pytest.raises(ValueError, match="max_bytes must be >= 1; got 0"):
        ResultCache(max_bytes=0)
    with pytest.raises(ValueError, match="max_entries must be >= 1; got 0"):
        ResultCache(max_entries=0)


def test_a_failed_computation_caches_nothing_and_keeps_no_lock():
    cache = ResultCache()

    def refuse():
        raise PermissionError("refused")

    for n in range(50):
        with pytest.raises(PermissionError):
            cache.get_or_compute(("rates", f"x={n}"), refuse)
    assert len(cache) == 0 and cache.misses == 0
    assert cache._key_locks == {}  # the leak this test is about
    assert cache.get_or_compute(("rates", "x=1"), lambda: "now") == "now"
