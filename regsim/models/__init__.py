"""Simulation models: one declarative registry of model families, the door through which variants run.

    from regsim.models import simulate, specs
    result = simulate(scenario, seed, progress=lambda fraction: ...)   # a VariantResult

Each sub-package but ``core`` is a model *family* that registers one
:class:`~regsim.models.core.spec.ModelSpec` when imported (``register(SPEC)`` in its
``__init__``). :func:`specs` imports every family once, so neither the runner nor the scenario
loader imports a model's internals, and adding a family touches its own package only. A scenario
is simulated by the family whose spec lists its ``workload.kind`` (and, for a family with
strategies, its ``distribution.strategy``); the family's simulate function receives the typed
config its spec makes from the scenario, never the scenario itself.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Any

from .core.result import VariantResult
from .core.spec import Finding, ModelConfig, ModelError, ModelSpec, Progress

__all__ = ["Finding", "Model", "ModelConfig", "ModelError", "ModelSpec", "Progress", "VariantResult",
           "call_model", "lookup", "model_name", "register", "simulate", "spec_for", "specs", "strategy_model"]

#: every registered spec, by family name
_SPECS: dict[str, ModelSpec] = {}
#: families that failed to import, with why (shown when a model is missing)
_BROKEN: dict[str, str] = {}
_discovered = False


def register(spec: ModelSpec) -> ModelSpec:
    """Add a family's spec. Registering the same spec again is harmless; another spec claiming a
    family name, a workload kind or a strategy that is taken is an error (two models for one
    workload is a bug)."""
    if not isinstance(spec, ModelSpec):
        raise TypeError(f"register() takes a ModelSpec, got {type(spec).__name__}")
    current = _SPECS.get(spec.family)
    if current is not None:
        if current == spec:
            return current
        raise ValueError(f"model family {spec.family!r} is already registered")
    for other in _SPECS.values():
        taken = set(other.workloads) & set(spec.workloads)
        if taken:
            raise ValueError(f"model family {spec.family!r} claims workload kind(s) {', '.join(sorted(taken))}, "
                             f"already simulated by family {other.family!r}")
    _SPECS[spec.family] = spec
    return spec


def specs() -> list[ModelSpec]:
    """Every family's spec, importing each family (sub-package) of this package the first time.

    A family that fails to import is remembered, not raised: the others stay usable, and the
    failure is shown when a model it might have provided is asked for.
    """
    global _discovered
    if not _discovered:
        _discovered = True
        for info in pkgutil.iter_modules(__path__, prefix=f"{__name__}."):
            if not info.ispkg or info.name.rsplit(".", 1)[-1] in ("core",):
                continue
            try:
                importlib.import_module(info.name)
            except Exception as exc:  # noqa: BLE001 -- reported with the missing model
                _BROKEN[info.name] = f"{type(exc).__name__}: {exc}"
    return sorted(_SPECS.values(), key=lambda spec: (spec.order, spec.family))


def model_name(scenario: Any) -> str:
    """The name a run records for a variant's model: its workload kind (``rollout``, ``poisson``...)."""
    return str(scenario.workload.kind)


def strategy_model(scenario: Any) -> str:
    """``rollout/central``, ``rollout/p2p-swarm``..., ``poisson``, ``closed`` or ``trace``: the workload
    kind, with the strategy where the kind's family has strategies."""
    kind = str(scenario.workload.kind)
    spec = _family_of(kind)
    if spec is not None and spec.strategies:
        return f"{kind}/{scenario.distribution.strategy}"
    return kind


def _family_of(kind: str) -> ModelSpec | None:
    return next((s for s in specs() if kind in s.workloads), None)


def spec_for(scenario: Any) -> ModelSpec:
    """The spec of the family that simulates ``scenario``; :class:`ModelError` naming what exists."""
    kind = str(scenario.workload.kind)
    spec = _family_of(kind)
    broken = "".join(f"; family {m} failed to import ({why})" for m, why in sorted(_BROKEN.items()))
    if spec is None:
        known = ", ".join(k for s in specs() for k in s.workloads) or "none"
        raise ModelError(f"no model simulates workload kind {kind!r} (scenario {scenario.name!r}); "
                         f"known kinds: {known}{broken}")
    if spec.strategies and scenario.distribution.strategy not in spec.strategies:
        raise ModelError(f"distribution.strategy: no {kind} model for {scenario.distribution.strategy!r} in this "
                         f"version; available: {', '.join(spec.strategies)}{broken}")
    return spec


@dataclass(frozen=True)
class Model:
    """A family's simulate function bound to the scenario-to-config step; what the runner calls.

    It pickles by reference (the family's name, its config class and its simulate function), so a
    variant can run in a worker process or on a Dask worker, which imports the family itself.
    """

    family: str
    config: type[ModelConfig]
    simulate: Any

    def __call__(self, scenario: Any, seed: int, progress: Progress | None = None) -> VariantResult:
        return self.simulate(self.config.from_sections(scenario), seed, progress)


def lookup(scenario: Any) -> Model:
    """The model that simulates ``scenario``; :class:`ModelError` listing the known models if none does."""
    spec = spec_for(scenario)
    return Model(spec.family, spec.config, spec.simulate)


def call_model(fn: Any, scenario: Any, seed: int, progress: Progress | None = None) -> VariantResult:
    """Run ``fn`` (a :class:`Model`, or any ``fn(scenario, seed, progress)`` under development) on
    ``scenario``; a :class:`TypeError` if it returns anything but a VariantResult."""
    result = fn(scenario, seed, progress)
    if not isinstance(result, VariantResult):
        name = f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"
        raise TypeError(f"model {name} for {model_name(scenario)!r} returned {type(result).__name__}, "
                        "expected a VariantResult")
    return result


def simulate(scenario: Any, seed: int, *, progress: Progress | None = None) -> VariantResult:
    """Simulate ``scenario`` with ``seed`` on its model; the model's :class:`VariantResult`."""
    return call_model(lookup(scenario), scenario, seed, progress)
