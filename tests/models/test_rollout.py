"""The central rollout model against its closed form, with the real registry behind it."""

import gc

import numpy as np
import pytest

from regsim.models import simulate
from regsim.models.core.work import SAMPLED_NODES, RegistryWork, merged, scale
from regsim.models.rollout.kpis import RolloutRecord, pull_kpis, rollout_kpis
from regsim.registry.receipts import Kind, Receipt, WorkItem
from regsim.scenario import ScenarioError, scenario_from_dict
from tests.scenario.layouts import write_layout

from .helpers import build

BASE = {
    "name": "t",
    "cluster": {"nodes": 40, "racks": 2, "node": {"nic": "10Gbps"}},
    "registry": {"egress": "1Gbps", "storage": {"codec": "rs(4,2)", "nodes": 6}, "encryption": "aes-256-gcm"},
    "image": {"layers": ["20MB", "30MB"]},
    # the closed forms these tests check are max-min's; the TCP-like default has its own tests
    "network": {"model": "maxmin"},
}


def scenario(**over):
    return build(BASE, over)


@pytest.mark.parametrize("nodes,layers", [(10, ["50MB"]), (40, ["20MB", "30MB"]), (120, ["5MB", "5MB", "10MB"])])
def test_central_makespan_meets_the_client_server_bound(nodes, layers):
    sc = scenario(**{"cluster.nodes": nodes, "image.layers": layers})
    result = simulate(sc, seed=1)
    k = result.kpis
    bound = nodes * sum(int(float(x[:-2]) * 1e6) for x in layers) / 125e6
    assert k["central_bound_s"] == pytest.approx(bound)
    assert bound <= k["makespan_s"] <= 1.01 * bound
    assert k["registry_egress_bytes"] == nodes * k["image_bytes"]
    assert len(result.samples["pull_time_s"]) == nodes


def test_same_seed_same_numbers_and_auth_modes_cost_cpu():
    a, b = simulate(scenario(), seed=3), simulate(scenario(), seed=3)
    assert a.kpis == b.kpis
    jwt = simulate(scenario(**{"registry.auth.mode": "jwt"}), seed=3).kpis
    assert jwt["registry_cpu_busy_s"] > a.kpis["registry_cpu_busy_s"]
    db = simulate(scenario(**{"registry.auth.mode": "db"}), seed=3).kpis
    assert db["makespan_s"] >= a.kpis["makespan_s"]


def test_real_data_plane_reads_and_verifies_every_pull():
    sc = scenario(**{"cluster.nodes": 4, "image.layers": ["300KB", "200KB"], "data_plane": "real"})
    result = simulate(sc, seed=5)
    assert result.kpis["data_plane"] == "real" and result.kpis["makespan_s"] > 0


def test_real_data_plane_refuses_what_one_machine_should_not_move():
    with pytest.raises(ScenarioError, match=r"data_plane: real would read 50\.0 GB .*use 'modelled' or 'sampled'"):
        scenario(**{"cluster.nodes": 100, "image.layers": ["500MB"], "data_plane": "real"})
    # the model refuses it too, should a scenario reach it unvalidated
    sc = scenario(**{"cluster.nodes": 100, "image.layers": ["5MB"], "data_plane": "real"})
    sc = sc.model_copy(update={"image": sc.image.model_copy(update={"layers": [500_000_000]})})
    with pytest.raises(ValueError, match="use 'modelled' or 'sampled'"):
        simulate(sc, seed=1)


@pytest.mark.parametrize("start", ["10s", "all"])
def test_the_series_span_the_whole_rollout_from_its_first_start(start):
    # egress-bound pulls end together, after the last node starts: a series that stopped at the
    # makespan in absolute time (not from the first start) missed the last pulls
    result = simulate(scenario(**{"workload.start": start}), seed=4)
    k, series = result.kpis, result.series
    done = series[series.metric == "pulls_completed"].sort_values("time_s")
    assert done.time_s.iloc[0] == 0.0 and done.time_s.iloc[-1] == pytest.approx(k["makespan_s"])
    assert done.value.iloc[-1] == k["nodes"] and done.value.is_monotonic_increasing
    egress = series[series.metric == "registry_egress_utilisation"].sort_values("time_s")
    assert np.array_equal(egress.time_s.to_numpy(), done.time_s.to_numpy())
    # the utilisation integrates to every byte the registry sent (1 Gbit/s, the bottleneck)
    sent = np.trapezoid(egress.value.to_numpy(), egress.time_s.to_numpy()) * 125e6
    assert sent == pytest.approx(k["registry_egress_bytes"], rel=0.03)


