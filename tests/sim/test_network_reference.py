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

from regsim.sim.network import MAXMIN, FlowModel, Network
from regsim.sim.topology import Topology

RTOL = 1e-9


def naive_maxmin(routes: dict[int, list[tuple[int, float]]], weights: dict[int, float],
                 bounds: dict[int, float], cap: list[float]) -> dict[int, float]:
    """Progressive filling, in plain Python: ``routes`` maps each flow to ``(link, load per unit
    of rate)`` pairs; ``bounds`` caps each flow's rate."""
    rate: dict[int, float] = {}
    left = list(cap)
    active = set(routes)
    while active:
        best, per_link = math.inf, {}
        for link in {lk for f in active for lk, _ in routes[f]}:
            w = sum(weights[f] * c for f in active for lk, c in routes[f] if lk == link)
            per_link[link] = left[link] / w
            best = min(best, per_link[link])
        best = min([best] + [bounds[f] / weights[f] for f in active])
        full = {lk for lk, s in per_link.items() if s <= best * (1 + 1e-12)}
        frozen = [f for f in active
                  if full & {lk for lk, _ in routes[f]} or bounds[f] / weights[f] <= best * (1 + 1e-12)]
        for f in frozen:
            rate[f] = weights[f] * best
            for link, c in routes[f]:
                left[link] -= c * rate[f]
            active.discard(f)
    return rate


def naive_run(flows: list[tuple[float, list[tuple[int, float]], float, float, float]], cap: list[float],
              goodput: float = 1.0) -> list[float]:
    """``flows``: (start after latency, [(link, coef)], bytes, weight, bound) -> completion times.
    Bytes move at ``goodput`` times the allotted rate (SimGrid's bandwidth factor)."""
    finish = [math.nan] * len(flows)
    order = sorted(range(len(flows)), key=lambda i: flows[i][0])
    remaining: dict[int, float] = {}
    t = 0.0
    while order or remaining:
        while order and flows[order[0]][0] <= t:
            i = order.pop(0)
            remaining[i] = flows[i][2]
        allotted = naive_maxmin({i: flows[i][1] for i in remaining}, {i: flows[i][3] for i in remaining},
                                {i: flows[i][4] for i in remaining}, cap)
        rates = {i: goodput * r for i, r in allotted.items()}
        nxt = min([t + remaining[i] / rates[i] for i in remaining] + ([flows[order[0]][0]] if order else []))
        for i in list(remaining):
            remaining[i] -= rates[i] * (nxt - t)
            if remaining[i] <= 1e-9 * flows[i][2]:
                finish[i] = nxt
                del remaining[i]
        t = nxt
    return finish


#: a TCP-like model whose every part shows in small platforms: a binding window, heavy acks
TCP_TEST = FlowModel(bandwidth_factor=0.9, latency_factor=2.0, weight_s=0.3, reverse_load=0.2, window=2.0)


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
    cap = net.capacity()
    problems: list[str] = []

    def check(net: Network) -> None:
        routes, rates, counts, weights, coefs = net.snapshot()
        load = net.link_load()
        if (load > cap * (1 + RTOL) + 1e-12).any():
            problems.append(f"t={env.now}: load {load} above capacity {cap}")
        if kw.get("coalesce_s", 0.0):
            return  # between windows a coalesced model is feasible but not max-min
        level = rates / weights
        model = net.model
        coefs = coefs * model.goodput  # the table's coefficients carry 1 / goodput
        for e, route in enumerate(routes):
            links = route[route >= 0]
            forward = links[np.isclose(coefs[e][: len(links)], 1.0)]  # the reverse path loads less here
            src, dst = topo.links[forward[0]].src, topo.links[forward[-1]].dst
            capped = rates[e] >= model.goodput * model.bound(topo.route(src, dst)[1]) * (1 - RTOL)
            ok = capped or any(load[lk] >= cap[lk] * (1 - RTOL)
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
    """Every link carried the bytes of the flows that crossed it, plus the reverse load of
    those whose acknowledgements crossed it."""
    expected = np.zeros(len(topo.links))
    for (src, dst, size, _), tr in zip(flows, results, strict=True):
        assert tr.finished is not None
        expected[list(topo.path(src, dst))] += size / net.model.goodput
        if size and topo.path(src, dst):
            expected[list(topo.path(dst, src))] += net.model.reverse * size / net.model.goodput
    assert net.link_bytes() == pytest.approx(expected, rel=1e-9, abs=1e-6)


@settings(max_examples=120, deadline=None)
@given(platforms(), st.sampled_from([MAXMIN, TCP_TEST, TCP_TEST.with_(window=None, reverse_load=0.0)]))
def test_model_matches_the_naive_reference_and_keeps_its_invariants(platform, model) -> None:
    topo, flows = platform
    net, results, problems = run_model(topo, flows, model=model)
    assert not problems, problems[:3]
    check_conservation(topo, flows, results, net)

    cap = list(net.capacity())
    moving, expected = [], {}
    for i, (src, dst, size, at) in enumerate(flows):
        route, lat = topo.route(src, dst)
        delay = model.delay(lat)
        if not route or size == 0:
            expected[i] = at + delay
            continue
        links = [(lk, 1.0) for lk in route]
        if model.reverse:
            links += [(lk, model.reverse) for lk in topo.path(dst, src)]
        w = 1.0 / model.penalty(lat, [topo.capacities()[lk] for lk in route]) if model.weighted else 1.0
        moving.append((i, (at + delay, links, size, w, model.bound(lat))))
    for (i, _), t in zip(moving, naive_run([f for _, f in moving], cap, model.goodput), strict=True):
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
