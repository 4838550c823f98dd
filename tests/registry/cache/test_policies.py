"""LRU and LFU by bytes: hand-computed sequences, admission without a request, and invariants."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regsim.registry.cache import LFU, LRU, POLICIES, make_policy


def replay(cache, sequence):
    """Request each ``key:size`` (or ``key`` of size 1) in turn; the hits as a string of 'H'/'m'."""
    out = []
    for item in sequence.split():
        key, _, size = item.partition(":")
        out.append("H" if cache.request(key, int(size or 1)) else "m")
    return "".join(out)


def test_lru_evicts_the_least_recently_used():
    cache = LRU(3)
    assert replay(cache, "A B C A D B C A") == "mmmHmmmm"
    # A B C | A hit: B C A | D evicts B: C A D | B evicts C: A D B | C evicts A: D B C | A evicts D: B C A
    assert list(cache) == ["B", "C", "A"] and cache.used == 3
    s = cache.stats
    assert (s.hits, s.misses, s.evictions, s.admitted) == (1, 7, 4, 7)


def test_lru_makes_room_by_bytes_not_by_count():
    cache = LRU(100)
    assert replay(cache, "a:40 b:30 c:20 a:40 d:50") == "mmmHm"
    # d needs 50 of 100 with 90 used: evicts b (30) and c (20), keeps the recently used a
    assert sorted(cache) == ["a", "d"] and cache.used == 90
    assert cache.stats.evicted_bytes == 50 and cache.stats.hit_bytes == 40 and cache.stats.miss_bytes == 140


def test_lfu_evicts_the_least_frequently_used_and_breaks_ties_by_recency():
    cache = LFU(3)
    assert replay(cache, "A A B C D C B A") == "mHmmmHmH"
    # A=2 B=1 C=1 | D evicts B (count 1, older than C) | C=2 | B evicts D (count 1) | A hit
    assert sorted(cache) == ["A", "B", "C"]
    assert (cache.frequency("A"), cache.frequency("B"), cache.frequency("C")) == (3, 1, 2)


def test_lfu_keeps_a_frequent_large_object_over_recent_small_ones():
    cache = LFU(100)
    assert replay(cache, "big:60 big:60 big:60 x:30 y:30 z:30") == "mHHmmm"
    # y evicts x (count 1); z evicts y; big (count 3) stays throughout
    assert sorted(cache) == ["big", "z"] and cache.used == 90


def test_an_object_larger_than_the_cache_is_a_miss_and_never_admitted():
    for cls in (LRU, LFU):
        cache = cls(10)
        cache.request("small", 5)
        assert cache.request("huge", 11) is False and "huge" not in cache and "small" in cache
        assert cache.stats.rejected == 1 and cache.stats.misses == 2


def test_admit_counts_no_request_and_leaves_a_cached_key_alone():
    cache = LRU(3)
    assert cache.admit("P", 1) is True and cache.stats.requests == 0 and "P" in cache
    replay(cache, "A B")
    assert cache.admit("P", 1) is True  # already there: not moved to most recent
    cache.request("C", 1)                # evicts P, the least recently *used*
    assert "P" not in cache and cache.stats.evictions == 1


def test_lfu_evicts_an_unrequested_prefetch_first():
    cache = LFU(3)
    replay(cache, "A B")
    cache.admit("P", 1)                  # count 0
    cache.request("C", 1)
    assert "P" not in cache and sorted(cache) == ["A", "B", "C"]


def test_a_request_for_a_key_of_another_size_is_a_miss_that_replaces_it():
    cache = LRU(100)
    cache.request("k", 10)
    assert cache.request("k", 20) is False and cache.size_of("k") == 20 and cache.used == 20


def test_discard_forgets_without_counting_an_eviction():
    cache = LFU(10)
    cache.request("k", 4)
    assert cache.discard("k") is True and cache.discard("k") is False
    assert cache.used == 0 and cache.stats.evictions == 0 and len(cache) == 0


def test_on_evict_hears_every_eviction():
    heard = []
    cache = LRU(2)
    cache.on_evict = lambda key, size: heard.append((key, size))
    replay(cache, "a b c d")
    assert heard == [("a", 1), ("b", 1)]


def test_bad_capacities_sizes_and_names_are_refused_clearly():
    with pytest.raises(ValueError, match="cache capacity must be a non-negative whole number"):
        LRU(-1)
    with pytest.raises(ValueError, match="object size"):
        LFU(10).request("k", 1.5)
    with pytest.raises(ValueError, match="unknown cache policy 'arc'; expected one of: lru, lfu"):
        make_policy("arc", 10)
    assert isinstance(make_policy("LFU", 10), LFU)


ops = st.lists(st.tuples(st.sampled_from(["request", "request", "request", "admit", "discard"]),
                         st.integers(0, 12), st.integers(0, 40)), max_size=80)


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(sorted(POLICIES)), capacity=st.integers(0, 100), operations=ops)
def test_never_over_capacity_and_every_request_is_a_hit_or_a_miss(name, capacity, operations):
    cache = make_policy(name, capacity)
    sizes = {}  # a key keeps its size, as a digest does
    requests = 0
    for op, key, size in operations:
        size = sizes.setdefault(key, size)
        if op == "request":
            requests += 1
            cache.request(key, size)
        elif op == "admit":
            cache.admit(key, size)
        else:
            cache.discard(key)
        assert cache.used <= cache.capacity
        assert cache.used == sum(cache.size_of(k) for k in cache)
    s = cache.stats
    assert s.hits + s.misses == requests == s.requests
    assert s.hit_bytes + s.miss_bytes == s.requested_bytes
    assert 0.0 <= s.hit_ratio <= 1.0
