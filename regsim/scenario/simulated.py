"""What each model simulates: a setting the model would ignore, or a combination it refuses, is a load-time error.

A scenario is simulated by one model, chosen by its workload kind and, for a rollout, its
distribution strategy. Each model honours part of the schema: the access layer (``registry.tls``,
``registry.rate_limit``), scripted and random failures, scans, monitoring and the token service are
played by the ``poisson`` and ``closed`` models only, the layer cache by ``trace`` only. A setting
the chosen model never reads would change nothing in the results, silently; so a scenario that
sets one away from its default is refused when it is loaded (``regsim validate`` and ``regsim
run``), naming the keys and the workload kinds that do simulate them. Settings of an alternative
not chosen are not errors, since a sweep over the alternatives needs them: ``distribution.p2p`` in
a central rollout, and the keys of a feature that is off (``registry.cache`` with ``policy:
none``, ``failures`` where nothing fails, ``registry.auth`` with ``mode: none``, ...).

The rules a model would otherwise enforce only when it runs are checked here too, so every variant
``regsim validate`` passes can run: a P2P or proxy-cache node pulls once (``workload.repeat: 1``),
seeders leave nodes to pull and hold no real bytes, a ``real`` data plane stays within what one
machine should read, and the ``poisson`` and ``closed`` models play only the failure events they
know. (Kept in step with the models by ``tests/scenario/test_simulated.py``, which runs them.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from regsim.spec.base import Section
from .errors import Problem
from .paths import show_path, split_path

__all__ = ["IGNORED", "REAL_LIMIT_BYTES", "model_of", "model_problems"]

#: bytes a ``real`` data plane may read in total before a run is refused (the models check it too)
REAL_LIMIT_BYTES = 4 << 30
#: strategies of a rollout, each its own model
STRATEGIES = ("central", "proxy-cache", "p2p-swarm", "p2p-scheduler")
_ACCESS = ("registry.tls", "registry.rate_limit")
_OPERATIONS = ("failures", "scan", "monitoring", "registry.storage.capacity")
#: the token service (its cores, the users' password hashes, Basic credentials) of the poisson model's auth path
_TOKEN_SERVICE = ("registry.auth.service_cores", "registry.auth.db.hash", "registry.auth.db.credentials")
#: a rollout logs each node in once per pull and prices it on a frontend: no refreshes, no token
#: service; and it runs until every pull completes, whatever the scenario's duration
_ROLLOUT = (*_OPERATIONS, *_ACCESS, "registry.cache", *_TOKEN_SERVICE, "registry.auth.token_ttl", "duration")

#: keys (a section stands for all of its keys) each model ignores, by model (see :func:`model_of`)
IGNORED: dict[str, tuple[str, ...]] = {
    **{f"rollout/{strategy}": _ROLLOUT for strategy in STRATEGIES},
    "poisson": ("registry.cache", "distribution.strategy"),
    "closed": ("registry.cache", "distribution.strategy"),
    "trace": (*_OPERATIONS, *_ACCESS, *_TOKEN_SERVICE, "distribution.strategy", "image.layers", "image.from"),
}
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
#: fail/repair events the poisson and closed models play, by target kind (storage: the storage failures)
_PLAYED_FAILS = ("storage", "frontend", "db")


@dataclass(frozen=True)
class _Finding:
    problem: Problem
    #: keys whose value decides the finding: a sweep over any of them leaves it to the variants
    depends: tuple[str, ...]


def model_of(scenario: Any) -> str:
    """``rollout/central``, ``rollout/p2p-swarm``, ..., ``poisson``, ``closed`` or ``trace``."""
    kind = scenario.workload.kind
    return f"rollout/{scenario.distribution.strategy}" if kind == "rollout" else str(kind)


def model_problems(scenario: Any, swept: Iterable[str] = ()) -> list[Problem]:
    """What the scenario's model would ignore or refuse, one problem per rule broken.

    ``swept`` are the sweep's keys: the base of a sweep is never simulated itself, so a finding
    that a swept key could change is left to the variants (each checked when the sweep expands).
    """
    swept = [".".join(split_path(key)) for key in swept]
    if any(key in _CHOOSERS for key in swept):
        return []
    findings = [_ignored(scenario), *_rollout_rules(scenario), *_failure_rules(scenario)]
    return [f.problem for f in findings if f is not None and not any(_overlap(k, d) for k in swept for d in f.depends)]


def _overlap(a: str, b: str) -> bool:
    return _within(a, b) or _within(b, a)


# -- settings the model ignores ---------------------------------------------------------------------

def _ignored(scenario: Any) -> _Finding | None:
    model = model_of(scenario)
    keys = [key for prefix in IGNORED[model] if _switched_on(scenario, prefix) for key in _changed(scenario, prefix)]
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
    for other, ignored in IGNORED.items():
        if other == model or any(_overlap(key, i) for key in keys for i in ignored):
            continue
        if other.startswith("rollout/") and model.startswith("rollout/"):
            strategies.append(other[8:])
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

def _rollout_rules(scenario: Any) -> list[_Finding]:
    if scenario.workload.kind != "rollout":
        return []
    rollout, strategy, p2p = scenario.workload, scenario.distribution.strategy, scenario.distribution.p2p
    nodes = rollout.nodes or scenario.cluster.nodes
    found: list[_Finding] = []
    if strategy != "central" and rollout.repeat != 1:
        found.append(_Finding(Problem("workload.repeat", f"{strategy}: a node pulls the image once in this model; "
                                                         f"workload.repeat must be 1, got {rollout.repeat}"),
                              ("workload.repeat",)))
    if strategy.startswith("p2p-") and p2p.seeders >= nodes:
        found.append(_Finding(Problem("distribution.p2p.seeders", f"{p2p.seeders} seeders leave no node of the "
                                                                  f"{nodes} to pull the image"),
                              ("workload.nodes", "cluster.nodes", "distribution.p2p.seeders")))
    if strategy.startswith("p2p-") and p2p.seeders and scenario.data_plane == "real":
        found.append(_Finding(Problem("distribution.p2p.seeders", "seeders need the modelled or sampled data "
                                                                  "plane: seeders hold no real bytes"),
                              ("distribution.p2p.seeders", "data_plane")))
    pulls, image = nodes * rollout.repeat, scenario.image.total_size()
    if scenario.data_plane == "real" and pulls * image > REAL_LIMIT_BYTES:
        found.append(_Finding(Problem("data_plane", f"real would read {pulls * image / 1e9:.1f} GB of real bytes "
                                                    f"({pulls} pulls of {image / 1e6:.0f} MB); use 'modelled' or "
                                                    "'sampled' for runs this large"),
                              ("workload.nodes", "workload.repeat", "cluster.nodes", "data_plane", "image")))
    return found


def _failure_rules(scenario: Any) -> list[_Finding]:
    if scenario.workload.kind not in ("poisson", "closed"):
        return []
    kind, failures = scenario.workload.kind, scenario.failures
    found: list[_Finding] = []
    for i, event in enumerate(failures.events):
        target, where = event.target_kind(), show_path(["failures", "events", i, "target"])
        if event.kind in ("fail", "repair") and target not in _PLAYED_FAILS:
            found.append(_Finding(Problem(where, f"the {kind} model has no '{event.kind}' of {event.target!r}: it "
                                                 f"fails and repairs {', '.join(_PLAYED_FAILS)}; a 'partition' "
                                                 f"cuts a node or rack off the network"), ("failures.events",)))
        elif target == "db" and scenario.registry.auth.mode == "none":
            found.append(_Finding(Problem(where, f"'{event.kind}' of the database needs registry.auth.mode 'jwt' "
                                                 "or 'db'; this scenario has no database"),
                                  ("failures.events", "registry.auth.mode")))
    scripted = any(e.target_kind() == "storage" and e.kind in ("fail", "repair") for e in failures.events)
    if failures.measure_degraded and not scripted and scenario.registry.storage.nodes < 2:
        found.append(_Finding(Problem("failures.measure_degraded", "fails two storage nodes, but "
                                      f"registry.storage.nodes is {scenario.registry.storage.nodes}"),
                              ("failures", "registry.storage.nodes")))
    return found
