"""Scheduler: parents by load within upload limits, release, back-to-source, departures."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regsim.registry.p2p import Agent, Assignment, Origin, P2PError, Scheduler, Swarm

from .rounds import modelled_info

P = 8


def make(swarm: Swarm, name: str, held=(), slots: int = 4) -> Agent:
    have = np.zeros(swarm.num_pieces, dtype=bool)
    have[list(held)] = True
    return Agent(name, swarm, rng=np.random.default_rng(0), have=have, upload_slots=slots)


@pytest.fixture
def swarm() -> Swarm:
    return Swarm(modelled_info(P))


def test_parents_hold_what_the_peer_lacks_and_are_least_loaded(swarm):
    full = [make(swarm, f"s{i}", range(P), slots=2) for i in range(3)]
    useless = make(swarm, "same", [0])
    me = make(swarm, "me", [0])
    sched = Scheduler(swarm, np.random.default_rng(1), parents=2, sample=50)
    plan = sched.assign("me")
    assert not plan.back_to_source and len(plan.parents) == 2
    assert useless not in plan.parents and me not in plan.parents
    assert set(plan.parent_ids) <= {p.peer_id for p in full}
    # the next peer gets the unloaded seeder first
    plan2 = sched.assign(make(swarm, "me2").peer_id)
    unloaded = ({"s0", "s1", "s2"} - set(plan.parent_ids)).pop()
    assert plan2.parent_ids[0] == unloaded


def test_load_is_balanced_across_equal_parents(swarm):
    seeders = [make(swarm, f"s{i}", range(P), slots=10) for i in range(5)]
    sched = Scheduler(swarm, np.random.default_rng(2), parents=1, sample=100)
    for i in range(23):
        sched.assign(make(swarm, f"p{i}").peer_id)
    loads = [sched.load(s.peer_id) for s in seeders]
    assert sum(loads) == 23 and max(loads) - min(loads) <= 1, loads


def test_full_parents_are_skipped_and_a_peer_without_parents_waits_then_goes_to_source(swarm):
    make(swarm, "s", range(P), slots=2)
    sched = Scheduler(swarm, np.random.default_rng(0), parents=4, retry_back_to_source=3)
    plans = [sched.assign(make(swarm, f"p{i}").peer_id) for i in range(3)]
    assert [p.parent_ids for p in plans[:2]] == [("s",), ("s",)]
    assert plans[2].parents == () and not plans[2].back_to_source, "someone has the pieces: wait"
    assert sched.load("s") == 2
    sched.release("p0")
    assert sched.load("s") == 1
    assert sched.assign("p2").parent_ids == ("s",), "a freed slot is taken on the next request"
    make(swarm, "late0")
    assert [sched.assign("late0").back_to_source for _ in range(2)] == [False, False]
    plan = sched.assign("late0")
    assert plan.back_to_source and plan.parents == (), "three fruitless requests in a row: back to source"
    assert sched.back_to_source_peers == ("late0",)
    assert sched.assign("late0").back_to_source, "once sent back to source, a peer stays there"


def test_the_first_peers_of_an_empty_swarm_go_to_source_at_once_but_only_a_few(swarm):
    sched = Scheduler(swarm, np.random.default_rng(0), back_to_source_count=3)
    plans = [sched.assign(make(swarm, f"p{i}").peer_id) for i in range(5)]
    assert [p.back_to_source for p in plans] == [True, True, True, False, False]
    assert sched.back_to_source_peers == ("p0", "p1", "p2")
    sched.leave("p1")
    assert sched.assign("p3").back_to_source and sched.back_to_source_peers == ("p0", "p2", "p3")
    p0 = swarm.member("p0")
    while not p0.complete:  # p0 fetches everything from the registry, as told
        p0.on_pieces([r.piece for r in p0.next_requests([], back_to_source=True)])
    assert sched.assign("p0") == Assignment((), False), "a complete peer needs nothing"


def test_origins_are_always_considered(swarm):
    origin = Origin("origin", upload_slots=3)
    origin.seed(swarm.metainfo)
    origin.join(swarm)
    for i in range(200):
        make(swarm, f"empty{i}")
    sched = Scheduler(swarm, np.random.default_rng(0), parents=4, sample=5)
    plan = sched.assign("empty7")
    assert plan.parent_ids == ("origin",), "sampled peers hold nothing; the origin is in every candidate set"


def test_parents_that_no_longer_help_are_dropped_and_topped_up(swarm):
    make(swarm, "half", range(4))
    make(swarm, "other", range(4, P))
    me = make(swarm, "me")
    me.max_downloads = P
    sched = Scheduler(swarm, np.random.default_rng(0), parents=1, sample=10)
    first = sched.assign("me").parent_ids
    assert first in (("half",), ("other",))
    donor = swarm.member(first[0])
    me.on_pieces([r.piece for r in me.next_requests([donor])])  # me gets everything the parent had
    assert not (donor.have & ~me.have).any()
    second = sched.assign("me").parent_ids
    assert second != first and len(second) == 1
    assert sched.load(first[0]) == 0 and sched.load(second[0]) == 1


def test_a_complete_peer_gets_no_parents(swarm):
    make(swarm, "s", range(P))
    make(swarm, "done", range(P))
    sched = Scheduler(swarm, np.random.default_rng(0))
    plan = sched.assign("done")
    assert plan.parents == () and not plan.back_to_source


def test_no_parent_cycles_between_two_peers(swarm):
    make(swarm, "a", [0, 1])
    make(swarm, "b", [2, 3])
    sched = Scheduler(swarm, np.random.default_rng(0), sample=10)
    assert sched.assign("a").parent_ids == ("b",)
    plan = sched.assign("b")
    assert plan.parents == () and not plan.back_to_source, "a is b's child, so it cannot also be its parent"


def test_leave_releases_both_directions_and_reports_orphans(swarm):
    make(swarm, "s", range(P), slots=10)
    kids = [make(swarm, f"k{i}", [0]) for i in range(3)]
    sched = Scheduler(swarm, np.random.default_rng(0), parents=1)
    for k in kids:
        assert sched.assign(k.peer_id).parent_ids == ("s",)
    assert sched.children_of("s") == {"k0", "k1", "k2"}
    assert sched.leave("s") == ["k0", "k1", "k2"]
    assert sched.load("s") == 0 and all(sched.parents_of(k.peer_id) == () for k in kids)


def test_release_errors_name_the_peers(swarm):
    make(swarm, "s", range(P))
    make(swarm, "p")
    sched = Scheduler(swarm, np.random.default_rng(0))
    sched.release("p")  # nothing to release is fine
    with pytest.raises(P2PError, match="'p' has no parents"):
        sched.release("p", "s")
    sched.assign("p")
    with pytest.raises(P2PError, match="'x' is not a parent of 'p'"):
        sched.release("p", "x")
    with pytest.raises(P2PError, match="parents must be an integer >= 1"):
        Scheduler(swarm, np.random.default_rng(0), parents=0)
    with pytest.raises(P2PError, match="back_to_source_count must be an integer >= 0"):
        Scheduler(swarm, np.random.default_rng(0), back_to_source_count=-1)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), members=st.integers(2, 25), steps=st.integers(1, 60),
       parents=st.integers(1, 4), sample=st.integers(1, 30))
def test_no_parent_ever_serves_more_children_than_its_slots(seed, members, steps, parents, sample):
    rng = np.random.default_rng(seed)
    swarm = Swarm(modelled_info(10))
    for i in range(members):
        Agent(i, swarm, rng=rng, have=rng.random(10) < rng.random(), upload_slots=int(rng.integers(1, 4)))
    sched = Scheduler(swarm, rng, parents=parents, sample=sample)
    for _ in range(steps):
        who = int(rng.integers(members))
        roll = rng.random()
        if roll < 0.6:
            plan = sched.assign(who)
            assert len(plan.parents) <= parents and who not in plan.parent_ids
            need = ~swarm.member(who).have
            assert all((p.have & need).any() for p in plan.parents)
            assert not (plan.back_to_source and plan.parents)
        elif roll < 0.9:
            sched.release(who)
        else:
            sched.leave(who)
        assert len(sched.back_to_source_peers) <= sched.back_to_source_count
        for m in swarm:
            children = sched.children_of(m.peer_id)
            assert sched.load(m.peer_id) == len(children) <= m.slots.limit
            assert all(m.peer_id in sched.parents_of(c) for c in children)
