"""Topology: structure of the builders, routes and latencies, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from regsim.sim.topology import Topology, TopologyError


def test_star_puts_every_host_on_one_switch_with_directed_links() -> None:
    topo = Topology.star(125e6, 3, 1.25e9, client_up=250e6, latency=1e-4)
    assert list(topo.hosts) == ["registry", "client0", "client1", "client2"]
    assert len(topo.links) == 8 and not topo.racks["switch"].uplink
    server, c1 = topo.host("registry"), topo.host("client1")
    assert topo.links[server.up].capacity == 125e6 and topo.links[server.down].capacity == 125e6
    assert topo.links[c1.down].capacity == 1.25e9 and topo.links[c1.up].capacity == 250e6
    assert topo.path("registry", "client1") == (server.up, c1.down)
    assert topo.path("client1", "registry") == (c1.up, server.down)
    assert topo.latency("registry", "client1") == pytest.approx(2e-4)
    assert [topo.links[i].kind for i in topo.path("registry", "client2")] == ["up", "down"]


def test_star_accepts_client_names_and_a_separate_server_downlink() -> None:
    topo = Topology.star(1e9, ["a", "b"], 1e8, server_name="reg", server_down=5e8)
    assert set(topo.hosts) == {"reg", "a", "b"}
    assert topo.hosts["reg"].nic_down == 5e8 and topo.hosts["a"].nic_up == 1e8


def test_local_route_is_empty_with_no_latency() -> None:
    topo = Topology.star(1e9, 1, 1e9)
    assert topo.route("client0", "client0") == ((), 0.0)


def test_racked_derives_the_uplink_from_oversubscription() -> None:
    topo = Topology.racked(3, 4, nic=100.0, oversubscription=2.0, latency=1e-3)
    assert len(topo.racks) == 3 and len(topo.hosts) == 12
    assert topo.rack_hosts("rack1") == ("rack1-h0", "rack1-h1", "rack1-h2", "rack1-h3")
    rack = topo.racks["rack0"]
    assert topo.links[rack.uplink].capacity == 200.0 and topo.links[rack.downlink].capacity == 200.0
    same = topo.path("rack0-h0", "rack0-h3")
    cross = topo.path("rack0-h0", "rack2-h1")
    assert len(same) == 2 and topo.latency("rack0-h0", "rack0-h3") == pytest.approx(2e-3)
    assert [topo.links[i].kind for i in cross] == ["up", "tor-core", "core-tor", "down"]
    assert cross[1] == rack.uplink and cross[2] == topo.racks["rack2"].downlink
    assert topo.latency("rack0-h0", "rack2-h1") == pytest.approx(4e-3)


def test_racked_defaults_to_non_blocking_and_takes_a_given_uplink() -> None:
    assert Topology.racked(2, 5, nic=10.0).links[0].capacity == 50.0
    topo = Topology.racked(2, 5, nic=10.0, rack_uplink=7.0)
    assert topo.links[topo.racks["rack1"].uplink].capacity == 7.0


def test_extra_hosts_join_a_named_rack() -> None:
    topo = Topology.racked(2, 2, nic=100.0, oversubscription=4.0)
    db = topo.add_host("db", rack="rack1", nic=1000.0, cores=16, disk_read=2e9, disk_write=1e9)
    assert db.rack == "rack1" and db.cores == 16 and db.disk_read == 2e9
    assert topo.path("rack0-h1", "db")[-1] == db.down
    assert "db" in topo.rack_hosts("rack1")
    caps = topo.capacities()
    assert caps.shape == (len(topo.links),) and caps[db.up] == 1000.0
    with pytest.raises(ValueError):
        caps[0] = 1.0  # a read-only view


def test_per_host_latency_overrides_the_hop_latency() -> None:
    topo = Topology.star(1e9, 1, 1e9, latency=1e-4)
    topo.add_host("far", rack="switch", nic=1e9, latency=5e-3)
    assert topo.latency("registry", "far") == pytest.approx(1e-4 + 5e-3)
    assert np.allclose(topo.latencies()[list(topo.path("registry", "far"))], [1e-4, 5e-3])


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda t: t.add_host("registry", rack="switch", nic=1.0), "already exists"),
        (lambda t: t.add_host("x", rack="nope", nic=1.0), "no rack 'nope'"),
        (lambda t: t.add_host("x", rack="switch"), "give nic"),
        (lambda t: t.add_host("x", rack="switch", nic=0.0), "positive"),
        (lambda t: t.add_host("x", rack="switch", nic=1.0, cores=0), "cores"),
        (lambda t: t.add_rack("switch"), "already exists"),
        (lambda t: t.host("ghost"), "unknown host 'ghost'"),
    ],
)
def test_building_mistakes_are_named(build, message) -> None:
    topo = Topology.star(1e9, 1, 1e9)
    with pytest.raises(TopologyError, match=message):
        build(topo)


def test_racks_without_uplinks_cannot_reach_each_other() -> None:
    topo = Topology.star(1e9, 1, 1e9)
    topo.add_rack("island")
    topo.add_host("lonely", rack="island", nic=1e9)
    with pytest.raises(TopologyError, match="no route"):
        topo.path("registry", "lonely")


def test_racked_rejects_contradictory_uplinks() -> None:
    with pytest.raises(TopologyError, match="not both"):
        Topology.racked(2, 2, nic=1.0, rack_uplink=1.0, oversubscription=2.0)
    with pytest.raises(TopologyError, match="latency"):
        Topology.racked(2, 2, nic=1.0, latency=-1.0)
