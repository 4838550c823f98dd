"""The replication model: Harbor-style chunked push, whole-blob pull and a pull-through cache
between registry sites joined by WAN links, against the closed form of docs/geo-replication.md."""

import math
from pathlib import Path

import pytest

from regsim.models import simulate, spec_for
from regsim.models.replication.push import chunks_of
from regsim.scenario import ScenarioError
from regsim.scenario.loader import load_scenario, scenario_from_dict

ROOT = Path(__file__).resolve().parents[2]
MiB = 1024 * 1024
GB = 1_000_000_000
LAN = 50e-6


def scenario(window="64KiB", model="tcp", latency="12ms", bandwidth="100Mbps", remotes=1, **workload):
    sites = [{"name": "gz"}] + [{"name": f"r{i}", "wan": {"latency": latency, "bandwidth": bandwidth}}
                                for i in range(remotes)]
    wl = {"kind": "replication", "sites": sites, "blobs": ["3GB"], "clients": 1, **workload}
    return scenario_from_dict({"name": "rep", "workload": wl, "network": {"model": model, "window": window}},
                              "rep.yaml")


def kpis(**kw):
    return simulate(scenario(**kw), 1).kpis


def wan_rtt(latency):
    """The round trip from the source's job host to a remote registry: the WAN latency plus three LAN
    hops each way (docs/geo-replication.md)."""
    return 2 * (latency + 3 * LAN)


# -- the closed form -------------------------------------------------------------------------------

def test_sequential_chunks_meet_the_closed_form_written_out_by_hand():
    """T = n * RTT + S / (0.97 * window / RTT) (plus a few round trips to set up), from the
    parameters alone, not from the model's own closed-form function."""
    k = kpis()
    rtt = wan_rtt(0.012)
    n = math.ceil(3 * GB / (10 * MiB))
    rate = 0.97 * 64 * 1024 / rtt
    by_hand = n * rtt + 3 * GB / rate
    assert k["chunks"] == n == 287
    assert k["replication_time_s"] == pytest.approx(by_hand, rel=0.01)
    assert k["closed_form_ratio"] == pytest.approx(1.0, abs=1e-6)
    assert k["wan_requests"] == n + 2          # a HEAD and a POST, then a PATCH (PUT) per chunk


def test_link_bound_stream_meets_the_closed_form_under_maxmin():
    k = kpis(window="none", model="maxmin", latency="40ms", bandwidth="1Gbps")
    rtt = wan_rtt(0.040)
    by_hand = 287 * rtt + 3 * GB / 125e6
    assert k["replication_time_s"] == pytest.approx(by_hand, rel=0.01)
    assert k["closed_form_ratio"] == pytest.approx(1.0, abs=1e-6)


def test_larger_chunks_save_one_round_trip_per_chunk_dropped():
    small, large = (kpis(window="none", latency="40ms", bandwidth="1Gbps", chunk_size=c)
                    for c in ("10MiB", "100MiB"))
    saved = small["replication_time_s"] - large["replication_time_s"]
    dropped = small["chunks"] - large["chunks"]
    assert dropped == 287 - 29
    assert saved == pytest.approx(dropped * wan_rtt(0.040), rel=0.03)


def test_workers_multiply_throughput_until_the_wan_is_full():
    layers = [187_500_000] * 16
    times = {w: kpis(blobs=layers, workers=w)["replication_time_s"] for w in (1, 2, 4, 16)}
    # one connection moves 0.97 * 64 KiB / RTT ~ 2.6 MB/s; four of them ~10.5 MB/s, under the
    # 12.5 MB/s link; sixteen fill it
    assert times[1] / times[2] == pytest.approx(2.0, rel=0.03)
    assert times[1] / times[4] == pytest.approx(4.0, rel=0.03)
    full = 3 * GB / (0.97 * 12.5e6)
    assert times[16] == pytest.approx(full, rel=0.01)
    assert kpis(blobs=layers, workers=16)["wan_utilisation"] == pytest.approx(1.0, abs=0.01)


def test_workers_do_not_split_one_blob():
    """Chunks of a blob go in order (the OCI spec; Harbor copies a blob in one task)."""
    one, many = kpis(workers=1), kpis(workers=16)
    assert many["replication_time_s"] == one["replication_time_s"]


@pytest.mark.parametrize("workers", [1, 3, 8])
@pytest.mark.parametrize("mode", ["push", "pull"])
def test_closed_form_holds_across_modes_and_workers(mode, workers):
    k = kpis(mode=mode, workers=workers, blobs=["500MB", "500MB", "1GB", "250MB"], chunk_size="50MB")
    # blobs of unequal size: the closed form is exact for equal ones, a bound-like estimate here
    assert k["closed_form_ratio"] == pytest.approx(1.0, rel=0.35)


def test_equal_blobs_meet_the_closed_form_with_workers():
    for w in (1, 2, 4):
        k = kpis(blobs=["400MB"] * 4, workers=w, chunk_size="20MB")
        assert k["closed_form_ratio"] == pytest.approx(1.0, rel=0.01), w


def test_chunks_of():
    assert chunks_of(10, 10) == [10]
    assert chunks_of(25, 10) == [10, 10, 5]
    assert sum(chunks_of(3 * GB, 10 * MiB)) == 3 * GB


# -- push, pull, proxy-cache -----------------------------------------------------------------------

