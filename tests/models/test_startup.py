"""The start-up model: full pulls and lazy clients against closed forms, P2P, prefetch, errors.

Closed forms use the plain max-min network (no TCP window, no bandwidth factor), so a request
costs its round trip plus its bytes at the bottleneck's rate:

- a full pull of one layer of B bytes over a node NIC of rate r: three small requests (login,
  manifest, the GET's round trip), B / r, then the unpack (the calibrated inflate, tar and
  file-creation work, or the disk's write time if longer), then the trace's CPU;
- a lazy client on a fast network: every read that misses waits one round trip, so the time a
  node waits on fetches is (reads that fetched) x RTT, and it is ready after its mount, the trace's
  CPU, that wait and the inflating of what it read.
"""

from __future__ import annotations

import pytest

from regsim.models import ModelError, simulate
from regsim.models.startup.config import StartupConfig
from regsim.models.startup.image import build_image
from regsim.models.startup.run import image_request
from regsim.registry.lazy.generate import FileProfile, generate_layer
from regsim.registry.receipts import Kind
from regsim.scenario import ScenarioError
from regsim.sim.profile import load_profile

from .helpers import build

PROFILE = load_profile("reference")
ONE_WAY = 0.02  # the registry's one-way latency in these tests (s)
HOP = 50e-6  # the cluster's per-hop latency (default)


def doc(**workload) -> dict:
    return {
        "name": "startup", "seed": 3,
        "cluster": {"nodes": 1, "node": {"nic": "100Mbps", "cores": 4}},
        "registry": {"egress": "100Gbps", "latency": f"{ONE_WAY * 1000:g}ms"},
        "image": {"layers": ["2MB"]},
        "workload": {"kind": "startup", **workload},
        "distribution": {"strategy": "central"},
        "data_plane": "modelled",
        "network": {"model": "maxmin"},
    }


def run(over: dict | None = None, **workload):
    sc = build(doc(**workload), over or {})
    return simulate(sc, 1), sc


def rtt() -> float:
    # node -> rack switch -> core -> registry rack (+ its latency) -> frontend, and back
    return 2 * (HOP + HOP + ONE_WAY + HOP + HOP)


def image_of(sc):
    return build_image(image_request(StartupConfig.from_sections(sc), 1))


def test_a_full_pull_is_round_trips_the_transfer_the_unpack_and_the_cpu():
    r, sc = run(format="plain")
    image = image_of(sc)
    layer = image.layers[0]
    nic = 100e6 / 8
    cpu = sum(c for c, _ in image.reads)
    unpack = max(PROFILE.seconds(Kind.GZIP_INFLATE, layer.tar_bytes) + PROFILE.seconds(Kind.TAR_UNPACK, layer.data_bytes)
                 + PROFILE.seconds(Kind.FILE_CREATE, layer.entries), layer.data_bytes / sc.cluster.node.disk.write)
    # login, manifest, config, then the layer
    expected = 4 * rtt() + layer.compressed_bytes / nic + unpack + cpu
    k = r.kpis
    assert k["time_to_ready_p50_s"] == pytest.approx(expected, rel=0.03)
    assert k["unpack_s"] == pytest.approx(unpack, rel=1e-9)
    assert k["bytes_fetched_share"] == pytest.approx(1.0)
    assert k["on_demand_fetches"] == 0 and k["fetch_wait_s"] == 0


def test_a_lazy_client_waits_one_round_trip_per_read_that_fetches():
    r, sc = run({"cluster.node.nic": "100Gbps"}, format="estargz")
    image = image_of(sc)
    k = r.kpis
    fetching = k["on_demand_fetches"]
    assert 0 < fetching <= len(image.reads)
    assert k["fetch_wait_s"] == pytest.approx(fetching * rtt(), rel=0.03)
    cpu = sum(c for c, _ in image.reads)
    assert k["time_to_ready_p50_s"] == pytest.approx(k["mount_p50_s"] + cpu + k["fetch_wait_s"] + k["inflate_s"],
                                                     rel=1e-6)
    # mounting an eStargz layer: login, manifest, config, the snapshotter's two probes, then the
    # footer and the TOC, one after another
    assert k["mount_p50_s"] == pytest.approx(7 * rtt(), rel=0.05)
    assert k["bytes_fetched_share"] < 0.5


