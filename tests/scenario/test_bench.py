"""Speed of sweep expansion, against plain pydantic validation of the same scenarios."""

import pytest

from regsim.scenario import Scenario, expand, resolved, scenario_from_dict
from tests.timing import best_of

#: expanding a variant (resolve, set the swept keys, validate, check) against validating it alone
TARGET_RATIO = 4.0



@pytest.mark.benchmark
def test_expand_costs_a_few_validations_per_variant(benchmark):
    scenario = scenario_from_dict({"name": "bench", "sweep": {"cluster.nodes": list(range(100, 200)),
                                                              "registry.auth.mode": ["none", "jwt"]}})
    variants = benchmark(expand, scenario)
    assert len(variants) == 200 and all(v.ok for v in variants)
    data = [resolved(v.scenario) for v in variants]
    raw = best_of(lambda: [Scenario.model_validate(d) for d in data])
    ours = benchmark.stats.stats.min
    ratio = ours / raw
    print(f"\nexpand: {ours / 200 * 1e6:.0f} us/variant; plain validation {raw / 200 * 1e6:.0f} us; "
          f"ratio {ratio:.2f} (target <= {TARGET_RATIO})")
    assert ratio <= TARGET_RATIO / 0.8
