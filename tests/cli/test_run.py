"""``regsim run`` and ``regsim validate``: thin layers with exit codes 0, 1 and 2."""

from __future__ import annotations

import json

import pytest

from regsim.cli import main
from regsim.results import load
from tests.results.fakes import FAILING_NODES, flaky_model, use_model


def test_run_writes_a_results_folder_and_exits_0(scenario_file, fake_rollout, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(scenario_file), "--out", str(out), "--jobs", "1", "--no-plots"]) == 0
    stdout = capsys.readouterr().out
    assert "2 variants: 2 ok, 0 failed" in stdout and f"results: {out}" in stdout
    r = load(out)
    assert r.summary["cluster.nodes"].tolist() == [10, 20] and r.meta["seed"] == 3


def test_run_applies_overrides_and_defaults_to_results_name_run_id(scenario_file, fake_rollout, tmp_path, capsys):
    root = tmp_path / "results"
    code = main(["run", str(scenario_file), "--results", str(root), "--set", "sweep.cluster.nodes=[5]",
                 "--set", "seed=11", "--jobs", "1", "--quiet", "--no-plots", "--run-id", "mine"])
    assert code == 0
    assert capsys.readouterr().out.strip() == str(root / "fake" / "mine")
    r = load(root / "fake" / "mine")
    assert r.summary["nodes"].tolist() == [5] and r.scenario["seed"] == 11


def test_two_cli_runs_give_byte_identical_summaries(scenario_file, fake_rollout, tmp_path):
    for name in ("a", "b"):
        assert main(["run", str(scenario_file), "--out", str(tmp_path / name), "-j", "1", "-q", "--no-plots"]) == 0
    assert (tmp_path / "a" / "summary.csv").read_bytes() == (tmp_path / "b" / "summary.csv").read_bytes()


def test_run_exits_1_when_a_variant_fails_and_keeps_the_others(scenario_file, monkeypatch, tmp_path, capsys):
    use_model(monkeypatch, flaky_model)
    out = tmp_path / "out"
    code = main(["run", str(scenario_file), "--out", str(out), "-j", "1", "--no-plots",
                 "--set", f"sweep.cluster.nodes=[10,{FAILING_NODES}]"])
    assert code == 1
    stdout = capsys.readouterr().out
    assert "1 ok, 1 failed" in stdout
    assert f"v001 (cluster.nodes={FAILING_NODES}) failed: RuntimeError: the fake model cannot simulate" in stdout
    assert json.loads((out / "meta.json").read_text())["status"] == "failed"


@pytest.mark.parametrize("argv, message", [
    (["--set", "cluster.nodez=3"], "cannot --set cluster.nodez"),
    (["--jobs", "0"], "--jobs must be a whole number >= 1"),
    (["--run-id", "a/b"], "run id 'a/b'"),
])
def test_bad_input_exits_2_with_one_clear_message(scenario_file, fake_rollout, tmp_path, capsys, argv, message):
    assert main(["run", str(scenario_file), "--out", str(tmp_path / "o"), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("regsim run: ") and message in err and "Traceback" not in err


def test_a_missing_scenario_or_model_exits_2(tmp_path, monkeypatch, capsys):
    assert main(["run", str(tmp_path / "nope.yaml")]) == 2
    assert "cannot read the scenario" in capsys.readouterr().err
    from regsim import models

    models.specs()
    monkeypatch.delitem(models._SPECS, "requests")
    path = tmp_path / "p.yaml"
    path.write_text("name: p\nworkload: {kind: poisson}\n")
    assert main(["run", str(path), "--out", str(tmp_path / "o")]) == 2
    assert "no model simulates workload kind 'poisson'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_run_refuses_an_existing_folder(scenario_file, fake_rollout, tmp_path, capsys):
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "keep").write_text("x")
    assert main(["run", str(scenario_file), "--out", str(tmp_path / "o"), "-j", "1"]) == 2
    assert "already exists" in capsys.readouterr().err


def test_validate_reports_variants_and_model(scenario_file, fake_rollout, capsys):
    assert main(["validate", str(scenario_file)]) == 0
    assert capsys.readouterr().out == f"{scenario_file}: ok: scenario 'fake', 2 variants, model rollout\n"
    assert main(["validate", str(scenario_file), "--resolved", "--set", "cluster.racks=2"]) == 0
    out = capsys.readouterr().out
    assert "racks: 2" in out and "sweep:" in out


def test_validate_exits_2_for_invalid_variants(scenario_file, fake_rollout, capsys):
    code = main(["validate", str(scenario_file), "--set", "registry.storage.nodes=3",
                 "--set", "sweep.registry.storage.codec=[replicate(3), 'rs(4,2)']"])
    assert code == 2
    err = capsys.readouterr().err
    assert "2 of 4 variants are invalid" in err and "v001 (cluster.nodes=10, registry.storage.codec=rs(4,2))" in err


def test_validate_exits_2_for_a_bad_scenario(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\ncluster: {nodes: -1}\n")
    assert main(["validate", str(path)]) == 2
    assert "cluster.nodes" in capsys.readouterr().err


def test_run_on_a_dask_scheduler(scenario_file, fake_rollout, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        code = main(["run", str(scenario_file), "--out", str(tmp_path / "d"), "--dask", cluster.scheduler_address,
                     "-q", "--no-plots"])
    assert code == 0
    assert main(["run", str(scenario_file), "--out", str(tmp_path / "l"), "-j", "1", "-q", "--no-plots"]) == 0
    assert (tmp_path / "d" / "summary.csv").read_bytes() == (tmp_path / "l" / "summary.csv").read_bytes()
    assert json.loads((tmp_path / "d" / "meta.json").read_text())["executor"]["kind"] == "dask"
