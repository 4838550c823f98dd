"""Speed of the results plots: a figure costs little more than a bare matplotlib figure, and a run
with many KPIs, most of them constant, gets few figures."""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from regsim.models import VariantResult
from regsim.results import load
from regsim.results.plotting.folder import plot_all
from regsim.runner import run_scenario

from .fakes import scenario
from tests.timing import best_of

#: one of our figures (units, scales, fitted margins, legend) against a bare figure with one line, saved
FIGURE_TARGET = 2.5


def wide_model(s, seed, progress=None):
    """Forty KPIs, as the real models return them: half constant, a few proportional, the rest varying."""
    rng = np.random.default_rng(seed)
    nodes, codec = s.cluster.nodes, s.registry.storage.codec
    kpis = {f"const_{i}": i for i in range(20)}
    kpis |= {f"per_node_{i}_bytes": nodes * 1e6 * (i + 1) for i in range(4)}
    kpis |= {f"latency_{i}_s": (1 + len(codec)) * (i + 1) * 0.01 + rng.random() * 1e-3 for i in range(16)}
    times = np.linspace(0, 20, 200)
    series = pd.DataFrame({"time_s": times, "metric": "throughput_bytes_s", "value": rng.random(200) * 1e9})
    return VariantResult(kpis=kpis, series=series, samples={"pull_time_s": rng.lognormal(0, 1, 200)}, events=1)



@pytest.mark.benchmark
def test_a_figure_costs_little_more_than_a_bare_one(benchmark, tmp_path):
    s = scenario(registry={"storage": {"nodes": 16}},
                 sweep={"registry.storage.codec": ["replicate(3)", "rs(4,2)", "rs(6,3)", "rs(10,4)"],
                        "cluster.nodes": [10, 20], "seed": [1, 2]})
    results = load(run_scenario(s, out=tmp_path / "run", model=wide_model, plots=False).folder)
    results.summary, results.series, results.samples  # read once, outside the timing
    made = benchmark.pedantic(lambda: plot_all(results, tmp_path / "plots"), rounds=3, iterations=1)
    every_pair = len(results.kpis) * len(results.swept)  # what plotting every KPI against every key drew

    def bare():
        for i in range(len(made)):
            fig = Figure(figsize=(7, 4.2), dpi=100)
            FigureCanvasAgg(fig)
            fig.add_subplot().plot([0, 1, 2, 3], [1, 3, 2, 4], marker="o")
            fig.savefig(tmp_path / f"bare{i}.png")

    raw = best_of(bare, repeat=3)
    ours = benchmark.stats.stats.min
    ratio = ours / raw
    print(f"\n{len(made)} figures (every KPI against every key: {every_pair}); {ours / len(made) * 1e3:.0f} ms "
          f"a figure, a bare figure {raw / len(made) * 1e3:.0f} ms; ratio {ratio:.2f} (target <= {FIGURE_TARGET})")
    assert len(made) == 16 + 1 + 1  # the varying KPIs, one CDF, one series
    assert ratio <= FIGURE_TARGET / 0.8
