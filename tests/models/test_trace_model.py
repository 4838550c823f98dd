"""The trace model: hand-made traces with hand-computed hits and latencies, caches at the registry
and in racks, prefetching, determinism, and agreement with the offline cache evaluation."""

import json
import math
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regsim.models import simulate
from regsim.models.trace.run import BLOB_GET, TraceRun, client_nodes
from regsim.models.trace.trace_store import registry_tag
from regsim.models.core.world import build_world
from regsim.registry.receipts import Kind
from regsim.scenario import ScenarioError
from regsim.traces import Request, evaluate, generate, parse_uri, read_trace, write_trace

from .helpers import build

ROOT = Path(__file__).resolve().parents[2]
SMALL = ROOT / "tests" / "data" / "traces" / "synthetic-small.json"
MB = 1_000_000
T0 = 1_497_916_800.0
A = "sha256:" + "a" * 64
B = "sha256:" + "b" * 64


def record(t, method, uri, size=0, client="a", status=200):
    kind, repo, ref = parse_uri(uri)
    return Request(T0 + t, method, uri, kind, repo, ref, size, 0.001, client, status)


def pull_trace():
    """One image of layers A (4 MB) and B (2 MB); three clients fetch A, A, B, A."""
    return [
        record(0, "GET", "v2/lib/app/manifests/v1", 910, "a"),
        record(1, "GET", f"v2/lib/app/blobs/{A}", 4 * MB, "a"),
        record(2, "GET", f"v2/lib/app/blobs/{A}", 4 * MB, "b"),
        record(3, "GET", f"v2/lib/app/blobs/{B}", 2 * MB, "b"),
        record(4, "GET", f"v2/lib/app/blobs/{A}", 4 * MB, "c"),
    ]


def push_then_pull():
    """Client a pushes a fresh image (layers A, B); client b pulls it ten seconds later."""
    return [
        record(0, "HEAD", f"v2/lib/app/blobs/{A}", 0, "a", 404),
        record(0.1, "PUT", f"v2/lib/app/blobs/uploads/1?digest={A}", 3 * MB, "a", 201),
        record(0.2, "HEAD", f"v2/lib/app/blobs/{B}", 0, "a", 404),
        record(0.3, "PUT", f"v2/lib/app/blobs/uploads/2?digest={B}", 2 * MB, "a", 201),
        record(0.4, "PUT", "v2/lib/app/manifests/v2", 750, "a", 201),
        record(10, "GET", "v2/lib/app/manifests/v2", 750, "b"),
        record(10.01, "GET", f"v2/lib/app/blobs/{A}", 3 * MB, "b"),
        record(10.02, "GET", f"v2/lib/app/blobs/{B}", 2 * MB, "b"),
    ]


def scenario(path, **over):
    doc = {
        "name": "t",
        "duration": "1h",
        "cluster": {"nodes": 6, "racks": 1},
        "registry": {"frontends": 1, "egress": "10Gbps",
                     "storage": {"codec": "replicate(1)", "nodes": 1, "disk": "100MB/s", "nic": "25Gbps"},
                     "cache": {"policy": "lru", "capacity": "10MB"}},
        "workload": {"kind": "trace", "path": str(path)},
    # the closed forms these tests check are max-min's; the TCP-like default has its own tests
    "network": {"model": "maxmin"},
    }
    return build(doc, over)


def replay(path, seed=1, **over):
    sc = scenario(path, **over)
    run = TraceRun(sc, build_world(sc, seed), read_trace(path), seed)
    run.run()
    return run


@pytest.fixture
def pulls(tmp_path):
    return write_trace(pull_trace(), tmp_path / "pulls.json")


def gets(run):
    return sorted((r for r in run.done if r.kind == BLOB_GET), key=lambda r: r.index)


def one_way(run, node):
    return run.world.topology.latency(node, run.world.frontends[0])


# -- hand-computed hits, misses and latencies ----------------------------------------------------

def test_a_registry_cache_hits_what_was_fetched_before(pulls):
    run = replay(pulls)
    assert [r.hit for r in gets(run)] == [False, True, False, True]
    k = simulate(scenario(pulls), 1).kpis
    assert (k["hits"], k["misses"], k["blob_gets"], k["manifest_gets"]) == (2, 2, 4, 1)
    assert k["hit_ratio"] == 0.5 and k["byte_hit_ratio"] == pytest.approx(8 / 14)
    assert k["requests_failed"] == 0 and k["cache_policy"] == "lru" and k["stocked_images"] == 1


