"""Push-triggered preheat (``distribution.preheat``): who is preheated, what it costs, what the rollout gains."""

import pytest

from regsim.models import simulate
from regsim.models.core.spec import ModelError
from regsim.models.rollout.p2p import simulate_p2p
from regsim.models.rollout.preheat import preheat_nodes
from regsim.scenario import ScenarioError
from regsim.spec.traffic import Preheat

from .helpers import build

N, IMAGE, EGRESS = 40, 50_000_000, 125e6  # nodes, bytes of the image, registry egress in bytes/s

BASE = {
    "name": "t",
    "cluster": {"nodes": N, "racks": 2, "node": {"nic": "10Gbps"}},
    "registry": {"egress": "1Gbps", "storage": {"codec": "rs(4,2)", "nodes": 6}},
    "image": {"layers": ["20MB", "30MB"]},
    # the closed forms below are max-min's
    "network": {"model": "maxmin"},
}


def kpis(strategy, to, seed=1, **over):
    return simulate(build(BASE, {"distribution.strategy": strategy, "distribution.preheat.to": to, **over}),
                    seed=seed).kpis


def test_the_preheated_nodes_are_the_first_one_or_seed_peers_round_robin_over_racks_or_all():
    targets = [f"n{i}" for i in range(6)]
    rack = {"n0": 0, "n1": 0, "n2": 0, "n3": 1, "n4": 1, "n5": 2}.__getitem__
    assert preheat_nodes(Preheat(), targets, rack) == []
    assert preheat_nodes(Preheat(to="one"), targets, rack) == ["n0"]
    assert preheat_nodes(Preheat(to="seed-peers", seed_peers=4), targets, rack) == ["n0", "n3", "n5", "n1"]
    assert preheat_nodes(Preheat(to="all"), targets, rack) == targets


def test_without_preheat_nothing_changes_and_no_preheat_kpis_are_reported():
    base = simulate(build(BASE, {}), seed=1).kpis
    assert kpis("central", "none") == base
    assert "preheat_s" not in base


def test_central_preheat_to_all_empties_the_rollout_and_takes_the_central_bound():
    k = kpis("central", "all")
    assert k["nodes"] == 0 and k["makespan_s"] == 0.0 and k["registry_egress_bytes"] == 0
    assert k["preheat_nodes"] == N and k["preheat_bytes"] == N * IMAGE
    bound = N * IMAGE / EGRESS
    assert bound <= k["preheat_s"] <= 1.01 * bound


def test_central_preheat_to_one_leaves_n_minus_one_pulls():
    result = simulate(build(BASE, {"distribution.preheat.to": "one"}), seed=1)
    k = result.kpis
    assert k["nodes"] == N - 1 and len(result.samples["pull_time_s"]) == N - 1
    assert k["registry_egress_bytes"] == (N - 1) * IMAGE and k["preheat_bytes"] == IMAGE
    assert IMAGE / EGRESS <= k["preheat_s"] <= 1.05 * IMAGE / EGRESS
    bound = (N - 1) * IMAGE / EGRESS
    assert k["central_bound_s"] == pytest.approx(bound)
    assert bound <= k["makespan_s"] <= 1.01 * bound


def test_proxy_preheat_fills_the_caches_of_the_preheated_racks():
    none = kpis("proxy-cache", "none")
    assert none["cache_fills"] == 4  # two racks, two layers
    every = kpis("proxy-cache", "all")
    assert every["nodes"] == 0 and every["cache_fills"] == 0 and every["registry_egress_bytes"] == 0
    assert every["preheat_cache_fills"] == 4 and every["preheat_bytes"] == 2 * IMAGE
    # seed peers round-robin over the racks: both caches are filled before the rollout
    seeds = kpis("proxy-cache", "seed-peers")
    assert seeds["nodes"] == N - 3 and seeds["cache_fills"] == 0 and seeds["registry_egress_bytes"] == 0
    assert seeds["makespan_s"] < none["makespan_s"]
    # one node: its rack's cache only; the other rack's fills in the rollout
    one = kpis("proxy-cache", "one")
    assert one["preheat_cache_fills"] == 2 and one["cache_fills"] == 2 and one["registry_egress_bytes"] == IMAGE


