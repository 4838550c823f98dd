"""The platform of a variant (core/world.py): frontends behind a load balancer share the site's egress."""

import pytest

from regsim.models import simulate
from regsim.models.core.world import build_world

from .helpers import build

F = 900_000_000          # bytes of the image
U = 125_000_000          # 1 Gbit/s of registry egress, in bytes/s

BASE = {
    "name": "w",
    "cluster": {"nodes": 1, "node": {"nic": "10Gbps"}},
    "registry": {"frontends": 2, "egress": "1Gbps", "storage": {"codec": "replicate(3)", "nodes": 3}},
    "image": {"layers": ["900MB"]},
    # the closed forms these tests check are max-min's; the TCP-like default has its own tests
    "network": {"model": "maxmin"},
}


def scenario(**over):
    return build(BASE, over)


def test_a_frontend_can_send_the_whole_egress_and_the_frontends_share_one_egress_link():
    world = build_world(scenario(), seed=1)
    topo = world.topology
    node, (fe0, fe1), s0 = world.nodes[0], world.frontends, world.storage[0]
    to_client = [set(topo.path(fe, node)) for fe in (fe0, fe1)]
    shared = to_client[0] & to_client[1]
    assert min(topo.links[i].capacity for i in to_client[0]) == pytest.approx(U)
    assert any(topo.links[i].kind == "gateway-out" and topo.links[i].capacity == pytest.approx(U) for i in shared)
    # storage reads reach a frontend inside the rack, without the egress link
    assert not any(topo.links[i].kind.startswith("gateway") for i in topo.path(s0, fe0))


def test_one_client_pulls_f_over_u_with_two_frontends():
    k = simulate(scenario(), seed=1).kpis
    assert k["makespan_s"] == pytest.approx(F / U, rel=0.01)  # 7.2 s, not 14.4 s


@pytest.mark.parametrize("frontends", [1, 2, 4])
def test_n_clients_at_once_share_the_egress_n_f_over_u(frontends):
    n = 8
    sc = scenario(**{"cluster.nodes": n, "registry.frontends": frontends, "image.layers": ["100MB"]})
    k = simulate(sc, seed=1).kpis
    bound = n * 100_000_000 / U
    assert k["central_bound_s"] == pytest.approx(bound)
    assert bound <= k["makespan_s"] <= 1.01 * bound


def test_a_p2p_origin_preheats_900_mb_over_1_gbit_in_7_2_s():
    sc = scenario(**{"cluster.nodes": 4, "distribution": {"strategy": "p2p-scheduler", "p2p": {"origins": 1}}})
    k = simulate(sc, seed=1).kpis
    assert k["origin_preheat_s"] == pytest.approx(F / U, rel=0.01)


def test_two_origins_preheating_share_the_egress():
    sc = scenario(**{"cluster.nodes": 4, "distribution": {"strategy": "p2p-scheduler", "p2p": {"origins": 2}}})
    k = simulate(sc, seed=1).kpis
    assert k["origin_preheat_s"] == pytest.approx(2 * F / U, rel=0.01)


def test_the_p2p_fluid_plane_routes_back_to_source_through_the_shared_egress():
    """Peers that go back to source over the fluid plane pull from the frontends through the same
    gateway as everything else: two frontends serving two nodes 100 MB each send 2 x 100 MB at
    the egress, 1.6 s, not at twice the egress."""
    import simpy

    from regsim.models.rollout.planes import FluidPlane

    world = build_world(scenario(**{"cluster.nodes": 2}), seed=1)
    env, done, fids = simpy.Environment(), {}, {}

    def arrived(owner, t):
        done[owner] = t
        plane.close(fids[owner])

    plane = FluidPlane(env, world.topology, arrived, window_s=0.0,
                       groups={"registry_egress": [world.egress_link]})
    for i, (fe, node) in enumerate(zip(world.frontends, world.nodes)):
        fids[i] = plane.open(fe, node, 100e6, i)
    env.run()
    assert max(done.values()) == pytest.approx(2 * 100e6 / U, rel=1e-6)
    assert plane.utilisation([0.5])["registry_egress"][0] == pytest.approx(1.0)