def test_hit_and_miss_latencies_match_the_resources_that_serve_them(pulls):
    run = replay(pulls)
    miss_a, hit_a, miss_b, _ = gets(run)
    node = run.clients["a"]
    rtt = 2 * one_way(run, node)
    # a hit is the response from the frontend's memory: 4 MB at the frontend's 10 Gbit/s
    assert hit_a.latency == pytest.approx(rtt + 4 * MB / 1.25e9, rel=1e-6)
    # a miss streams from the one 100 MB/s disk, slower than every link on the way
    assert miss_a.latency == pytest.approx(one_way(run, node) + 4 * MB / 100e6, rel=0.01)
    assert miss_b.latency == pytest.approx(one_way(run, node) + 2 * MB / 100e6, rel=0.01)
    assert hit_a.latency < miss_b.latency < miss_a.latency


def test_a_hit_does_no_storage_reads_and_no_decryption(pulls):
    run = replay(pulls, **{"registry.encryption": "aes-256-gcm", "registry.auth": {"mode": "jwt"}})
    miss, hit = gets(run)[:2]
    assert miss.work[Kind.DISK_READ] >= 4 * MB and miss.work[Kind.AES_GCM_DECRYPT] >= 4 * MB
    assert Kind.DISK_READ not in hit.work and Kind.AES_GCM_DECRYPT not in hit.work
    assert Kind.JWT_VERIFY in hit.work or Kind.JWT_CACHE_HIT in hit.work  # the registry still checks the token


def test_without_a_cache_every_get_reads_storage(pulls):
    cached = simulate(scenario(pulls), 1).kpis
    plain = simulate(scenario(pulls, **{"registry.cache.policy": "none"}), 1).kpis
    assert plain["hit_ratio"] == 0 and plain["hits"] == 0 and plain["cache_placement"] == "none"
    assert math.isnan(plain["offline_hit_ratio"])
    # the two hits of A are 8 MB the cache kept off the disk
    assert plain["storage_read_bytes"] - cached["storage_read_bytes"] == pytest.approx(8 * MB, rel=1e-3)
    assert plain["latency_p50_s"] > cached["latency_p50_s"]
    assert plain["registry_egress_bytes"] == cached["registry_egress_bytes"] >= 14 * MB


def test_a_real_data_plane_prices_as_the_modelled_one(pulls):
    real = replay(pulls, data_plane="real", **{"registry.encryption": "aes-256-gcm"})
    modelled = replay(pulls, **{"registry.encryption": "aes-256-gcm"})
    assert all(b.sample == b.size for b in real.store.blobs.values())
    assert max(b.sample for b in modelled.store.blobs.values()) == 1 << 20
    assert [r.hit for r in gets(real)] == [r.hit for r in gets(modelled)]
    for a, b in zip(gets(real), gets(modelled)):
        assert a.latency == pytest.approx(b.latency, rel=1e-3)


def test_a_variant_reports_series_samples_and_notes(pulls):
    result = simulate(scenario(pulls), 1)
    assert set(result.series["metric"]) == {"hit_ratio_so_far", "blob_get_latency_p50_s"}
    assert result.series.query("metric == 'hit_ratio_so_far'")["value"].iloc[-1] == 0.5
    assert len(result.samples["blob_get_time_s"]) == 4 and len(result.samples["hit_time_s"]) == 2
    assert any("2 of 4 layer GETs hit" in note for note in result.notes)
    assert result.events > 0


def test_a_layer_larger_than_the_cache_is_never_cached(pulls):
    run = replay(pulls, **{"registry.cache.capacity": "3MB"})
    assert [r.hit for r in gets(run)] == [False, False, False, False]


def test_rack_caches_serve_their_own_rack_without_the_registry(pulls):
    # clients are dealt over the racks in turn: a and c share rack 0, b is alone in rack 1
    run = replay(pulls, **{"cluster.racks": 2, "registry.cache.placement": "rack"})
    assert run.world.node_rack[run.clients["a"]] == run.world.node_rack[run.clients["c"]] == 0
    assert run.world.node_rack[run.clients["b"]] == 1
    assert [r.hit for r in gets(run)] == [False, False, False, True]
    hit = gets(run)[3]
    assert hit.work == {}  # not even an auth check: the registry never sees it
    k = simulate(scenario(pulls, **{"cluster.racks": 2, "registry.cache.placement": "rack"}), 1).kpis
    central = simulate(scenario(pulls, **{"cluster.racks": 2}), 1).kpis
    assert k["cache_sites"] == 2 and central["cache_sites"] == 1
    assert central["registry_egress_bytes"] - k["registry_egress_bytes"] == pytest.approx(4 * MB, rel=1e-3)


