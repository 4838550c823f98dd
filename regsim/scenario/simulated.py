"""What each model simulates: a setting the model would ignore, or a combination it refuses, is a load-time error.

A scenario is simulated by one model, chosen by its workload kind and, for a rollout, its
distribution strategy. Each model family declares, in its spec (:mod:`regsim.models`), the keys its
models ignore and the rules they enforce; this module applies them. Today the access layer
(``registry.tls``, ``registry.rate_limit``), scripted and random failures, scans, monitoring and the
token service are played by the ``poisson`` and ``closed`` models only, the layer cache by ``trace``
only. A setting
the chosen model never reads would change nothing in the results, silently; so a scenario that
sets one away from its default is refused when it is loaded (``regsim validate`` and ``regsim
run``), naming the keys and the workload kinds that do simulate them. Settings of an alternative
not chosen are not errors, since a sweep over the alternatives needs them: ``distribution.p2p`` in
a central rollout, and the keys of a feature that is off (``registry.cache`` with ``policy:
none``, ``failures`` where nothing fails, ``registry.auth`` with ``mode: none``, ...).

The rules a model would otherwise enforce only when it runs (its spec's ``checks``) are checked
here too, so every variant ``regsim validate`` passes can run: a P2P or proxy-cache node pulls once
(``workload.repeat: 1``), seeders leave nodes to pull and hold no real bytes, a ``real`` data plane
stays within what one machine should read, and the ``poisson`` and ``closed`` models play only the
failure events they know. (Kept in step with the models by ``tests/scenario/test_simulated.py``, which runs them.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from regsim.models import spec_for, specs, strategy_model
from regsim.spec.base import Section

from .errors import Problem
from .paths import split_path

__all__ = ["ignored_by_model", "model_of", "model_problems"]

#: features that can be off: their keys change nothing while they are, so they are not flagged then
#: (a sweep that turns a feature on in some variants sets its keys in all of them)
_SWITCHES: dict[str, Callable[[Any], bool]] = {
    "failures": lambda s: bool(s.failures.events) or s.failures.afr > 0 or s.failures.measure_degraded,
    "scan": lambda s: bool(s.scan.at),
    "registry.rate_limit": lambda s: s.registry.rate_limit.rate is not None,
    "registry.cache": lambda s: s.registry.cache.enabled,
    "registry.auth": lambda s: s.registry.auth.mode != "none",
    "registry.auth.db.credentials": lambda s: s.registry.auth.mode == "db",
}
#: the keys that choose the model: sweeping one leaves every check of the scenario to its variants
_CHOOSERS = ("workload", "distribution", "distribution.strategy")


def ignored_by_model() -> dict[str, tuple[str, ...]]:
    """The keys (a section stands for all of its keys) each model ignores, by model name
    (``rollout/central``..., ``poisson``...), as the model families declare them."""
    return {name: spec.ignores for spec in specs() for name in spec.model_names()}


@dataclass(frozen=True)
class _Finding:
    problem: Problem
    #: keys whose value decides the finding: a sweep over any of them leaves it to the variants
    depends: tuple[str, ...]


def model_of(scenario: Any) -> str:
    """``rollout/central``, ``rollout/p2p-swarm``, ..., ``poisson``, ``closed`` or ``trace``."""
    return strategy_model(scenario)


def model_problems(scenario: Any, swept: Iterable[str] = ()) -> list[Problem]:
    """What the scenario's model would ignore or refuse, one problem per rule broken.

    ``swept`` are the sweep's keys: the base of a sweep is never simulated itself, so a finding
    that a swept key could change is left to the variants (each checked when the sweep expands).
    """
    spec_for(scenario)  # a ModelError when no family simulates it
    swept = [".".join(split_path(key)) for key in swept]
    if any(key in _CHOOSERS for key in swept):
        return []
    findings = [_ignored(scenario), *_model_checks(scenario)]
    return [f.problem for f in findings if f is not None and not any(_overlap(k, d) for k in swept for d in f.depends)]


def _overlap(a: str, b: str) -> bool:
    return _within(a, b) or _within(b, a)


# -- settings the model ignores ---------------------------------------------------------------------

def _ignored(scenario: Any) -> _Finding | None:
    model = model_of(scenario)
    keys = [key for prefix in ignored_by_model()[model] if _switched_on(scenario, prefix) for key in _changed(scenario, prefix)]
    if scenario.image.from_ is not None and "image.layers" in keys:
        keys.remove("image.layers")  # read from the source: the user set `from`, not the sizes
    if not keys:
        return None
    label = f"workload.kind rollout (distribution.strategy {model[8:]})" if model.startswith("rollout/") \
        else f"workload.kind {model}"
    them = "it" if len(keys) == 1 else "them"
    use = _alternatives(model, keys)
    advice = f"use {use}, or remove {them}" if use else f"no model simulates {them}: remove {them}"
    message = f"{label} does not simulate {', '.join(keys)}; {advice}"
    switches = tuple(feature for feature in _SWITCHES if any(_within(key, feature) for key in keys))
    return _Finding(Problem("", message), (*keys, *switches))


def _alternatives(model: str, keys: list[str]) -> str:
    """The models that honour every one of ``keys``, as the settings that choose them."""
    kinds: list[str] = []
    strategies: list[str] = []
    for other, ignored in ignored_by_model().items():
        if other == model or any(_overlap(key, i) for key in keys for i in ignored):
            continue
        if "/" in other and other.split("/")[0] == model.split("/")[0]:  # another strategy of the same kind
            strategies.append(other.split("/", 1)[1])
        elif (kind := other.split("/")[0]) not in kinds:
            kinds.append(kind)
    choices = [f"distribution.strategy {' or '.join(strategies)}"] if strategies else []
    choices += [f"workload.kind {' or '.join(kinds)}"] if kinds else []
    return " or ".join(choices)


def _switched_on(scenario: Any, prefix: str) -> bool:
    """False when ``prefix`` belongs to a feature that is off (every switch above it must be on)."""
    return all(on(scenario) for feature, on in _SWITCHES.items() if _within(prefix, feature))


def _within(key: str, prefix: str) -> bool:
    return key == prefix or key.startswith(prefix + ".")


def _changed(scenario: Any, prefix: str) -> list[str]:
    """The keys at or under ``prefix`` whose value differs from the default, in schema order."""
    value, default = scenario, _defaults()
    for part in prefix.split("."):
        value, default = _get(value, part), _get(default, part)
    return _leaves(value, default, prefix)


def _leaves(value: Any, default: Any, path: str) -> list[str]:
    if isinstance(value, Section) and type(value) is type(default):
        return [key for name, field in type(value).model_fields.items()
                for key in _leaves(getattr(value, name), getattr(default, name), f"{path}.{field.alias or name}")]
    return [path] if value != default else []


def _get(section: BaseModel, key: str) -> Any:
    for name, field in type(section).model_fields.items():
        if key in (name, field.alias):
            return getattr(section, name)
    raise KeyError(f"{type(section).__name__} has no key {key!r}")


_DEFAULTS: list[Any] = []


def _defaults() -> Any:
    """The scenario of defaults (built once, on first use: the schema imports this module)."""
    if not _DEFAULTS:
        from .schema import Scenario
        _DEFAULTS.append(Scenario.model_validate({"name": "defaults"}))
    return _DEFAULTS[0]


# -- rules a model would otherwise enforce when it runs ---------------------------------------------

def _model_checks(scenario: Any) -> list[_Finding]:
    spec = spec_for(scenario)
    return [_Finding(Problem(f.key, f.message), f.depends) for f in spec.checks(spec.make_config(scenario))]
