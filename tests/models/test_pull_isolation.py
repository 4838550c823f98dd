"""Traffic classes isolate pulls from a storage repair (``scenarios/pull-isolation.yaml``).

The same scenario and seed run twice: the repair's flows as equals, then weighted a tenth on
every link they contend for. The workload is the same (same arrivals, same pushes); what moves is
who gets the storage nodes' NICs while the repair runs: the pulls made then get faster, and the
repair, which takes what the pulls leave, takes longer.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from regsim.models import simulate
from regsim.scenario import load_scenario

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "pull-isolation.yaml"


@pytest.mark.slow
def test_weighting_the_repair_down_speeds_the_pulls_made_during_it_and_slows_the_repair():
    runs = {}
    for classes in ("{}", "{repair: 0.1}"):
        sc = load_scenario(SCENARIO, ["sweep={}", f"network.classes={classes}"])
        runs[classes] = simulate(sc, seed=1).kpis
    shared, isolated = runs["{}"], runs["{repair: 0.1}"]
    assert (shared["pulls"], shared["pushes"]) == (isolated["pulls"], isolated["pushes"])
    assert isolated["repair_pull_p50_s"] < 0.9 * shared["repair_pull_p50_s"]
    assert isolated["repair_time_s"] > shared["repair_time_s"]
    assert isolated["repair_complete"] == shared["repair_complete"] == 1
