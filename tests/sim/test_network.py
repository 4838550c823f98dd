"""The SimPy network model against closed forms and hand-computed schedules."""

from __future__ import annotations

import numpy as np
import pytest
import simpy

from regsim.sim.network import FlowModel, LinkRecorder, Network, Transfer
from regsim.sim.topology import Topology, TopologyError

GB = 1e9


def start(env: simpy.Environment, net: Network, src: str, dst: str, nbytes: float, at: float = 0.0,
          out: dict | None = None, key: object = None, tag: object = None):
    """Request a transfer ``at`` seconds from now; record the finished Transfer under ``key``."""

    def proc():
        if at:
            yield env.timeout(at)
        tr = yield net.transfer(src, dst, nbytes, tag=tag)
        if out is not None:
            out[key if key is not None else dst] = tr

    return env.process(proc())


@pytest.mark.parametrize("n", [1, 10, 100, 1000])
def test_n_clients_from_one_server_finish_at_n_f_over_us(n: int) -> None:
    us, size = 125e6, 1e8
    topo = Topology.star(us, n, us)
    env = simpy.Environment()
    net = Network(env, topo)
    done: dict = {}
    for name in list(topo.hosts)[1:]:
        start(env, net, "registry", name, size, out=done)
    env.run()
    makespan = max(tr.finished for tr in done.values())
    assert len(done) == n
    assert makespan == pytest.approx(n * size / us, rel=0.01)
    assert net.stats.reshares <= 2  # all start together, all end together


def test_a_single_flow_takes_latency_plus_size_over_its_tightest_link() -> None:
    topo = Topology.racked(2, 1, nic=1e9, rack_uplink=2e8, latency=1e-3)
    env = simpy.Environment()
    net = Network(env, topo)
    done: dict = {}
    start(env, net, "rack0-h0", "rack1-h0", 5e8, out=done)
    env.run()
    tr = done["rack1-h0"]
    assert tr.finished == pytest.approx(4e-3 + 5e8 / 2e8, rel=1e-12)
    assert tr.started == pytest.approx(4e-3) and tr.duration == tr.finished


def test_two_flows_sharing_a_bottleneck_each_get_half() -> None:
    topo = Topology.star(100.0, 2, 1000.0, latency=0.0)
    env = simpy.Environment()
    net = Network(env, topo)
    a, b = net.transfer("registry", "client0", 1000), net.transfer("registry", "client1", 1000)
    env.run(until=1.0)
    ta, tb = net._table.members[0][0][2], net._table.members[1][0][2]
    assert net.rate(ta) == net.rate(tb) == 50.0
    assert net.utilisation()[topo.hosts["registry"].up] == pytest.approx(1.0)
    env.run()
    assert a.value.finished == b.value.finished == pytest.approx(20.0)
    assert net.rate(ta) == 0.0


def test_staggered_starts_follow_the_hand_computed_schedule() -> None:
    # server 100 B/s. A=1000 B at 0, B=500 B at 2, C=100 B at 4.
    # [0,2) A alone: 200.  [2,4) A,B at 50: A 300, B 100.  [4,7) three at 100/3: C done at 7,
    # A 400, B 200.  [7,13) A,B at 50: B done at 13, A 700.  [13,16) A at 100: done at 16.
    topo = Topology.star(100.0, 3, 1000.0, latency=0.0)
    env = simpy.Environment()
    net = Network(env, topo)
    done: dict = {}
    start(env, net, "registry", "client0", 1000, 0.0, done, "A")
    start(env, net, "registry", "client1", 500, 2.0, done, "B")
    start(env, net, "registry", "client2", 100, 4.0, done, "C")
    env.run()
    assert {k: tr.finished for k, tr in done.items()} == pytest.approx({"A": 16.0, "B": 13.0, "C": 7.0})


def test_an_oversubscribed_rack_uplink_gives_the_hand_computed_rates() -> None:
    # 4 hosts of rack0 send across to rack1: the uplink (4 x 100 / 4 = 100) gives each 25.
    # rack1-h0 -> rack1-h1 stays in the rack; h1's downlink has 100 - 25 left, so 75.
    topo = Topology.racked(2, 4, nic=100.0, oversubscription=4.0, latency=0.0)
    env = simpy.Environment()
    net = Network(env, topo)
    done: dict = {}
    for h in range(4):
        start(env, net, f"rack0-h{h}", f"rack1-h{h}", 250.0, out=done)
    start(env, net, "rack1-h0", "rack1-h1", 750.0, out=done, key="local")
    env.run(until=1.0)
    routes, rates, counts, _, _ = net.snapshot()
    assert sorted(rates.tolist()) == pytest.approx([25.0, 25.0, 25.0, 25.0, 75.0])
    assert counts.tolist() == [1.0] * 5
    env.run()
    assert all(done[f"rack1-h{h}"].finished == pytest.approx(10.0) for h in range(4))
    assert done["local"].finished == pytest.approx(10.0)