@pytest.mark.parametrize("strategy", ["p2p-swarm", "p2p-scheduler"])
def test_p2p_seed_peers_seed_the_swarm_from_the_start(strategy):
    # one origin, so that three seed peers are a real addition to the seeds' upload (beside the
    # default three origins they change the makespan by less than the trajectory's noise)
    one = {"distribution.p2p.origins": 1}
    none = kpis(strategy, "none", **one)
    seeds = kpis(strategy, "seed-peers", **one)
    assert seeds["nodes"] == N - 3 and seeds["preheat_nodes"] == 3 and seeds["preheat_bytes"] == 3 * IMAGE
    # the rollout's registry egress (the origins' preheat and any back-to-source) is no higher
    assert seeds["registry_egress_bytes"] <= none["registry_egress_bytes"]
    # the seeds share the origins' work, and the rollout is no slower
    assert seeds["origin_bytes_share"] < none["origin_bytes_share"]
    assert seeds["makespan_s"] <= none["makespan_s"]
    assert seeds["kumar_ross_bound_s"] <= none["kumar_ross_bound_s"]
    every = kpis(strategy, "all", **one)
    assert every["nodes"] == 0 and every["makespan_s"] == 0.0 and every["preheat_bytes"] == N * IMAGE


def test_mirror_preheat_to_one_makes_a_hot_spot_that_an_upload_cap_sends_to_the_registry():
    over = {"workload.start": "0s", "distribution.mirror.advertise": "image"}
    none = kpis("node-mirror", "none", **over)
    assert none["registry_share"] == 1.0
    one = kpis("node-mirror", "one", **over)
    # every node finds the one preheated provider, which serves them all at once
    assert one["registry_share"] < 1.0 and one["peer_bytes_share"] > 0.5
    assert one["max_uploads_per_node"] >= 10 and one["busy_refusals"] == 0
    assert one["registry_egress_bytes"] < none["registry_egress_bytes"]
    capped = kpis("node-mirror", "one", **over, **{"distribution.mirror.max_uploads": 2})
    assert capped["max_uploads_per_node"] <= 2 and capped["busy_refusals"] > 0
    assert capped["registry_share"] > one["registry_share"]


@pytest.mark.parametrize("strategy", ["central", "proxy-cache", "p2p-swarm", "node-mirror"])
def test_same_seed_same_numbers(strategy):
    assert kpis(strategy, "seed-peers", seed=7) == kpis(strategy, "seed-peers", seed=7)


def test_seed_peers_must_leave_nodes_to_roll_out_to():
    with pytest.raises(ScenarioError, match="distribution.preheat.seed_peers"):
        build(BASE, {"distribution.preheat.to": "seed-peers", "distribution.preheat.seed_peers": N})
    with pytest.raises(ScenarioError, match="distribution.preheat.seed_peers"):
        build(BASE, {"distribution.preheat.to": "seed-peers", "distribution.preheat.seed_peers": 5,
                     "workload.nodes": 5})
    build(BASE, {"distribution.preheat.to": "all"})  # all is how to preheat everyone


def test_preheat_and_p2p_seeders_are_one_or_the_other():
    both = {"distribution.strategy": "p2p-swarm", "distribution.preheat.to": "one", "distribution.p2p.seeders": 2}
    with pytest.raises(ScenarioError, match=r"distribution\.preheat.*not both"):
        build(BASE, both)
    # a strategy without seeders does not care (a sweep over the strategies needs them set)
    build(BASE, {**both, "distribution.strategy": "central"})
    # the model refuses it too, for a scenario built without the load-time checks
    sc = build(BASE, {"distribution.strategy": "p2p-swarm", "distribution.preheat.to": "one"})
    p2p = sc.distribution.p2p.model_copy(update={"seeders": 2})
    sc = sc.model_copy(update={"distribution": sc.distribution.model_copy(update={"p2p": p2p})})
    with pytest.raises(ModelError, match="not both"):
        simulate_p2p(sc, 1)