@pytest.mark.parametrize("frontends", [1, 2])
def test_the_registry_egress_series_reads_the_shared_egress_whatever_the_frontends(frontends):
    """40 nodes pull 50 MB each through 1 Gbit/s of egress (10 Gbit/s node NICs): the egress is
    saturated from the first pull to the last, so its series reads 1.0 -- the frontends' shared
    gateway link, not the mean over their NICs, each of which runs at the full egress (that read
    1 / frontends with two)."""
    result = simulate(scenario(**{"registry.frontends": frontends}), seed=4)
    k, series = result.kpis, result.series
    egress = series[series.metric == "registry_egress_utilisation"].sort_values("time_s")
    t, busy = egress.time_s.to_numpy(), egress.value.to_numpy()
    middle = busy[(t > 0.05 * k["makespan_s"]) & (t < 0.95 * k["makespan_s"])]
    assert middle.size > 10 and np.all(middle == pytest.approx(1.0, abs=1e-6))
    assert busy.max() <= 1.0 + 1e-9
    assert k["makespan_s"] == pytest.approx(k["central_bound_s"], rel=0.01)  # N*F/u_s, whatever the frontends


def test_an_image_read_from_disk_is_the_image_every_node_pulls(tmp_path):
    write_layout(tmp_path / "layout", {"v1": [3_000_000, 1_000_000]})
    doc = {"name": "fromdisk", "cluster": {"nodes": 10}, "image": {"from": "layout", "tag": "v1"}}
    result = simulate(scenario_from_dict(doc, base_dir=tmp_path), seed=1)
    k = result.kpis
    assert k["image_bytes"] == 4_000_000 and k["registry_egress_bytes"] == 10 * 4_000_000
    # ten pulls of 4 MB share 10 Gbit/s: 32 ms at least, not the bare round trips of an empty image
    assert k["makespan_s"] >= 10 * 4e6 / 1.25e9


def test_strategies_without_a_model_are_refused_clearly():
    # a strategy no family declares is refused when the scenario is loaded, naming the ones that exist
    with pytest.raises(ScenarioError, match="distribution.strategy: expected 'central', 'proxy-cache', 'p2p-swarm', "
                                            "'p2p-scheduler' or 'node-mirror' \\(got 'bittorrent'\\)"):
        scenario(**{"distribution.strategy": "bittorrent"})


