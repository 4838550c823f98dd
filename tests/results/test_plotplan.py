"""Which charts a run's summary gets: constants, proportional KPIs, the x key, lines and panels."""

from __future__ import annotations

import itertools

import pandas as pd
import pytest

from regsim.results.plotting.plan import (KpiChart, bound_names, constant_series, plan_kpis, variant_label,
                                     variant_panels)


def _summary(keys: dict[str, list], kpis) -> pd.DataFrame:
    """A full factorial summary over ``keys``; ``kpis`` maps a KPI name to a function of one row's values."""
    rows = [dict(zip(keys, combo)) for combo in itertools.product(*keys.values())]
    frame = pd.DataFrame(rows)
    frame.insert(0, "variant", [f"v{i:03d}" for i in range(len(frame))])
    for name, fn in kpis.items():
        frame[name] = [fn(row) for row in rows]
    frame["error"] = None
    return frame


CODEC = {"rs(4,2)": 1.5, "rs(6,3)": 1.5, "rs(10,4)": 1.4, "replicate(3)": 3.0}
SWEEP = {"codec": list(CODEC), "afr": ["2%", "10%"], "repair": ["24h", "7d"]}


def _plan(keys=SWEEP, **kpis):
    summary = _summary(keys, kpis)
    return plan_kpis(summary, list(keys), list(kpis))


def test_a_kpi_the_same_everywhere_is_a_constant_not_a_chart():
    plan = _plan(nodes=lambda r: 16, mode=lambda r: "jwt", overhead=lambda r: CODEC[r["codec"]])
    assert plan.constants == {"nodes": 16, "mode": "jwt"}
    assert [c.kpi for c in plan.charts] == ["overhead"]


def test_a_difference_of_rounding_size_is_a_constant_with_its_range():
    plan = _plan(read_bytes=lambda r: 1.8e11 * (1.0003 if r["codec"] == "rs(4,2)" else 1.0),
                 cpu_s=lambda r: 24.14234016 + (1e-14 if r["afr"] == "2%" else 0.0))
    assert plan.constants["read_bytes"] == pytest.approx((1.8e11, 1.8e11 * 1.0003))
    assert plan.constants["cpu_s"] == pytest.approx(24.14234016) and not plan.charts  # rounding: one value


def test_a_kpi_proportional_to_one_swept_key_is_listed_with_its_factor():
    seconds = {"24h": 86400.0, "7d": 604800.0}
    plan = _plan(afr=lambda r: float(r["afr"][:-1]) / 100, repair_s=lambda r: seconds[r["repair"]],
                 double_afr=lambda r: float(r["afr"][:-1]) / 50)
    assert plan.proportional == {"afr": ("afr", 1.0), "repair_s": ("repair", 1.0), "double_afr": ("afr", 2.0)}
    assert not plan.charts


def test_each_kpi_gets_one_chart_against_its_key_with_most_values_lines_for_the_others_it_depends_on():
    plan = _plan(overhead=lambda r: CODEC[r["codec"]],
                 p_loss=lambda r: CODEC[r["codec"]] * float(r["afr"][:-1]) * (7 if r["repair"] == "7d" else 1))
    assert plan.charts == [
        KpiChart("overhead", "codec", (), None, ("afr", "repair")),
        KpiChart("p_loss", "codec", ("afr", "repair"), None, ()),
    ]


def test_a_kpi_that_ignores_the_key_with_most_values_is_drawn_against_a_key_it_depends_on():
    plan = _plan(lost=lambda r: {"24h": 1, "7d": 5}[r["repair"]] * {"2%": 1, "10%": 3}[r["afr"]])
    assert plan.charts == [KpiChart("lost", "afr", ("repair",), None, ("codec",))]


def test_a_numeric_key_with_three_values_is_the_x_axis_before_more_categories():
    keys = {"nodes": [10, 30, 100], "strategy": ["central", "proxy-cache", "p2p-swarm", "p2p-scheduler"]}
    plan = _plan(keys, makespan=lambda r: r["nodes"] * (1 + len(r["strategy"])))
    assert plan.charts == [KpiChart("makespan", "nodes", ("strategy",), None, ())]


def test_on_a_tie_a_numeric_key_is_the_x_axis():
    keys = {"codec": ["replicate(3)", "rs(4,2)"], "egress": ["10Gbps", "25Gbps"]}
    plan = _plan(keys, makespan=lambda r: len(r["codec"]) / float(r["egress"][:-4]))
    assert plan.charts[0].x == "egress" and plan.charts[0].lines == ("codec",)


