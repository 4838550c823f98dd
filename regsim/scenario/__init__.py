"""Scenarios: the YAML schema, its loader with ``--set`` overrides, and factorial sweeps.

    from regsim.scenario import load_scenario, expand, dump_yaml
    scenario = load_scenario("scenarios/rollout.yaml", ["cluster.nodes=1000"])
    for variant in expand(scenario):
        ...

Every key, its unit and its default: ``docs/scenarios.md``.
"""

from .errors import Problem, ScenarioError
from .loader import apply_overrides, dump_yaml, load_scenario, parse_yaml, resolved, scenario_from_dict
from .schema import Scenario
from .sweep import Variant, derive_seed, expand

__all__ = [
    "Problem",
    "Scenario",
    "ScenarioError",
    "Variant",
    "apply_overrides",
    "derive_seed",
    "dump_yaml",
    "expand",
    "load_scenario",
    "parse_yaml",
    "resolved",
    "scenario_from_dict",
]