def test_a_registry_added_into_a_rack_sees_local_and_remote_clients_differently() -> None:
    topo = Topology.racked(2, 4, nic=100.0, oversubscription=4.0, latency=0.0)
    topo.add_host("registry", rack="rack0", nic=1000.0)
    env = simpy.Environment()
    net = Network(env, topo)
    events = {name: net.transfer("registry", name, 100.0) for name in topo.hosts if name != "registry"}
    env.run()
    # rack0 clients: their own 100 B/s NIC; rack1 clients: a quarter of the 100 B/s uplink
    assert all(ev.value.finished == pytest.approx(1.0) for n, ev in events.items() if n.startswith("rack0"))
    assert all(ev.value.finished == pytest.approx(4.0) for n, ev in events.items() if n.startswith("rack1"))


def test_flows_on_one_route_merge_into_one_weighted_entry() -> None:
    # same route, cap 100: 100 B and 300 B at t=0 share 50/50; the small one ends at 2,
    # the large one then runs at 100 and ends at 4. A third of 100 B joins at t=1.
    topo = Topology.star(100.0, 1, 1000.0, latency=0.0)
    env = simpy.Environment()
    net = Network(env, topo)
    done: dict = {}
    start(env, net, "registry", "client0", 100, 0.0, done, "small")
    start(env, net, "registry", "client0", 300, 0.0, done, "large")
    env.run(until=0.5)
    _, rates, counts, _, _ = net.snapshot()
    assert counts.tolist() == [2.0] and rates.tolist() == [50.0]
    start(env, net, "registry", "client0", 100, 0.5, done, "late")  # requested at 0.5 + 0.5 = 1
    env.run()
    # [0,1) two at 50: small 50, large 50.  [1,..) three at 33.3: small needs 50 -> t=2.5,
    # large 100, late 50.  [2.5,..) two at 50: late needs 50 -> t=3.5, large 150.  then 150 at 100.
    assert {k: tr.finished for k, tr in done.items()} == pytest.approx({"small": 2.5, "late": 3.5, "large": 5.0})


def test_zero_bytes_cost_the_latency_and_a_local_copy_costs_nothing() -> None:
    topo = Topology.star(1e9, 1, 1e9, latency=2e-3)
    env = simpy.Environment()
    net = Network(env, topo)
    done: dict = {}
    start(env, net, "registry", "client0", 0, out=done, key="zero")
    start(env, net, "client0", "client0", 5 * GB, out=done, key="local")
    env.run()
    assert done["zero"].finished == pytest.approx(4e-3)
    assert done["local"].finished == 0.0
    assert net.link_bytes().sum() == 0.0 and net.stats.reshares == 0


def test_counters_bytes_per_link_and_per_tag() -> None:
    topo = Topology.star(100.0, 2, 1000.0, latency=0.0)
    env = simpy.Environment()
    net = Network(env, topo)
    net.transfer("registry", "client0", 300, tag="layer")
    net.transfer("registry", "client1", 100, tag="manifest")
    net.transfer("client1", "client0", 50, tag="layer")
    env.run()
    sent = net.link_bytes()
    hosts = topo.hosts
    assert sent[hosts["registry"].up] == pytest.approx(400)
    assert sent[hosts["client0"].down] == pytest.approx(350)
    assert sent[hosts["client1"].up] == pytest.approx(50)
    assert net.bytes_by_tag == {"layer": 350, "manifest": 100}
    assert net.stats.completed == net.stats.started == net.stats.requested == 3
    assert net.active == 0 and net.pending == 0


def test_recorder_gives_the_exact_utilisation_step_function() -> None:
    topo = Topology.star(100.0, 2, 200.0, latency=0.0)
    env = simpy.Environment()
    net = Network(env, topo)
    up, down0 = topo.hosts["registry"].up, topo.hosts["client0"].down
    rec = LinkRecorder(net, [up, down0])
    start(env, net, "registry", "client0", 1000, 0.0)  # alone: 100 on the server uplink
    start(env, net, "registry", "client1", 200, 4.0)  # shares from 4 to 8; client0 ends at 12
    env.run()
    assert rec.times.tolist() == pytest.approx([0.0, 4.0, 8.0, 12.0])
    assert rec.at([1.0, 5.0, 9.0, 13.0]) == pytest.approx(np.array([[1.0, 0.5], [1.0, 0.25], [1.0, 0.5], [0.0, 0.0]]))
    # the time average times capacity is the bytes carried
    assert rec.mean(12.0)[0] * 100.0 * 12.0 == pytest.approx(net.link_bytes()[up])