FAT = {"cluster.node.nic": "100Gbps", "image.layers": ["2MB", "2MB", "2MB"]}


def test_layers_mount_one_after_another_each_later_one_rechecking_its_blob():
    # every layer is resolved at the first mount (3 layers on 4 connections: at once); the
    # first is mounted after its 2 probes, footer and TOC, each later one after one more probe
    seq, _ = run(FAT, format="estargz")
    par, _ = run(FAT, format="estargz", mount={"order": "parallel"})
    assert par.kpis["mount_p50_s"] == pytest.approx((3 + 4) * rtt(), rel=0.05)
    assert seq.kpis["mount_p50_s"] == pytest.approx((3 + 4 + 2) * rtt(), rel=0.05)
    nocheck, _ = run(FAT, format="estargz", mount={"check": False, "resolve": 0})
    assert nocheck.kpis["mount_p50_s"] == pytest.approx((3 + 2) * rtt(), rel=0.05)


def test_a_mount_cost_is_paid_per_layer_in_turn_or_once_in_parallel():
    base, _ = run(FAT, format="estargz")
    seq, _ = run(FAT, format="estargz", mount={"cost": "0.1s"})
    par0, _ = run(FAT, format="estargz", mount={"order": "parallel"})
    par, _ = run(FAT, format="estargz", mount={"order": "parallel", "cost": "0.1s"})
    assert seq.kpis["mount_p50_s"] - base.kpis["mount_p50_s"] == pytest.approx(0.3, rel=1e-6)
    assert par.kpis["mount_p50_s"] - par0.kpis["mount_p50_s"] == pytest.approx(0.1, rel=1e-6)


def test_landmark_prefetch_is_waited_for_and_then_no_read_fetches():
    slow = {"cluster.node.nic": "25Mbps"}
    waited, _ = run(slow, format="estargz", prefetch="landmarks")
    beside, _ = run(slow, format="estargz", prefetch="landmarks", mount={"wait_prefetch": False})
    assert waited.kpis["on_demand_fetches"] == 0 and waited.kpis["fetch_wait_s"] == 0
    assert waited.kpis["prefetch_bytes"] > 0
    assert beside.kpis["fetch_wait_s"] > 0  # reads caught up with the prefetch and waited for it
    # waiting at most a millisecond per layer: the reads wait for what the prefetch has not brought
    short, _ = run(slow, format="estargz", prefetch="landmarks", mount={"prefetch_timeout": "1ms"})
    assert short.kpis["fetch_wait_s"] > 0


@pytest.mark.parametrize("fmt", ["plain", "estargz"])
def test_the_client_setup_delays_every_start_by_itself(fmt):
    base, _ = run(format=fmt)
    later, _ = run(format=fmt, setup="0.25s")
    assert later.kpis["time_to_ready_p50_s"] - base.kpis["time_to_ready_p50_s"] == pytest.approx(0.25, rel=1e-6)


def test_aligned_requests_bring_neighbouring_files_so_fewer_reads_fetch():
    exact, _ = run(format="estargz")
    aligned, _ = run(format="estargz", align="256KiB")
    assert aligned.kpis["on_demand_fetches"] < exact.kpis["on_demand_fetches"]
    assert aligned.kpis["bytes_fetched_share"] > exact.kpis["bytes_fetched_share"]
    # a request never reaches past its rounded range: at most one aligned span per fetch more
    image_bytes = exact.kpis["image_bytes"]
    extra = (aligned.kpis["bytes_fetched_share"] - exact.kpis["bytes_fetched_share"]) * image_bytes
    assert extra <= aligned.kpis["on_demand_fetches"] * 2 * 256 * 1024


SLOW_LINK = {"cluster.node.nic": "25Mbps", "registry.latency": "1ms", "image.layers": ["12MB"]}