def test_first_remote_pull_proxy_then_pull_then_push():
    """Clients asking at once: the cache streams the first pull through (one WAN pass), a pull job
    fetches the blob whole, a push pays a round trip per chunk; the replicas then need a local pull."""
    first = {m: kpis(mode=m)["time_to_first_remote_pull_s"] for m in ("proxy-cache", "pull", "push")}
    assert first["proxy-cache"] < first["pull"] < first["push"]


def test_replicas_make_later_pulls_local_and_the_cache_makes_the_first_slow():
    late = 2000.0  # clients arrive after the replication is done
    push = kpis(mode="push", clients=3, clients_start=f"{late}s", clients_interval="10s")
    proxy = kpis(mode="proxy-cache", clients=3, clients_start=f"{late}s", clients_interval="2000s")
    assert push["replication_time_s"] < late
    assert push["remote_pull_p99_s"] < 20                     # a local pull
    assert proxy["time_to_first_remote_pull_s"] > late + 1000  # the first pull crosses the WAN
    assert proxy["remote_pull_p50_s"] < 20                     # later ones are local
    assert math.isnan(proxy["replication_time_s"]) and proxy["chunks"] == 0
    assert proxy["wan_requests"] == 1                          # one fill, however many clients


def test_concurrent_misses_are_coalesced():
    k = kpis(mode="proxy-cache", clients=4, clients_interval="1s")
    assert k["wan_requests"] == 1
    assert k["wan_bytes"] == pytest.approx(3 * GB / 0.97, rel=0.01)


def test_every_remote_site_gets_every_blob():
    k = kpis(remotes=2, blobs=["1GB", "500MB"], workers=2)
    assert k["chunks"] == 2 * (math.ceil(1 * GB / (10 * MiB)) + math.ceil(500_000_000 / (10 * MiB)))
    assert k["wan_bytes"] == pytest.approx(2 * 1.5 * GB / 0.97, rel=0.01)
    assert k["closed_form_ratio"] == pytest.approx(1.0, rel=0.02)


def test_no_keep_alive_pays_handshakes_per_request():
    kept, closed = kpis(window="none", latency="40ms"), kpis(window="none", latency="40ms", keep_alive=False)
    extra = closed["replication_time_s"] - kept["replication_time_s"]
    # two round trips (TCP + TLS) per request on each connection, WAN and LAN; the WAN's dominate
    assert extra == pytest.approx(2 * 287 * wan_rtt(0.040), rel=0.05)
    assert closed["closed_form_ratio"] == pytest.approx(1.0, rel=0.01)


# -- runs, determinism, errors ---------------------------------------------------------------------

def test_deterministic_and_seed_free():
    s = scenario(blobs=["1GB", "1GB"], workers=2, clients=3, mode="push")
    a, b, c = simulate(s, 1).kpis, simulate(s, 1).kpis, simulate(s, 7).kpis
    assert a == b == c


def test_published_case_reproduces_harbor_20704():
    s = load_scenario(ROOT / "scenarios" / "published" / "harbor-20704.yaml")
    k = simulate(s, s.seed).kpis
    assert k["replication_time_s"] == pytest.approx(1080, rel=0.15)
    assert k["chunks"] == 287


def test_shipped_scenario_loads():
    s = load_scenario(ROOT / "scenarios" / "geo-replication.yaml")
    assert spec_for(s).family == "replication"


@pytest.mark.parametrize("workload, message", [
    ({"sites": [{"name": "gz"}]}, "workload.sites: expected at least 2"),
    ({"sites": [{"name": "gz"}, {"name": "sh"}]}, "sites.1 (sh): a remote site needs a wan link"),
    ({"sites": [{"name": "gz", "wan": {"latency": "1ms", "bandwidth": "1Gbps"}},
                {"name": "sh", "wan": {"latency": "1ms", "bandwidth": "1Gbps"}}]}, "is the source site"),
    ({"sites": [{"name": "gz"}, {"name": "gz", "wan": {"latency": "1ms", "bandwidth": "1Gbps"}}]},
     "names must be unique; repeated: gz"),
    ({"mode": "rsync"}, "workload.mode: expected 'push', 'pull' or 'proxy-cache'"),
    ({"workers": 0}, "workload.workers: expected at least 1"),
    ({"chunk": "1MB"}, "did you mean 'chunk_size'"),
    ({"sites": [{"name": "gz"}, {"name": "sh", "wan": {"latency": "0s", "bandwidth": "1Gbps"}}]}, "latency"),
])
def test_config_errors_name_the_key(workload, message):
    base = {"kind": "replication", "sites": [{"name": "gz"}, {"name": "sh", "wan": {"latency": "1ms", "bandwidth":
                                                                                     "1Gbps"}}]}
    with pytest.raises(ScenarioError, match=message.replace("(", r"\(").replace(")", r"\)")):
        scenario_from_dict({"name": "x", "workload": {**base, **workload}}, "x.yaml")


def test_keys_of_other_families_are_refused():
    with pytest.raises(ScenarioError, match="does not simulate cluster.nodes"):
        scenario_from_dict({"name": "x", "cluster": {"nodes": 5}, "workload": {
            "kind": "replication", "sites": [{"name": "a"}, {"name": "b", "wan": {"latency": "1ms",
                                                                                 "bandwidth": "1Gbps"}}]}}, "x.yaml")


def test_a_cache_without_clients_is_refused_when_loaded():
    with pytest.raises(ScenarioError, match="workload.clients: mode proxy-cache replicates nothing"):
        scenario(mode="proxy-cache", clients=0)
