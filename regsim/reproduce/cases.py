"""Published cases: the scenarios under ``scenarios/published/`` and the variant each metric names."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..scenario import Scenario, expand, load_scenario
from ..scenario.sweep import Variant
from ..spec.expect import Expect, Metric

__all__ = ["Case", "ReproduceError", "load_cases"]


class ReproduceError(UserError, ValueError):
    """A published case that cannot be used: no ``expect`` block, an unknown name, a metric whose
    ``variant`` matches no variant (or several)."""


@dataclass(frozen=True)
class Case:
    """One published result: its scenario file, the scenario, and the variant of each metric."""

    path: Path
    scenario: Scenario
    #: metric name -> the variant it is read from
    variants: dict[str, Variant]

    @property
    def name(self) -> str:
        return self.scenario.name

    @property
    def expect(self) -> Expect:
        assert self.scenario.expect is not None
        return self.scenario.expect

    def metrics(self, quick: bool = False) -> list[Metric]:
        """The case's metrics; with ``quick``, those marked quick."""
        return [m for m in self.expect.metrics if m.quick or not quick]

    def variant_ids(self, quick: bool = False) -> list[str]:
        """The ids of the variants the (quick) metrics read, in sweep order."""
        ids = {self.variants[m.name].id for m in self.metrics(quick)}
        return sorted(ids)


def _matches(variant: Variant, wanted: dict[str, Any]) -> bool:
    return all(key in variant.values and _same(variant.values[key], value) for key, value in wanted.items())


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return float(a) == float(b)
    return a == b


def _variant_of(path: Path, variants: Sequence[Variant], metric: Metric) -> Variant:
    found = [v for v in variants if _matches(v, metric.variant)]
    where = f"{path}: expect.metrics {metric.name!r}"
    if not found:
        swept = sorted({k for v in variants for k in v.values})
        hint = f"swept keys: {', '.join(swept)}" if swept else "the scenario sweeps nothing; leave 'variant' out"
        raise ReproduceError(f"{where}: variant {metric.variant} matches no variant of the sweep ({hint})")
    if len(found) > 1:
        raise ReproduceError(f"{where}: variant {metric.variant or '{}'} matches {len(found)} variants "
                             f"({', '.join(v.describe() for v in found[:3])}...); name every swept key")
    if found[0].scenario is None:
        raise ReproduceError(f"{where}: its variant is invalid: {found[0].error}")
    return found[0]


def load_case(path: Path) -> Case:
    """The case in ``path``; :class:`ReproduceError` if it has no ``expect`` block or a metric
    names no single variant (a bad scenario raises its own ScenarioError)."""
    scenario = load_scenario(path)
    if scenario.expect is None:
        raise ReproduceError(f"{path}: no 'expect' block; a published case states its source and figures there "
                             "(docs/validation.md, section Adding a case)")
    variants = expand(scenario, source=str(path))
    return Case(path, scenario, {m.name: _variant_of(path, variants, m) for m in scenario.expect.metrics})


def load_cases(folder: str | Path, names: Iterable[str] = ()) -> list[Case]:
    """Every case under ``folder`` (sorted by name), or only those ``names`` (file stems or
    scenario names); :class:`ReproduceError` for a name that is neither."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ReproduceError(f"{folder}: no such folder of published cases")
    paths = sorted([*folder.rglob("*.yaml"), *folder.rglob("*.yml")])
    wanted = list(names)
    cases = [load_case(p) for p in paths]
    if not wanted:
        return sorted(cases, key=lambda c: c.name)
    chosen = []
    for name in wanted:
        match = [c for c in cases if name in (c.name, c.path.stem)]
        if not match:
            known = ", ".join(sorted(c.name for c in cases)) or "none"
            raise ReproduceError(f"no published case named {name!r} in {folder}; known: {known}")
        chosen.extend(c for c in match if c not in chosen)
    return chosen
