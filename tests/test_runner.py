"""The model registry, variant execution, executors and run_scenario, on fake models only."""

from __future__ import annotations

import dataclasses
import json

import pytest

from regsim import models
from regsim.models import ModelError, VariantResult
from regsim.models.rollout.config import RolloutConfig
from regsim.results import load
from regsim.runner import (DaskExecutor, ExecutorError, LocalExecutor, NullReporter, execute_variant, make_executor,
                           plan, run_scenario)
from regsim.runner.variant import VariantTask
from regsim.scenario import scenario_from_dict
from tests.results.fakes import FAILING_NODES, fake_model, flaky_model, scenario, slow_model, sweep_scenario


class Recorder(NullReporter):
    """Remembers every progress event, in order."""

    wants_progress = True

    def __init__(self):
        self.events = []

    def start(self, title, total):
        self.events.append(("start", title, total))

    def begin(self, variant, label):
        self.events.append(("begin", variant))

    def advance(self, variant, fraction):
        self.events.append(("advance", variant, fraction))

    def end(self, variant, ok):
        self.events.append(("end", variant, ok))

    def of(self, kind):
        return [e for e in self.events if e[0] == kind]


def _csv(folder):
    return (folder / "summary.csv").read_bytes()


# -- the model registry ---------------------------------------------------------------------------

def _with_rollout_model(monkeypatch, fn):
    """Put ``fn(config, seed, progress)`` in place of the rollout family's simulate function."""
    spec = next(s for s in models.specs() if s.family == "rollout")
    monkeypatch.setitem(models._SPECS, "rollout", dataclasses.replace(spec, simulate=fn))


def test_simulate_runs_the_family_registered_for_the_workload_kind_on_its_typed_config(monkeypatch):
    seen = []

    def fake(config, seed, progress):
        seen.append(config)
        return fake_model(config, seed, progress)

    _with_rollout_model(monkeypatch, fake)
    result = models.simulate(scenario(), 5)
    assert models.model_name(scenario()) == "rollout" and models.strategy_model(scenario()) == "rollout/central"
    assert result.kpis["nodes"] == 20 and len(result.samples["pull_time_s"]) == 20
    # the model gets its family's config, made of the sections it reads, not the whole scenario
    assert isinstance(seen[0], RolloutConfig) and not hasattr(seen[0], "failures")
    assert seen[0].cluster == scenario().cluster and seen[0].workload == scenario().workload
    assert models.simulate(scenario(), 5).kpis == result.kpis  # same seed, same numbers
    assert models.simulate(scenario(), 6).kpis["p50_pull_s"] != result.kpis["p50_pull_s"]


def test_every_workload_kind_and_strategy_has_one_family():
    names = [name for spec in models.specs() for name in spec.model_names()]
    assert sorted(names) == sorted(["rollout/central", "rollout/proxy-cache", "rollout/p2p-swarm",
                                    "rollout/p2p-scheduler", "rollout/node-mirror", "startup/central",
                                    "startup/p2p-scheduler", "poisson", "closed", "trace", "replication"])
    assert len(names) == len(set(names))


def test_a_missing_family_is_a_model_error_listing_the_known_kinds(monkeypatch):
    sc = scenario(workload={"kind": "poisson"})
    monkeypatch.delitem(models._SPECS, "requests")
    with pytest.raises(ModelError, match=r"workload kind 'poisson'.*known kinds: rollout, startup, trace"):
        models.simulate(sc, 1)


def test_register_refuses_a_second_family_for_a_name_or_a_workload_kind(monkeypatch):
    spec = next(s for s in models.specs() if s.family == "trace")
    assert models.register(spec) is spec  # the same spec again is harmless
    with pytest.raises(ValueError, match="already registered"):
        models.register(dataclasses.replace(spec, ignores=()))
    with pytest.raises(ValueError, match="claims workload kind.*trace.*already simulated by family 'trace'"):
        models.register(dataclasses.replace(spec, family="trace2"))
    with pytest.raises(ValueError, match="must have a field kind defaulting to 'replay'"):
        dataclasses.replace(spec, family="replay", workloads={"replay": spec.workloads["trace"]})


def test_a_model_returning_something_else_fails_with_its_name(monkeypatch):
    _with_rollout_model(monkeypatch, lambda config, seed, p: {"p50": 1})
    with pytest.raises(TypeError, match="returned dict, expected a VariantResult"):
        models.simulate(scenario(), 1)


# -- one variant ----------------------------------------------------------------------------------

