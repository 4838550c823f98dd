"""Sweeps: a factorial design over scenario keys, one variant per combination of values.

    sweep:
      distribution.strategy: [central, p2p-swarm]
      cluster.nodes: [100, 1000]

expands to four variants, in a stable order -- the product of the value lists with the first key
varying slowest, as written -- each a complete scenario without ``sweep``. A variant's seed is
derived from the scenario's seed and the variant's values (not its position), so adding a value
to a sweep leaves the seeds of the other variants, and hence their results, unchanged.

A variant whose combination of values breaks a rule that ties settings together (``rs(10,4)``
with three storage nodes) is returned with its error instead of a scenario, and the others are
still usable: the runner records the failure and goes on.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..sim import rng
from .errors import ScenarioError
from .loader import MAX_VARIANTS, check_sweep, resolved, scenario_from_dict
from .paths import set_path, split_path
from .schema import Scenario

__all__ = ["MAX_VARIANTS", "Variant", "derive_seed", "expand", "variant_label"]


def derive_seed(base_seed: int, variant_label: str) -> int:
    """A 63-bit seed for the variant named ``variant_label``, from the scenario's ``base_seed``.

    The one seed derivation of the project (:func:`regsim.sim.rng.derive_seed`): stable across
    processes and machines, independent for different labels.
    """
    if isinstance(base_seed, bool) or not isinstance(base_seed, (int, np.integer)) or base_seed < 0:
        raise ValueError(f"a base seed must be a non-negative integer, got {base_seed!r}")
    return rng.derive_seed(int(base_seed), variant_label)


def variant_label(values: dict[str, Any]) -> str:
    """The canonical text of a variant's swept values: JSON with sorted keys (the seed's input)."""
    return json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


@dataclass(frozen=True)
class Variant:
    """One combination of swept values: its scenario (None if invalid) or the error explaining why not."""

    id: str
    values: dict[str, Any]
    seed: int
    scenario: Scenario | None
    error: str | None = None
    label: str = field(default="")

    @property
    def ok(self) -> bool:
        return self.scenario is not None

    def describe(self) -> str:
        """``"cluster.nodes=100, distribution.strategy=central"`` (or ``"base"`` without a sweep)."""
        return ", ".join(f"{k}={v}" for k, v in self.values.items()) or "base"


def expand(scenario: Scenario, source: str = "<scenario>") -> list[Variant]:
    """The variants of ``scenario``'s sweep, in order; the scenario itself if it sweeps nothing.

    Raises :class:`ScenarioError` when a sweep key is not in the schema or a value does not
    validate on its own; a combination that fails validation becomes a variant with ``error``.
    """
    if not scenario.sweep:
        return [Variant("v000", {}, scenario.seed, scenario, label=variant_label({}))]
    base = resolved(scenario)
    problems = check_sweep(scenario.sweep, data=base)
    if problems:
        raise ScenarioError(source, problems)
    base.pop("sweep", None)
    keys = list(scenario.sweep)
    combos = list(itertools.product(*(scenario.sweep[k] for k in keys)))
    width = max(3, len(str(len(combos) - 1)))
    variants = []
    for index, combo in enumerate(combos):
        vid = f"v{index:0{width}d}"
        values = dict(zip(keys, combo))
        label = variant_label(values)
        seed = derive_seed(scenario.seed, label)
        data = base
        for key, value in values.items():
            data = set_path(data, split_path(key), value, root=Scenario)
        data["seed"] = seed
        try:
            variants.append(Variant(vid, values, seed, scenario_from_dict(data, f"{source} [{vid}]"), label=label))
        except ScenarioError as exc:
            variants.append(Variant(vid, values, seed, None, error=str(exc), label=label))
    return variants
