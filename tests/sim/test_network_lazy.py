"""The lazy re-share (:mod:`regsim.sim.network.lazy`) against the eager strategies it stands in for.

The lazy state keeps one clock per bottleneck link instead of every entry's rate, and hands back
to the eager strategies whenever an allocation stops being grouped. Both must give the same finish
times and the same bytes per link (to rounding), on the small random platforms of the reference
test and on storms large enough to stay lazy for long: several servers behind thin rack uplinks,
clients whose own NIC becomes the bottleneck as the storm drains, windows that bind, links that
several bottleneck groups cross, and acknowledgements on reverse paths.
"""

from __future__ import annotations

import numpy as np
import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from regsim.sim.network import LV08, MAXMIN, TCP, FlowModel, Network
from regsim.sim.topology import Topology

from .test_network_reference import TCP_TEST, platforms

RTOL = 1e-9


def run(topo: Topology, flows, *, lazy: bool, **kw) -> tuple[list[float], np.ndarray, Network]:
    env = simpy.Environment()
    net = Network(env, topo, lazy=lazy, **kw)
    finished = [np.nan] * len(flows)

    def proc(i, src, dst, size, at):
        yield env.timeout(at)
        tr = yield net.transfer(src, dst, size)
        finished[i] = tr.finished

    for i, flow in enumerate(flows):
        env.process(proc(i, *flow))
    env.run()
    return finished, net.link_bytes(), net


def assert_same(topo: Topology, flows, **kw) -> Network:
    eager_t, eager_b, _ = run(topo, flows, lazy=False, **kw)
    lazy_t, lazy_b, net = run(topo, flows, lazy=True, **kw)
    assert lazy_t == pytest.approx(eager_t, rel=RTOL, abs=1e-12)
    assert lazy_b == pytest.approx(eager_b, rel=RTOL, abs=1e-6)
    return net


@settings(max_examples=80, deadline=None)
@given(platforms(), st.sampled_from([MAXMIN, TCP_TEST, LV08]))
def test_lazy_equals_eager_on_small_platforms(platform, model) -> None:
    topo, flows = platform
    assert_same(topo, flows, model=model)


def storm(seed: int, clients: int = 120, servers: int = 3) -> tuple[Topology, list]:
    """Servers in thin-uplinked racks, clients of mixed NICs in four racks, staggered pulls of
    mixed sizes (some clients pull twice: entries with several members)."""
    rng = np.random.default_rng(seed)
    topo = Topology(hop_latency=1e-4)
    for r in range(servers):
        topo.add_rack(f"s{r}", uplink=float(rng.choice([800.0, 1200.0, 2000.0])))
        topo.add_host(f"server{r}", rack=f"s{r}", nic=4000.0)
    names = []
    for r in range(4):
        topo.add_rack(f"c{r}", uplink=float(rng.choice([500.0, 3000.0])))
        for h in range(clients // 4):
            names.append(topo.add_host(f"c{r}h{h}", rack=f"c{r}", nic=float(rng.choice([20.0, 60.0, 200.0]))).name)
    flows = []
    for i in range(clients + clients // 3):
        dst = names[i % clients]
        flows.append((f"server{int(rng.integers(servers))}", dst, float(rng.choice([50.0, 400.0, 1500.0])),
                      float(rng.uniform(0.0, 5.0))))
    return topo, flows


@pytest.mark.parametrize("model", [MAXMIN, TCP, LV08, FlowModel(window=3000.0)],
                         ids=["maxmin", "tcp", "lv08", "window"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_lazy_equals_eager_on_storms(model, seed) -> None:
    topo, flows = storm(seed)
    net = assert_same(topo, flows, model=model)
    assert net.stats.lazy > 0  # the storm does stay lazy for a while


def test_a_lone_server_storm_stays_lazy() -> None:
    """Eager only at the start and where clients' NICs take over as the storm drains."""
    topo = Topology.star(1000.0, 400, 100.0, latency=1e-3)
    rng = np.random.default_rng(7)
    flows = [("registry", f"client{i:03d}", float(rng.uniform(10.0, 500.0)), float(rng.uniform(0.0, 10.0)))
             for i in range(400)]
    net = assert_same(topo, flows, model=TCP)
    assert net.stats.lazy >= 0.95 * net.stats.reshares


def test_a_link_that_comes_back_is_watched_again() -> None:
    """Found by the reference test: an uplink is a bottleneck group's sole link, its last entry
    ends and the group's level rises (the link is dropped from the group's heap of shares), then a
    new entry crosses it again. When the group's level rises once more the link must bind: 30 B/s
    through a host uplink, not the 50 B/s of the shared downlink."""
    topo = Topology(hop_latency=0.0)
    for rack, uplink in [("r0", 50.0), ("r1", 50.0), ("r2", 50.0)]:
        topo.add_rack(rack, uplink=uplink)
    topo.add_host("dst", rack="r0", nic_up=30.0, nic_down=100.0)
    topo.add_host("slow", rack="r1", nic=30.0)
    topo.add_host("fast", rack="r2", nic_up=100.0, nic_down=30.0)
    flows = [("slow", "dst", 10.0, 0.0), ("slow", "dst", 77.0, 0.5), ("fast", "dst", 77.0, 0.0)]
    finished, _, net = run(topo, flows, lazy=True, model=MAXMIN)
    # fast: 10 B by 0.4 s at 25 B/s, 5 B by 0.5 s at 50, 62 B at 25 -> 2.98 s; slow's second
    # pull: 62 B by 2.98 s at 25 B/s, then 15 B at its uplink's 30 B/s
    assert finished == pytest.approx([0.4, 2.98 + 15.0 / 30.0, 2.98], rel=1e-12)
    assert_same(topo, flows, model=MAXMIN)