def test_execute_variant_records_a_raising_model_with_its_traceback():
    bad = scenario(cluster={"nodes": FAILING_NODES})
    outcome = execute_variant(VariantTask("v007", {"cluster.nodes": FAILING_NODES}, 1, bad, "rollout", flaky_model))
    assert not outcome.ok and outcome.result is None
    assert outcome.error == f"RuntimeError: the fake model cannot simulate {FAILING_NODES} nodes"
    assert "Traceback" in outcome.traceback and "flaky_model" in outcome.traceback
    assert outcome.values == {"cluster.nodes": FAILING_NODES} and outcome.model == "rollout"


def test_plan_gives_each_variant_its_seed_and_keeps_invalid_combinations_with_their_error():
    s = scenario(registry={"storage": {"nodes": 3}}, sweep={"registry.storage.codec": ["replicate(3)", "rs(4,2)"]})
    tasks = plan(s, fake_model)
    assert [t.id for t in tasks] == ["v000", "v001"]
    assert tasks[0].error is None and tasks[0].model is fake_model and tasks[0].scenario.seed == tasks[0].seed
    assert tasks[1].scenario is None and "needs at least 6 storage nodes" in tasks[1].error
    assert tasks[0].seed != tasks[1].seed != s.seed


# -- run_scenario ---------------------------------------------------------------------------------

def test_a_run_is_deterministic_byte_for_byte(tmp_path):
    a = run_scenario(sweep_scenario(), out=tmp_path / "a", model=fake_model, plots=False)
    b = run_scenario(sweep_scenario(), out=tmp_path / "b", model=fake_model, plots=False)
    assert a.ok and len(a.outcomes) == 4
    assert _csv(a.folder) == _csv(b.folder)
    assert _csv(a.folder) != _csv(run_scenario(sweep_scenario(seed=8), out=tmp_path / "c", model=fake_model,
                                               plots=False).folder)


def test_failed_variants_are_recorded_and_the_others_finish(tmp_path):
    s = scenario(registry={"storage": {"nodes": 3}},
                 sweep={"cluster.nodes": [10, FAILING_NODES], "registry.storage.codec": ["replicate(3)", "rs(4,2)"]})
    run = run_scenario(s, out=tmp_path / "r", model=flaky_model, plots=False)
    assert not run.ok
    assert [o.ok for o in run.outcomes] == [True, False, False, False]
    summary = load(run.folder).summary
    assert list(summary["variant"]) == ["v000", "v001", "v002", "v003"]
    assert summary.loc[0, "p50_pull_s"] > 0 and summary["p50_pull_s"].isna().tolist() == [False, True, True, True]
    assert "RuntimeError: the fake model cannot simulate 13 nodes" == summary.loc[2, "error"]
    assert "needs at least 6 storage nodes" in summary.loc[1, "error"]
    meta = json.loads((run.folder / "meta.json").read_text())
    assert meta["status"] == "failed" and meta["variants_failed"] == 3 and meta["variants_ok"] == 1
    assert {e["variant"] for e in meta["errors"]} == {"v001", "v002", "v003"}
    assert "Traceback" in next(e for e in meta["errors"] if e["variant"] == "v002")["traceback"]


def test_in_process_runs_report_the_models_progress(tmp_path):
    rec = Recorder()
    run_scenario(scenario(sweep={"cluster.nodes": [10, 20]}), out=tmp_path / "r", model=slow_model, reporter=rec,
                 plots=False)
    assert rec.events[0] == ("start", "fake-rollout: 2 variants", 2)
    assert [e[1] for e in rec.of("begin")] == ["v000", "v001"]
    fractions = [e[2] for e in rec.of("advance") if e[1] == "v000"]
    assert len(fractions) == 30 and fractions == sorted(fractions) and fractions[-1] == 1.0
    assert rec.of("end") == [("end", "v000", True), ("end", "v001", True)]


@pytest.mark.slow
def test_worker_processes_give_the_same_results_and_send_progress(tmp_path):
    one = run_scenario(sweep_scenario(), out=tmp_path / "one", model=slow_model, plots=False)
    rec = Recorder()
    two = run_scenario(sweep_scenario(), out=tmp_path / "two", model=slow_model, jobs=2, reporter=rec, plots=False)
    assert _csv(one.folder) == _csv(two.folder)
    assert sorted(e[1] for e in rec.of("end")) == ["v000", "v001", "v002", "v003"]
    assert rec.of("advance"), "no progress came back from the worker processes"
    assert json.loads((two.folder / "meta.json").read_text())["executor"] == {"kind": "processes", "jobs": 2}


def test_a_model_that_cannot_reach_a_worker_fails_its_variants_with_a_hint(tmp_path):
    run = run_scenario(scenario(sweep={"cluster.nodes": [10, 20]}), out=tmp_path / "r",
                       model=lambda s, seed, p: fake_model(s, seed, p), jobs=2, plots=False)
    assert not run.ok and all("run with --jobs 1" in o.error for o in run.outcomes)


