"""Baseline files and tolerances: what passes, what is kept across updates, clear errors."""

from __future__ import annotations

import json
import math

import pytest

from regsim.check import (Baseline, BaselineError, Tolerance, default_tolerance, make_baseline, read_baseline,
                          write_baseline)


@pytest.mark.parametrize(("tolerance", "baseline", "now", "allowed"), [
    (Tolerance(), 1.0, 1.0, True),
    (Tolerance(), 1.0, math.nextafter(1.0, 2.0), False),
    (Tolerance(), 40, 40, True),
    (Tolerance(), 40, 40.0, True),
    (Tolerance(), "rs(4,2)", "rs(4,2)", True),
    (Tolerance(), "rs(4,2)", "replicate(3)", False),
    (Tolerance(), True, 1, False),
    (Tolerance(rtol=0.01), 100.0, 101.0, True),
    (Tolerance(rtol=0.01), 100.0, 101.01, False),
    (Tolerance(rtol=0.01), -100.0, -99.0, True),
    (Tolerance(atol=0.5), 0.0, 0.5, True),
    (Tolerance(atol=0.5), 0.0, -0.51, False),
    (Tolerance(rtol=1.0), "a", "b", False),
    (Tolerance(), float("nan"), float("nan"), True),
    (Tolerance(rtol=1.0), 1.0, float("nan"), False),
])
def test_tolerance_allows(tolerance, baseline, now, allowed):
    assert tolerance.allows(baseline, now) is allowed


@pytest.mark.parametrize("text", ["exact", "rtol 1e-09", "atol 0.5", "rtol 0.01, atol 2.0"])
def test_tolerances_read_back_as_written(text):
    assert Tolerance.parse(text).to_json() == text
    assert Tolerance.parse({"rtol": 0.01}) == Tolerance(rtol=0.01)


@pytest.mark.parametrize("bad", ["loose", "rtol", "rtol -1", "btol 1", {"rtol": "x"}, {}, 3])
def test_bad_tolerances_name_where_they_are(bad):
    with pytest.raises(BaselineError, match=r"^f.json: tolerances.makespan_s: "):
        Tolerance.parse(bad, "f.json: tolerances.makespan_s")


def test_new_kpis_default_to_exact_or_a_tiny_rtol_for_floats():
    assert default_tolerance(0.25) == Tolerance(rtol=1e-9)
    assert default_tolerance(3) == Tolerance() and default_tolerance("x") == Tolerance()


def test_floats_survive_writing_exactly_and_the_file_is_stable(tmp_path):
    variants = {"v000": {"values": {"registry.egress": "10Gbps"}, "kpis": {"x": 0.1 + 0.2, "n": 3, "s": "a"}}}
    baseline = make_baseline("demo", "scenarios/ci/demo.yaml", "abc", variants)
    path = write_baseline(baseline, tmp_path / "demo.json")
    back = read_baseline(path)
    assert back.variants == variants and back.variants["v000"]["kpis"]["x"] == 0.30000000000000004
    assert back.tolerances == {"x": Tolerance(rtol=1e-9), "n": Tolerance(), "s": Tolerance()}
    first = path.read_bytes()
    write_baseline(back, path)
    assert path.read_bytes() == first


def test_an_update_keeps_stated_tolerances_and_drops_those_of_gone_kpis():
    old = Baseline("demo", "s.yaml", "", {}, {"x": Tolerance(rtol=0.05), "gone": Tolerance(atol=1)})
    new = make_baseline("demo", "s.yaml", "", {"v000": {"values": {}, "kpis": {"x": 1.0, "y": 2.0}}}, old)
    assert new.tolerances == {"x": Tolerance(rtol=0.05), "y": Tolerance(rtol=1e-9)}


@pytest.mark.parametrize(("content", "says"), [
    ("{", "not valid JSON"),
    ("[]", "not a regsim baseline of version 1"),
    (json.dumps({"regsim_baseline": 1, "name": "x", "scenario": "s", "variants": {"v000": {}}}), "variants: expected"),
    (json.dumps({"regsim_baseline": 1, "name": "", "scenario": "s", "variants": {}}), "name: expected a non-empty"),
    (json.dumps({"regsim_baseline": 1, "name": "x", "scenario": "s", "variants": {}, "tolerances": {"k": "wide"}}),
     "tolerances.k: expected"),
])
def test_broken_baseline_files_are_refused_naming_the_file(tmp_path, content, says):
    path = tmp_path / "x.json"
    path.write_text(content)
    with pytest.raises(BaselineError, match=says) as caught:
        read_baseline(path)
    assert str(caught.value).startswith(str(path))
