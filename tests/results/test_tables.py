"""The results tables: summary columns and cells, parquet types, stacked series, samples and alerts."""

from __future__ import annotations

import io
import math
import tempfile

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regsim.models import VariantResult
from regsim.results import VariantOutcome
from regsim.results.tables import (alerts_frame, format_cell, kpi_columns, samples_frame, series_frame,
                                   summary_columns, summary_rows, summary_table, write_summary_csv)


def _outcome(vid, values, kpis=None, error=None, **parts):
    result = VariantResult(kpis=kpis, **parts) if kpis is not None else None
    return VariantOutcome(vid, values, 1, result, error)


def test_summary_columns_are_variant_swept_keys_kpis_in_model_order_then_error():
    outcomes = [_outcome("v000", {"b.key": 1, "a.key": "x"}, {"z": 1, "y": 2.5}),
                _outcome("v001", {"b.key": 2, "a.key": "x"}, None, error="E: boom"),
                _outcome("v002", {"b.key": 3, "a.key": "y"}, {"z": 3, "w": "late"})]
    kpis = kpi_columns(outcomes)
    assert kpis == ["z", "y", "w"]
    columns = summary_columns(["b.key", "a.key"], kpis)
    assert columns == ["variant", "b.key", "a.key", "z", "y", "w", "error"]
    rows = summary_rows(outcomes, ["b.key", "a.key"], kpis)
    assert rows == [["v000", 1, "x", 1, 2.5, None, None], ["v001", 2, "x", None, None, None, "E: boom"],
                    ["v002", 3, "y", 3, None, "late", None]]


def test_a_kpi_named_like_a_swept_key_is_refused():
    with pytest.raises(ValueError, match="clash with swept key"):
        summary_columns(["seed"], ["seed", "p50"])


def test_swept_mappings_are_written_as_canonical_json():
    rows = summary_rows([_outcome("v000", {"workload": {"rate": "5/s", "kind": "poisson"}}, {"x": 1})],
                        ["workload"], ["x"])
    assert rows[0][1] == '{"kind":"poisson","rate":"5/s"}'


def test_cells_have_one_exact_text_form():
    assert [format_cell(v) for v in (None, True, 3, 0.1, 1e-300, float("inf"), float("nan"), "a,b")] == \
        ["", "True", "3", "0.1", "1e-300", "inf", "nan", "a,b"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(allow_nan=False, width=64), min_size=1, max_size=8),
       st.lists(st.integers(min_value=-2**62, max_value=2**62), min_size=1, max_size=8))
def test_summary_csv_round_trips_numbers_exactly(floats, ints):
    rows = [[f"v{i:03d}", f, n] for i, (f, n) in enumerate(zip(floats, ints))]
    with tempfile.TemporaryDirectory() as tmp:
        write_summary_csv(f"{tmp}/s.csv", ["variant", "f", "n"], rows)
        with open(f"{tmp}/s.csv", encoding="utf-8", newline="") as handle:
            text = handle.read()
    back = pd.read_csv(io.StringIO(text))
    assert back["f"].tolist() == [r[1] for r in rows]
    assert back["n"].tolist() == [r[2] for r in rows]
    assert "\r" not in text and text.endswith("\n")


def test_summary_parquet_types_columns_and_falls_back_to_text_for_mixed_values():
    columns = ["variant", "workload.start", "n", "x", "flag", "error"]
    rows = [["v000", "all", 1, 0.5, True, None], ["v001", 120.0, None, 1.5, False, "E: x"]]
    table = summary_table(columns, rows)
    assert table.column_names == columns
    assert table.schema.field("workload.start").type == pa.string()
    assert table.column("workload.start").to_pylist() == ["all", "120.0"]
    assert table.schema.field("n").type == pa.int64() and table.column("n").to_pylist() == [1, None]
    assert table.schema.field("x").type == pa.float64()
    assert table.schema.field("flag").type == pa.bool_()
    assert table.schema.field("error").type == pa.string()


def test_series_and_alerts_are_stacked_with_the_variant_first_and_labels_kept():
    s0 = pd.DataFrame({"time_s": [0.0, 1.0], "metric": ["q", "q"], "value": [1.0, 2.0]})
    s1 = pd.DataFrame({"time_s": [0.0], "metric": ["q"], "value": [5.0], "node": ["n1"]})
    a1 = pd.DataFrame({"time_s": [3.0], "level": ["critical"], "rule": ["r"], "subject": ["db"], "message": ["down"]})
    outcomes = [_outcome("v000", {}, {"k": 1}, series=s0), _outcome("v001", {}, {"k": 2}, series=s1, alerts=a1),
                _outcome("v002", {}, None, error="E")]
    series = series_frame(outcomes)
    assert list(series.columns) == ["variant", "time_s", "metric", "value", "node"]
    assert series["variant"].tolist() == ["v000", "v000", "v001"]
    assert series["node"].isna().tolist() == [True, True, False]
    alerts = alerts_frame(outcomes)
    assert alerts.to_dict("records") == [{"variant": "v001", "time_s": 3.0, "level": "critical", "rule": "r",
                                         "subject": "db", "message": "down"}]


def test_empty_tables_still_have_their_columns():
    outcomes = [_outcome("v000", {}, {"k": 1})]
    assert list(series_frame(outcomes).columns) == ["variant", "time_s", "metric", "value"]
    assert list(alerts_frame(outcomes).columns) == ["variant", "time_s", "level", "rule", "subject", "message"]
    assert list(samples_frame(outcomes).columns) == ["variant", "sample", "value"]


def test_samples_are_long_form_float64():
    outcomes = [_outcome("v000", {}, {"k": 1}, samples={"pull_time_s": np.array([3, 1, 2])}),
                _outcome("v001", {}, {"k": 1}, samples={"pull_time_s": [0.5], "wait_s": [1.0, 2.0]})]
    frame = samples_frame(outcomes)
    assert frame["value"].dtype == np.float64
    assert frame.values.tolist() == [["v000", "pull_time_s", 3.0], ["v000", "pull_time_s", 1.0],
                                     ["v000", "pull_time_s", 2.0], ["v001", "pull_time_s", 0.5],
                                     ["v001", "wait_s", 1.0], ["v001", "wait_s", 2.0]]


def test_variant_results_normalise_numpy_values_and_refuse_bad_shapes():
    result = VariantResult(kpis={"a": np.float32(0.5), "b": np.int64(3)}, samples={"s": [1, 2]}, events=np.int64(4))
    assert type(result.kpis["a"]) is float and type(result.kpis["b"]) is int and result.events == 4
    with pytest.raises(ValueError, match="one-dimensional array of numbers"):
        VariantResult(kpis={}, samples={"s": [[1, 2]]})
    with pytest.raises(ValueError, match="runner adds it"):
        VariantResult(kpis={}, series=pd.DataFrame({"variant": ["x"], "time_s": [0.0], "metric": ["m"],
                                                    "value": [1.0]}))
    with pytest.raises(ValueError, match="events must be a non-negative integer"):
        VariantResult(kpis={}, events=-1)
    assert math.isnan(VariantResult(kpis={"x": float("nan")}).kpis["x"])
