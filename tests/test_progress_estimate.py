"""A long variant's bar moves even while its model reports nothing: it follows the estimated wall time.

The clock is a fake one that the test advances, so nothing here depends on timing.
"""

from __future__ import annotations

import io

from rich.console import Console

from regsim.runner import run_scenario
from regsim.runner.progress import ESTIMATE_CAP, RichReporter
from tests.results.fakes import fake_model, scenario


def _reporter():
    now = [0.0]
    reporter = RichReporter(Console(file=io.StringIO(), force_terminal=False, width=120))
    reporter.progress.get_time = lambda: now[0]
    return reporter, now


def test_a_quiet_variant_advances_with_the_time_against_its_estimate():
    reporter, now = _reporter()
    reporter.expect("v000", 100.0)
    reporter.start("big: 1 variant", 1)
    try:
        reporter.begin("v000", "cluster.nodes=1000000")
        task = reporter.progress.tasks[-1]
        assert reporter.fraction(task) == (0.0, False)
        now[0] = 50.0
        assert reporter.fraction(task) == (0.5, True)
        overall = reporter.progress.tasks[0]
        assert reporter.fraction(overall) == (0.5, True)  # one huge variant moves the run's bar too
        now[0] = 1000.0
        assert reporter.fraction(task) == (ESTIMATE_CAP, True)  # an estimate never claims the end
        reporter.advance("v000", 0.95)
        assert reporter.fraction(task) == (0.95, False)  # the model's word wins once it says more
        reporter.end("v000", True)
        assert reporter.fraction(overall) == (1.0, False)
    finally:
        reporter.close()


def test_without_an_estimate_a_bar_shows_what_the_model_reports():
    reporter, now = _reporter()
    reporter.start("x: 1 variant", 1)
    try:
        reporter.begin("v000", "")
        now[0] = 500.0
        assert reporter.fraction(reporter.progress.tasks[-1]) == (0.0, False)
        reporter.advance("v000", 0.25)
        assert reporter.fraction(reporter.progress.tasks[-1]) == (0.25, False)
    finally:
        reporter.close()


def test_the_runner_tells_the_reporter_each_variants_estimate(tmp_path):
    reporter, _ = _reporter()
    run_scenario(scenario(sweep={"cluster.nodes": [10, 20]}), out=tmp_path / "r", model=fake_model,
                 reporter=reporter, plots=False)
    assert set(reporter.expected) == {"v000", "v001"} and all(s > 0 for s in reporter.expected.values())