def test_scaled_receipt_is_linear_in_bytes_and_merged_per_resource():
    sample = Receipt([WorkItem(Kind.DISK_READ, 100, "s0"), WorkItem(Kind.DISK_READ, 100, "s0"),
                      WorkItem(Kind.KEY_UNWRAP, 1, "frontend"), WorkItem(Kind.TRANSFER, 50, "s0", "frontend")])
    out = merged(scale(sample, size=200 * (64 << 20) // 100, sample=200, extent=64 << 20))
    by = {(i.kind, i.node): i.amount for i in out}
    assert by[("disk_read", "s0")] == 2 * (64 << 20)
    assert by[("key_unwrap", "frontend")] == 2  # one per extent
    assert len(out) == 3


def test_modelled_pull_receipt_matches_a_real_read_of_that_size():
    # A modelled 3 MiB layer priced from a 1 MiB sample must cost what reading 3 MiB really costs.
    modelled = RegistryWork(scenario(**{"image.layers": ["3MiB"], "data_plane": "modelled"}), seed=1)
    real = RegistryWork(scenario(**{"image.layers": ["3MiB"], "data_plane": "real"}), seed=1)
    m, r = modelled.layer_get(0).by_kind(), real.layer_get(0).by_kind()
    for kind in ("disk_read", "transfer", "aes_gcm_decrypt"):
        assert m[kind] == pytest.approx(r[kind], rel=0.01), kind
    assert np.isclose(m.get("key_unwrap", 0), r.get("key_unwrap", 0))


@pytest.mark.parametrize("policy, copies", [("spread", 3), ("primary", 1)])
def test_modelled_pulls_of_a_replicated_layer_take_its_copies_as_the_store_does(policy, copies):
    # the modelled pull reuses receipts; with spread reads each copy gets its own, taken in turn
    work = RegistryWork(scenario(**{"registry.storage": {"codec": "replicate(3)", "nodes": 3,
                                                         "replica_reads": policy}}), seed=1)
    nodes = [{i.node for i in work.layer_get(0).of(Kind.DISK_READ)} for _ in range(6)]
    assert all(len(n) == 1 for n in nodes)
    order = [n.pop() for n in nodes]
    assert len(set(order)) == copies and order[:3] == order[3:]


@pytest.mark.parametrize("codec", ["replicate(3)", "rs(4,2)"])
def test_a_rollouts_manifest_gets_are_the_real_registrys_after_the_first_few(codec):
    """``manifest_pull`` reads the real manifest for the first pulls and one per turn of the
    copies, then reuses those receipts: the same work, item for item, as reading every time."""
    def doc(i):
        return (i.kind, i.amount, i.node, i.dst, i.detail)

    config = scenario(**{"registry.storage": {"codec": codec, "nodes": 6, "replica_reads": "spread"}})
    real, pulled = RegistryWork(config, seed=1), RegistryWork(config, seed=1)
    reads = []
    get = pulled.manifest_get
    pulled.manifest_get = lambda: reads.append(1) or get()
    for _ in range(12):
        assert [doc(i) for i in pulled.manifest_pull()] == [doc(i) for i in real.manifest_get()]
    assert len(reads) == max(SAMPLED_NODES, pulled._turns_per_layer) < 12


def test_a_disk_bound_rollout_from_replicas_is_faster_when_reads_spread_over_the_copies():
    storage = {"codec": "replicate(3)", "nodes": 3, "disk": {"read": "100MB/s", "write": "100MB/s"}}
    fast = {"registry.egress": "100Gbps", "image.layers": ["50MB"]}
    spread = simulate(scenario(**fast, **{"registry.storage": storage}), 1)
    primary = simulate(scenario(**fast, **{"registry.storage": {**storage, "replica_reads": "primary"}}), 1)
    assert spread.kpis["storage_read_bytes"] == primary.kpis["storage_read_bytes"]
    # 40 pulls of 50 MB (0.5 s each) from one 100 MB/s disk take 20 s; taken in turn from three
    # copies, the busiest disk serves ceil(40 / 3) = 14 of them: 7 s
    assert primary.kpis["makespan_s"] == pytest.approx(40 * 0.5, rel=0.01)
    assert spread.kpis["makespan_s"] == pytest.approx(14 * 0.5, rel=0.01)


def test_the_filesystem_backend_is_the_real_store_and_prices_like_memory():
    # registry.storage.backend reaches the real registry: fragments land in files, and the same
    # work is recorded (so the same numbers come out)
    fs_sc = scenario(**{"registry.storage": {"codec": "rs(4,2)", "nodes": 6, "backend": "filesystem"}})
    mem_sc = scenario(**{"registry.storage": {"codec": "rs(4,2)", "nodes": 6}})
    fs, mem = RegistryWork(fs_sc, seed=1), RegistryWork(mem_sc, seed=1)
    assert fs.registry.config.backend == "filesystem" and fs.registry.config.root.is_dir()
    assert any(p.is_file() for p in fs.registry.config.root.rglob("*"))
    assert fs.layer_get(0).by_kind() == mem.layer_get(0).by_kind()
    assert simulate(fs_sc, 1).kpis == simulate(mem_sc, 1).kpis
    root = fs.registry.config.root
    del fs
    gc.collect()
    assert not root.exists(), "the temporary store outlived its registry"


def test_real_and_modelled_data_planes_cost_the_registry_the_same_cpu():
    # the simulator's own digest check of real bytes is not the registry's work
    over = {"image.layers": ["3MB", "5MB"], "cluster.nodes": 8}
    real = simulate(scenario(**over, data_plane="real"), 1).kpis
    modelled = simulate(scenario(**over, data_plane="modelled"), 1).kpis
    assert real["registry_cpu_busy_s"] == pytest.approx(modelled["registry_cpu_busy_s"], rel=1e-3)


# -- the KPIs every strategy shares ---------------------------------------------------------------

#: the columns every rollout strategy reports, in the order each reports them (central pulls put
#: central_bound_s, their own bound, before makespan_over_bound)
COMMON = ("strategy", "nodes", "image_bytes", "data_plane", "pull_mean_s", "pull_p50_s", "pull_p90_s", "pull_p99_s",
          "pull_p999_s", "pull_max_s", "makespan_s", "makespan_over_bound", "central_bound_s", "registry_egress_bytes",
          "back_to_source_share", "peer_bytes_share", "registry_cpu_busy_s")


def test_a_central_rollout_reports_pull_p999_s_between_p99_and_max():
    result = simulate(scenario(**{"workload.start": "5s"}), seed=2)
    k, pulls = result.kpis, result.samples["pull_time_s"]
    assert k["pull_p999_s"] == float(np.quantile(pulls, [0.5, 0.9, 0.99, 0.999])[3])
    assert k["pull_p99_s"] <= k["pull_p999_s"] <= k["pull_max_s"]
    names = list(k)
    assert names.index("pull_p99_s") + 1 == names.index("pull_p999_s") == names.index("pull_max_s") - 1


def test_pull_mean_s_is_the_mean_pull_time_not_the_median():
    # a benchmark's "average time" is a mean: one slow pull moves it, not the median
    timing, times = pull_kpis({"a": 0.0, "b": 1.0, "c": 2.0}, {"a": 1.0, "b": 2.0, "c": 9.0})
    assert list(timing) == ["pull_mean_s", "pull_p50_s", "pull_p90_s", "pull_p99_s", "pull_p999_s", "pull_max_s",
                            "makespan_s"]
    assert (timing["pull_mean_s"], timing["pull_p50_s"], timing["pull_max_s"]) == (3.0, 1.0, 7.0)
    assert timing["pull_mean_s"] == float(times.mean())
    assert pull_kpis({}, {})[0]["pull_mean_s"] == 0.0


def test_every_strategy_reports_the_same_common_kpis_in_the_same_order():
    reported = {}
    for strategy in ("central", "proxy-cache", "p2p-swarm", "p2p-scheduler", "node-mirror"):
        k = simulate(scenario(**{"cluster.nodes": 12, "distribution.strategy": strategy}), seed=1).kpis
        assert k["strategy"] == strategy and k["nodes"] == 12
        # central_bound_s is central's own bound, so there it stands before makespan_over_bound
        assert [name for name in k if name in COMMON and name != "central_bound_s"] == \
            [name for name in COMMON if name != "central_bound_s"], strategy
        reported[strategy] = set(k)
    # what they all share is exactly the common set: the rest is each strategy's own
    assert set.intersection(*reported.values()) == set(COMMON)


def test_the_common_kpis_come_from_a_record_of_plain_values():
    record = RolloutRecord(strategy="central", data_plane="modelled", nodes=2, image_bytes=100,
                           starts={"a": 1.0, "b": 2.0}, ends={"a": 3.0, "b": 6.0}, bound_name="central_bound_s",
                           bound_s=4.0, central_bound_s=4.0, registry_egress_bytes=200, delivered_bytes=200,
                           peer_bytes=0, registry_cpu_busy_s=0.5)
    k = rollout_kpis(record, setup={"codec": "rs(4,2)"}, work={"storage_read_bytes": 300})
    assert list(k) == ["strategy", "nodes", "image_bytes", "codec", "data_plane", "pull_mean_s", "pull_p50_s",
                       "pull_p90_s", "pull_p99_s", "pull_p999_s", "pull_max_s", "makespan_s", "central_bound_s",
                       "makespan_over_bound", "registry_egress_bytes", "back_to_source_share", "peer_bytes_share",
                       "registry_cpu_busy_s", "storage_read_bytes"]
    assert (k["pull_mean_s"], k["pull_p50_s"], k["pull_max_s"], k["makespan_s"]) == (3.0, 3.0, 4.0, 5.0)
    assert (k["makespan_over_bound"], k["back_to_source_share"], k["peer_bytes_share"]) == (1.25, 1.0, 0.0)
    assert record.t0 == 1.0
