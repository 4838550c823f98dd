"""Agent: requests within download and upload-slot limits, back-to-source, outcomes, bytes."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regsim.registry import receipts
from regsim.registry.errors import IntegrityError
from regsim.registry.p2p import Agent, MetaInfo, P2PError, Swarm, UploadSlots
from regsim.registry.receipts import Kind

from .rounds import modelled_info

P = 12


def bits(n: int, held) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    out[list(held)] = True
    return out


@pytest.fixture
def swarm() -> Swarm:
    return Swarm(modelled_info(P, piece_size=100, tail=40))


def peer(swarm: Swarm, name: str, held=(), *, slots: int | UploadSlots = 4, seed: int = 0, **kw) -> Agent:
    return Agent(name, swarm, rng=np.random.default_rng(seed), have=bits(swarm.num_pieces, held),
                 upload_slots=slots, **kw)


def test_requests_stay_within_the_download_limit_and_each_sources_slots(swarm):
    a = peer(swarm, "a", range(P), slots=2)
    b = peer(swarm, "b", range(P), slots=1)
    me = peer(swarm, "me", max_downloads=6)
    reqs = me.next_requests([a, b])
    assert len(reqs) == 3, "a has 2 slots, b has 1: three uploads at most"
    assert (a.slots.used, b.slots.used) == (2, 1)
    assert me.next_requests([a, b]) == [], "no slot left anywhere"
    c = peer(swarm, "c", range(P), slots=10)
    assert len(me.next_requests([a, b, c])) == 3, "the download limit caps the rest"
    assert len(me.in_flight) == 6 and len({r for r in me.in_flight}) == 6


def test_each_piece_is_asked_of_a_member_that_holds_it(swarm):
    a = peer(swarm, "a", [0, 1])
    b = peer(swarm, "b", [5])
    me = peer(swarm, "me", max_downloads=10, auto_back_to_source=False)
    reqs = me.next_requests([a, b])
    assert sorted(r.piece for r in reqs) == [0, 1, 5]
    assert all(r.source.have[r.piece] for r in reqs)
    assert me.next_requests([a, b]) == [], "in-flight pieces are not asked for twice"


def test_rarest_first_asks_for_the_rare_piece_first(swarm):
    for i in range(5):
        peer(swarm, f"common{i}", [0, 1, 2])
    holder = peer(swarm, "holder", [0, 1, 2, 3], slots=10)
    me = peer(swarm, "me", max_downloads=1)
    assert [r.piece for r in me.next_requests([holder])] == [3]


def test_a_piece_goes_to_the_holder_with_the_most_free_slots(swarm):
    busy = peer(swarm, "busy", [0], slots=4)
    idle = peer(swarm, "idle", [0], slots=4)
    busy.slots.used = 3
    me = peer(swarm, "me", max_downloads=1)
    (req,) = me.next_requests([busy, idle])
    assert req.source is idle and req.source_id == "idle"


def test_back_to_source_only_for_pieces_nobody_holds_or_fetches(swarm):
    a = peer(swarm, "a", range(0, 6), slots=1)
    me = peer(swarm, "me", max_downloads=4)
    reqs = me.next_requests([a])
    from_peer = [r for r in reqs if not r.back_to_source]
    from_source = [r.piece for r in reqs if r.back_to_source]
    assert len(from_peer) == 1 and from_peer[0].piece < 6
    assert len(from_source) == 3 and all(p >= 6 for p in from_source)
    assert swarm.sourcing[from_source].tolist() == [1, 1, 1]
    other = peer(swarm, "other", max_downloads=10)
    again = [r.piece for r in other.next_requests([]) if r.back_to_source]
    assert sorted(again) == sorted(set(range(6, P)) - set(from_source)), "a piece is fetched from source once"


def test_no_back_to_source_when_disabled_or_when_someone_holds_it(swarm):
    me = peer(swarm, "me", auto_back_to_source=False)
    assert me.next_requests([]) == []
    seeder = peer(swarm, "seeder", range(P), slots=1)
    late = peer(swarm, "late", max_downloads=4)
    assert [r.back_to_source for r in late.next_requests([seeder])] == [False], "seeder full: wait, do not go to source"


def test_the_schedulers_verdict_sends_the_remaining_pieces_back_to_source(swarm):
    seeder = peer(swarm, "seeder", range(P), slots=1)
    me = peer(swarm, "me", max_downloads=5, selector="sequential", auto_back_to_source=False)
    reqs = me.next_requests([seeder], back_to_source=True)
    assert [r.back_to_source for r in reqs] == [False, True, True, True, True]
    assert [r.piece for r in reqs] == [0, 1, 2, 3, 4]


def test_on_piece_frees_the_slot_counts_bytes_and_detects_completion(swarm):
    src = peer(swarm, "src", range(P), slots=P)
    me = peer(swarm, "me", max_downloads=P)
    reqs = me.next_requests([src])
    assert src.slots.used == P and swarm.availability.tolist() == [1] * P
    done = [me.on_piece(r.piece) for r in reqs]
    assert done == [False] * (P - 1) + [True] and me.complete
    assert src.slots.used == 0 and swarm.availability.tolist() == [2] * P
    assert me.peer_bytes == src.uploaded_bytes == swarm.metainfo.size == P * 100 - 40
    assert me.peer_pieces == src.uploaded_pieces == P and me.source_pieces == 0
    assert swarm.completed == 2
    assert me.next_requests([src]) == []


def test_outcomes_for_pieces_that_were_not_requested_are_refused(swarm):
    me = peer(swarm, "me")
    with pytest.raises(P2PError, match="piece 3 arrived but was not requested"):
        me.on_piece(3)
    with pytest.raises(P2PError, match="not requested"):
        me.on_pieces([1, 2])
    with pytest.raises(P2PError, match="failed but was not requested"):
        me.on_failed(3)


def test_a_failed_request_frees_its_slot_and_the_piece_is_wanted_again(swarm):
    src = peer(swarm, "src", [4], slots=1)
    me = peer(swarm, "me", auto_back_to_source=False)
    (req,) = me.next_requests([src])
    me.on_failed(req.piece)
    assert src.slots.used == 0 and me.failed_requests == 1 and not me.have[4]
    assert [r.piece for r in me.next_requests([src])] == [4]


def test_back_to_source_outcomes_clear_the_swarms_sourcing_marks(swarm):
    me = peer(swarm, "me", max_downloads=2, selector="sequential")
    first, second = me.next_requests([])
    me.on_piece(first.piece)
    me.on_failed(second.piece)
    assert swarm.sourcing.sum() == 0
    assert me.source_pieces == 1 and me.source_bytes == 100


def test_batch_arrival_matches_one_by_one():
    results = []
    for batch in (False, True):
        swarm = Swarm(modelled_info(P, piece_size=100, tail=40))
        src = peer(swarm, "src", range(P), slots=P)
        me = peer(swarm, "me", max_downloads=P, seed=4)
        pieces = [r.piece for r in me.next_requests([src])]
        done = me.on_pieces(pieces) if batch else [me.on_piece(p) for p in pieces][-1]
        results.append((done, me.have.tolist(), swarm.availability.tolist(), me.peer_bytes, src.uploaded_bytes,
                        src.slots.used, swarm.completed))
    assert results[0] == results[1]
    with pytest.raises(P2PError, match="twice"):
        peer(Swarm(modelled_info(3)), "x").on_pieces([1, 1])


def test_leaving_cancels_requests_and_removes_the_peers_pieces(swarm):
    src = peer(swarm, "src", [0, 1], slots=4)
    me = peer(swarm, "me", [5], max_downloads=4)
    reqs = me.next_requests([src])
    assert any(r.back_to_source for r in reqs)
    cancelled = me.leave()
    assert cancelled == sorted(r.piece for r in reqs)
    assert src.slots.used == 0 and swarm.sourcing.sum() == 0
    assert swarm.availability[5] == 0 and "me" not in swarm


def test_joining_twice_is_an_error_and_initial_pieces_count(swarm):
    peer(swarm, "a", [1, 2])
    peer(swarm, "b", range(P))
    assert swarm.availability[[0, 1, 2]].tolist() == [1, 2, 2] and swarm.completed == 1
    with pytest.raises(P2PError, match="already in the swarm"):
        peer(swarm, "a")
    with pytest.raises(P2PError, match="shape"):
        Agent("bad", swarm, rng=np.random.default_rng(0), have=np.zeros(3, dtype=bool))


def test_one_host_shares_its_upload_slots_across_blobs():
    host = UploadSlots(2, "host")
    s1, s2 = Swarm(modelled_info(4, label=b"one")), Swarm(modelled_info(4, label=b"two"))
    a1, a2 = peer(s1, "h", range(4), slots=host), peer(s2, "h", range(4), slots=host)
    assert len(peer(s1, "x", max_downloads=4).next_requests([a1])) == 2
    assert peer(s2, "y", max_downloads=4).next_requests([a2]) == [], "the host's two slots are taken"


@pytest.fixture(scope="module")
def real():
    data = os.urandom(5 * 1000 + 123)
    return data, MetaInfo.from_bytes(data, 1000)


def test_real_bytes_are_verified_kept_and_served_onwards(real):
    data, info = real
    swarm = Swarm(info)
    me = Agent("me", swarm, rng=np.random.default_rng(0), max_downloads=10, node="node-3")
    with receipts.collect() as r:
        for req in me.next_requests([]):
            off, n = info.piece_range(req.piece)
            me.on_piece(req.piece, data[off:off + n])
    assert me.complete and me.data() == data and me.verify_blob() == info.digest
    assert r.total(Kind.PIECE_VERIFY) == len(data) and {i.node for i in r} == {"node-3"}
    assert bytes(me.read_piece(5)) == data[5000:]
    with pytest.raises(TypeError):
        me.read_piece(0)[0] = 1  # served bytes are read-only


def test_a_corrupt_piece_is_refused_and_fetched_again(real):
    data, info = real
    swarm = Swarm(info)
    src = Agent("src", swarm, rng=np.random.default_rng(0), have=np.ones(6, dtype=bool), upload_slots=1)
    me = Agent("me", swarm, rng=np.random.default_rng(0), max_downloads=1, selector="sequential")
    (req,) = me.next_requests([src])
    bad = bytearray(data[:1000])
    bad[10] ^= 0xFF
    with pytest.raises(IntegrityError, match="piece 0 .* corrupt"):
        me.on_piece(req.piece, bad)
    assert me.corrupt_pieces == 1 and not me.have[0] and src.slots.used == 0 and swarm.availability[0] == 1
    assert [r.piece for r in me.next_requests([src])] == [0]
    me.on_piece(0, data[:1000])
    assert me.have[0] and bytes(me.read_piece(0)) == data[:1000]


def test_bytes_are_refused_with_a_modelled_metainfo_and_absent_bytes_cannot_be_served(swarm):
    src = peer(swarm, "src", range(P))
    me = peer(swarm, "me", max_downloads=1)
    (req,) = me.next_requests([src])
    with pytest.raises(P2PError, match="modelled"):
        me.on_piece(req.piece, b"x" * 100)
    assert req.piece in me.in_flight, "a refused arrival leaves the request in flight"
    me.on_piece(req.piece)
    with pytest.raises(P2PError, match="modelled data plane only"):
        me.read_piece(req.piece)
    with pytest.raises(P2PError, match="does not hold piece"):
        me.read_piece((req.piece + 1) % P)
    with pytest.raises(P2PError, match="still misses"):
        me.data()


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), members=st.integers(1, 8), rounds=st.integers(1, 8),
       selector=st.sampled_from(["rarest-first", "random", "sequential"]))
def test_random_rounds_never_exceed_any_limit(seed, members, rounds, selector):
    rng = np.random.default_rng(seed)
    swarm = Swarm(modelled_info(30, piece_size=10))
    agents = [
        Agent(i, swarm, rng=rng, selector=selector, upload_slots=int(rng.integers(1, 4)),
              max_downloads=int(rng.integers(1, 6)), have=rng.random(30) < rng.random())
        for i in range(members)
    ]
    for _ in range(rounds):
        issued = []
        for a in agents:
            cands = [agents[j] for j in rng.choice(members, size=int(rng.integers(0, members + 1)), replace=False)]
            reqs = a.next_requests(cands)
            for r in reqs:
                assert not a.have[r.piece] and (r.source is None or r.source.have[r.piece])
            assert len(a.in_flight) <= a.max_downloads
            issued += [(a, r) for r in reqs]
        for m in agents:
            assert 0 <= m.slots.used <= m.slots.limit
        for a, r in issued:
            if rng.random() < 0.8:
                a.on_piece(r.piece)
            else:
                a.on_failed(r.piece)
    assert all(m.slots.used == 0 for m in agents) and swarm.sourcing.sum() == 0
    assert swarm.availability.tolist() == np.sum([a.have for a in agents], axis=0).tolist()


def test_an_empty_blob_is_complete_at_once():
    info = MetaInfo.from_bytes(b"", 1000)
    swarm = Swarm(info)
    me = Agent("me", swarm, rng=np.random.default_rng(0))
    assert info.num_pieces == 0 and me.complete and me.next_requests([]) == []
    assert me.data() == b"" and me.verify_blob() == info.digest


def test_the_blob_of_a_modelled_download_has_no_bytes(swarm):
    src = peer(swarm, "src", range(P), slots=P)
    me = peer(swarm, "me", max_downloads=P)
    me.on_pieces([r.piece for r in me.next_requests([src])])
    assert me.complete
    with pytest.raises(P2PError, match="modelled data plane only"):
        me.data()


def _two_swarms(held_by_source):
    """The same swarm twice (a downloader with its own generator, and one source), for comparing
    two ways of deciding from the same state."""
    out = []
    for _ in range(2):
        s = Swarm(modelled_info(P, piece_size=100, tail=40))
        src = peer(s, "src", held_by_source, slots=2)
        me = Agent("me", s, rng=np.random.default_rng(7), have=bits(P, [0]), upload_slots=4, max_downloads=5,
                   auto_back_to_source=False)
        out.append((me, src))
    return out


def test_nothing_offered_makes_the_same_draws_as_a_decision_that_finds_nothing():
    # the source holds only what the peer has: a full decision finds nothing and draws the jitter
    (a, src_a), (b, src_b) = _two_swarms([0])
    assert a.next_requests([src_a]) == []
    assert b.next_requests([src_b], nothing_offered=True) == []
    assert a.rng.random() == b.rng.random()  # the generators stand at the same place


@pytest.mark.parametrize("held", [range(P), [1, 2], [3, 4, 5, 6, 7, 8, 9]])
@pytest.mark.parametrize("budget", [1, 3, 5])
def test_one_candidate_picks_and_draws_as_the_general_path(held, budget):
    # the fast path for a lone candidate against the general one given the same candidate: the
    # same pieces, slots taken, swarm counts and generator state after
    (a, src_a), (b, src_b) = _two_swarms(held)
    out_a, out_b = [], []
    left_a, left_b = a._from_one(src_a, budget, out_a), b._from_many([src_b], budget, out_b)
    assert [r.piece for r in out_a] == [r.piece for r in out_b] and left_a == left_b
    assert src_a.slots.used == src_b.slots.used
    assert (a.swarm.requested == b.swarm.requested).all()
    assert a.rng.random() == b.rng.random()  # the generators stand at the same place
