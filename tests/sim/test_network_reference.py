"""The network model against an independent, naive fluid simulator, and its invariants.

The reference below recomputes max-min rates from scratch in plain Python at every start and
end and steps time to the next one: slow and obviously right. Random topologies and flow sets
(hypothesis) must give the same completion times. While the model runs, every change of rates
is checked against the definitions: no link above capacity, every flow bottlenecked on a
saturated link where its (weighted) rate is the highest. When it is done, every link must have
carried exactly the bytes of the flows that crossed it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from regsim.sim.network import Network
from regsim.sim.topology import Topology

RTOL = 1e-9


def naive_maxmin(routes: dict[int, tuple[int, ...]], weights: dict[int, float], cap: list[float]) -> dict[int, float]:
    rate: dict[int, float] = {}
    left = list(cap)
    active = set(routes)
    while active:
        best, per_link = math.inf, {}
        for link in {lk for f in active for lk in routes[f]}:
            w = sum(weights[f] for f in active if link in routes[f])
            per_link[link] = left[link] / w
            best = min(best, per_link[link])
        full = {lk for lk, s in per_link.items() if s <= best * (1 + 1e-12)}
        frozen = [f for f in active if full & set(routes[f])]
        for f in frozen:
            rate[f] = weights[f] * best
            for link in routes[f]:
                left[link] -= rate[f]
            active.discard(f)
    return rate


def naive_run(flows: list[tuple[float, tuple[int, ...], float, float]], cap: list[float]) -> list[float]:
    """``flows``: (start after latency, route, bytes, weight) -> completion times."""
    finish = [math.nan] * len(flows)
    order = sorted(range(len(flows)), key=lambda i: flows[i][0])
    remaining: dict[int, float] = {}
    t = 0.0
    while order or remaining:
        while order and flows[order[0]][0] <= t:
            i = order.pop(0)
            remaining[i] = flows[i][2]
        rates = naive_maxmin({i: flows[i][1] for i in remaining}, {i: flows[i][3] for i in remaining}, cap)
        nxt = min([t + remaining[i] / rates[i] for i in remaining] + ([flows[order[0]][0]] if order else []))
        for i in list(remaining):
            remaining[i] -= rates[i] * (nxt - t)
            if remaining[i] <= 1e-9 * flows[i][2]:
                finish[i] = nxt
                del remaining[i]
        t = nxt
    return finish


@st.composite
def platforms(draw):
    topo = Topology(hop_latency=draw(st.sampled_from([0.0, 1e-3, 0.02])))
    racks = draw(st.integers(1, 3))
    names = []
    for r in range(racks):
        topo.add_rack(f"r{r}", uplink=draw(st.sampled_from([50.0, 100.0, 400.0])) if racks > 1 else None)
        for h in range(draw(st.integers(1, 3))):
            name = f"r{r}h{h}"
            topo.add_host(name, rack=f"r{r}", nic_up=draw(st.sampled_from([30.0, 100.0, 250.0])),
                          nic_down=draw(st.sampled_from([30.0, 100.0, 250.0])),
                          latency=draw(st.sampled_from([None, 5e-3])))
            names.append(name)
    n = len(names)
    flows = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1),
                                    st.sampled_from([0.0, 10.0, 77.0, 100.0, 333.0, 1000.0, 2500.0]),
                                    st.sampled_from([0.0, 0.0, 0.5, 1.0, 2.25, 7.0])),
                          min_size=1, max_size=14))
    return topo, [(names[s], names[d], size, at) for s, d, size, at in flows]


def run_model(topo: Topology, flows, **kw) -> tuple[Network, list, list[str]]:
    env = simpy.Environment()
    net = Network(env, topo, **kw)
    cap = topo.capacities()
    problems: list[str] = []

    def check(net: Network) -> None:
        routes, rates, counts, weights = net.snapshot()
        load = net.link_load()
        if (load > cap * (1 + RTOL) + 1e-12).any():
            problems.append(f"t={env.now}: load {load} above capacity {cap}")
        if kw.get("coalesce_s", 0.0):
            return  # between windows a coalesced model is feasible but not max-min
        level = rates / weights
        for e, route in enumerate(routes):
            links = route[route >= 0]
            ok = any(load[lk] >= cap[lk] * (1 - RTOL)
                     and level[e] >= level[(routes == lk).any(axis=1)].max() * (1 - RTOL) for lk in links)
            if not ok:
                problems.append(f"t={env.now}: entry {e} on {links} has no max-min bottleneck")

    net.subscribe(check)
    results: list = [None] * len(flows)

    def proc(i, src, dst, size, at):
        yield env.timeout(at)
        results[i] = yield net.transfer(src, dst, size)

    for i, flow in enumerate(flows):
        env.process(proc(i, *flow))
    env.run()
    return net, results, problems


def check_conservation(topo: Topology, flows, results, net: Network) -> None:
    expected = np.zeros(len(topo.links))
    for (src, dst, size, _), tr in zip(flows, results, strict=True):
        assert tr.finished is not None
        expected[list(topo.path(src, dst))] += size
    assert net.link_bytes() == pytest.approx(expected, rel=1e-9, abs=1e-6)


@settings(max_examples=120, deadline=None)
@given(platforms(), st.sampled_from(["maxmin", "latency-weighted"]))
def test_model_matches_the_naive_reference_and_keeps_its_invariants(platform, sharing) -> None:
    topo, flows = platform
    if sharing == "latency-weighted" and topo.hop_latency == 0.0:
        sharing = "maxmin"  # zero route latency has no latency weight
    net, results, problems = run_model(topo, flows, sharing=sharing)
    assert not problems, problems[:3]
    check_conservation(topo, flows, results, net)

    cap = list(topo.capacities())
    moving, expected = [], {}
    for i, (src, dst, size, at) in enumerate(flows):
        route, lat = topo.route(src, dst)
        if not route or size == 0:
            expected[i] = at + lat
        else:
            w = 1.0 if sharing == "maxmin" else 1.0 / lat
            moving.append((i, (at + lat, route, size, w)))
    for (i, _), t in zip(moving, naive_run([f for _, f in moving], cap), strict=True):
        expected[i] = t
    got = [tr.finished for tr in results]
    assert got == pytest.approx([expected[i] for i in range(len(flows))], rel=1e-7, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(platforms(), st.sampled_from([0.01, 0.3, 2.0]))
def test_coalescing_stays_feasible_and_conserves_bytes(platform, coalesce_s) -> None:
    topo, flows = platform
    net, results, problems = run_model(topo, flows, coalesce_s=coalesce_s)
    assert not problems, problems[:3]
    check_conservation(topo, flows, results, net)
    cap = topo.capacities()
    for (src, dst, size, at), tr in zip(flows, results, strict=True):
        route, lat = topo.route(src, dst)
        fastest = at + lat + (size / cap[list(route)].min() if route else 0.0)
        assert tr.finished >= fastest * (1 - 1e-12)
        assert tr.started <= at + lat + coalesce_s * (1 + 1e-9) or size == 0 or not route
