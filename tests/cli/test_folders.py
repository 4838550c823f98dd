"""``regsim list``, ``regsim report`` and ``regsim compare``."""

from __future__ import annotations

import pytest

from regsim.cli import main


@pytest.fixture
def two_runs(scenario_file, fake_rollout, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["run", str(scenario_file), "--out", str(a), "-j", "1", "-q", "--no-plots"]) == 0
    assert main(["run", str(scenario_file), "--out", str(b), "-j", "1", "-q", "--no-plots",
                 "--set", "registry.egress=20Gbps"]) == 0
    return a, b


def test_list_shows_name_variant_count_and_description(scenario_file, tmp_path, capsys):
    (scenario_file.parent / "broken.yaml").write_text("name: broken\ncluster: {nodes: 0}\n")
    (scenario_file.parent / "sub").mkdir()
    (scenario_file.parent / "sub" / "one.yml").write_text("name: one\n")
    assert main(["list", "--dir", str(scenario_file.parent)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["file", "name", "variants", "description"]
    assert lines[1].startswith("broken.yaml") and "INVALID:" in lines[1] and "cluster.nodes" in lines[1]
    assert lines[2].split()[:4] == ["fake.yaml", "fake", "2", "a"] and lines[2].endswith("a fake sweep")
    assert lines[3].split() == ["sub/one.yml", "one", "1"]


def test_list_without_a_scenarios_folder_exits_2(tmp_path, capsys):
    assert main(["list", "--dir", str(tmp_path / "none")]) == 2
    assert "no such folder of scenarios" in capsys.readouterr().err


def test_report_rebuilds_report_md(two_runs, capsys):
    a, _ = two_runs
    (a / "report.md").unlink()
    assert main(["report", str(a), "--no-plots"]) == 0
    assert capsys.readouterr().out.strip() == str(a / "report.md")
    assert (a / "report.md").read_text().startswith("# fake\n")


def test_report_of_something_else_exits_2(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "not a regsim results folder" in capsys.readouterr().err


def test_compare_prints_what_changed_and_check_fails_on_change(two_runs, capsys):
    a, b = two_runs
    assert main(["compare", str(a), str(a)]) == 0
    assert "0 changed" in capsys.readouterr().out
    assert main(["compare", str(a), str(a), "--check"]) == 0
    capsys.readouterr()
    assert main(["compare", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "p50_pull_s" in out and "(-50%)" in out and "changed" in out.splitlines()[-1]
    assert main(["compare", str(a), str(b), "--check"]) == 1
    capsys.readouterr()
    assert main(["compare", str(a), str(b), "--rtol", "0.6", "--check", "--all"]) == 0
    assert "nodes" in capsys.readouterr().out


def test_compare_with_a_missing_folder_exits_2(two_runs, tmp_path, capsys):
    assert main(["compare", str(two_runs[0]), str(tmp_path / "nope")]) == 2
    assert "no such results folder" in capsys.readouterr().err


def test_compare_warns_when_the_runs_are_of_different_scenarios(two_runs, scenario_file, tmp_path, capsys):
    a, _ = two_runs
    c = tmp_path / "c"
    assert main(["run", str(scenario_file), "--out", str(c), "-j", "1", "-q", "--no-plots", "--set", "name=other"]) == 0
    capsys.readouterr()
    assert main(["compare", str(a), str(c)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"A: {a} (fake)" and lines[1] == f"B: {c} (other)"
    assert lines[2].startswith("warning: A and B are runs of different scenarios ('fake' and 'other')")
