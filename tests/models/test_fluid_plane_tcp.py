"""The fluid data plane under the TCP-like sharing model: the same allocation as the exact network's,
the generalised parallel filling against the engine's kernel, feasibility at any number of rounds,
and P2P runs against the exact plane under ``network.model: tcp``."""

import numpy as np
import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from regsim.models.rollout.p2p import simulate_p2p
from regsim.models.rollout.plane_exact import ExactPlane
from regsim.models.rollout.planes import FluidPlane
from regsim.sim.network import Network
from regsim.sim.network.maxmin import fill_levels
from regsim.sim.network.sharing import TCP, FlowModel
from regsim.sim.topology import Topology

from .test_p2p_model import _drive, star

#: TCP with terms of the same order as the small capacities below, so weights, reverse loads and
#: windows all shape the allocation
SMALL_TCP = FlowModel(weight_s=100.0, window=500.0)


def _racked(caps, hop_latency):
    topo = Topology(hop_latency=hop_latency)
    topo.add_rack("a", uplink=caps[0])
    topo.add_rack("b", uplink=caps[1])
    for h in range(6):
        topo.add_host(f"h{h}", rack="a" if h < 3 else "b", nic_up=caps[2 + h], nic_down=caps[(h + 5) % 10 + 2])
    return topo


# -- the plane against the exact network -----------------------------------------------------------

def test_a_lone_tcp_connection_moves_at_the_bandwidth_factor_of_its_link():
    topo = Topology.star(1000.0, 1, client_down=1000.0)
    done, plane = _drive(FluidPlane, topo, [("registry", "client0", 970.0)], TCP, window_s=0.0)
    assert done[0] == pytest.approx(1.0)
    # regsim's tcp preset loads no reverse path, so routes stay four links wide; with a reverse load
    # they carry the reverse route too
    assert plane.width == 4 and plane.stats.unconverged == 0
    _, acked = _drive(FluidPlane, topo, [("registry", "client0", 970.0)], TCP.with_(reverse_load=0.05), window_s=0.0)
    assert acked.width == 8


def test_fluid_and_exact_planes_agree_on_a_small_storm_under_tcp():
    """Registry pulls, a peer upload and an upload to the registry: reverse loads couple the
    directions (client1 uploads while it downloads) and the weights differ with the NICs."""
    topo = Topology.star(1000.0, 5, client_down=300.0, client_up=200.0)
    jobs = [("registry", f"client{i}", 100.0 * (i + 1)) for i in range(5)]
    jobs += [("client0", "client1", 80.0), ("client1", "registry", 150.0)]
    for model in (TCP, SMALL_TCP):
        fluid, _ = _drive(FluidPlane, topo, jobs, model, window_s=0.0)
        exact, _ = _drive(ExactPlane, topo, jobs, model)
        for i in fluid:
            assert fluid[i] == pytest.approx(exact[i], rel=1e-3, abs=1e-3)  # the exact plane pays path latency


def test_the_window_bounds_a_connection_as_in_the_exact_network():
    """20 ms one way: a connection's allotment is at most 4 MiB / 40 ms = 105 MB/s, under its
    1.25 GB/s NICs; all routes have the same latency, so the exact plane is the fluid one delayed by it."""
    topo = Topology.star(1.25e9, 3, client_down=1.25e9, latency=10e-3)
    jobs = [("registry", "client0", 50e6), ("registry", "client1", 80e6), ("client2", "client0", 30e6)]
    fluid, plane = _drive(FluidPlane, topo, jobs, TCP, window_s=0.0)
    exact, _ = _drive(ExactPlane, topo, jobs, TCP)
    bound = TCP.window / (2 * 20e-3)
    assert fluid[0] == pytest.approx(50e6 / (0.97 * bound))
    for i in fluid:
        assert exact[i] == pytest.approx(fluid[i] + 20e-3, rel=1e-9)


def test_the_weights_and_window_are_priced_on_the_full_route_through_a_gateway():
    """A frontend behind the registry's gateway: the fluid route has the gateway in place of its
    NIC, but its weight and window bound count both, as the exact network does."""
    topo = Topology.star(1000.0, 2, client_down=400.0)
    topo.add_host("fe", rack="switch", nic=2000.0)
    topo.add_gateway("egress", ["fe"], capacity=500.0)
    jobs = [("fe", "client0", 300.0), ("registry", "client0", 200.0), ("fe", "client1", 250.0),
            ("client1", "fe", 100.0)]
    for model in (TCP, SMALL_TCP):
        fluid, _ = _drive(FluidPlane, topo, jobs, model, window_s=0.0)
        exact, _ = _drive(ExactPlane, topo, jobs, model)
        for i in fluid:
            assert fluid[i] == pytest.approx(exact[i], rel=1e-3, abs=1e-3)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)).filter(lambda p: p[0] != p[1]),
                min_size=1, max_size=12),
       st.lists(st.floats(10.0, 1000.0), min_size=12, max_size=12),
       st.sampled_from([TCP, SMALL_TCP]))
