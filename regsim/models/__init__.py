"""Simulation models, looked up by name: the one door through which the runner simulates a variant.

    from regsim.models import simulate
    result = simulate(scenario, seed, progress=lambda fraction: ...)   # a VariantResult

A model is a function ``fn(scenario, seed, progress) -> VariantResult`` registered under a name
with :func:`register_model`. A scenario is simulated by the model named after its workload kind
(:func:`model_name`: ``rollout``, ``poisson``, ``trace``). Every module in this package registers
its models when imported; :func:`discover` imports them all the first time a model is looked up,
so neither the runner nor the command line imports a model's internals. ``progress``, when
given, takes a fraction in [0, 1] of the variant done, for progress bars.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import TYPE_CHECKING

from .core.result import VariantResult

if TYPE_CHECKING:
    from ..scenario import Scenario

__all__ = ["MODELS", "ModelError", "Model", "VariantResult", "call_model", "discover", "lookup", "model_name",
           "register_model", "simulate"]

Progress = Callable[[float], None]
Model = Callable[["Scenario", int, "Progress | None"], VariantResult]

#: every registered model by name.
MODELS: dict[str, Model] = {}
#: modules of this package that failed to import, with why (shown when a model is missing).
_BROKEN: dict[str, str] = {}
_discovered = False


class ModelError(LookupError):
    """No model can simulate a scenario: a mistake in what was asked for, like a user error."""


def register_model(name: str, fn: Model) -> Model:
    """Make ``fn`` the model called ``name``; returns ``fn`` so it can serve as a decorator's body.

    Registering the same function again is harmless; a different function under a taken name
    is an error, since two models claiming one workload kind is a bug.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"a model name must be a non-empty string, got {name!r}")
    if not callable(fn):
        raise TypeError(f"model {name!r} must be callable, got {type(fn).__name__}")
    current = MODELS.get(name)
    if current is not None and current is not fn and _qualname(current) != _qualname(fn):
        raise ValueError(f"model {name!r} is already registered as {_qualname(current)}; "
                         f"cannot register {_qualname(fn)} under the same name")
    MODELS[name] = fn
    return fn


def _qualname(fn: object) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


def discover() -> dict[str, Model]:
    """Import every module of this package once, so that each registers its models; returns MODELS.

    A module that fails to import is remembered, not raised: the other models stay usable, and
    the failure is shown when a model it might have provided is asked for.
    """
    global _discovered
    if not _discovered:
        _discovered = True
        for info in pkgutil.walk_packages(__path__, prefix=f"{__name__}."):
            if info.name.rsplit(".", 1)[-1] in ("result",) or info.name.rsplit(".", 1)[-1].startswith("_"):
                continue
            try:
                importlib.import_module(info.name)
            except Exception as exc:  # noqa: BLE001 -- reported with the missing model
                _BROKEN[info.name] = f"{type(exc).__name__}: {exc}"
    return MODELS


def model_name(scenario: Scenario) -> str:
    """The name of the model that simulates ``scenario``: its workload kind."""
    return str(scenario.workload.kind)


def lookup(scenario: Scenario) -> Model:
    """The model for ``scenario``; :class:`ModelError` listing the known models if none is registered."""
    name = model_name(scenario)
    fn = discover().get(name)
    if fn is None:
        known = ", ".join(sorted(MODELS)) or "none"
        broken = "".join(f"; module {m} failed to import ({why})" for m, why in sorted(_BROKEN.items()))
        raise ModelError(f"no model is registered for workload kind {name!r} (scenario {scenario.name!r}); "
                         f"known models: {known}{broken}")
    return fn


def call_model(fn: Model, scenario: Scenario, seed: int, progress: Progress | None = None) -> VariantResult:
    """Run the model ``fn`` on ``scenario``; a :class:`TypeError` if it returns anything but a VariantResult."""
    result = fn(scenario, seed, progress)
    if not isinstance(result, VariantResult):
        raise TypeError(f"model {_qualname(fn)} for workload kind {model_name(scenario)!r} returned "
                        f"{type(result).__name__}, expected a VariantResult")
    return result


def simulate(scenario: Scenario, seed: int, *, progress: Progress | None = None) -> VariantResult:
    """Simulate ``scenario`` with ``seed`` on its model; the model's :class:`VariantResult`."""
    return call_model(lookup(scenario), scenario, seed, progress)
