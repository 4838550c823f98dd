"""The CI performance-regression gate behind ``regsim check``.

    from regsim.check import run_gate, run_ratios, format_gate, format_ratios
    gate = run_gate("scenarios/ci", "results/baselines")     # KPIs against committed baselines
    print(format_gate(gate)); gate.failed
    ratios = run_ratios()                                    # timings, as ratios to raw primitives
    print(format_ratios(ratios)); all(r.ok for r in ratios)

Two kinds of check, judged differently on purpose: simulation KPIs are deterministic for a
scenario, a seed and the reference profile, so they must equal their baseline (or stay within a
tolerance stated per KPI); timings depend on the machine, so they are judged only as ratios to a
reference operation measured in the same run. How and why: ``docs/ci.md``.
"""

from .baseline import (BASELINE_VERSION, FLOAT_RTOL, Baseline, BaselineError, Tolerance, default_tolerance,
                       read_baseline, write_baseline)
from .gate import (FAILING, CheckError, GateResult, KpiResult, ScenarioResult, check_scenario, compare_variants,
                   make_baseline, run_gate, scenario_files)
from .ratios import RATIO_CHECKS, RatioCheck, RatioResult, measure, run_ratios
from .table import format_gate, format_ratios, format_value, text_table

__all__ = [
    "BASELINE_VERSION",
    "FAILING",
    "FLOAT_RTOL",
    "RATIO_CHECKS",
    "Baseline",
    "BaselineError",
    "CheckError",
    "GateResult",
    "KpiResult",
    "RatioCheck",
    "RatioResult",
    "ScenarioResult",
    "Tolerance",
    "check_scenario",
    "compare_variants",
    "default_tolerance",
    "format_gate",
    "format_ratios",
    "format_value",
    "make_baseline",
    "measure",
    "read_baseline",
    "run_gate",
    "run_ratios",
    "scenario_files",
    "text_table",
    "write_baseline",
]