def test_tcp_filling_is_the_exact_networks_and_never_overloads_a_link(pairs, caps, model):
    topo = _racked(caps, hop_latency=0.5)
    env = simpy.Environment()
    net = Network(env, topo, model=model)
    for a, b in pairs:
        net.transfer(f"h{a}", f"h{b}", 1e12)
    env.run(until=3.0)  # every transfer has paid its latency (at most 2 s) and the network re-shared
    snap = net.snapshot()
    # an entry's links are its forward route, then its reverse route's
    exact = {fwd: rate for fwd in {topo.path(f"h{a}", f"h{b}") for a, b in pairs}
             for r, rate in zip(snap.routes, snap.rates) if tuple(int(x) for x in r[: len(fwd)]) == fwd}
    for rounds, converged in ((64, True), (2, False), (1, False)):
        plane = FluidPlane(env, topo, lambda owner, t: None, window_s=0.0, rounds=rounds, model=model)
        fids = [plane.open(f"h{a}", f"h{b}", 1.0, i) for i, (a, b) in enumerate(pairs)]
        plane._reshare()
        # loads: each connection's allotment on its route and reverse_load of it on the reverse route
        allot = plane.rate[fids] / model.goodput
        load = np.zeros(len(topo.links) + 1)
        np.add.at(load, plane.route[fids].ravel(), (allot[:, None] * plane.coef).ravel())
        assert np.all(load[:-1] <= topo.capacities() * (1 + 1e-9))  # feasible, however few the rounds
        # the last entry is the padding, not a link: a re-share may leave unused columns out
        assert load[:-1] == pytest.approx(plane.load[:-1], rel=1e-12, abs=1e-9)
        bound = np.array([model.bound(topo.latency(f"h{a}", f"h{b}")) for a, b in pairs])
        assert np.all(allot <= bound * (1 + 1e-9))
        if converged:
            assert plane.stats.unconverged == 0
            for fid, (a, b) in zip(fids, pairs):
                assert plane.rate[fid] == pytest.approx(exact[topo.path(f"h{a}", f"h{b}")], rel=1e-6)
            assert load[:-1] == pytest.approx(net.link_load(), rel=1e-6, abs=1e-9)


# -- the generalised filling against the engine's kernel ---------------------------------------------

@settings(max_examples=50, deadline=None)
@given(st.data())
def test_weighted_parallel_filling_equals_progressive_filling(data):
    links = data.draw(st.integers(1, 10))
    n = data.draw(st.integers(1, 15))
    width = data.draw(st.sampled_from([4, 8]))
    caps = np.array(data.draw(st.lists(st.floats(1.0, 1000.0), min_size=links, max_size=links)))
    routes = np.full((n, width), links, dtype=np.int64)
    coefs = np.ones((n, width))
    for f in range(n):
        chosen = data.draw(st.lists(st.integers(0, links - 1), min_size=1, max_size=min(width, links), unique=True))
        routes[f, : len(chosen)] = chosen
        coefs[f, : len(chosen)] = data.draw(st.lists(st.sampled_from([1.0, 0.05, 0.5]), min_size=len(chosen),
                                                     max_size=len(chosen)))
    weights = np.array(data.draw(st.lists(st.floats(0.01, 100.0), min_size=n, max_size=n)))
    level_cap = np.array(data.draw(st.lists(st.one_of(st.just(np.inf), st.floats(0.01, 1000.0)),
                                            min_size=n, max_size=n)))
    # a plane over a topology of exactly ``links`` links, so its padding index is ``links``
    topo = Topology(hop_latency=0.0)
    topo.add_rack("r")
    for h in range((links + 1) // 2):
        topo.add_host(f"h{h}", rack="r", nic=1.0)
    env = simpy.Environment()
    cap = np.append(caps, np.inf)
    want = fill_levels(routes.T, weights, cap, coefs.T, level_cap)
    for rounds in (n + 2, 1, 2):
        plane = FluidPlane(env, topo, lambda owner, t: None, window_s=0.0, rounds=rounds)
        plane.pad = links  # the odd-link case: one NIC too many, left out of the routes
        got = plane._fill(routes, cap.copy(), weights, coefs, level_cap)
        load = np.bincount(routes.ravel(), weights=(coefs * (weights * got)[:, None]).ravel(), minlength=links + 1)
        assert np.all(load[:links] <= caps * (1 + 1e-9))
        assert np.all(got <= level_cap * (1 + 1e-12))
        if rounds > n:  # every round freezes at least one flow: converged
            assert got == pytest.approx(want, rel=1e-9)
        else:
            assert np.all(got <= want * (1 + 1e-9))  # below the fair allocation, never above


def test_the_maxmin_plane_keeps_four_link_routes_and_unit_weights():
    topo = Topology.star(100.0, 2, client_down=100.0)
    plane = FluidPlane(simpy.Environment(), topo, lambda owner, t: None, window_s=0.0)
    assert plane.width == 4 and not plane.weighted
    with pytest.raises(TypeError, match="FlowModel"):
        FluidPlane(simpy.Environment(), topo, lambda owner, t: None, window_s=0.0, model="tcp")


# -- P2P runs under the TCP model -----------------------------------------------------------------
# (the fluid plane against the exact one under either model: tests/models/test_p2p_model.py)


def test_a_p2p_run_under_tcp_is_slower_than_under_maxmin_by_about_the_bandwidth_factor():
    """A non-oversubscribed star is NIC-bound either way; under tcp bytes move at 0.97 of the
    allotment and shares follow round trips."""
    sc = star(30, layers=["100MB"])
    maxmin = simulate_p2p(sc, 1).kpis["makespan_s"]
    tcp = simulate_p2p(star(30, layers=["100MB"], **{"network.model": "tcp"}), 1).kpis["makespan_s"]
    assert maxmin < tcp < 1.25 * maxmin
