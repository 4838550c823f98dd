"""Plots and report.md, made from a results folder's files alone."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from regsim.results import load, render
from regsim.results.plotting.folder import plot_all, plot_kpis, slug
from regsim.results.report import fmt, markdown_table

PNG = b"\x89PNG\r\n\x1a\n"


def test_plots_cover_samples_varying_kpis_against_one_key_and_series(run_dir):
    names = {p.name for p in (run_dir / "plots").iterdir()}
    # "nodes" restates cluster.nodes, "third" is constant, "strategy" is text: none is plotted; the
    # others depend on both keys and are drawn once, against the numeric one, a line per strategy
    expected = {"cdf_pull_time_s.png", "series_active_pulls.png", "series_egress_bytes_s.png"}
    expected |= {f"kpi_{k}__cluster.nodes.png" for k in ("p50_pull_s", "p99_pull_s", "max_pull_s")}
    assert names == expected
    assert all((run_dir / "plots" / n).read_bytes().startswith(PNG) for n in names)


def test_report_has_the_description_tables_notes_and_plot_links(run_dir):
    text = (run_dir / "report.md").read_text()
    assert text.startswith("# fake-rollout\n\nA made-up rollout for tests.\n")
    assert "| variant | cluster.nodes | distribution.strategy | seed | status |" in text
    assert "| v003 | 20 | p2p-swarm |" in text
    assert "| variant | nodes | p50_pull_s | p99_pull_s | max_pull_s | strategy |\n" in text
    assert "| v000 | 10 | " in text
    assert "| KPI | value | variants |\n|---|---|---|\n| third | 0.333333 | all |" in text  # constants: once
    assert "- `nodes` is 1 x `cluster.nodes`: not plotted." in text
    assert "- pull times are made up\n" in text  # shared by every variant: said once
    assert "- v002: 20 nodes share 1.25e+09 B/s of egress" in text
    assert "![cdf_pull_time_s](plots/cdf_pull_time_s.png)" in text
    assert "![kpi_p50_pull_s__cluster.nodes](plots/kpi_p50_pull_s__cluster.nodes.png)" in text
    assert "## Errors" not in text


def test_report_lists_failed_variants_with_their_errors(failed_run_dir):
    text = (failed_run_dir / "report.md").read_text()
    assert "| status | failed (3 of 4 variants failed) |" in text
    assert "| v002 | 13 | replicate(3) |" in text and "| failed |" in text
    assert "### v002 (cluster.nodes=13, registry.storage.codec=replicate(3))" in text
    assert "RuntimeError: the fake model cannot simulate 13 nodes" in text
    assert "needs at least 6 storage nodes" in text
    assert "## Plots" not in text  # the run was made without plots


@pytest.mark.slow
def test_render_rebuilds_everything_from_the_folder(run_dir):
    shutil.rmtree(run_dir / "plots")
    (run_dir / "report.md").unlink()
    path = render(run_dir)
    assert path == run_dir / "report.md" and "## Plots" in path.read_text()
    assert (run_dir / "plots" / "cdf_pull_time_s.png").is_file()
    assert render(run_dir, plots=False).read_text() == path.read_text()  # links the plots already there


def test_kpi_plots_skip_failed_variants_and_text_kpis(tmp_path):
    summary = pd.DataFrame({"variant": ["v000", "v001", "v002"], "k": ["a", "b", "c"], "x": [1.0, None, 3.0],
                            "label": ["p", "q", "r"], "error": [None, "E: boom", None]})
    paths = plot_kpis(summary, ["k"], ["x", "label"], tmp_path)
    assert [p.name for p in paths] == ["kpi_x__k.png"]


def test_rendering_again_removes_plots_it_no_longer_draws(run_dir):
    stale = run_dir / "plots" / "kpi_third__cluster.nodes.png"
    stale.write_bytes(PNG)
    (run_dir / "plots" / "mine.png").write_bytes(PNG)
    made = plot_all(load(run_dir))
    assert not stale.exists() and (run_dir / "plots" / "mine.png").exists() and len(made) == 6


def test_the_report_names_the_bound_each_ratio_divides_by(run_dir):
    summary = pd.read_csv(run_dir / "summary.csv")
    makespan = summary["max_pull_s"]
    central = summary["distribution.strategy"] == "central"
    summary["makespan_s"] = makespan
    summary["central_bound_s"] = makespan.where(central, makespan * 2)
    summary["kumar_ross_bound_s"] = (makespan / 4).where(~central)
    summary["makespan_over_bound"] = (makespan / summary["central_bound_s"]).where(central, 4.0)
    summary.to_csv(run_dir / "summary.csv", index=False)
    (run_dir / "summary.parquet").unlink()
    meta = json.loads((run_dir / "meta.json").read_text())
    meta["kpis"] += ["makespan_s", "central_bound_s", "kumar_ross_bound_s", "makespan_over_bound"]
    (run_dir / "meta.json").write_text(json.dumps(meta))
    text = render(run_dir, plots=False).read_text()
    assert ("- `makespan_over_bound` divides by a different bound per variant: the central bound N·F/u_s for "
            "strategy=central; the Kumar-Ross bound for strategy=p2p-swarm.") in text


@pytest.mark.parametrize("value, text", [(None, ""), (float("nan"), ""), (3.0, "3"), (0.1234567, "0.123457"),
                                         (True, "yes"), ("a|b", "a|b"), (12, "12")])
def test_fmt(value, text):
    assert fmt(value) == text


def test_markdown_table_escapes_pipes():
    assert markdown_table(["a", "b"], [["x|y", 1.5]]) == "| a | b |\n|---|---|\n| x\\|y | 1.5 |"


def test_slug_makes_file_names():
    assert slug("p99 pull/s") == "p99_pull_s" and slug("///") == "unnamed"


def test_the_loaded_summary_matches_the_report_numbers(run_dir):
    r = load(run_dir)
    text = (run_dir / "report.md").read_text()
    assert f"| {fmt(float(r.summary.loc[1, 'p50_pull_s']))} |" in text
