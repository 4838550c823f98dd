"""Tracker: Kraken's handout order (completed, origins, others), the bound, the asker left out."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regsim.registry.digest import Digest
from regsim.registry.p2p import P2PError, Tracker

BLOB = "sha256:" + "ab" * 32


def tracker_with(completed: int, origins: int, others: int, seed: int = 0) -> Tracker:
    t = Tracker(np.random.default_rng(seed))
    for i in range(others):
        t.announce(f"o{i}", BLOB)
    for i in range(origins):
        t.announce(f"origin{i}", BLOB, origin=True)
    for i in range(completed):
        t.announce(f"c{i}", BLOB, complete=True)
    return t


def group(peer: str) -> int:
    return 0 if peer.startswith("c") else 1 if peer.startswith("origin") else 2


@settings(max_examples=80, deadline=None)
@given(completed=st.integers(0, 30), origins=st.integers(0, 4), others=st.integers(0, 60),
       n=st.integers(0, 100), seed=st.integers(0, 2**32 - 1), asker=st.sampled_from(["c0", "origin0", "o0", "x"]))
def test_handout_is_bounded_ordered_and_excludes_the_asker(completed, origins, others, n, seed, asker):
    t = tracker_with(completed, origins, others, seed)
    known = ({f"c{i}" for i in range(completed)} | {f"origin{i}" for i in range(origins)}
             | {f"o{i}" for i in range(others)})
    got = t.peers(BLOB, asker, n)
    assert len(got) == len(set(got)) == min(n, len(known - {asker}))
    assert asker not in got and set(got) <= known
    assert [group(p) for p in got] == sorted(group(p) for p in got), "completed, then origins, then others"
    # a higher-priority group is only cut short when the bound is reached
    for g in (0, 1):
        members = {p for p in known - {asker} if group(p) == g}
        if len(got) < n or any(group(p) > g for p in got):
            assert members <= set(got)


def test_completed_peers_come_first_then_origins():
    t = tracker_with(completed=3, origins=2, others=10)
    got = t.peers(BLOB, "o0", 6)
    assert sorted(got[:3]) == ["c0", "c1", "c2"]
    assert sorted(got[3:5]) == ["origin0", "origin1"]
    assert group(got[5]) == 2


def test_order_within_a_group_is_random_but_reproducible():
    orders = {tuple(tracker_with(0, 0, 40, seed=s).peers(BLOB, None, 10)) for s in range(8)}
    assert len(orders) == 8
    assert tracker_with(0, 0, 40, seed=5).peers(BLOB, None, 10) == tracker_with(0, 0, 40, seed=5).peers(BLOB, None, 10)


def test_announce_moves_a_peer_between_groups_and_leave_forgets_it():
    t = tracker_with(0, 1, 2)
    assert t.group_of("o0", BLOB) == "others"
    t.announce("o0", BLOB, complete=True)
    assert t.group_of("o0", BLOB) == "completed"
    assert t.count(BLOB) == {"completed": 1, "origins": 1, "others": 1}
    assert t.peers(BLOB, "o1", 1) == ["o0"]
    t.announce("origin0", BLOB, complete=True, origin=True)
    assert t.group_of("origin0", BLOB) == "origins", "an origin stays an origin"
    assert t.leave("o0", BLOB) and not t.leave("o0", BLOB)
    assert t.count(BLOB)["completed"] == 0 and "o0" not in t.peers(BLOB, None, 10)


def test_swarms_are_separate_and_an_empty_swarm_is_forgotten():
    t = Tracker(np.random.default_rng(0))
    t.announce("a", "blob1")
    t.announce("b", "blob2")
    assert t.peers("blob1", None, 5) == ["a"] and t.peers("blob2", None, 5) == ["b"]
    assert t.peers("nothing", None, 5) == []
    t.leave("a", "blob1")
    assert "blob1" not in t and "blob2" in t
    assert not t.leave("a", "never-announced")


def test_a_digest_and_its_string_name_the_same_swarm():
    t = Tracker(np.random.default_rng(0))
    t.announce("a", Digest.parse(BLOB))
    t.announce("b", BLOB)
    assert sorted(t.peers(BLOB, None, 5)) == ["a", "b"] == sorted(t.peers(Digest.parse(BLOB), None, 5))
    assert Digest.parse(BLOB) in t and t.leave("a", BLOB)


def test_handout_size_must_be_a_non_negative_integer():
    t = tracker_with(1, 1, 1)
    assert t.peers(BLOB, None, 0) == []
    with pytest.raises(P2PError, match="got -1"):
        t.peers(BLOB, None, -1)


def test_handout_cost_does_not_walk_the_swarm():
    """With 20,000 others the answer still only draws a handful of random numbers."""
    t = tracker_with(completed=0, origins=1, others=20_000)
    calls = []
    rng = t.rng

    def spy(*args, **kwargs):
        out = np.random.Generator.random(rng, *args, **kwargs)
        calls.append(np.size(out))
        return out

    t.rng = type("Spy", (), {"random": staticmethod(spy)})()
    got = t.peers(BLOB, None, 10)
    assert len(got) == 10
    assert sum(calls) <= 30, f"drew {sum(calls)} random numbers for a 10-peer handout"
