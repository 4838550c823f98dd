"""The CI gate: run the scenarios under ``scenarios/ci/`` and hold their KPIs to committed baselines.

    from regsim.check import run_gate
    gate = run_gate("scenarios/ci", "results/baselines")      # or update=True to rewrite them
    gate.failed, gate.rows                                     # one row per variant and KPI

Every scenario runs with the reference cost profile, in this process, so its KPIs are a pure
function of the code, the scenario and its seed: they must equal the baseline, or stay within
the tolerance the baseline states for that KPI (:mod:`.baseline`). What fails the gate: a KPI
that moved beyond its tolerance or disappeared, a variant that failed, appeared or vanished, or
whose swept values changed, and a scenario without a baseline. A KPI that is new is reported
but passes: it has nothing to regress from until ``--update`` records it.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import UserError
from ..runner import run_scenario
from ..scenario import dump_yaml, load_scenario
from .baseline import Baseline, Tolerance, default_tolerance, read_baseline, write_baseline

__all__ = ["FAILING", "CheckError", "GateResult", "KpiResult", "ScenarioResult", "check_scenario", "compare_variants",
           "make_baseline", "run_gate", "scenario_files"]

#: statuses that fail the gate; ``ok`` and ``new`` (a KPI not in the baseline yet) pass.
FAILING = frozenset({"changed", "removed", "failed", "values", "variant new", "variant removed", "no baseline"})


class CheckError(UserError, ValueError):
    """The gate cannot run as asked (no scenarios, two scenarios with one name): a user's mistake."""


@dataclass(frozen=True)
class KpiResult:
    """One KPI of one variant against its baseline; ``status`` is ``ok``, ``new`` or one of :data:`FAILING`."""

    scenario: str
    variant: str
    kpi: str
    baseline: Any
    now: Any
    tolerance: Tolerance | None
    status: str

    @property
    def failed(self) -> bool:
        return self.status in FAILING


