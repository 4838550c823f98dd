"""Issue 17 item 3: what makes a P2P rollout's tail -- hosts slower than nominal (a seeded spread and
stragglers), connection set-up and slow start, tracker announce intervals -- each deterministic
for a seed."""

import numpy as np
import pytest

from regsim.models.core.world import build_world
from regsim.models.rollout.p2p import MSS, connection_setup_s, simulate_p2p
from regsim.spec.infra import Variation

from .helpers import build


def star(nodes=40, **over):
    doc = {
        "name": "tails", "seed": 3,
        "cluster": {"nodes": nodes, "racks": 2, "node": {"nic": "1Gbps"}},
        "registry": {"egress": "10Gbps"},
        "image": {"layers": ["100MB"]},
        "workload": {"kind": "rollout", "start": "all"},
        "distribution": {"strategy": "p2p-swarm", "p2p": {"origins": 2}},
    }
    return build(doc, over)


def test_nominal_hosts_by_default_and_no_draw():
    f = Variation().factors(np.random.default_rng(0), 5)
    assert f.tolist() == [1.0] * 5


def test_host_speed_factors_are_capped_lognormal_with_stragglers():
    v = Variation(cv=0.25, stragglers="10%", straggler_factor=0.5)
    f = v.factors(np.random.default_rng(1), 20_000)
    assert f.max() <= 1.0 and f.min() > 0
    # half the hosts reach their nominal rate (median 1), the rest fall short
    assert np.mean(f == 1.0) == pytest.approx(0.5 * 0.9, abs=0.02)
    assert np.mean(f <= 0.5) >= 0.09


def test_world_draws_each_node_rate_from_the_seeded_stream():
    sc = star(**{"cluster.node.variation": {"cv": 0.3, "stragglers": "5%", "straggler_factor": 0.4}})
    a, b = build_world(sc, 7), build_world(sc, 7)
    rate = lambda w, n: w.topology.links[w.topology.host(n).down].capacity  # noqa: E731
    ra = [rate(a, n) for n in a.nodes]
    assert ra == [rate(b, n) for n in b.nodes]
    assert max(ra) <= 1e9 / 8 and min(ra) < 0.5 * 1e9 / 8
    assert ra != [rate(build_world(sc, 8), n) for n in a.nodes]


def test_slow_hosts_make_a_tail_and_the_bound_counts_the_slowest():
    base = simulate_p2p(star(), 1).kpis
    slow = simulate_p2p(star(**{"cluster.node.variation": {"stragglers": "5%", "straggler_factor": 0.4}}), 1).kpis
    assert slow["kumar_ross_bound_s"] > base["kumar_ross_bound_s"]
    assert slow["pull_max_s"] > 1.6 * base["pull_max_s"]
    assert slow["pull_p50_s"] < 1.3 * base["pull_p50_s"]
    assert slow["kumar_ross_bound_s"] <= slow["makespan_s"]


def test_connection_setup_is_handshakes_plus_slow_start_rounds():
    sc = star()
    rtt = 2 * (2 * 50e-6 + 2 * 50e-6)  # two racks: host and core hops each way
    window = (1e9 / 8) * rtt / (10 * MSS)
    rounds = int(np.ceil(np.log2(window)))
    assert connection_setup_s(sc) == pytest.approx((2 + rounds) * rtt)
    assert connection_setup_s(star(**{"distribution.p2p.connect_rtts": 0,
                                      "distribution.p2p.initial_window": 1000})) == 0.0


def test_connection_setup_delays_the_rollout():
    fast = simulate_p2p(star(**{"distribution.p2p.connect_rtts": 0, "distribution.p2p.initial_window": 1000}), 1)
    slow = simulate_p2p(star(**{"distribution.p2p.connect_rtts": 200}), 1)
    assert slow.kpis["pull_p50_s"] > fast.kpis["pull_p50_s"] + 0.01


def test_announce_intervals_hold_back_peers_and_stay_deterministic():
    sc = star(60, **{"distribution.p2p.announce_interval": "3s", "distribution.p2p.peers": 5})
    a, b = simulate_p2p(sc, 2).kpis, simulate_p2p(sc, 2).kpis
    assert a == b
    base = simulate_p2p(star(60, **{"distribution.p2p.peers": 5}), 2).kpis
    assert a["kumar_ross_bound_s"] <= a["makespan_s"]
    assert a["makespan_s"] != base["makespan_s"]