def test_latency_weighted_shares_are_proportional_to_one_over_latency() -> None:
    topo = Topology.star(300.0, 0, 1.0, latency=1e-3)
    topo.add_host("near", rack="switch", nic=1e6, latency=1e-3)  # route latency 2 ms
    topo.add_host("far", rack="switch", nic=1e6, latency=3e-3)  # route latency 4 ms
    env = simpy.Environment()
    net = Network(env, topo, model=FlowModel(bandwidth_factor=1.0, weight_s=0.0, reverse_load=0.0, window=None))
    near, far = net.transfer("registry", "near", 1e6), net.transfer("registry", "far", 1e6)
    env.run(until=0.5)
    t_near, t_far = (net._table.members[i][0][2] for i in range(2))
    assert net.rate(t_near) == pytest.approx(200.0) and net.rate(t_far) == pytest.approx(100.0)
    # SimGrid's LV08 penalty adds weight_s / capacity per link: 3.0003 ms against 5.0003 ms
    env = simpy.Environment()
    lv08 = Network(env, topo, model=FlowModel(bandwidth_factor=1.0, weight_s=0.3, reverse_load=0.0, window=None))
    lv08.transfer("registry", "near", 1e6), lv08.transfer("registry", "far", 1e6)
    env.run(until=0.5)
    _, rates, _, weights, _ = lv08.snapshot()
    assert weights.tolist() == pytest.approx([1 / 3.0003e-3, 1 / 5.0003e-3])
    assert rates.sum() == pytest.approx(300.0) and rates[0] / rates[1] == pytest.approx(5.0003 / 3.0003)


def test_same_inputs_give_identical_completion_times() -> None:
    def run() -> list[float]:
        topo = Topology.racked(4, 10, nic=1e9, oversubscription=4.0)
        topo.add_host("registry", rack="rack0", nic=1e10)
        env = simpy.Environment()
        net = Network(env, topo)
        rng = np.random.default_rng(7)
        done: dict = {}
        for i, name in enumerate(n for n in topo.hosts if n != "registry"):
            start(env, net, "registry", name, float(rng.integers(1e6, 1e9)), float(rng.uniform(0, 5)), done, i)
        env.run()
        return [done[i].finished for i in range(len(done))]

    assert run() == run()


def test_hosts_added_after_the_network_is_built_are_usable() -> None:
    topo = Topology.star(100.0, 1, 100.0, latency=0.0)
    env = simpy.Environment()
    net = Network(env, topo)
    first = net.transfer("registry", "client0", 100)
    env.run()
    topo.add_host("late", rack="switch", nic=50.0)
    second = net.transfer("registry", "late", 100)
    env.run()
    assert first.value.finished == pytest.approx(1.0) and second.value.finished == pytest.approx(3.0)
    assert isinstance(second.value, Transfer) and len(net.utilisation()) == len(topo.links)


def test_bad_requests_fail_loudly() -> None:
    topo = Topology.star(100.0, 1, 100.0, latency=0.0)
    env = simpy.Environment()
    with pytest.raises(ValueError, match="sharing"):
        FlowModel(sharing="fifo")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="FlowModel"):
        Network(env, topo, model="tcp")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="coalesce_s"):
        Network(env, topo, coalesce_s=-1.0)
    net = Network(env, topo)
    with pytest.raises(ValueError, match="nbytes"):
        net.transfer("registry", "client0", -5)
    with pytest.raises(TopologyError, match="unknown host"):
        net.transfer("registry", "nobody", 5)
    weighted = Network(env, topo, model=FlowModel(weight_s=0.0))
    with pytest.raises(ValueError, match="positive route latency"):
        weighted.transfer("registry", "client0", 5)


def test_a_flow_joining_a_bottleneck_it_does_not_share_gets_the_max_min_rates() -> None:
    # R: h0 -> h1 is held by h1's downlink (100). U: h2 -> h3 by h2's uplink (10).
    # S: h2 -> h1 then splits h2's uplink with U (5 each) and crosses h1's downlink, where R
    # must take the rest: 95, not the 50 a stale "same bottlenecks as before" shortcut gives.
    topo = Topology(hop_latency=0.0)
    topo.add_rack("s")
    for name, up, down in [("h0", 200.0, 1e3), ("h1", 1e3, 100.0), ("h2", 10.0, 1e3), ("h3", 1e3, 1e3)]:
        topo.add_host(name, rack="s", nic_up=up, nic_down=down)
    env = simpy.Environment()
    net = Network(env, topo)
    done: dict = {}
    start(env, net, "h0", "h1", 1e4, 0.0, done, "R")
    start(env, net, "h2", "h3", 1e4, 0.0, done, "U")
    start(env, net, "h2", "h1", 1e4, 1.0, done, "S")
    env.run(until=1.5)
    routes, rates, _, _, _ = net.snapshot()
    by_route = {tuple(r[r >= 0]): x for r, x in zip(routes, rates, strict=True)}
    assert by_route[topo.path("h0", "h1")] == pytest.approx(95.0)
    assert by_route[topo.path("h2", "h3")] == by_route[topo.path("h2", "h1")] == pytest.approx(5.0)
    # the second re-share keeps every bottleneck and takes the crossing flow's use of h1's downlink
    # into R's level: the grouped path, checked to be max-min, not a stale shortcut
    assert (net.stats.component, net.stats.grouped) == (1, 1)