@dataclass
class ScenarioResult:
    """What checking (or updating) one scenario found."""

    name: str
    path: Path
    baseline_path: Path
    rows: list[KpiResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    updated: bool = False

    @property
    def failed(self) -> bool:
        return any(r.failed for r in self.rows) and not self.updated


@dataclass
class GateResult:
    """Every scenario's result; the gate fails when any scenario does."""

    scenarios: list[ScenarioResult]
    notes: list[str] = field(default_factory=list)

    @property
    def rows(self) -> list[KpiResult]:
        return [r for s in self.scenarios for r in s.rows]

    @property
    def failed(self) -> bool:
        return any(s.failed for s in self.scenarios)


def scenario_files(directory: str | Path) -> list[Path]:
    """The scenario files (``*.yaml``, ``*.yml``) directly in ``directory``, sorted by name."""
    directory = Path(directory)
    if not directory.is_dir():
        raise CheckError(f"{directory}: no such folder of CI scenarios")
    files = sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    if not files:
        raise CheckError(f"{directory}: no scenario files (*.yaml) to check")
    return files


def _shown_path(path: Path) -> str:
    try:
        return Path(os.path.relpath(path.resolve())).as_posix()
    except ValueError:  # another drive on Windows
        return path.resolve().as_posix()


def _observed(run: Any) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Each variant's swept values and KPIs, and the errors of those that failed."""
    variants, errors = {}, {}
    for outcome in run.outcomes:
        if outcome.ok:
            variants[outcome.id] = {"values": dict(outcome.values), "kpis": dict(outcome.result.kpis)}
        else:
            errors[outcome.id] = outcome.error or "failed without an error message"
    return variants, errors


def compare_variants(name: str, baseline: Baseline, now: dict[str, dict[str, Any]],
                     errors: dict[str, str] | None = None) -> list[KpiResult]:
    """One row per variant and KPI of either side, in baseline order, new ones last."""
    errors = errors or {}
    rows = []
    for vid in dict.fromkeys([*baseline.variants, *now, *errors]):
        if vid in errors:
            rows.append(KpiResult(name, vid, "(variant)", None, errors[vid], None, "failed"))
            continue
        if vid not in now:
            rows.append(KpiResult(name, vid, "(variant)", "ran", None, None, "variant removed"))
            continue
        if vid not in baseline.variants:
            rows.append(KpiResult(name, vid, "(variant)", None, "ran", None, "variant new"))
            continue
        base, got = baseline.variants[vid], now[vid]
        if base["values"] != got["values"]:
            rows.append(KpiResult(name, vid, "(swept values)", base["values"], got["values"], None, "values"))
        for kpi in dict.fromkeys([*base["kpis"], *got["kpis"]]):
            if kpi not in got["kpis"]:
                rows.append(KpiResult(name, vid, kpi, base["kpis"][kpi], None, baseline.tolerance(kpi), "removed"))
            elif kpi not in base["kpis"]:
                rows.append(KpiResult(name, vid, kpi, None, got["kpis"][kpi], None, "new"))
            else:
                tol = baseline.tolerance(kpi)
                a, b = base["kpis"][kpi], got["kpis"][kpi]
                rows.append(KpiResult(name, vid, kpi, a, b, tol, "ok" if tol.allows(a, b) else "changed"))
    return rows


def make_baseline(name: str, scenario: str, scenario_sha256: str, variants: dict[str, dict[str, Any]],
                  previous: Baseline | None = None) -> Baseline:
    """A baseline of ``variants``, keeping every tolerance ``previous`` stated for a KPI still present."""
    kpis: dict[str, Any] = {}
    for v in variants.values():
        for k, value in v["kpis"].items():
            kpis.setdefault(k, value)
    stated = previous.tolerances if previous is not None else {}
    tolerances = {k: stated.get(k, default_tolerance(value)) for k, value in kpis.items()}
    return Baseline(name, scenario, scenario_sha256, variants, tolerances, "reference", __version__)


@contextmanager
def _workdir(path: str | Path | None) -> Iterator[Path]:
    if path is not None:
        Path(path).mkdir(parents=True, exist_ok=True)
        yield Path(path)
        return
    with tempfile.TemporaryDirectory(prefix="regsim-check-") as tmp:
        yield Path(tmp)


def check_scenario(path: str | Path, baselines: str | Path, *, update: bool = False,
                   workdir: str | Path | None = None) -> ScenarioResult:
    """Run the scenario at ``path`` (reference profile) and compare it with, or write, its baseline."""
    path = Path(path)
    scenario = load_scenario(path, ["profile=reference"])
    original = load_scenario(path).profile
    target = Path(baselines) / f"{scenario.name}.json"
    result = ScenarioResult(scenario.name, path, target)
    if original != "reference":
        result.notes.append(f"{path}: profile {original!r} replaced by 'reference' (the gate needs deterministic KPIs)")
    digest = hashlib.sha256(dump_yaml(scenario).encode("utf-8")).hexdigest()
    with _workdir(workdir) as work:
        run = run_scenario(scenario, out=work / scenario.name, jobs=1, plots=False)
    now, errors = _observed(run)
    previous = read_baseline(target) if target.is_file() else None
    if previous is not None:
        result.rows = compare_variants(scenario.name, previous, now, errors)
        if previous.scenario_sha256 and previous.scenario_sha256 != digest:
            result.notes.append(f"{scenario.name}: the scenario (as resolved) changed since its baseline was written")
    elif not update:
        result.rows = [KpiResult(scenario.name, "", "(baseline)", None, None, None, "no baseline")]
        result.notes.append(f"{scenario.name}: no baseline at {target}; run `regsim check --update` to write it")
    if update:
        if errors:
            result.rows = [KpiResult(scenario.name, vid, "(variant)", None, error, None, "failed")
                           for vid, error in errors.items()]
            result.notes.append(f"{scenario.name}: baseline not written: {len(errors)} variant(s) failed")
            return result
        write_baseline(make_baseline(scenario.name, _shown_path(path), digest, now, previous), target)
        result.updated = True
        result.notes.append(f"{scenario.name}: baseline written to {target}")
    return result


def run_gate(scenarios: str | Path = "scenarios/ci", baselines: str | Path = "results/baselines", *,
             update: bool = False, workdir: str | Path | None = None) -> GateResult:
    """Check (or with ``update``, rewrite the baselines of) every scenario in ``scenarios``."""
    files = scenario_files(scenarios)
    names: dict[str, Path] = {}
    for path in files:
        name = load_scenario(path).name
        if name in names:
            raise CheckError(f"{path} and {names[name]} are both named {name!r}; each CI scenario needs its own "
                             f"name, since it names the baseline file")
        names[name] = path
    results = [check_scenario(path, baselines, update=update, workdir=workdir) for path in files]
    gate = GateResult(results)
    if Path(baselines).is_dir():
        stale = sorted(p.name for p in Path(baselines).glob("*.json") if p.stem not in names)
        if stale:
            gate.notes.append(f"baselines without a scenario in {scenarios}: {', '.join(stale)} "
                              f"(delete them if unused)")
    return gate
