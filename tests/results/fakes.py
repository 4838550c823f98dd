"""Small deterministic stand-ins for the simulation models, for tests of the runner and results.

They are module-level functions so that spawned worker processes and Dask workers can import
them by name. None depends on the real models in ``regsim.models``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from regsim.models import VariantResult
from regsim.scenario import Scenario, scenario_from_dict

#: cluster.nodes value for which :func:`flaky_model` raises.
FAILING_NODES = 13


def fake_model(scenario: Scenario, seed: int, progress: Callable[[float], None] | None = None) -> VariantResult:
    """Pull times of every node from the cluster size, image size and registry egress, plus noise from ``seed``."""
    rng = np.random.default_rng(seed)
    nodes = scenario.cluster.nodes
    size = scenario.image.total_size() or 0
    share = scenario.registry.egress / nodes
    p2p = scenario.distribution.strategy.startswith("p2p")
    base = size / (scenario.cluster.node.nic.down if p2p else share)
    pulls = base * (1.0 + 0.2 * rng.random(nodes))
    if progress:
        progress(0.5)
    times = np.linspace(0.0, float(pulls.max()), 5)
    active = [(pulls > t).sum() for t in times]
    series = pd.concat([
        pd.DataFrame({"time_s": times, "metric": "active_pulls", "value": np.asarray(active, dtype=float)}),
        pd.DataFrame({"time_s": np.repeat(times, 2), "metric": "egress_bytes_s",
                      "value": rng.random(10) * scenario.registry.egress, "frontend": ["fe0", "fe1"] * 5}),
    ], ignore_index=True)
    alerts = pd.DataFrame({"time_s": [float(pulls.max())], "level": ["warning"], "rule": ["slow-pull"],
                           "subject": ["node/0"], "message": ["slowest pull finished"]})
    if progress:
        progress(1.0)
    return VariantResult(
        kpis={"nodes": nodes, "p50_pull_s": float(np.median(pulls)), "p99_pull_s": float(np.quantile(pulls, 0.99)),
              "max_pull_s": float(pulls.max()), "strategy": scenario.distribution.strategy,
              "third": 1 / 3},
        series=series, samples={"pull_time_s": pulls}, alerts=alerts,
        notes=[f"{nodes} nodes share {scenario.registry.egress:.3g} B/s of egress", "pull times are made up"],
        events=int(nodes * 10))


def flaky_model(scenario: Scenario, seed: int, progress: Callable[[float], None] | None = None) -> VariantResult:
    """:func:`fake_model`, except that it raises for ``cluster.nodes == FAILING_NODES``."""
    if scenario.cluster.nodes == FAILING_NODES:
        raise RuntimeError(f"the fake model cannot simulate {FAILING_NODES} nodes")
    return fake_model(scenario, seed, progress)


def slow_model(scenario: Scenario, seed: int, progress: Callable[[float], None] | None = None) -> VariantResult:
    """:func:`fake_model` after some real work, reporting progress as it goes (for progress bars)."""
    rng = np.random.default_rng(seed)
    steps = 30
    for i in range(steps):
        np.sort(rng.random(100_000))
        if progress:
            progress((i + 1) / steps)
    return fake_model(scenario, seed)


def scenario(**overrides: Any) -> Scenario:
    """A small valid scenario; keyword arguments replace top-level sections."""
    data: dict[str, Any] = {"name": "fake-rollout", "description": "A made-up rollout for tests.", "seed": 7,
                            "cluster": {"nodes": 20}, "image": {"layers": ["10MB", "30MB"]}}
    data.update(overrides)
    return scenario_from_dict(data)


def sweep_scenario(**overrides: Any) -> Scenario:
    """:func:`scenario` sweeping cluster nodes and distribution strategy (four variants)."""
    return scenario(sweep={"cluster.nodes": [10, 20], "distribution.strategy": ["central", "p2p-swarm"]}, **overrides)


def with_model(fn: Callable[..., VariantResult], kind: str = "rollout") -> tuple[str, Any]:
    """The family that simulates ``kind`` and its spec with ``fn`` as its simulate function
    (``fn`` receives the family's typed config, which has the scenario's sections by name)."""
    import dataclasses

    from regsim import models

    spec = next(s for s in models.specs() if kind in s.workloads)
    return spec.family, dataclasses.replace(spec, simulate=fn)


def use_model(monkeypatch: Any, fn: Callable[..., VariantResult], kind: str = "rollout") -> None:
    """Make ``fn`` the model of ``kind``'s family for one test."""
    from regsim import models

    family, spec = with_model(fn, kind)
    monkeypatch.setitem(models._SPECS, family, spec)
