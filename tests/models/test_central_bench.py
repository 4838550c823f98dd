"""Speed of the central rollout model (``-m benchmark``): 10,000 clients pull one image from the registry.

Target from issue 17 (item 4): a 10,000-client central rollout through the whole model (the
shipped sweep's 900 MB image, ``p2p-vs-central-sweep.yaml`` at ``cluster.nodes=10000``) takes at
most 5 s of wall time on 2 cores, whether every node starts at once or the starts are spread (over
60 s here, so that they are staggered). Each case runs in a fresh interpreter; the figures printed
are CPU and wall time, simulated events/s, peak memory, the makespan against the N*F/u_s bound,
and the CPU time as a multiple of a raw SimPy loop of 10^6 timeouts timed in the same run (the
ratio to report, since absolute times move with the machine). The share of the network engine is
printed as well (CPU spent inside ``Network.transfer`` and its manager's wake-ups), since the two
halves of the model are made fast separately; it comes from a second run of the case, since its
timers cost about a tenth of the run.
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
if sys.argv[1] == "split":
    model.Network.transfer, model.Network._wake = timed(model.Network.transfer), timed(model.Network._wake)
sc = load_scenario(sys.argv[2], sys.argv[3:])
t, c = time.perf_counter(), time.process_time()
r = simulate_central(sc, sc.seed)
wall, cpu = time.perf_counter() - t, time.process_time() - c
k = r.kpis
print(json.dumps({"wall": wall, "cpu": cpu, "network_cpu": inside[0], "events": r.events,
                  "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "p50": k["pull_p50_s"], "makespan": k["makespan_s"], "bound": k["central_bound_s"]}))
"""


def run_central(*overrides: str, split: bool = False) -> dict:
    """One rollout in a fresh interpreter; with ``split``, the network engine's share is timed too
    (two CPU-clock reads per call into the engine: they add about a tenth to the run, so the
    figures asserted come from a run without them)."""
    out = subprocess.run([sys.executable, "-c", _CHILD, "split" if split else "plain",
                          str(SCENARIOS / "p2p-vs-central-sweep.yaml"),
                          "cluster.nodes=10000", "distribution.strategy=central", *overrides],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def report(name: str, figures: dict, split: dict, primitive: float) -> None:
    rest = split["cpu"] - split["network_cpu"]
    print(f"\n{name}: cpu {figures['cpu']:.2f} s, wall {figures['wall']:.2f} s ({figures['cpu'] / primitive:.1f}x "
          f"a 10^6-timeout SimPy loop of {primitive:.2f} s), {figures['events'] / figures['cpu']:,.0f} events/s, "
          f"peak {figures['maxrss_mb']:.0f} MB; pulls p50 {figures['p50']:.1f} s, makespan "
          f"{figures['makespan']:.1f} s (bound {figures['bound']:.1f} s). Timed run: cpu {split['cpu']:.2f} s, "
          f"network engine {split['network_cpu']:.2f} s, the rest {rest:.2f} s")


@pytest.mark.parametrize("start", ["all", "60s"])
def test_10000_client_central_rollout(benchmark, start):
    primitive = simpy_loop()
    figures = benchmark.pedantic(run_central, args=(f"workload.start={start}",), rounds=1, iterations=1)
    split = run_central(f"workload.start={start}", split=True)
    report(f"central rollout, 10,000 clients, start {start}", figures, split, primitive)
    assert split["makespan"] == figures["makespan"]
    assert figures["makespan"] >= figures["bound"]
    # the engine's lazy re-shares took this from 31-45x the loop (21-30 s of CPU) to 9-12x (6-8 s,
    # the higher figures with the machine's two cores shared by five jobs); fewer objects for the
    # collector, cheaper joins and a leaner event loop and lazy state to 5.5-6.7x (3.7-4.4 s of
    # CPU, the higher figures at load average 4). A ratio, so that it holds on a slower machine;
    # the target (TARGET_S of wall time on 2 cores, issue 17 item 4) is ~7.5x: met when the machine
    # is not loaded (docs/network.md, "Speed")
    assert figures["cpu"] / primitive <= 9.0
