"""Storage tiers under the models: an object store and a file server in place of storage nodes.

Closed forms with networks far faster than the store, so a request's time is the store's:
an object-store GET of S bytes takes the client's own time for it (the calibrated
``s3_get_request`` price) ``+ first_byte + S / connection_rate``; a push of S bytes above the part
size makes ``ceil(S / part) + 2`` requests, one after another, each with its client time; a file-server
read takes ``metadata_round_trips * rtt`` then ``S * rtt / (in_flight * rsize)`` when the window
is the bound. The bill follows from the counted requests and the stated prices.
"""

from __future__ import annotations

import math

import pytest

from regsim.models.core.storage_tier import MONTH_S, TierUsage, tier_kpis
from regsim.models.requests.config import RequestsConfig
from regsim.models.requests.report import request_result
from regsim.models.rollout import simulate_rollout
from regsim.models.rollout.config import RolloutConfig
from regsim.registry.receipts import Kind, WorkItem
from regsim.scenario import ScenarioError
from regsim.sim.profile import load_profile

from .helpers import build, scripted

MB = 1_000_000
LATENCY = 0.02
PROFILE = load_profile("reference")


def client(nbytes: int, write: bool) -> float:
    """The S3 client's own time for one request (the calibrated s3_*_request prices)."""
    kind = Kind.S3_PUT_REQUEST if write else Kind.S3_GET_REQUEST
    return PROFILE.cost(WorkItem(kind, nbytes, None))


def doc(tier: dict | str, *, size: str = "100MB") -> dict:
    return {
        "name": "tier", "duration": "1h", "seed": 1,
        "cluster": {"nodes": 4, "node": {"nic": "1000Gbps", "cores": 64}},
        "registry": {"frontends": 1, "egress": "1000Gbps", "cores": 64, "storage": {"tier": tier}},
        "image": {"layers": [size]},
        # sends nothing by itself (for this seed): the tests script their requests
        "workload": {"kind": "poisson", "rate": "0.0001/s", "duration": "1s", "mix": {"pull": "100%"}},
        "data_plane": "modelled",
        "network": {"model": "maxmin"},
    }


OBJECT = {"kind": "object", "object": {"first_byte": {"median": "20ms", "p90": "20ms"},
                                       "connection_rate": "100MB/s", "part_size": "10MiB",
                                       "bandwidth": "1000Gbps"}}


def one(tier: dict | str, kind: str, *, size: str = "100MB"):
    sc = build(doc(tier, size=size), {})
    run, reqs = scripted(RequestsConfig.from_sections(sc), [(1.0, 0, kind)])
    [req] = [r for r in reqs if r.kind == kind]
    assert req.error is None
    return run, req


def test_an_object_tier_stores_each_blob_once_in_one_store():
    sc = build(doc("object"), {})
    storage = sc.registry.storage
    assert (storage.codec, storage.nodes, storage.tier.kind) == ("replicate(1)", 1, "object")


def test_an_object_tier_with_a_codec_is_refused_naming_the_tier():
    with pytest.raises(ScenarioError, match=r"registry\.storage\.tier.*keeps each blob once"):
        build(doc({"kind": "object"}), {"registry.storage.codec": "rs(4,2)", "registry.storage.nodes": 6})


def test_an_unknown_tier_is_refused():
    with pytest.raises(ScenarioError, match="tier"):
        build(doc("tape"), {})


def test_a_pull_from_the_object_store_takes_its_first_byte_and_its_bytes_at_the_connection_rate():
    _, pull = one(OBJECT, "pull")
    expected = client(100 * MB, False) + LATENCY + 100 * MB / (100 * MB)
    assert pull.end - pull.start == pytest.approx(expected, rel=0.02)


def test_a_push_to_the_object_store_is_a_multipart_upload_one_part_after_another():
    run, push = one(OBJECT, "push")
    size = 100 * MB
    part = 10 << 20
    parts = math.ceil(size / part)
    sizes = [0] + [min(part, size - i * part) for i in range(parts)] + [0]  # create, the parts, complete
    expected = sum(client(n, True) + LATENCY for n in sizes) + size / (100 * MB)
    assert client(part, True) > 0
    assert push.end - push.start == pytest.approx(expected, rel=0.02)
    store = run.world.disks["s0"]
    assert store.put_requests >= parts + 2


