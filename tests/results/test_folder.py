"""The results folder: layout, run ids, meta.json, self-containment, and reading it back."""

from __future__ import annotations

import csv
import json
import re
import shutil
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

import regsim.sim

from regsim.results import SCHEMA_VERSION, ResultsError, ResultsWriter, find_run, load, run_id_for
from regsim.runner import run_scenario
from regsim.scenario import load_scenario

from .fakes import fake_model, scenario, sweep_scenario

FILES = {"scenario.yaml", "summary.csv", "summary.parquet", "series.parquet", "samples.parquet", "alerts.parquet",
         "alerts.csv", "meta.json", "report.md", "plots"}


def test_a_run_folder_holds_every_file(run_dir):
    assert {p.name for p in run_dir.iterdir()} == FILES
    assert (run_dir / "plots" / "cdf_pull_time_s.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_default_folder_is_results_name_run_id(tmp_path):
    run = run_scenario(scenario(), root=tmp_path / "results", model=fake_model, plots=False)
    assert run.folder.parent == tmp_path / "results" / "fake-rollout"
    assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{8}", run.run_id) and run.folder.name == run.run_id


def test_run_id_is_time_and_a_hash_of_the_resolved_scenario():
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    a = run_id_for(scenario(), moment)
    assert a.startswith("20260102T030405Z-")
    assert a == run_id_for(scenario(), moment)
    assert a != run_id_for(scenario(seed=8), moment)


def test_a_folder_in_use_or_a_bad_run_id_is_refused(tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("keep me")
    with pytest.raises(ResultsError, match="already exists and is not an empty folder"):
        ResultsWriter.create(scenario(), out=tmp_path / "busy")
    with pytest.raises(ResultsError, match="run id '../x'"):
        ResultsWriter.create(scenario(), root=tmp_path, run_id="../x")
    assert (tmp_path / "busy" / "x").read_text() == "keep me"
    (tmp_path / "empty").mkdir()
    assert ResultsWriter.create(scenario(), out=tmp_path / "empty").folder == tmp_path / "empty"


def test_meta_says_what_ran_where_and_how_it_went(run_dir):
    meta = json.loads((run_dir / "meta.json").read_text())
    assert meta["schema_version"] == SCHEMA_VERSION and meta["regsim_version"]
    assert meta["status"] == "ok" and meta["seed"] == 7 and meta["profile"] == "reference"
    assert meta["swept"] == ["cluster.nodes", "distribution.strategy"]
    assert meta["kpis"] == ["nodes", "p50_pull_s", "p99_pull_s", "max_pull_s", "strategy", "third"]
    assert meta["machine"]["cpu_count"] >= 1 and meta["machine"]["python"]
    assert meta["wall_s"] >= 0 and meta["events"] == 10 * (10 + 10 + 20 + 20) and meta["errors"] == []
    assert [v["id"] for v in meta["variants"]] == ["v000", "v001", "v002", "v003"]
    assert meta["variants"][2]["values"] == {"cluster.nodes": 20, "distribution.strategy": "central"}
    assert "pull times are made up" in meta["variants"][0]["notes"]


def test_summary_csv_has_no_wall_clock_values(tmp_path):
    first = run_scenario(sweep_scenario(), out=tmp_path / "a", model=fake_model, plots=False)
    (tmp_path / "b").mkdir()
    second = run_scenario(sweep_scenario(), out=tmp_path / "b", model=fake_model, jobs=1, plots=False,
                          run_id="other")
    assert (first.folder / "summary.csv").read_bytes() == (second.folder / "summary.csv").read_bytes()
    assert json.loads((first.folder / "meta.json").read_text())["run_id"] != "other"


def test_a_run_is_reproducible_from_its_folder_alone(tmp_path):
    profile = tmp_path / "elsewhere" / "my-profile.json"
    profile.parent.mkdir()
    shutil.copy(Path(regsim.sim.__file__).parent / "profiles" / "reference.json", profile)
    first = run_scenario(sweep_scenario(profile=str(profile)), out=tmp_path / "first", model=fake_model, plots=False)
    assert (first.folder / "inputs" / "profile" / "my-profile.json").is_file()
    profile.unlink()  # the original input is gone: the folder must suffice
    again = load_scenario(first.folder / "scenario.yaml")
    assert again.profile == str((first.folder / "inputs" / "profile" / "my-profile.json").resolve())
    second = run_scenario(again, out=tmp_path / "second", model=fake_model, plots=False)
    assert (first.folder / "summary.csv").read_bytes() == (second.folder / "summary.csv").read_bytes()


def test_load_reads_every_table_back(run_dir):
    r = load(run_dir)
    assert list(r.summary.columns) == ["variant", "cluster.nodes", "distribution.strategy", "nodes", "p50_pull_s",
                                       "p99_pull_s", "max_pull_s", "strategy", "third", "error"]
    assert r.summary["cluster.nodes"].tolist() == [10, 10, 20, 20] and r.summary["error"].isna().all()
    assert r.swept == ["cluster.nodes", "distribution.strategy"] and r.kpis[0] == "nodes"
    assert set(r.series["metric"]) == {"active_pulls", "egress_bytes_s"}
    assert set(r.series.loc[r.series["metric"] == "egress_bytes_s", "frontend"]) == {"fe0", "fe1"}
    pulls = r.samples[(r.samples["sample"] == "pull_time_s") & (r.samples["variant"] == "v002")]["value"]
    assert len(pulls) == 20 and np.all(pulls > 0)
    assert r.alerts["rule"].tolist() == ["slow-pull"] * 4
    with open(r.path / "alerts.csv", newline="") as f:  # the same rows as text, floats exact
        rows = list(csv.DictReader(f))
    assert [row["rule"] for row in rows] == ["slow-pull"] * 4
    assert [float(row["time_s"]) for row in rows] == r.alerts["time_s"].tolist()
    assert r.scenario["name"] == "fake-rollout" and r.scenario["sweep"]["cluster.nodes"] == [10, 20]
    assert r.load_scenario().cluster.nodes == 20
    assert r.notes["v000"][1] == "pull times are made up"


def test_load_of_a_scenario_folder_picks_its_latest_run(tmp_path):
    root = tmp_path / "results"
    old = run_scenario(scenario(), root=root, run_id="a-old", model=fake_model, plots=False)
    new = run_scenario(scenario(), root=root, run_id="b-new", model=fake_model, plots=False)
    meta = json.loads((old.folder / "meta.json").read_text())
    meta["started"] = "2000-01-01T00:00:00Z"
    (old.folder / "meta.json").write_text(json.dumps(meta))
    assert find_run(root / "fake-rollout") == new.folder
    assert load(root / "fake-rollout").run_id == "b-new"


def test_load_refuses_what_is_not_a_results_folder(tmp_path):
    with pytest.raises(ResultsError, match="no such results folder"):
        load(tmp_path / "nope")
    with pytest.raises(ResultsError, match="not a regsim results folder"):
        load(tmp_path)


def test_load_refuses_a_newer_schema(run_dir):
    meta = json.loads((run_dir / "meta.json").read_text())
    meta["schema_version"] = SCHEMA_VERSION + 1
    (run_dir / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ResultsError, match="newer than this regsim understands"):
        load(run_dir)