def test_an_interrupted_run_says_so_in_its_meta(tmp_path):
    def interrupted(s, seed, progress):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_scenario(scenario(), out=tmp_path / "r", model=interrupted)
    meta = json.loads((tmp_path / "r" / "meta.json").read_text())
    assert meta["status"] == "interrupted" and meta["unfinished"] == ["v000"]
    assert meta["errors"][0]["error"] == "interrupted (Ctrl-C); unfinished variants: v000"
    assert (tmp_path / "r" / "scenario.yaml").is_file()


def test_a_scenario_without_a_model_is_refused_before_anything_is_written(tmp_path, monkeypatch):
    models.specs()
    monkeypatch.delitem(models._SPECS, "trace")
    trace = tmp_path / "trace.csv"
    trace.write_text("t\n")
    with pytest.raises(ModelError, match="'trace'"):
        run_scenario(scenario(workload={"kind": "trace", "path": str(trace)}, image={}), out=tmp_path / "r")
    assert not (tmp_path / "r").exists()


# -- executors ------------------------------------------------------------------------------------

def test_executor_choice_follows_jobs_and_dask():
    assert make_executor(1).describe() == {"kind": "in-process", "jobs": 1}
    assert make_executor(3).describe() == {"kind": "processes", "jobs": 3}
    assert isinstance(make_executor(None), LocalExecutor)
    with pytest.raises(ExecutorError, match="--jobs must be a whole number >= 1"):
        make_executor(0)


def test_dask_executor_on_a_scheduler_address_matches_in_process(tmp_path):
    distributed = pytest.importorskip("distributed")
    local = run_scenario(sweep_scenario(), out=tmp_path / "local", model=fake_model, plots=False)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster:
        rec = Recorder()
        run = run_scenario(sweep_scenario(), out=tmp_path / "dask", model=flaky_model, dask=cluster.scheduler_address,
                           reporter=rec, plots=False)
    assert run.ok and _csv(run.folder) == _csv(local.folder)
    assert sorted(e[1] for e in rec.of("end")) == ["v000", "v001", "v002", "v003"]
    meta = json.loads((run.folder / "meta.json").read_text())
    assert meta["executor"] == {"kind": "dask", "address": cluster.scheduler_address}


def test_dask_local_cluster_records_failures_like_the_local_executor(tmp_path):
    pytest.importorskip("distributed")
    s = scenario(sweep={"cluster.nodes": [10, FAILING_NODES]})
    run = run_scenario(s, out=tmp_path / "r", model=flaky_model, executor=DaskExecutor("local", 1, processes=False),
                       plots=False)
    assert [o.ok for o in run.outcomes] == [True, False]
    assert run.outcomes[1].error == f"RuntimeError: the fake model cannot simulate {FAILING_NODES} nodes"


def test_an_unreachable_dask_scheduler_is_an_executor_error(tmp_path):
    pytest.importorskip("distributed")
    with pytest.raises(ExecutorError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        DaskExecutor("tcp://127.0.0.1:9", connect_timeout=0.5)._connect()


def test_variant_result_checks_its_fields():
    with pytest.raises(ValueError, match="reserved"):
        VariantResult(kpis={"error": 1})
    with pytest.raises(TypeError, match="KPI 'x' must be a number or a string"):
        VariantResult(kpis={"x": [1]})
    with pytest.raises(ValueError, match="series lacks column"):
        import pandas as pd
        VariantResult(kpis={}, series=pd.DataFrame({"time_s": [0.0]}))


def test_rich_progress_counts_variants_and_failures(tmp_path):
    import io

    from rich.console import Console

    from regsim.runner import RichReporter

    buffer = io.StringIO()
    reporter = RichReporter(Console(file=buffer, width=120, force_terminal=False))
    s = scenario(sweep={"cluster.nodes": [10, FAILING_NODES]})
    run_scenario(s, out=tmp_path / "r", model=flaky_model, reporter=reporter, plots=False)
    text = buffer.getvalue()
    assert "fake-rollout: 2 variants (1 failed)" in text and "2/2" in text
    assert not reporter.tasks  # every variant's bar was removed when it ended


def test_a_sweep_over_a_setting_a_model_echoes_as_a_kpi_writes_one_column(tmp_path):
    # rollouts report `data_plane` as a KPI; sweeping it must not clash with the swept column
    doc = {"name": "planes", "cluster": {"nodes": 4}, "image": {"layers": ["1MB"]},
           "sweep": {"data_plane": ["real", "modelled"]}}
    run = run_scenario(scenario_from_dict(doc), out=tmp_path / "run", jobs=1, plots=False)
    assert run.ok
    summary = load(tmp_path / "run").summary
    assert list(summary["data_plane"]) == ["real", "modelled"]
    assert list(summary.columns).count("data_plane") == 1