def test_a_pull_from_a_file_server_pays_round_trips_and_its_window():
    tier = {"kind": "nfs", "nfs": {"rtt": "10ms", "metadata_round_trips": 2, "rsize": "1MiB", "in_flight": 4,
                                   "disk": "100GB/s", "nic": "1000Gbps"}}
    _, pull = one(tier, "pull")
    expected = 2 * 0.01 + 100 * MB * 0.01 / (4 << 20)
    assert pull.end - pull.start == pytest.approx(expected, rel=0.02)


def test_an_object_tier_reports_its_requests_its_bill_and_its_stated_durability():
    sc = build(doc(OBJECT), {"workload.duration": "10s"})
    assert sc.workload.duration == 10.0
    run, _ = scripted(RequestsConfig.from_sections(sc), [(1.0, 0, "pull"), (2.0, 1, "pull")])
    k = request_result(run.record()).kpis
    assert k["storage_tier"] == "object" and k["storage_get_requests"] >= 2
    assert k["durability_nines"] == pytest.approx(11.0, abs=0.01) and k["mc_method"] == "stated"
    get = k["storage_get_requests"] * 0.0004 / 1000
    put = k["storage_put_requests"] * 0.005 / 1000
    assert k["run_cost_usd"] == pytest.approx(get + put)
    assert k["cost_requests_usd_month"] == pytest.approx((get + put) * MONTH_S / 10.0)
    assert k["cost_storage_usd_month"] == pytest.approx(k["stored_bytes"] / 1e9 * 0.023)


def test_the_bill_follows_the_prices():
    sc = build(doc({"kind": "object", "cost": {"egress_billed": True, "egress_gb": 0.05}}), {})
    usage = TierUsage("object", get_requests=10_000, put_requests=2_000, throttled=0, failed_requests=0,
                      repartitions=0, bytes_read=0, bytes_written=0)
    k = tier_kpis(sc, usage, span_s=MONTH_S, stored_bytes=2e12, pulled_bytes=1e12)
    assert k["cost_storage_usd_month"] == pytest.approx(2000 * 0.023)
    assert k["cost_requests_usd_month"] == pytest.approx(10 * 0.0004 + 2 * 0.005)
    assert k["cost_egress_usd_month"] == pytest.approx(1000 * 0.05)
    assert k["monthly_cost_usd"] == pytest.approx(46 + 0.014 + 50)
    local = tier_kpis(build(doc("local"), {}), usage, span_s=MONTH_S, stored_bytes=2e12, pulled_bytes=1e12)
    assert local["cost_requests_usd_month"] == 0 and local["cost_storage_usd_month"] == pytest.approx(2000 * 0.08)


def rollout(partitions: int) -> dict:
    d = doc({"kind": "object", "object": {"get_rate": "200/s", "partitions": partitions}}, size="1MB")
    d["cluster"]["nodes"] = 200
    d["image"]["layers"] = ["1MB"] * 10
    d["workload"] = {"kind": "rollout", "start": "0s"}
    d["distribution"] = {"strategy": "central"}
    del d["duration"]
    return simulate_rollout(RolloutConfig.from_sections(build(d, {})), 5).kpis


def test_a_rollout_past_a_partitions_get_rate_is_throttled_and_more_partitions_fix_it():
    one_partition, many = rollout(1), rollout(16)
    assert one_partition["requests_throttled"] > 0
    assert many["requests_throttled"] == 0
    assert one_partition["makespan_s"] > many["makespan_s"]


def test_object_tier_runs_are_deterministic():
    assert rollout(1) == rollout(1)


def test_storage_failures_on_an_object_or_nfs_tier_are_refused_naming_the_tier():
    for over in ({"failures.afr": "2%"}, {"failures.measure_degraded": True},
                 {"failures.events": [{"at": "1s", "kind": "fail", "target": "storage/0"}]}):
        with pytest.raises(ScenarioError, match=r"registry\.storage\.tier.*failures and repair are not modelled"):
            build(doc("object"), over)
