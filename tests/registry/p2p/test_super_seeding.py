"""Copies on their way count for rarest-first; a super-seeding origin sends every piece once before
any twice; the tracker's two handout policies (issue 17)."""

from __future__ import annotations

import numpy as np

from regsim.registry.p2p import Agent, Origin, Swarm, Tracker

from .rounds import modelled_info


def _seeded(pieces: int):
    """A swarm of ``pieces`` 1 MiB pieces and the seed an ordinary origin joins it with."""
    info = modelled_info(pieces, piece_size=1 << 20)
    swarm = Swarm(info)
    origin = Origin("o", upload_slots=8)
    origin.seed(info)
    return swarm, origin.join(swarm)


def test_requests_in_flight_count_in_the_spread_and_steer_rarest_first():
    swarm, seed = _seeded(4)
    rng = np.random.default_rng(1)
    a = Agent("a", swarm, rng=rng, upload_slots=4, max_downloads=1)
    b = Agent("b", swarm, rng=rng, upload_slots=4, max_downloads=3)
    [(pa, _)] = a.next_requests([seed])
    assert swarm.requested[pa] == 1 and swarm.spread[pa] == 2
    picks = [p for p, _ in b.next_requests([seed])]
    assert pa not in picks  # three other pieces had fewer copies held or coming
    a.on_piece(pa)
    assert swarm.requested[pa] == 0 and swarm.availability[pa] == 2


def test_a_super_seeding_origin_offers_first_copies_until_every_piece_has_reached_a_peer():
    info_a, info_b = modelled_info(3, piece_size=1 << 20), modelled_info(2, piece_size=1 << 20)
    host: list = []
    swarms, seeds = [], []
    for info in (info_a, info_b):
        swarm = Swarm(info)
        origin = Origin("o", upload_slots=8, super_seeding=True, host_seeds=host)
        origin.seed(info)
        seeds.append(origin.join(swarm))
        swarms.append(swarm)
    rng = np.random.default_rng(2)
    agents = [Agent(f"p{i}", swarms[0], rng=rng, upload_slots=4, max_downloads=1) for i in range(4)]
    got = [a.next_requests([seeds[0]]) for a in agents]
    firsts = sorted(r[0].piece for r in got if r)
    assert firsts == [0, 1, 2]  # three distinct first copies, and the fourth peer gets nothing yet
    assert got[3] == []
    for a, r in zip(agents, got):
        if r:
            a.on_piece(r[0].piece)
    # layer A is out, but layer B of the same host still has first copies to send
    assert not seeds[0].offer().any()
    other = Agent("q", swarms[1], rng=rng, upload_slots=4, max_downloads=2)
    for p, _ in other.next_requests([seeds[1]]):
        other.on_piece(p)
    assert seeds[0].offer().all()  # every piece of every layer has reached a peer


def test_an_ordinary_origin_serves_any_piece():
    _, seed = _seeded(3)
    assert seed.offer().all()


def test_handout_policies():
    rng = np.random.default_rng(3)
    for policy in ("completeness", "default"):
        t = Tracker(rng, policy)
        t.announce("o", "blob", origin=True)
        for i in range(100):
            t.announce(i, "blob")
        got = [t.peers("blob", 0, 5) for _ in range(50)]
        with_origin = sum("o" in g for g in got)
        assert all(len(g) == 5 and 0 not in g for g in got)
        if policy == "completeness":
            assert with_origin == 50  # origins before the rest
        else:
            assert with_origin < 15  # a uniform sample: 5 of 100 others and one origin
