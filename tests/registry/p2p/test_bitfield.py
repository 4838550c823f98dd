"""Bitmaps (wire form), incremental availability counts, and the O(k) random pool."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regsim.registry.p2p import Availability, P2PError, RandomPool, pack, unpack
from regsim.registry.p2p.bitfield import full


@settings(max_examples=60, deadline=None)
@given(st.lists(st.booleans(), max_size=300))
def test_wire_form_round_trips(bits):
    arr = np.array(bits, dtype=bool)
    data = pack(arr)
    assert len(data) == -(-len(bits) // 8)
    assert np.array_equal(unpack(data, len(bits)), arr)


def test_wire_form_is_bittorrents_piece_zero_in_the_top_bit():
    assert pack(np.array([1, 0, 0, 0, 0, 0, 0, 0, 0, 1], dtype=bool)) == b"\x80\x40"


def test_unpack_checks_length_and_spare_bits():
    with pytest.raises(P2PError, match="expected 2 for 10 pieces"):
        unpack(b"\x00", 10)
    with pytest.raises(P2PError, match="spare bits"):
        unpack(b"\x00\x01", 10)


def test_a_seeders_full_bitmap_cannot_be_written():
    bits = full(5)
    assert bits.all()
    with pytest.raises(ValueError):
        bits[0] = False


@settings(max_examples=50, deadline=None)
@given(st.data())
def test_availability_always_equals_the_sum_of_member_bitmaps(data):
    pieces = data.draw(st.integers(1, 40))
    avail = Availability(pieces)
    members: dict[int, np.ndarray] = {}
    for step in range(data.draw(st.integers(1, 30))):
        action = data.draw(st.sampled_from(["join", "leave", "gain", "gain_many"]))
        if action == "join" or not members:
            bits = np.array(data.draw(st.lists(st.booleans(), min_size=pieces, max_size=pieces)), dtype=bool)
            members[step] = bits
            avail.add(bits)
        elif action == "leave":
            key = data.draw(st.sampled_from(sorted(members)))
            avail.remove(members.pop(key))
        else:
            key = data.draw(st.sampled_from(sorted(members)))
            lacking = np.flatnonzero(~members[key])
            if lacking.size == 0:
                continue
            if action == "gain":
                i = int(data.draw(st.sampled_from(lacking.tolist())))
                members[key][i] = True
                avail.gain(i)
            else:
                drawn = data.draw(st.sets(st.sampled_from(lacking.tolist()), min_size=1))
                chosen = np.array(sorted(drawn), dtype=np.intp)
                members[key][chosen] = True
                avail.gain_many(chosen)
        expected = sum((m.astype(np.int32) for m in members.values()), np.zeros(pieces, np.int32))
        assert np.array_equal(avail.counts, expected)
        assert avail.unavailable == int((expected == 0).sum())


def test_availability_refuses_to_go_negative():
    avail = Availability(3)
    avail.add(np.array([1, 0, 0], dtype=bool))
    with pytest.raises(P2PError, match="negative"):
        avail.remove(np.array([0, 1, 0], dtype=bool))
    assert avail.counts.tolist() == [1, 0, 0], "a refused removal changes nothing"


@settings(max_examples=50, deadline=None)
@given(ops=st.lists(st.tuples(st.booleans(), st.integers(0, 30)), max_size=80), k=st.integers(0, 40),
       seed=st.integers(0, 2**32 - 1), exclude=st.integers(0, 31))
def test_pool_behaves_like_a_set_and_samples_distinct_members(ops, k, seed, exclude):
    pool: RandomPool[int] = RandomPool()
    model: set[int] = set()
    for add, item in ops:
        assert (pool.add(item) if add else pool.discard(item)) == ((item not in model) if add else (item in model))
        (model.add if add else model.discard)(item)
    assert len(pool) == len(model) and set(pool) == model
    sample = pool.sample(k, np.random.default_rng(seed), exclude=exclude)
    assert len(sample) == len(set(sample)) == min(k, len(model - {exclude}))
    assert set(sample) <= model - {exclude}


def test_pool_sampling_is_uniform_and_deterministic_per_seed():
    pool: RandomPool[int] = RandomPool()
    for i in range(1000):
        pool.add(i)
    rng = np.random.default_rng(3)
    counts = Counter(x for _ in range(4000) for x in pool.sample(10, rng))
    # 40,000 draws over 1,000 items: 40 each on average; a fair sampler stays well inside 15..70
    assert len(counts) == 1000 and 15 <= min(counts.values()) and max(counts.values()) <= 70
    a = pool.sample(10, np.random.default_rng(9))
    assert a == pool.sample(10, np.random.default_rng(9)) and a != pool.sample(10, np.random.default_rng(10))
