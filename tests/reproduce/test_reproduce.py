"""``regsim reproduce``: published cases, their bands and verdicts, the record behind docs/validation.md.

The cases here are ten or twenty nodes pulling one 100 MB layer from a 1 Gbit/s registry, whose
makespan has the closed form N F / u_s (8 s for 10 nodes), so a "published" figure can be set to
pass or to miss on purpose.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from regsim.cli import main
from regsim.reproduce import (ReproduceError, Verdict, load_cases, read_record, record_of, reproduce, stale_rows,
                              validation_page, write_record)
from regsim.scenario import ScenarioError, load_scenario

CASE = """\
name: {name}
description: nodes pull 100 MB through a 1 Gbit/s registry.
cluster: {{nodes: 10}}
registry: {{egress: 1Gbps}}
image: {{layers: [100MB]}}
workload: {{kind: rollout, start: all}}
distribution: {{strategy: central}}
network: {{model: maxmin}}
sweep:
  cluster.nodes: [10, 20]
expect:
  source: {{title: "A closed form", where: "N F / u_s", figure: "the client-server bound"}}
  from_source: {{cluster.nodes: "10 and 20 nodes"}}
  assumed: {{registry.frontends: "the default"}}
  metrics:
{metrics}
"""

PASS10 = "    - {name: ten, kpi: makespan_s, variant: {cluster.nodes: 10}, published: 8, unit: s, tolerance: 5%, why: exact}"
PASS20 = ("    - {name: twenty, kpi: makespan_s, variant: {cluster.nodes: 20}, published: 16, unit: s, factor: 1.1, "
          "why: exact, quick: false}")
MISS20 = "    - {name: twenty, kpi: makespan_s, variant: {cluster.nodes: 20}, published: 10, tolerance: 10%, why: wrong}"


def write_case(folder: Path, *metrics: str, name: str = "tiny") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(CASE.format(name=name, metrics="\n".join(metrics)), encoding="utf-8")
    return path


def test_a_case_compares_each_metric_with_its_variant(tmp_path):
    write_case(tmp_path / "pub", PASS10, PASS20)
    report = reproduce(load_cases(tmp_path / "pub"), root=tmp_path / "out", jobs=1)
    ten, twenty = report.rows
    assert ten.simulated == pytest.approx(8.0, rel=1e-3) and ten.verdict is Verdict.OK
    assert twenty.simulated == pytest.approx(16.0, rel=1e-3) and twenty.verdict is Verdict.OK
    assert not report.failed


def test_quick_runs_only_the_variants_of_quick_metrics(tmp_path):
    write_case(tmp_path / "pub", PASS10, PASS20)
    report = reproduce(load_cases(tmp_path / "pub"), quick=True, root=tmp_path / "out", jobs=1)
    assert [r.metric.name for r in report.rows] == ["ten"]
    summary = (report.runs[0].folder / "summary.csv").read_text().splitlines()
    assert len(summary) == 2  # the header and the one variant that ran


def test_a_miss_fails_and_a_known_miss_does_not(tmp_path, capsys):
    write_case(tmp_path / "pub", PASS10, MISS20)
    assert main(["reproduce", "--dir", str(tmp_path / "pub"), "--out", str(tmp_path / "o"), "--quiet", "--jobs", "1"]) == 1
    out = capsys.readouterr().out
    assert "MISS" in out and "1.60" in out
    write_case(tmp_path / "pub", PASS10, MISS20[:-1] + ", known_miss: 'the model cannot yet'}")
    assert main(["reproduce", "--dir", str(tmp_path / "pub"), "--out", str(tmp_path / "o"), "--quiet", "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert "known miss" in out and "the model cannot yet" in out


def test_a_known_miss_that_passes_says_so(tmp_path):
    write_case(tmp_path / "pub", PASS10[:-1] + ", known_miss: old}")
    (row,) = reproduce(load_cases(tmp_path / "pub"), root=tmp_path / "out", jobs=1).rows
    assert row.verdict is Verdict.MET_KNOWN_MISS and not row.verdict.failed


def test_a_kpi_the_model_does_not_report_is_an_error_row(tmp_path, capsys):
    write_case(tmp_path / "pub", "    - {name: x, kpi: no_such_kpi, variant: {cluster.nodes: 10}, published: 1, "
                                 "tolerance: 10%, why: test}")
    assert main(["reproduce", "--dir", str(tmp_path / "pub"), "--out", str(tmp_path / "o"), "--quiet", "--jobs", "1"]) == 1
    out = capsys.readouterr().out
    assert "ERROR" in out and "no KPI 'no_such_kpi'" in out and "makespan_s" in out


@pytest.mark.parametrize("metric, expected", [
    ("{name: x, kpi: makespan_s, published: 8, why: w}", "exactly one of 'tolerance'"),
    ("{name: x, kpi: makespan_s, published: 8, tolerance: 5%, factor: 2, why: w}", "exactly one of 'tolerance'"),
    ("{name: x, kpi: makespan_s, published: 8, tolerance: 0%, why: w}", "above 0%"),
    ("{name: x, kpi: makespan_s, published: 8, factor: 1, why: w}", "more than 1"),
    ("{name: x, kpi: makespan_s, published: 8, tolerance: 5%}", "why"),
    ("{name: x, kpi: makespan_s, published: 8, tolerance: 5%, why: w, tolerence: 1}", "tolerence"),
])
def test_a_bad_metric_names_the_file_and_the_key(tmp_path, metric, expected):
    path = write_case(tmp_path, "    - " + metric)
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert str(path) in str(err.value) and "expect.metrics" in str(err.value) and expected in str(err.value)


def test_metric_names_are_unique(tmp_path):
    path = write_case(tmp_path, PASS10, PASS10)
    with pytest.raises(ScenarioError, match="repeated: ten"):
        load_scenario(path)


def test_a_variant_must_name_exactly_one_variant(tmp_path):
    write_case(tmp_path / "a", "    - {name: x, kpi: makespan_s, variant: {cluster.nodes: 30}, published: 8, "
                               "tolerance: 5%, why: w}")
    with pytest.raises(ReproduceError, match=r"matches no variant.*swept keys: cluster.nodes"):
        load_cases(tmp_path / "a")
    write_case(tmp_path / "b", "    - {name: x, kpi: makespan_s, published: 8, tolerance: 5%, why: w}")
    with pytest.raises(ReproduceError, match="matches 2 variants"):
        load_cases(tmp_path / "b")


def test_a_scenario_without_expect_is_not_a_case(tmp_path):
    (tmp_path / "plain.yaml").write_text("name: plain\n", encoding="utf-8")
    with pytest.raises(ReproduceError, match=r"plain.yaml: no 'expect' block"):
        load_cases(tmp_path)


def test_an_unknown_case_name_lists_the_known_ones(tmp_path, capsys):
    write_case(tmp_path, PASS10)
    assert main(["reproduce", "nope", "--dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no published case named 'nope'" in err and "known: tiny" in err


def test_run_ignores_the_expect_block(tmp_path):
    from regsim.runner import run_scenario

    path = write_case(tmp_path, PASS10)
    run = run_scenario(load_scenario(path), root=tmp_path / "out", plots=False, jobs=1)
    assert run.ok and len(run.outcomes) == 2


def test_the_record_renders_the_page_and_catches_a_changed_figure(tmp_path, capsys):
    pub = tmp_path / "project" / "scenarios" / "published"
    write_case(pub, PASS10, PASS20)
    (tmp_path / "project" / "docs").mkdir()
    cases = load_cases(pub)
    report = reproduce(cases, root=tmp_path / "out", jobs=1)
    record = record_of(report, "test")
    path = write_record(tmp_path / "record.json", record)
    again = read_record(path)
    assert stale_rows(report.rows, again) == []
    page = validation_page(cases, again)
    assert "| tiny | ten | 8 s | 8.00" in page and "A closed form" in page and "`registry.frontends`: the default" in page
    moved = json.loads(path.read_text())
    moved["cases"]["tiny"]["metrics"]["ten"]["simulated"] = 9.0
    stale = stale_rows(report.rows, moved)
    assert [(row.metric.name, "recorded 9") for row, _ in stale] == [("ten", "recorded 9")]
    assert "recorded 9, now 8.0" in stale[0][1]
    # through the command: --update-docs writes both files beside scenarios/, --check-docs compares
    args = ["reproduce", "--dir", str(pub), "--out", str(tmp_path / "o"), "--quiet", "--jobs", "1"]
    assert main([*args, "--update-docs"]) == 0
    docs = tmp_path / "project" / "docs"
    assert (docs / "validation.md").read_text() == validation_page(cases, read_record(docs / "validation.json"))
    assert main([*args, "--check-docs", "--quick"]) == 0
    record = read_record(docs / "validation.json")
    record["cases"]["tiny"]["metrics"]["ten"]["simulated"] = 9.0
    write_record(docs / "validation.json", record)
    capsys.readouterr()
    assert main([*args, "--check-docs", "--quick"]) == 1
    assert "is stale" in capsys.readouterr().out


def test_update_docs_refuses_a_partial_run(tmp_path, capsys):
    write_case(tmp_path, PASS10)
    assert main(["reproduce", "--dir", str(tmp_path), "--update-docs", "--quick"]) == 2
    assert "every case in full" in capsys.readouterr().err


def test_a_missing_record_says_how_to_make_it(tmp_path):
    with pytest.raises(ReproduceError, match="--update-docs` writes it"):
        read_record(tmp_path / "nope.json")
