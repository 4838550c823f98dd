"""Speed of the runner and the summary writer, against the primitives they are built on."""

from __future__ import annotations

import csv
import itertools

import pytest

from regsim.models import VariantResult
from regsim.results.tables import write_summary_csv
from regsim.runner import run_scenario
from regsim.scenario import expand

from .fakes import scenario
from tests.timing import best_of

#: a whole in-process run without plots (plan, execute, tables, meta, report) against expanding its sweep alone
RUN_TARGET = 2.0
#: summary.csv with its exact cell formatting against csv.writer on the same values
CSV_TARGET = 2.0



def trivial_model(s, seed, progress):
    return VariantResult(kpis={"nodes": s.cluster.nodes, "x": (seed % 1000) / 7, "name": "t"}, events=1)


@pytest.mark.benchmark
def test_the_runner_adds_little_to_expanding_the_sweep(benchmark, tmp_path):
    s = scenario(sweep={"cluster.nodes": list(range(1, 201))})
    folders = (tmp_path / f"r{i}" for i in itertools.count())
    run = benchmark.pedantic(lambda: run_scenario(s, out=next(folders), model=trivial_model, plots=False),
                             rounds=3, iterations=1)
    assert run.ok and len(run.outcomes) == 200
    raw = best_of(lambda: expand(s), repeat=3)
    ours = benchmark.stats.stats.min
    ratio = ours / raw
    print(f"\nrun: {ours / 200 * 1e6:.0f} us/variant; expand alone {raw / 200 * 1e6:.0f} us/variant; "
          f"ratio {ratio:.2f} (target <= {RUN_TARGET})")
    assert ratio <= RUN_TARGET / 0.8


@pytest.mark.benchmark
def test_summary_csv_costs_little_more_than_csv_writer(benchmark, tmp_path):
    columns = ["variant", "cluster.nodes", *(f"kpi{j}" for j in range(20)), "error"]
    rows = [[f"v{i:04d}", i, *(i * 0.1 + j / 3 for j in range(20)), None] for i in range(2000)]
    benchmark(write_summary_csv, tmp_path / "ours.csv", columns, rows)

    def raw():
        with open(tmp_path / "raw.csv", "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(columns)
            writer.writerows(rows)

    base = best_of(raw)
    ours = benchmark.stats.stats.min
    ratio = ours / base
    print(f"\nsummary.csv: {ours * 1e3:.1f} ms for 2000 x 23; csv.writer {base * 1e3:.1f} ms; "
          f"ratio {ratio:.2f} (target <= {CSV_TARGET})")
    assert ratio <= CSV_TARGET / 0.8
