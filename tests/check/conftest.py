import pytest

TINY = """name: {name}
seed: 3
cluster: {{nodes: 8, racks: 1}}
registry: {{storage: {{codec: "replicate(2)", nodes: 2}}, auth: {{mode: jwt, algorithm: HS256}}}}
image: {{layers: [4MB, 6MB]}}
workload: {{kind: rollout, start: 1s}}
sweep:
  registry.egress: [10Gbps, 25Gbps]
"""


@pytest.fixture
def ci(tmp_path):
    """A folder of two tiny CI scenarios and an empty baselines folder beside it."""
    scenarios, baselines = tmp_path / "ci", tmp_path / "baselines"
    scenarios.mkdir()
    (scenarios / "a.yaml").write_text(TINY.format(name="tiny-a"))
    (scenarios / "b.yaml").write_text(TINY.format(name="tiny-b").replace("seed: 3", "seed: 4"))
    return scenarios, baselines
