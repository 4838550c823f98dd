"""Timing ratios: what each check times, how results are judged and retried, the table.

No timing is asserted here; the measured ratios are asserted in the benchmark below
(``make bench``), loosely, since the machine is shared.
"""

from __future__ import annotations

import pytest

from regsim.check import RATIO_CHECKS, RatioCheck, RatioResult, format_ratios, measure, run_ratios
from regsim.check import ratios as ratios_module
from regsim.cli import main


def test_each_check_times_equivalent_work_on_both_sides():
    outputs = {}
    for check in RATIO_CHECKS:
        ours, reference = check.setup(1 / 1024)
        outputs[check.name] = (ours(), reference())
    ours, ref = outputs["sha256-64MiB"]
    assert ours.hex == ref
    ours, ref = outputs["rs(4,2)-encode-64MiB"]
    assert [bytes(p) for p in ours[4:]] == [bytes(p) for p in ref]  # the same parity
    ours, ref = outputs["jwt-cached-verify"]
    assert ours.subject == ref["sub"] == "alice"
    assert outputs["aes-gcm-64MiB"][0] > 64 * 1024  # the envelope's length, header included
    ours, ref = outputs["push-pipeline-64MiB"]
    assert ours.hex == ref  # the stages hash the very bytes the push stored


def test_a_ratio_is_reference_time_over_ours_and_must_reach_the_factor():
    check = RatioCheck("x", "ours", "ref", 0.9, lambda scale: (lambda: None, lambda: None))
    assert RatioResult(check, ours_s=0.010, reference_s=0.009).ratio == pytest.approx(0.9)
    assert RatioResult(check, 0.010, 0.0095).ok and not RatioResult(check, 0.010, 0.0089).ok


def test_measure_gives_a_time_per_call_for_both_sides():
    check = RatioCheck("sum", "sum of 1000", "sum of 100", 1.0,
                       lambda scale: (lambda: sum(range(1000)), lambda: sum(range(100))))
    result = measure(check, rounds=2, min_time=0.001)
    assert 0 < result.ours_s < 1 and 0 < result.reference_s < 1 and result.attempts == 1
    with pytest.raises(ValueError, match="rounds must be at least 1"):
        measure(check, rounds=0)


def test_a_check_that_falls_short_is_measured_again_and_keeps_its_best(monkeypatch):
    check = RatioCheck("x", "ours", "ref", 1.0, lambda scale: (lambda: None, lambda: None))
    times = iter([(2.0, 1.0), (1.0, 1.5), (9.0, 1.0)])
    monkeypatch.setattr(ratios_module, "measure",
                        lambda c, **kw: RatioResult(c, *next(times)))
    (first,) = run_ratios([check], retries=1)
    assert first.ok and first.attempts == 2 and first.ratio == 1.5
    times = iter([(2.0, 1.0), (4.0, 1.0)])
    (second,) = run_ratios([check], retries=1)
    assert not second.ok and second.attempts == 2 and second.ratio == 0.5


def test_the_ratio_table_says_what_was_timed_and_against_what():
    check = RatioCheck("sha256-64MiB", "our digest", "hashlib.sha256", 0.9, lambda scale: (None, None))
    text = format_ratios([RatioResult(check, 0.050, 0.040, attempts=2)])
    header, _, row, *rest = text.splitlines()
    assert header.split()[:3] == ["check", "ours", "reference"]
    assert "sha256-64MiB" in row and "our digest" in row and "0.8x" in row and ">= 0.9x" in row
    assert "FAILED (2 tries)" in row and rest[-1] == "benchmark ratios: 1 check(s): FAILED: 1 below their factor"


def test_check_ratios_only_prints_the_table(monkeypatch, capsys):
    quick = RatioCheck("quick", "a", "b", 0.0, lambda scale: (lambda: None, lambda: None))
    monkeypatch.setattr(ratios_module, "RATIO_CHECKS", (quick,))
    monkeypatch.setattr("regsim.check.run_ratios",
                        lambda rounds: run_ratios((quick,), rounds=rounds))
    assert main(["check", "--ratios-only", "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("check") and "quick" in out and "passed" in out
    assert main(["check", "--ratios-only", "--rounds", "0"]) == 2


@pytest.mark.benchmark
def test_benchmark_ratios_reach_their_factors(benchmark):
    results = benchmark.pedantic(lambda: run_ratios(rounds=5), rounds=1, iterations=1)
    print("\n" + format_ratios(results))
    for r in results:
        benchmark.extra_info[r.check.name] = round(r.ratio, 3)
        assert r.ratio >= r.check.factor * 0.8, f"{r.check.name}: {r.ratio:.3g}x, needs {r.check.factor}x"