def test_keys_with_one_value_neither_split_lines_nor_become_the_x_axis():
    keys = {"nodes": [10, 20, 40], "codec": ["rs(4,2)"]}
    plan = _plan(keys, t=lambda r: r["nodes"] ** 2)
    assert plan.charts == [KpiChart("t", "nodes", (), None, ())]


def test_too_many_lines_become_panels_or_a_note():
    keys = {"x": list(range(12)), "a": list(range(3)), "b": list(range(4))}
    plan = _plan(keys, y=lambda r: r["x"] + 10 * r["a"] + 100 * r["b"])
    assert plan.charts == [KpiChart("y", "x", ("b",), "a", ())]  # 12 lines: a panel per a, a line per b
    keys = {"x": list(range(12)), "a": list(range(9)), "b": list(range(9))}
    plan = _plan(keys, y=lambda r: r["x"] + 10 * r["a"] + 100 * r["b"])
    assert not plan.charts and "81 combinations of a, b" in plan.skipped["y"]


def test_failed_variants_and_text_kpis_are_not_charted():
    summary = _summary({"k": ["a", "b", "c"]}, {"x": lambda r: {"a": 1.0, "b": 2.0, "c": 3.0}[r["k"]],
                                                "label": lambda r: r["k"] * 2})
    summary.loc[1, "error"] = "E: boom"
    summary.loc[1, "x"] = None
    plan = plan_kpis(summary, ["k"], ["x", "label"])
    assert [c.kpi for c in plan.charts] == ["x"] and not plan.constants


def test_a_single_variant_has_no_constants_and_no_charts():
    plan = _plan({"k": ["a"]}, x=lambda r: 1.0)
    assert not plan.charts and not plan.constants


def test_bound_names_say_which_bound_each_variant_divides_by():
    summary = pd.DataFrame({
        "variant": ["v0", "v1", "v2"], "strategy": ["central", "proxy-cache", "p2p-swarm"],
        "makespan_s": [4.0, 1.7, 0.24], "central_bound_s": [4.0, 4.0, 4.0], "proxy_bound_s": [None, 1.6, None],
        "kumar_ross_bound_s": [None, None, 0.04], "makespan_over_bound": [1.0, 1.7 / 1.6, 6.0]})
    assert bound_names(summary, "makespan_over_bound").tolist() == [
        "central bound N·F/u_s", "proxy-cache bound", "Kumar-Ross bound"]
    assert bound_names(summary, "makespan_s") is None


def test_many_variants_share_panels_a_line_per_category_a_panel_per_other_key():
    summary = _summary({"nodes": [10, 100, 1000, 10000], "strategy": ["central", "proxy", "swarm", "tree"]},
                       {"t": lambda r: 1.0})
    layout = variant_panels(summary, ["nodes", "strategy"], max_lines=8, max_panels=4)
    assert layout.legend == ["strategy"] and not layout.fixed
    assert [p for p, _ in layout.panels] == [{"nodes": n} for n in (10, 100, 1000, 10000)]
    assert layout.panels[0][1] == ["v000", "v001", "v002", "v003"]


def test_further_keys_are_held_at_their_first_value():
    summary = _summary(SWEEP, {"t": lambda r: 1.0})
    layout = variant_panels(summary, list(SWEEP), max_lines=8, max_panels=4)
    assert layout.legend == ["codec"] and layout.fixed == {"repair": "24h"}
    assert [p for p, _ in layout.panels] == [{"afr": "2%"}, {"afr": "10%"}]
    assert all(len(ids) == 4 for _, ids in layout.panels)


def test_few_variants_are_one_panel():
    summary = _summary({"k": ["a", "b"]}, {"t": lambda r: 1.0})
    assert variant_panels(summary, ["k"]).panels == [({}, ["v000", "v001"])]


def test_constant_series_but_never_events():
    series = pd.DataFrame({"variant": "v0", "time_s": [0.0, 1.0] * 3, "value": [0, 0, 1, 2, 3, 3],
                           "metric": ["zero", "zero", "grows", "grows", "alert", "alert"]})
    assert constant_series(series) == {"zero": 0}


def test_variant_labels_are_short():
    labels = {"registry.tee": {'{"kind":"sgx"}': "sgx"}}
    assert variant_label({"cluster.nodes": 10, "registry.tee": '{"kind":"sgx"}'}, labels,
                         ["cluster.nodes", "registry.tee"]) == "nodes=10, tee sgx"