# -- prefetching ---------------------------------------------------------------------------------

def test_prefetching_on_manifest_turns_a_push_then_pull_into_hits(tmp_path):
    path = write_trace(push_then_pull(), tmp_path / "push-pull.json")
    plain = simulate(scenario(path), 1).kpis
    ahead = simulate(scenario(path, **{"registry.cache.policy": "lru+prefetch"}), 1).kpis
    assert (plain["hits"], plain["blob_gets"], plain["blob_puts"], plain["manifest_puts"]) == (0, 2, 2, 1)
    assert plain["hit_ratio"] == 0 and plain["prefetched"] == 0
    assert ahead["hit_ratio"] == 1.0 and ahead["prefetched"] == 2 and ahead["prefetch_used"] == 2
    assert ahead["cache_policy"] == "lru+prefetch" and ahead["requests_failed"] == 0
    assert ahead["prefetch_read_bytes"] >= 5 * MB
    # the pushed layers were read once either way: by the misses, or ahead of the GETs
    assert ahead["storage_read_bytes"] == pytest.approx(plain["storage_read_bytes"], rel=1e-3)


def test_a_hit_on_a_layer_still_being_prefetched_waits_for_it(tmp_path):
    path = write_trace(push_then_pull(), tmp_path / "push-pull.json")
    run = replay(path, **{"registry.cache.policy": "lru+prefetch"})
    first = gets(run)[0]
    assert first.hit and first.waited and run.caches.waited() >= 1
    # it cannot beat the disk: the prefetch reads 3 MB at 100 MB/s, started with the manifest GET
    manifest = next(r for r in run.done if r.kind == "manifest_get")
    assert first.end >= manifest.start + 3 * MB / 100e6


# -- the run as a whole --------------------------------------------------------------------------

def test_the_same_seed_gives_the_same_kpis():
    over = {"registry.cache.policy": "lfu+prefetch", "registry.auth": {"mode": "jwt"}, "cluster.racks": 2,
            "registry.encryption": "aes-256-gcm", "workload.speedup": 20}
    a = simulate(scenario(SMALL, **over), 5)
    b = simulate(scenario(SMALL, **over), 5)
    assert json.dumps(a.kpis, sort_keys=True) == json.dumps(b.kpis, sort_keys=True)
    assert a.samples.keys() == b.samples.keys()
    assert all((a.samples[k] == b.samples[k]).all() for k in a.samples)


@pytest.mark.parametrize("policy", ["lru", "lfu"])
def test_a_registry_cache_agrees_with_the_offline_evaluation(policy):
    k = simulate(scenario(SMALL, **{"registry.cache.policy": policy, "registry.cache.capacity": "50MB"}), 1).kpis
    offline = evaluate(read_trace(SMALL), policy, 50 * MB)
    assert k["hit_ratio"] == offline.hit_ratio == k["offline_hit_ratio"]
    assert k["hits"] == offline.hits and k["requested_bytes"] == offline.requested_bytes
    assert k["requests"] == 277 and k["requests_failed"] == 0 and k["makespan_s"] > 0


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 10_000), mb=st.integers(2, 60), policy=st.sampled_from(["lru", "lfu"]))
def test_any_trace_hits_as_the_offline_policy_does(tmp_path_factory, seed, mb, policy):
    trace = generate(seed=seed, duration_s=240, repositories=6, clients=6, pull_rate=0.1, push_rate=0.02)
    path = write_trace(trace, tmp_path_factory.mktemp("gen") / "t.json")
    k = simulate(scenario(path, **{"registry.cache.policy": policy, "registry.cache.capacity": f"{mb}MB",
                                   "workload.speedup": 5}), seed).kpis
    assert k["requests_failed"] == 0
    assert k["hit_ratio"] == evaluate(trace, policy, mb * MB).hit_ratio


def test_speedup_compresses_the_replay(pulls):
    slow = simulate(scenario(pulls), 1).kpis
    fast = simulate(scenario(pulls, **{"workload.speedup": 4}), 1).kpis
    # the last request (a hit, a few ms) is sent 4 s after the first, or 1 s at 4x
    assert 4 < slow["makespan_s"] < 4.01 and 1 < fast["makespan_s"] < 1.01
    assert fast["hit_ratio"] == slow["hit_ratio"]


def test_requests_after_the_scenario_ends_are_not_sent(pulls):
    k = simulate(scenario(pulls, duration="2500ms"), 1).kpis
    assert k["requests_skipped"] == 2 and k["requests"] == 3