@pytest.mark.parametrize("fmt", ["estargz", "nydus", "block"])
def test_every_format_reads_less_than_a_full_pull_and_wins_on_a_slow_link(fmt):
    lazy, _ = run(SLOW_LINK, format=fmt)
    full, _ = run(SLOW_LINK, format="plain")
    assert lazy.kpis["bytes_fetched_share"] < 0.8 * full.kpis["bytes_fetched_share"]
    assert lazy.kpis["time_to_ready_p50_s"] < full.kpis["time_to_ready_p50_s"]


def test_soci_fetches_whole_spans():
    """SOCI leaves the layer as it is: its unit is a 4 MiB span of the tar, not a file, so the same
    reads fetch more than eStargz's per-file members (and never much more than the layer)."""
    soci, _ = run(SLOW_LINK, format="soci")
    estargz, _ = run(SLOW_LINK, format="estargz")
    assert estargz.kpis["bytes_fetched_share"] < soci.kpis["bytes_fetched_share"] <= 1.1


def test_lazy_pulling_loses_at_high_round_trip_times_on_a_fast_link():
    over = {"cluster.node.nic": "10Gbps", "registry.latency": "125ms"}
    lazy, _ = run(over, format="estargz")
    full, _ = run(over, format="plain")
    assert lazy.kpis["time_to_ready_p50_s"] > 3 * full.kpis["time_to_ready_p50_s"]


def test_prefetching_the_trace_removes_the_reads_round_trips():
    over = {"cluster.node.nic": "1Gbps", "registry.latency": "50ms"}
    none, _ = run(over, format="nydus")
    trace, _ = run(over, format="nydus", prefetch="trace")
    assert trace.kpis["on_demand_fetches"] == 0
    assert trace.kpis["prefetch_bytes"] > 0
    assert trace.kpis["time_to_ready_p50_s"] < 0.5 * none.kpis["time_to_ready_p50_s"]


def test_landmarks_prefetch_one_range_per_layer():
    over = {"cluster.node.nic": "1Gbps", "image.layers": ["1MB", "2MB"]}
    r, sc = run(over, format="estargz", prefetch="landmarks")
    image = image_of(sc.model_copy(update={"workload": sc.workload.model_copy(update={"prefetch": "landmarks"})}))
    assert image.landmark_pieces
    k = r.kpis
    assert k["on_demand_fetches"] == 0
    # login, manifest, config; per layer two probes and two opening requests; the second
    # layer's re-check; one landmark range per layer
    assert k["registry_requests"] == 3 + 2 * 4 + 1 + 2


def test_background_fetch_brings_every_layer_byte():
    r, sc = run({"cluster.node.nic": "1Gbps"}, format="block", background="50MB/s")
    image = image_of(sc)
    k = r.kpis
    assert k["registry_egress_bytes"] >= image.layer_bytes
    # at most the rate: the layer's bytes take at least bytes / rate after mounting
    assert k["background_done_p50_s"] >= k["mount_p50_s"] + image.layer_bytes / 50e6 * 0.9


def test_p2p_sends_each_piece_from_the_registry_about_once_when_peers_are_nearer():
    """With the registry 100 ms away and peers on the LAN, a node waits for a peer rather than
    go back to source; (with the registry as near as the peers it would not wait long)."""
    over = {"cluster.nodes": 8, "cluster.node.nic": "1Gbps", "registry.latency": "50ms"}
    central, _ = run(over, format="nydus")
    p2p, sc = run({**over, "distribution.strategy": "p2p-scheduler"}, format="nydus")
    single, _ = run({"cluster.node.nic": "1Gbps", "registry.latency": "50ms"}, format="nydus")
    one = single.kpis["registry_egress_bytes"]
    assert central.kpis["registry_egress_bytes"] == pytest.approx(8 * one, rel=1e-9)
    # every node mounts from the registry (the bootstraps); the pieces it reads leave it about once
    mount = sum(length for layer in image_of(sc).layers for _, _, length in layer.open)
    assert p2p.kpis["registry_egress_bytes"] - 8 * mount <= 1.2 * (one - mount)
    assert p2p.kpis["peer_bytes_share"] > 0.6


def test_p2p_with_one_node_is_central():
    a, _ = run(format="soci", **{})
    b, _ = run({"distribution.strategy": "p2p-scheduler"}, format="soci")
    for key in ("time_to_ready_p50_s", "registry_requests", "registry_egress_bytes"):
        assert a.kpis[key] == b.kpis[key]


