"""The figures themselves: axis scales, tick labels, units, markers and where the legend sits."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from regsim.results.plotting.charts import Variants, cdf_figure, kpi_figure, series_figure
from regsim.results.plotting.plan import MAX_VARIANT_LINES, KpiChart, VariantPanels, bound_names, value_labels


def _ok(**columns) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    return pd.DataFrame({"variant": [f"v{i:03d}" for i in range(n)], **columns, "error": None})


def _ticks(axis) -> list[str]:
    return [t.get_text() for t in axis.get_ticklabels()]


def _legend(fig) -> list[str]:
    return [t.get_text() for t in fig.legends[0].texts] if fig.legends else []


def test_nodes_over_decades_sit_on_a_log_axis_labelled_as_swept():
    ok = _ok(**{"cluster.nodes": [10, 100, 1000, 10000], "makespan_s": [4.0, 40.0, 400.0, 4000.0]})
    fig = kpi_figure(ok, KpiChart("makespan_s", "cluster.nodes"), value_labels(ok, ["cluster.nodes"]))
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert _ticks(ax.xaxis) == ["10", "100", "1000", "10000"]
    assert ax.get_ylabel() == "makespan (s)" and ax.lines[0].get_linestyle() == "-"


def test_rates_sit_at_their_value_on_a_numeric_axis():
    ok = _ok(**{"registry.egress": ["10Gbps", "25Gbps", "100Gbps"], "makespan_s": [144.0, 58.0, 15.0]})
    fig = kpi_figure(ok, KpiChart("makespan_s", "registry.egress"), value_labels(ok, ["registry.egress"]))
    ax = fig.axes[0]
    assert np.allclose(ax.get_xticks(), [1.25e9, 3.125e9, 1.25e10])
    assert _ticks(ax.xaxis) == ["10Gbps", "25Gbps", "100Gbps"] and ax.get_xscale() == "linear"
    assert np.allclose(ax.lines[0].get_xdata(), [1.25e9, 3.125e9, 1.25e10])


def test_swept_mappings_are_short_turned_labels_and_categories_are_not_joined():
    sgx = [{"enabled": True, "kind": "sgx", "working_set": ws} for ws in ("64MB", "128MB", "256MB", "1GB")]
    tee = [json.dumps(v, separators=(",", ":")) for v in (
        {"enabled": False}, {"enabled": True, "kind": "tdx"}, {"enabled": True, "kind": "sev-snp"}, *sgx)]
    ok = _ok(**{"registry.tee": tee * 2, "workload.mix": ['{"pull":"100%"}'] * 7 + ['{"manifest":"100%"}'] * 7,
                "tee_latency_rise": [np.nan, 0.08, 0.05, 0.13, 0.2, 0.3, 0.85] * 2})
    chart = KpiChart("tee_latency_rise", "registry.tee", ("workload.mix",))
    fig = kpi_figure(ok, chart, value_labels(ok, ["registry.tee", "workload.mix"]))
    ax = fig.axes[0]
    assert _ticks(ax.xaxis) == ["off", "tdx", "sev-snp", "sgx ws=64MB", "sgx ws=128MB", "sgx ws=256MB", "sgx ws=1GB"]
    assert all(t.get_rotation() == 30 for t in ax.xaxis.get_ticklabels())
    assert {line.get_linestyle() for line in ax.lines} == {"None"} and ax.lines[0].get_marker() == "o"
    assert _legend(fig) == ["mix pull=100%", "mix manifest=100%"]
    first, second = (line.get_xdata()[0] for line in ax.lines)
    assert first < 1 < second  # side by side around their category (tdx, the first with a value), not on top


def test_few_short_category_labels_stay_level():
    ok = _ok(codec=["replicate(3)", "rs(4,2)", "rs(6,3)", "rs(10,4)"], stored_bytes=[5.7e9, 1.6e9, 1.9e9, 1.4e9])
    ax = kpi_figure(ok, KpiChart("stored_bytes", "codec"), {}).axes[0]
    assert {t.get_rotation() for t in ax.xaxis.get_ticklabels()} == {0}
    assert ax.get_ylabel() == "stored bytes" and ax.yaxis.get_major_formatter()(2e9, 0) == "2 GB"


def test_a_tiny_difference_in_bytes_has_no_offset_and_looks_tiny():
    ok = _ok(codec=["replicate(3)", "rs(4,2)"], storage_read_bytes=[180039851200.0, 180100518400.0])
    fig = kpi_figure(ok, KpiChart("storage_read_bytes", "codec"), {})
    ax = fig.axes[0]
    fig.canvas.draw()
    assert ax.yaxis.get_offset_text().get_text() == ""
    assert ax.yaxis.get_major_formatter()(1.8e11, 0) == "180 GB"
    low, high = ax.get_ylim()
    assert (high - low) >= 0.1 * 180e9 * 0.99  # 0.03 % of difference in a window of 10 %
    assert ax.get_ylabel() == "storage read bytes"


def test_seconds_are_shown_in_the_unit_that_fits():
    ok = _ok(nodes=[10, 20, 30], pull_p50_s=[0.1, 0.2, 0.4])
    fig = kpi_figure(ok, KpiChart("pull_p50_s", "nodes"), {})
    ax = fig.axes[0]
    assert ax.get_ylabel() == "pull p50 (ms)" and ax.yaxis.get_major_formatter()(0.25, 0) == "250"


def test_a_ratio_to_a_bound_names_the_bound_of_each_strategy():
    ok = _ok(**{"distribution.strategy": ["central", "proxy-cache", "p2p-swarm"], "makespan_s": [4.0, 1.7, 0.24],
                "central_bound_s": [4.0, 4.0, 4.0], "proxy_bound_s": [np.nan, 1.6, np.nan],
                "kumar_ross_bound_s": [np.nan, np.nan, 0.04], "makespan_over_bound": [1.0, 1.7 / 1.6, 6.0]})
    fig = kpi_figure(ok, KpiChart("makespan_over_bound", "distribution.strategy"), {},
                     bound_names(ok, "makespan_over_bound"))
    ax = fig.axes[0]
    assert _ticks(ax.xaxis) == ["central\n÷ central bound N·F/u_s", "proxy-cache\n÷ proxy-cache bound",
                                "p2p-swarm\n÷ Kumar-Ross bound"]
    assert ax.get_ylabel() == "makespan ÷ its bound"
    both = pd.concat([ok.assign(**{"cluster.nodes": 10}), ok.assign(**{"cluster.nodes": 100})], ignore_index=True)
    fig = kpi_figure(both, KpiChart("makespan_over_bound", "cluster.nodes", ("distribution.strategy",)),
                     value_labels(both, ["distribution.strategy"]), bound_names(both, "makespan_over_bound"))
    assert _legend(fig) == ["strategy=central (÷ central bound N·F/u_s)",
                            "strategy=proxy-cache (÷ proxy-cache bound)", "strategy=p2p-swarm (÷ Kumar-Ross bound)"]


def _variants(ids, legend=("k",)) -> Variants:
    values = {v: {"k": f"value{i}"} for i, v in enumerate(ids)}
    return Variants(values, {}, VariantPanels([({}, list(ids))], {}, list(legend)))


def test_cdfs_over_three_decades_use_a_log_axis_with_the_legend_outside_the_data():
    samples = pd.DataFrame({"variant": ["v0"] * 3 + ["v1"] * 3, "sample": "pull_time_s",
                            "value": [0.5, 0.6, 0.7, 300.0, 400.0, 600.0]})
    fig = cdf_figure("pull_time_s", samples, _variants(["v0", "v1"]))
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "pull time (s)"
    assert ax.get_legend() is None and _legend(fig) == ["k=value0", "k=value1"]
    legend_left = fig.legends[0].get_bbox_to_anchor().x0 / fig.bbox.width
    assert legend_left >= ax.get_position().x1
    narrow = samples.assign(value=[0.5, 0.6, 0.7, 3.0, 4.0, 6.0])
    assert cdf_figure("pull_time_s", narrow, _variants(["v0", "v1"])).axes[0].get_xscale() == "linear"


def test_single_point_series_and_alerts_are_drawn_as_markers():
    series = pd.DataFrame({"variant": ["v0", "v1", "v1"], "time_s": [60.5, 60.6, 90.0], "metric": "alert",
                           "value": [3.0, 3.0, 2.0], "rule": ["scan", "scan", "auth"], "subject": "library/app"})
    fig = series_figure("alert", series, _variants(["v0", "v1"]), (0.0, 150.0))
    ax = fig.axes[0]
    assert {line.get_marker() for line in ax.lines} == {"o"} and {line.get_linestyle() for line in ax.lines} == {"None"}
    assert _ticks(ax.yaxis) == ["warning", "critical", "emergency"] and ax.get_xlim() == (0.0, 150.0)
    assert "(subject=library/app)" in fig.get_suptitle()  # a label column with one value, said once
    one = pd.DataFrame({"variant": ["v0"], "time_s": [5.0], "metric": "queue_length", "value": [3.0]})
    (line,) = series_figure("queue_length", one, _variants(["v0"]), (0.0, 10.0)).axes[0].lines
    assert line.get_marker() == "o"


def test_series_figures_cap_the_lines_they_draw():
    n = MAX_VARIANT_LINES + 3
    series = pd.DataFrame({"variant": "v000", "time_s": [0.0, 1.0] * n, "metric": "queue / depth",
                           "value": range(2 * n), "node": [f"n{i // 2}" for i in range(2 * n)]})
    fig = series_figure("queue / depth", series, _variants(["v000"], legend=()), (0.0, 1.0))
    assert len(fig.axes[0].lines) == MAX_VARIANT_LINES
    assert fig.get_suptitle().endswith(f"({MAX_VARIANT_LINES} of {n} lines)")
