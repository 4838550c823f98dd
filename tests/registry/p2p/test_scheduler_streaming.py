"""Scheduler with Dragonfly's parent filter (``streaming=True``): downloading peers are parents, no cycles."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regsim.registry.p2p import Agent, Origin, Scheduler, Swarm

from .rounds import modelled_info

P = 8


def make(swarm: Swarm, name: str, held=(), slots: int = 4) -> Agent:
    have = np.zeros(swarm.num_pieces, dtype=bool)
    have[list(held)] = True
    return Agent(name, swarm, rng=np.random.default_rng(0), have=have, upload_slots=slots)


@pytest.fixture
def swarm() -> Swarm:
    origin = Origin("origin", upload_slots=1)
    swarm = Swarm(modelled_info(P))
    origin.seed(swarm.metainfo)
    origin.join(swarm)
    return swarm


def test_a_peer_that_is_downloading_is_a_parent_before_it_holds_anything(swarm):
    for name in ("first", "second"):
        make(swarm, name)
    streaming = Scheduler(swarm, np.random.default_rng(0), sample=10, streaming=True)
    assert streaming.assign("first").parent_ids == ("origin",)
    plan = streaming.assign("second")
    assert plan.parent_ids == ("first",), "first holds nothing yet, but it has a parent: pieces are coming"
    holders = Scheduler(swarm, np.random.default_rng(0), sample=10)
    assert holders.assign("first").parent_ids == ("origin",)
    assert holders.assign("second").parents == (), "without streaming only holders qualify: it waits"


def test_a_parent_with_pieces_coming_is_kept_and_one_with_none_is_dropped(swarm):
    for name in ("up", "me"):
        make(swarm, name)
    sched = Scheduler(swarm, np.random.default_rng(1), parents=2, sample=10, streaming=True)
    assert sched.assign("up").parent_ids == ("origin",)
    idle = make(swarm, "idle", [0])  # holds a piece but has no parent and is not downloading
    assert set(sched.assign("me").parent_ids) == {"up", "idle"}
    me = swarm.member("me")
    me.on_pieces([r.piece for r in me.next_requests([idle])])  # me now holds all idle has
    assert sched.can_serve("me", "up") and not sched.can_serve("me", "idle")
    assert sched.assign("me").parent_ids == ("up",), "idle can give nothing more; up is still downloading"
    assert sched.load("idle") == 0


def test_no_edge_ever_closes_a_cycle(swarm):
    for name in ("p0", "p1", "p2", "taker"):
        make(swarm, name)
    sched = Scheduler(swarm, np.random.default_rng(0), parents=1, sample=10, streaming=True)
    assert sched.assign("p0").parent_ids == ("origin",)
    assert sched.assign("p1").parent_ids == ("p0",)
    assert sched.assign("p2").parent_ids == ("p1",), "the least loaded downloading peer"
    sched.release("p0")  # p0 -> p1 -> p2 stays; p0 itself needs a parent again
    p2 = swarm.member("p2")
    p2.on_pieces([r.piece for r in p2.next_requests([swarm.member("origin")])])  # now p2 ranks first for p0
    assert sched.assign("taker").parent_ids == ("origin",)
    assert sched.assign("p0").parent_ids == ("taker",), "p2 is p0's grandchild: it cannot also be its parent"
    assert sched.parents_of("p2") == ("p1",) and sched.parents_of("p1") == ("p0",)


def test_only_counted_requests_bring_a_peer_closer_to_back_to_source():
    swarm = Swarm(modelled_info(P))
    make(swarm, "s", range(P), slots=1)
    make(swarm, "taken")
    make(swarm, "late")
    sched = Scheduler(swarm, np.random.default_rng(0), retry_back_to_source=2)
    assert sched.assign("taken").parent_ids == ("s",)
    for _ in range(10):  # wake-ups because room freed that found nothing: not Dragonfly's timed retries
        plan = sched.assign("late", count_miss=False)
        assert plan.parents == () and not plan.back_to_source
    assert not sched.assign("late").back_to_source, "one counted miss"
    assert sched.assign("late").back_to_source, "the second counted miss reaches the limit"


def test_children_are_listed_in_the_order_they_were_assigned(swarm):
    origin = swarm.member("origin")
    origin.slots.limit = 3
    for name in ("c", "a", "b"):
        make(swarm, name)
    sched = Scheduler(swarm, np.random.default_rng(0), parents=1)
    for name in ("c", "a", "b"):
        assert sched.assign(name).parent_ids == ("origin",)
    assert sched.children_in_order("origin") == ("c", "a", "b")


def reaches(sched: Scheduler, start, goal) -> bool:
    seen, stack = {start}, [start]
    while stack:
        node = stack.pop()
        for kid in sched.children_of(node):
            if kid == goal:
                return True
            if kid not in seen:
                seen.add(kid)
                stack.append(kid)
    return False


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), members=st.integers(2, 20), steps=st.integers(1, 80),
       parents=st.integers(1, 4), sample=st.integers(1, 25))
def test_streaming_parents_form_a_dag_within_slots_and_each_can_serve(seed, members, steps, parents, sample):
    rng = np.random.default_rng(seed)
    swarm = Swarm(modelled_info(10))
    origin = Origin("origin", upload_slots=int(rng.integers(1, 4)))
    origin.seed(swarm.metainfo)
    origin.join(swarm)
    for i in range(members):
        Agent(i, swarm, rng=rng, have=rng.random(10) < rng.random() * 0.8, upload_slots=int(rng.integers(1, 4)))
    sched = Scheduler(swarm, rng, parents=parents, sample=sample, streaming=True)
    for _ in range(steps):
        who = int(rng.integers(members))
        roll = rng.random()
        if roll < 0.7:
            plan = sched.assign(who, count_miss=bool(rng.random() < 0.5))
            assert len(plan.parents) <= parents and who not in plan.parent_ids
            assert all(sched.can_serve(who, p.peer_id) for p in plan.parents)
        elif roll < 0.9:
            sched.release(who)
        else:
            member = swarm.member(who)
            if not member.have.all():
                member.on_pieces([r.piece for r in member.next_requests([origin.seed_of(swarm.metainfo.digest)])]
                                 if origin.slots.used < origin.slots.limit else [])
        for m in swarm:
            children = sched.children_of(m.peer_id)
            assert sched.load(m.peer_id) == len(children) <= m.slots.limit
            for child in children:
                assert m.peer_id in sched.parents_of(child)
                assert not reaches(sched, child, m.peer_id), f"cycle through {m.peer_id!r} -> {child!r}"
