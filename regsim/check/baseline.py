"""Baselines of the CI gate: one JSON file per scenario with every variant's KPIs and their tolerances.

``results/baselines/<scenario name>.json``::

    {
      "regsim_baseline": 1,
      "name": "ci-central-rs-encrypted",
      "scenario": "scenarios/ci/central-rs-encrypted.yaml",
      "scenario_sha256": "…",            # of the resolved scenario: tells "the scenario changed"
      "profile": "reference",
      "regsim_version": "0.1.0",
      "tolerances": {"makespan_s": "rtol 1e-09", "nodes": "exact", …},
      "variants": {"v000": {"values": {…swept keys…}, "kpis": {"makespan_s": 4.920171878233557, …}}}
    }

Floats are written as their shortest exact ``repr``, so a baseline holds precisely what the run
gave. A tolerance is ``"exact"``, ``"rtol R"``, ``"atol A"`` or ``"rtol R, atol A"``: a number passes when
``|now - baseline| <= atol + rtol * |baseline|``; text and booleans must be equal. People edit
the tolerances; ``regsim check --update`` rewrites the KPIs and keeps every tolerance stated,
giving a new KPI :func:`default_tolerance` (exact, or ``rtol 1e-9`` for floats).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UserError

__all__ = ["BASELINE_VERSION", "Baseline", "BaselineError", "Tolerance", "default_tolerance", "read_baseline",
           "write_baseline"]

BASELINE_VERSION = 1
#: relative tolerance given to a float KPI that has none stated: summation order and libm may
#: differ in the last bits between machines and numpy builds; any real change is far larger.
FLOAT_RTOL = 1e-9


class BaselineError(UserError, ValueError):
    """A baseline file that cannot be read: names the file and what is wrong."""


@dataclass(frozen=True)
class Tolerance:
    """How far a KPI may move from its baseline: nothing (``exact``), or ``atol + rtol * |baseline|``."""

    rtol: float = 0.0
    atol: float = 0.0

    def __post_init__(self) -> None:
        for name in ("rtol", "atol"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
                raise ValueError(f"tolerance {name} must be a finite number >= 0, got {value!r}")

    @property
    def exact(self) -> bool:
        return self.rtol == 0 and self.atol == 0

    @classmethod
    def parse(cls, data: Any, where: str = "tolerance") -> Tolerance:
        """``"exact"``, ``"rtol 1e-9"``, ``"rtol 0.01, atol 0.5"``, or a mapping with ``rtol``/``atol``."""
        if data == "exact":
            return cls()
        parts: Any = data
        if isinstance(data, str):
            parts = {}
            for item in data.split(","):
                name, _, value = item.strip().partition(" ")
                try:
                    parts[name] = float(value)
                except ValueError:
                    parts = None
                    break
        if isinstance(parts, dict) and parts and set(parts) <= {"rtol", "atol"}:
            try:
                return cls(**parts)
            except (TypeError, ValueError) as exc:
                raise BaselineError(f"{where}: {exc}") from None
        raise BaselineError(f"{where}: expected \"exact\", \"rtol R\", \"atol A\" or \"rtol R, atol A\" "
                            f"(got {json.dumps(data)})")

    def to_json(self) -> str:
        return self.describe()

    def allows(self, baseline: Any, now: Any) -> bool:
        """True when ``now`` is within this tolerance of ``baseline``."""
        if _number(baseline) and _number(now):
            if math.isnan(baseline) or math.isnan(now):
                return math.isnan(baseline) and math.isnan(now)
            return abs(now - baseline) <= self.atol + self.rtol * abs(baseline)
        return type(baseline) is type(now) and baseline == now

    def describe(self) -> str:
        if self.exact:
            return "exact"
        return ", ".join(f"{k} {v!r}" for k, v in (("rtol", self.rtol), ("atol", self.atol)) if v)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def default_tolerance(value: Any) -> Tolerance:
    """The tolerance a new KPI gets: ``rtol`` :data:`FLOAT_RTOL` for floats, exact otherwise."""
    return Tolerance(rtol=FLOAT_RTOL) if isinstance(value, float) else Tolerance()


@dataclass
class Baseline:
    """The committed expectation for one scenario: KPIs per variant and a tolerance per KPI."""

    name: str
    scenario: str
    scenario_sha256: str
    variants: dict[str, dict[str, Any]]
    tolerances: dict[str, Tolerance] = field(default_factory=dict)
    profile: str = "reference"
    regsim_version: str = ""

    def tolerance(self, kpi: str) -> Tolerance:
        return self.tolerances.get(kpi, Tolerance())

    def to_json(self) -> dict[str, Any]:
        return {
            "regsim_baseline": BASELINE_VERSION,
            "name": self.name,
            "scenario": self.scenario,
            "scenario_sha256": self.scenario_sha256,
            "profile": self.profile,
            "regsim_version": self.regsim_version,
            "tolerances": {k: t.to_json() for k, t in self.tolerances.items()},
            "variants": self.variants,
        }


def read_baseline(path: str | Path) -> Baseline:
    """The baseline in ``path``; a :class:`BaselineError` naming the file and the bad key."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BaselineError(f"{path}: cannot read the baseline: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise BaselineError(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    if not isinstance(data, dict) or data.get("regsim_baseline") != BASELINE_VERSION:
        raise BaselineError(f"{path}: not a regsim baseline of version {BASELINE_VERSION} "
                            f"(expected a JSON object with \"regsim_baseline\": {BASELINE_VERSION})")
    variants = data.get("variants")
    if not isinstance(variants, dict) or not all(
            isinstance(v, dict) and isinstance(v.get("kpis"), dict) and isinstance(v.get("values", {}), dict)
            for v in variants.values()):
        raise BaselineError(f"{path}: variants: expected {{\"v000\": {{\"values\": {{...}}, \"kpis\": {{...}}}}, ...}}")
    tolerances = data.get("tolerances", {})
    if not isinstance(tolerances, dict):
        raise BaselineError(f"{path}: tolerances: expected a mapping of KPI name to tolerance")
    for key in ("name", "scenario"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise BaselineError(f"{path}: {key}: expected a non-empty string")
    return Baseline(
        name=data["name"], scenario=data["scenario"], scenario_sha256=str(data.get("scenario_sha256", "")),
        variants={vid: {"values": dict(v.get("values", {})), "kpis": dict(v["kpis"])} for vid, v in variants.items()},
        tolerances={k: Tolerance.parse(t, f"{path}: tolerances.{k}") for k, t in tolerances.items()},
        profile=str(data.get("profile", "reference")), regsim_version=str(data.get("regsim_version", "")))


def write_baseline(baseline: Baseline, path: str | Path) -> Path:
    """Write ``baseline`` as stable, diff-friendly JSON (same content, same bytes)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(baseline.to_json(), indent=2, allow_nan=True) + "\n", encoding="utf-8")
    return path