def test_failed_records_are_round_trips_and_unknown_blobs_are_refused(tmp_path):
    trace = pull_trace() + [record(5, "GET", f"v2/lib/app/blobs/sha256:{'c' * 64}", 0, "a", 404),
                            record(6, "POST", "v2/lib/app/blobs/uploads/", 0, "a", 202)]
    k = simulate(scenario(write_trace(trace, tmp_path / "t.json")), 1).kpis
    assert k["other_requests"] == 2 and k["requests"] == 7 and k["requests_failed"] == 0


def test_names_the_registry_refuses_fail_their_requests_not_the_run(tmp_path):
    trace = pull_trace() + [record(5, "GET", f"v2/Bad/Name/blobs/{A}", 4 * MB, "a")]
    run = replay(write_trace(trace, tmp_path / "t.json"))
    assert "blob " + A + " in Bad/Name" in run.store.stock_errors
    bad = max(run.done, key=lambda r: r.index)
    assert bad.status == 400 and bad.error.startswith("NameInvalid") and bad.hit is None  # no cache asked
    k = simulate(scenario(tmp_path / "t.json"), 1)
    assert k.kpis["requests_failed"] == 1 and any("could not be stored" in n for n in k.notes)


def test_clients_are_dealt_over_racks_in_order_of_first_appearance(pulls):
    sc = scenario(pulls, **{"cluster.racks": 3})
    world = build_world(sc, 1)
    mapping = client_nodes([record(i, "GET", "v2/", 0, c) for i, c in enumerate("xyzwx")], world)
    assert list(mapping) == ["x", "y", "z", "w"]
    assert [world.node_rack[mapping[c]] for c in "xyzw"] == [0, 1, 2, 0]


def test_the_trace_model_refuses_failures(pulls):
    # refused when the scenario is loaded, before any model runs
    with pytest.raises(ScenarioError, match="workload.kind trace does not simulate failures.afr"):
        scenario(pulls, **{"failures.afr": "2%"})


def test_manifest_digests_are_stored_under_tags():
    assert registry_tag("v1.2") == "v1.2"
    assert registry_tag("sha256:" + "e" * 64) == "sha256-" + "e" * 64


# -- the scenario keys ---------------------------------------------------------------------------

def test_policy_plus_prefetch_is_shorthand(pulls):
    cache = scenario(pulls, **{"registry.cache.policy": "LFU+prefetch"}).registry.cache
    assert (cache.policy, cache.prefetch, cache.label()) == ("lfu", True, "lfu+prefetch")
    assert scenario(pulls).registry.cache.label() == "lru"


@pytest.mark.parametrize("cache,message", [
    ({"policy": "none", "prefetch": True}, "prefetching fills a cache"),
    ({"policy": "none+prefetch"}, "prefetching fills a cache"),
    ({"policy": "fifo"}, "expected 'none', 'lru' or 'lfu'"),
    ({"placement": "zone"}, "registry.cache.placement"),
    ({"capacity": "0B"}, "registry.cache.capacity"),
])
def test_bad_cache_settings_are_refused(pulls, cache, message):
    with pytest.raises(ScenarioError, match=message):
        scenario(pulls, **{"registry.cache": cache})


# -- speed ---------------------------------------------------------------------------------------

#: wall time of one replayed request over one real read of a 1 MiB sample (the primitive it prices)
OVERHEAD_TARGET = 6.0


@pytest.mark.benchmark
def test_a_replayed_request_costs_a_few_real_reads(benchmark):
    sc = scenario(SMALL, **{"registry.cache.policy": "lru", "registry.cache.capacity": "50MB",
                            "registry.encryption": "aes-256-gcm", "registry.auth": {"mode": "jwt"}})
    runs = []

    def replay_once():
        run = TraceRun(sc, build_world(sc, 1), read_trace(SMALL), 1)
        run.run()
        runs.append(run)

    benchmark.pedantic(replay_once, rounds=5, iterations=1)
    run = runs[-1]
    per_request = benchmark.stats.stats.min / len(run.done)
    blob = next(b for b in run.store.blobs.values() if b.sample == 1 << 20)
    best = math.inf
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(20):
            run.store.registry.blobs.get(blob.real)
        best = min(best, (time.perf_counter() - t0) / 20)
    ratio = per_request / best
    print(f"\n{len(run.done)} requests: {per_request * 1e3:.2f} ms per replayed request, real 1 MiB read "
          f"{best * 1e3:.2f} ms, ratio {ratio:.2f} (target {OVERHEAD_TARGET})")
    benchmark.extra_info.update(requests=len(run.done), per_request_s=per_request, real_read_s=best, ratio=ratio)
    assert ratio < OVERHEAD_TARGET / 0.8
