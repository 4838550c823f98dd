"""Speed of the central rollout model (``-m benchmark``): 10,000 clients pull one image from the registry.

Target from issue 17 (item 4): a 10,000-client central rollout through the whole model (the
shipped sweep's 900 MB image, ``p2p-vs-central-sweep.yaml`` at ``cluster.nodes=10000``) takes at
most 5 s of wall time on 2 cores, whether every node starts at once or the starts are spread (over
60 s here, so that they are staggered). Each case runs in a fresh interpreter; the figures printed
are CPU and wall time, simulated events/s, peak memory, the makespan against the N*F/u_s bound,
and the CPU time as a multiple of a raw SimPy loop of 10^6 timeouts timed in the same run (the
ratio to report, since absolute times move with the machine). The share of the network engine is
printed as well (CPU spent inside ``Network.transfer`` and its manager's wake-ups), since the two
halves of the model are made fast separately.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .test_p2p_bench import SCENARIOS, simpy_loop

pytestmark = pytest.mark.benchmark
SLACK = 0.8
TARGET_S = 5.0

_CHILD = """
import json, resource, sys, time
from regsim.scenario import load_scenario
from regsim.models.rollout.central import simulate_central
from regsim.sim.network import model
inside = [0.0]
def timed(f):
    def g(*a, **k):
        t = time.process_time()
        try:
            return f(*a, **k)
        finally:
            inside[0] += time.process_time() - t
    return g
model.Network.transfer, model.Network._wake = timed(model.Network.transfer), timed(model.Network._wake)
sc = load_scenario(sys.argv[1], sys.argv[2:])
t, c = time.perf_counter(), time.process_time()
r = simulate_central(sc, sc.seed)
wall, cpu = time.perf_counter() - t, time.process_time() - c
k = r.kpis
print(json.dumps({"wall": wall, "cpu": cpu, "network_cpu": inside[0], "events": r.events,
                  "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "p50": k["pull_p50_s"], "makespan": k["makespan_s"], "bound": k["central_bound_s"]}))
"""


def run_central(*overrides: str) -> dict:
    out = subprocess.run([sys.executable, "-c", _CHILD, str(SCENARIOS / "p2p-vs-central-sweep.yaml"),
                          "cluster.nodes=10000", "distribution.strategy=central", *overrides],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def report(name: str, figures: dict, primitive: float) -> None:
    rest = figures["cpu"] - figures["network_cpu"]
    print(f"\n{name}: cpu {figures['cpu']:.1f} s (network engine {figures['network_cpu']:.1f} s, the rest "
          f"{rest:.1f} s), wall {figures['wall']:.1f} s ({figures['cpu'] / primitive:.1f}x a 10^6-timeout SimPy "
          f"loop of {primitive:.2f} s), {figures['events'] / figures['cpu']:,.0f} events/s, peak "
          f"{figures['maxrss_mb']:.0f} MB; pulls p50 {figures['p50']:.1f} s, makespan {figures['makespan']:.1f} s "
          f"(bound {figures['bound']:.1f} s)")


@pytest.mark.parametrize("start", ["all", "60s"])
def test_10000_client_central_rollout(benchmark, start):
    primitive = simpy_loop()
    figures = benchmark.pedantic(run_central, args=(f"workload.start={start}",), rounds=1, iterations=1)
    report(f"central rollout, 10,000 clients, start {start}", figures, primitive)
    assert figures["makespan"] >= figures["bound"]
    # the engine's lazy re-shares took this from 31-45x the loop (21-30 s of CPU) to 9-12x (6-8 s,
    # the higher figures with the machine's two cores shared by five jobs); a ratio, so that it
    # holds on a slower machine. The target (TARGET_S of wall time on 2 cores, issue 17 item 4) is
    # ~7.5x: not met yet (docs/network.md, "Speed")
    assert figures["cpu"] / primitive <= 16.0