def test_storms_take_the_fast_reshare_paths() -> None:
    # one server: every flow shares its uplink -> the uniform path after the first re-share, then
    # the lazy one (levels only) once the uplink is every flow's designated bottleneck
    topo = Topology.star(100.0, 50, 1000.0, latency=0.0)
    env = simpy.Environment()
    net = Network(env, topo)
    for i in range(50):
        start(env, net, "registry", f"client{i:02d}", 100.0 + i, 0.01 * i)
    env.run()
    assert net.stats.uniform == 1 and net.stats.lazy == net.stats.reshares - 1
    # two servers behind thin rack uplinks: each uplink bottlenecks its own server's flows
    topo = Topology(hop_latency=0.0)
    for rack, uplink in [("r0", 100.0), ("r1", 150.0), ("r2", 1e4), ("r3", 1e4)]:
        topo.add_rack(rack, uplink=uplink)
    topo.add_host("reg0", rack="r0", nic=1e4)
    topo.add_host("reg1", rack="r1", nic=1e4)
    clients = [topo.add_host(f"{r}h{i}", rack=r, nic=1000.0).name for r in ("r2", "r3") for i in range(10)]
    env = simpy.Environment()
    net = Network(env, topo)
    done: dict = {}
    for i, name in enumerate(clients):
        start(env, net, f"reg{i % 2}", name, 1000.0 + i, 0.01 * i, done, i)
    env.run()
    # the rest grouped, then lazy (each uplink its server's flows' bottleneck), uniform once one server is done
    assert net.stats.component == 1 and net.stats.grouped + net.stats.lazy >= 20 and net.stats.lazy > 0
    # 10 flows of about 1 kB each through 100 B/s (from 0 s) and 150 B/s (from 0.01 s) uplinks
    assert max(done[i].finished for i in range(0, 20, 2)) == pytest.approx(sum(1000 + i for i in range(0, 20, 2)) / 100)
    assert max(done[i].finished for i in range(1, 20, 2)) == pytest.approx(0.01 + sum(1000 + i for i in range(1, 20, 2)) / 150)


def test_traffic_classes_split_a_shared_link_in_the_ratio_of_their_weights() -> None:
    topo = Topology.star(400.0, 3, 1000.0, latency=0.0)
    env = simpy.Environment()
    net = Network(env, topo, classes={"pull": 3.0, "repair": 1.0})
    pull = net.transfer("registry", "client0", 3000.0, klass="pull")
    repair = net.transfer("registry", "client1", 1000.0, klass="repair")
    env.run(until=0.5)
    _, rates, _, _, _ = net.snapshot()
    assert sorted(rates.tolist()) == pytest.approx([100.0, 300.0])
    env.run()
    assert pull.value.finished == pytest.approx(10.0) and repair.value.finished == pytest.approx(10.0)


def test_a_classified_flow_has_its_own_entry_and_the_classify_hook_names_classes() -> None:
    topo = Topology.star(300.0, 1, 1000.0, latency=0.0)
    env = simpy.Environment()
    net = Network(env, topo, classes={"repair": 0.5})
    net.classify = lambda src, dst, tag: "repair" if tag == "rebuild" else None
    a = net.transfer("registry", "client0", 200.0)
    b = net.transfer("registry", "client0", 100.0, tag="rebuild")
    env.run(until=0.1)
    _, rates, counts, _, _ = net.snapshot()
    assert len(rates) == 2 and sorted(rates.tolist()) == pytest.approx([100.0, 200.0])
    env.run()
    assert a.value.finished == pytest.approx(1.0) and b.value.finished == pytest.approx(1.0)
    assert b.value.klass == "repair" and a.value.klass is None


def test_a_traffic_class_needs_a_positive_weight() -> None:
    topo = Topology.star(100.0, 1, 100.0, latency=0.0)
    with pytest.raises(ValueError, match="traffic class 'repair'"):
        Network(simpy.Environment(), topo, classes={"repair": 0.0})
