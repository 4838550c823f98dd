"""The node-mirror rollout (Spegel-style mirrors on the real DHT): who the layers come from, and why."""

import math

import pytest

from regsim.models import simulate
from regsim.models.rollout.config import RolloutConfig
from regsim.models.rollout.mirror import MirrorRun
from regsim.scenario import ScenarioError

from .helpers import build

BASE = {
    "name": "t",
    "cluster": {"nodes": 40, "racks": 2, "node": {"nic": "10Gbps"}},
    "registry": {"egress": "1Gbps", "storage": {"codec": "rs(4,2)", "nodes": 6}},
    "image": {"layers": ["20MB", "30MB"]},
    "network": {"model": "maxmin"},
    "distribution": {"strategy": "node-mirror"},
}


def scenario(**over):
    return build(BASE, over)


def kpis(seed=1, **over):
    return simulate(scenario(**over), seed=seed).kpis


def test_image_advertise_with_a_simultaneous_start_sends_every_node_to_the_registry():
    # Spegel's known behaviour: nobody advertises before its whole image is in, and every node
    # looked its layers up before that, so the DHT names no provider and the rollout is central
    k = kpis(**{"workload.start": "0s"})
    assert k["strategy"] == "node-mirror" and k["nodes"] == 40
    assert k["registry_share"] == 1.0 and k["peer_bytes_share"] == 0.0
    assert k["registry_egress_bytes"] == 40 * k["image_bytes"]
    assert k["dht_lookups"] == 80 and k["max_uploads_per_node"] == 0
    # central's makespan, N*F/u_s, within a small overhead
    assert k["central_bound_s"] <= k["makespan_s"] <= 1.02 * k["central_bound_s"]


def test_staggered_starts_get_layers_from_peers_and_cut_registry_egress():
    together = kpis(**{"workload.start": "0s"})
    spread = kpis(**{"workload.start": "60s"})
    assert spread["registry_share"] <= 0.1
    assert spread["peer_bytes_share"] >= 0.9
    assert spread["back_to_source_share"] == pytest.approx(1 - spread["peer_bytes_share"])
    assert spread["registry_egress_bytes"] <= 0.1 * together["registry_egress_bytes"]
    # a pull from a peer in the rack is bound by the peer's disk (500 MB/s), not the registry
    assert spread["pull_p50_s"] < 0.2 < together["pull_p50_s"]
    assert spread["max_uploaded_bytes_per_node"] > 0


def test_layer_advertise_lowers_the_registry_share_when_pulls_overlap():
    # with a strictly simultaneous start both send every node to the registry (every lookup comes
    # before any layer lands); with starts spread over less than a pull's time, a node that starts
    # while others are mid-image finds their finished layers only when they advertise per layer
    image = kpis(**{"workload.start": "0s", "distribution.mirror.advertise": "image"})
    layer = kpis(**{"workload.start": "0s", "distribution.mirror.advertise": "layer"})
    assert image["registry_share"] == layer["registry_share"] == 1.0
    image = kpis(**{"workload.start": "5s", "distribution.mirror.advertise": "image"})
    layer = kpis(**{"workload.start": "5s", "distribution.mirror.advertise": "layer"})
    assert layer["registry_share"] < image["registry_share"] - 0.2
    assert layer["registry_egress_bytes"] < image["registry_egress_bytes"]
    assert layer["pull_p50_s"] < image["pull_p50_s"]


def test_an_upload_cap_bounds_the_hot_spot_and_refuses_the_rest():
    free = kpis(**{"workload.start": "10s"})
    capped = kpis(**{"workload.start": "10s", "distribution.mirror.max_uploads": 1})
    # without a cap the nodes that finish first serve many pullers at once
    assert free["max_uploads_per_node"] >= 4 and free["busy_refusals"] == 0
    assert capped["max_uploads_per_node"] <= 1 and capped["busy_refusals"] > 0
    # a refused node tries the next provider, then the registry: the cap costs registry egress
    assert capped["registry_share"] > free["registry_share"]
    assert capped["max_uploads"] == 1 and free["max_uploads"] == 0


def test_zone_aware_choice_keeps_peer_bytes_in_the_rack():
    over = {"workload.start": "10s", "cluster.racks": 4}
    aware = kpis(**over, **{"distribution.mirror.zone_aware": True})
    blind = kpis(**over, **{"distribution.mirror.zone_aware": False})
    assert aware["peer_bytes_share"] > 0.8 and blind["peer_bytes_share"] > 0.8
    assert aware["peer_cross_rack_share"] < 0.2 < blind["peer_cross_rack_share"]
    assert aware["peer_cross_rack_share"] < blind["peer_cross_rack_share"] / 3


def test_same_seed_same_numbers():
    over = {"workload.start": "5s", "distribution.mirror.advertise": "layer", "distribution.mirror.max_uploads": 2}
    a, b = simulate(scenario(**over), seed=4), simulate(scenario(**over), seed=4)
    assert a.kpis == b.kpis
    assert (a.samples["pull_time_s"] == b.samples["pull_time_s"]).all()
    assert simulate(scenario(**over), seed=5).kpis != a.kpis


@pytest.mark.parametrize("nodes", [20, 60])
def test_dht_lookup_rounds_stay_within_log2_n(nodes):
    sc = scenario(**{"cluster.nodes": nodes, "workload.start": "10s", "distribution.mirror.resolve_count": None})
    run = MirrorRun(RolloutConfig.from_sections(sc), 2)
    run.run()
    k = run.result().kpis
    assert len(run.lookup_rounds) == 2 * nodes and k["dht_lookups"] <= 2 * nodes
    # docs/dht.md: fault-free lookups take at most 1 x log2(N) rounds (all providers, k = 20)
    assert max(run.lookup_rounds) <= math.log2(nodes)
    assert k["dht_lookup_rounds_max"] == max(run.lookup_rounds)
    # each round is one round trip: sub-millisecond in a cluster, and every lookup is priced
    assert 0 < k["dht_lookup_p99_s"] < 0.01 and k["dht_lookup_p50_s"] <= k["dht_lookup_p99_s"]
    assert k["dht_rpcs"] > 0 and k["dht_provides"] == 2 * nodes


def test_settings_the_model_cannot_honour_are_refused_when_loading():
    with pytest.raises(ScenarioError, match="node-mirror: a node pulls the image once"):
        scenario(**{"workload.repeat": 2})
    with pytest.raises(ScenarioError, match="distribution.mirror.advertise"):
        scenario(**{"distribution.mirror.advertise": "never"})


def test_the_common_rollout_columns_come_first_in_their_order():
    from regsim.models.rollout.kpis import COMMON_COLUMNS

    k = kpis(**{"cluster.nodes": 12})
    assert [name for name in k if name in COMMON_COLUMNS] == [c for c in COMMON_COLUMNS if c in k]
    assert set(COMMON_COLUMNS) <= set(k)
    assert k["kumar_ross_bound_s"] > 0 and k["makespan_over_bound"] >= 1


def test_records_are_republished_through_a_rollout_longer_than_their_ttl():
    # Spegel's records live 19 min and are provided again every 15: a node starting an hour after
    # the first still finds the early nodes as providers
    k = kpis(**{"cluster.nodes": 6, "workload.start": "3h"})
    assert k["makespan_s"] > 2 * 3600
    assert k["registry_share"] == pytest.approx(1 / 6)
    assert k["dht_rpcs"] > k["dht_provides"] * 10  # the republishes' lookups and stores count
