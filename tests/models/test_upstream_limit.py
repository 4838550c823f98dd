"""A rollout from a rate-limited public upstream, directly or through pull-through caches.

Closed forms: behind one address (``per: site``) exactly ``pulls`` direct pulls succeed and the
rest are refused; with an address each, nobody is. Through caches that coalesce their misses the
upstream counts one pull per cache; without coalescing, nodes starting together each count one.
"""

from __future__ import annotations

import pytest

from regsim.models import simulate
from regsim.scenario import ScenarioError

from .helpers import build

NODES, RACKS, PULLS = 60, 3, 25


def kpis(strategy: str, per: str = "site", coalesce: bool = True, start: str = "0s") -> dict:
    doc = {
        "name": "upstream", "seed": 1,
        "cluster": {"nodes": NODES, "racks": RACKS},
        "registry": {"egress": "10Gbps", "upstream_limit": {"pulls": PULLS, "window": "6h", "per": per}},
        "image": {"layers": ["10MB", "10MB"]},
        "workload": {"kind": "rollout", "start": start},
        "distribution": {"strategy": strategy, "proxy": {"coalesce": coalesce}},
        "data_plane": "modelled",
    }
    return simulate(build(doc, {}), 1).kpis


def test_behind_one_address_only_the_limit_of_direct_pulls_succeed():
    k = kpis("central")
    assert k["upstream_pulls"] == PULLS and k["upstream_pulls_refused"] == NODES - PULLS
    assert k["nodes_failed"] == NODES - PULLS
    assert k["registry_egress_bytes"] == PULLS * 20_000_000


def test_with_an_address_each_no_direct_pull_is_refused():
    k = kpis("central", per="node")
    assert k["upstream_pulls"] == NODES and k["nodes_failed"] == 0


@pytest.mark.parametrize("per", ["site", "node"])
def test_coalescing_caches_pull_once_each(per):
    k = kpis("proxy-cache", per=per)
    assert k["upstream_pulls"] == RACKS and k["nodes_failed"] == 0 and k["upstream_pulls_refused"] == 0


def test_without_coalescing_every_waiting_miss_goes_upstream():
    k = kpis("proxy-cache", coalesce=False)
    # all 60 nodes miss at once: each GETs the manifest through its cache, 25 are admitted
    assert k["upstream_pulls"] == PULLS and k["nodes_failed"] == NODES - PULLS
    spread = kpis("proxy-cache", coalesce=False, start="60s")
    # nodes arriving after their cache holds the manifest revalidate it with free HEADs
    assert RACKS <= spread["upstream_pulls"] < NODES and spread["nodes_failed"] == 0


def test_the_p2p_models_and_the_request_models_refuse_an_upstream_limit():
    doc = {"name": "u", "cluster": {"nodes": 10}, "image": {"layers": ["1MB"]},
           "registry": {"upstream_limit": {"pulls": 5}},
           "workload": {"kind": "rollout"}, "distribution": {"strategy": "p2p-swarm"}}
    with pytest.raises(ScenarioError, match="upstream_limit"):
        build(doc, {})
    with pytest.raises(ScenarioError, match="upstream_limit"):
        build(doc, {"workload": {"kind": "poisson", "rate": "1/s", "duration": "1s"}, "distribution": {}})