def test_a_full_pull_over_p2p_takes_the_layers_from_peers():
    over = {"cluster.nodes": 6, "cluster.node.nic": "1Gbps", "image.layers": ["9MB"],
            "distribution.strategy": "p2p-scheduler", "distribution.p2p.piece_size": "1MiB"}
    r, sc = run(over, format="plain")
    image = image_of(sc)
    # every piece leaves the registry at least once; central pulls would send it six times
    assert image.layer_bytes <= r.kpis["registry_egress_bytes"] <= 3 * image.layer_bytes
    assert r.kpis["peer_bytes_share"] >= 0.5


def test_a_p2p_node_goes_back_to_source_when_peers_are_slower():
    """On 25 Mbit/s links a piece crosses a busy peer slowly; the registry, as near as a peer, is
    faster, so a node does not wait on peers for long: most pieces come from the registry and the
    start stays within twice central's (what remains is the waiting before giving up)."""
    over = {"cluster.nodes": 6, "cluster.node.nic": "25Mbps", "registry.latency": "100us", "image.layers": ["4MB"],
            "distribution.p2p.piece_size": "1MiB"}
    central, _ = run(over, format="plain")
    p2p, _ = run({**over, "distribution.strategy": "p2p-scheduler"}, format="plain")
    assert p2p.kpis["peer_bytes_share"] < 0.5
    assert p2p.kpis["time_to_ready_p50_s"] < 2 * central.kpis["time_to_ready_p50_s"]


def test_the_same_scenario_gives_the_same_results():
    over = {"cluster.nodes": 4, "distribution.strategy": "p2p-scheduler", "workload.start": "2s"}
    a, _ = run(over, format="block", prefetch="trace")
    b, _ = run(over, format="block", prefetch="trace")
    assert a.kpis == b.kpis


def test_a_soci_layer_under_the_minimum_is_pulled_whole_at_mount():
    r, sc = run({"cluster.node.nic": "1Gbps"}, format="soci")
    image = image_of(sc)
    assert image.layers[0].whole  # 2 MB < SOCI's 10 MiB minimum
    assert r.kpis["bytes_fetched_share"] == pytest.approx(1.0)
    assert r.kpis["unpack_s"] > 0


# -- errors ------------------------------------------------------------------------------------

def test_landmarks_are_refused_for_other_formats():
    with pytest.raises(ScenarioError, match="landmarks"):
        build(doc(format="soci", prefetch="landmarks"), {})


def test_other_strategies_are_refused_with_the_ones_that_exist():
    with pytest.raises((ScenarioError, ModelError), match="p2p-scheduler"):
        build(doc(format="soci"), {"distribution.strategy": "p2p-swarm"})


def test_a_missing_trace_file_names_the_key(tmp_path):
    sc = build(doc(format="estargz", trace={"file": str(tmp_path / "nope.csv")}), {})
    with pytest.raises(ModelError, match="workload.trace.file"):
        simulate(sc, 1)


def test_a_trace_reading_a_file_the_image_lacks_is_refused(tmp_path):
    trace = tmp_path / "t.csv"
    trace.write_text("layer,path,offset,length,cpu_s\n0,usr/bin/nonexistent,0,10,0\n")
    sc = build(doc(format="estargz", trace={"file": str(trace)}), {})
    with pytest.raises(ModelError, match="workload.trace"):
        simulate(sc, 1)


# -- generated layers ----------------------------------------------------------------------------

def test_a_generated_layer_is_near_its_size_and_the_same_every_time():
    a = generate_layer(3_000_000, FileProfile(), seed=4)
    b = generate_layer(3_000_000, FileProfile(), seed=4)
    assert a.gz == b.gz
    assert abs(len(a.gz) - 3_000_000) < 0.12 * 3_000_000
    assert a.tar_size > len(a.gz)
    incompressible = generate_layer(2_000_000, FileProfile(random_share=1.0), seed=4)
    assert incompressible.tar_size < 1.1 * len(incompressible.gz)
