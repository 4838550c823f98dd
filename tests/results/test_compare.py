"""Comparing two runs KPI by KPI."""

from __future__ import annotations

import pytest

from regsim.results import compare, format_comparison, load
from regsim.runner import run_scenario

from .fakes import fake_model, scenario, sweep_scenario


def _run(tmp_path, name, s, model=fake_model):
    return run_scenario(s, out=tmp_path / name, model=model, plots=False).folder


def test_two_runs_of_one_scenario_and_seed_are_the_same(tmp_path):
    table = compare(_run(tmp_path, "a", sweep_scenario()), _run(tmp_path, "b", sweep_scenario()))
    assert list(table.columns) == ["variant", "kpi", "a", "b", "delta", "ratio", "status"]
    assert len(table) == 4 * 6 and set(table["status"]) == {"same"}
    assert format_comparison(table) == "24 KPI values over 4 variants: 24 same, 0 changed, 0 added, 0 removed"


def test_a_changed_kpi_shows_its_delta_and_ratio(tmp_path):
    a = _run(tmp_path, "a", scenario(registry={"egress": "10Gbps"}))
    b = _run(tmp_path, "b", scenario(registry={"egress": "20Gbps"}))
    table = compare(a, b).set_index("kpi")
    assert table.loc["nodes", "status"] == "same" and table.loc["strategy", "status"] == "same"
    row = table.loc["p50_pull_s"]
    assert row["status"] == "changed"
    assert row["ratio"] == pytest.approx(0.5) and row["delta"] == pytest.approx(row["b"] - row["a"])
    text = format_comparison(compare(a, b), names=("10G", "20G"))
    assert text.splitlines()[0].split() == ["variant", "kpi", "10G", "20G", "change"]
    assert "(-50%)" in text and "nodes" not in text.split("\n", 2)[2]


def test_tolerance_counts_small_differences_as_the_same(tmp_path):
    a = _run(tmp_path, "a", scenario(registry={"egress": "10Gbps"}))
    b = _run(tmp_path, "b", scenario(registry={"egress": "10.1Gbps"}))
    assert "changed" in set(compare(a, b)["status"])
    assert set(compare(a, b, rtol=0.02)["status"]) == {"same"}
    with pytest.raises(ValueError, match="cannot be negative"):
        compare(a, b, rtol=-1)


def test_variants_pair_by_swept_values_not_position(tmp_path):
    a = _run(tmp_path, "a", scenario(sweep={"cluster.nodes": [10, 20]}))
    b = _run(tmp_path, "b", scenario(sweep={"cluster.nodes": [5, 10, 20]}))
    table = compare(load(a), load(b))
    assert set(table.loc[table["variant"] != "cluster.nodes=5", "status"]) == {"same"}
    assert set(table.loc[table["variant"] == "cluster.nodes=5", "status"]) == {"added"}


def test_a_variant_that_fails_in_b_has_its_kpis_removed(tmp_path, failed_run_dir):
    s = scenario(registry={"storage": {"nodes": 3}},
                 sweep={"cluster.nodes": [10, 13], "registry.storage.codec": ["replicate(3)", "rs(4,2)"]})
    ok = _run(tmp_path, "ok", s, model=fake_model)
    table = compare(ok, failed_run_dir)
    failed = table[table["variant"] == "cluster.nodes=13, registry.storage.codec=replicate(3)"]
    assert set(failed["status"]) == {"removed"} and failed["b"].isna().all()
    assert "0 added" in format_comparison(table)


def test_runs_of_different_scenarios_are_compared_with_a_warning(tmp_path):
    a = _run(tmp_path, "a", sweep_scenario())
    b = _run(tmp_path, "b", scenario(name="other-rollout", sweep={"cluster.nodes": [10, 20, 40]}))
    table = compare(a, b)
    warnings = table.attrs["warnings"]
    assert len(warnings) == 2
    assert "different scenarios ('fake-rollout' and 'other-rollout')" in warnings[0]
    assert "A sweeps cluster.nodes, distribution.strategy and B sweeps cluster.nodes" in warnings[1]
    text = format_comparison(table)
    assert text.startswith("warning: A and B are runs of different scenarios") and "\nwarning: A sweeps" in text


def test_runs_of_one_scenario_compare_without_warnings(tmp_path):
    a = _run(tmp_path, "a", scenario(registry={"egress": "10Gbps"}))
    b = _run(tmp_path, "b", scenario(registry={"egress": "20Gbps"}))
    assert compare(a, b).attrs["warnings"] == [] and "warning" not in format_comparison(compare(a, b))
