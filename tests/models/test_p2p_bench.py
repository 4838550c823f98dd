"""Speed of the P2P model (``-m benchmark``): the shipped Kraken and seed scenarios, and how cost scales.

Targets from the issue: the Kraken scenario (2,600 hosts x 750 pieces of 4 MB) simulates in at
most 60 s of wall time on 2 cores, the seed scenario (1,000 nodes) in at most 10 s (12 s under the
scheduler), and cost grows no faster than nodes x pieces. Each scenario runs in a fresh interpreter so that its peak memory
(``ru_maxrss``) is its own; the figures printed are wall time, simulated events/s, piece arrivals/s
and peak memory, and the wall time as a multiple of a raw SimPy loop of 10^6 timeouts timed in
the same run (the ratio to report, since absolute times move with the machine). Times are CPU
seconds of the (single-threaded) run, which other work on a shared machine disturbs far less than
wall time; wall time is printed too. Assertions are loose (target / 0.8).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import simpy

from regsim.models.rollout.p2p import simulate_p2p

from .test_p2p_model import star

pytestmark = pytest.mark.benchmark
SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
SLACK = 0.8

_CHILD = """
import json, resource, sys, time
from regsim.scenario import load_scenario
from regsim.models.rollout.p2p import simulate_p2p
sc = load_scenario(sys.argv[1], sys.argv[2:])
t, c = time.perf_counter(), time.process_time()
r = simulate_p2p(sc, sc.seed)
wall, cpu = time.perf_counter() - t, time.process_time() - c
k = r.kpis
print(json.dumps({"wall": wall, "cpu": cpu, "events": r.events, "arrivals": k["piece_arrivals"],
                  "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "p50": k["pull_p50_s"], "p99": k["pull_p99_s"], "p999": k["pull_p999_s"],
                  "makespan": k["makespan_s"], "bound": k["kumar_ross_bound_s"]}))
"""


def simpy_loop(n: int = 1_000_000) -> float:
    """CPU seconds a bare SimPy process takes for ``n`` timeouts: the raw primitive of the ratios."""
    env = simpy.Environment()

    def proc():
        for _ in range(n):
            yield env.timeout(1)

    env.process(proc())
    t = time.process_time()
    env.run()
    return time.process_time() - t


def run_child(scenario: str, *overrides: str) -> dict:
    out = subprocess.run([sys.executable, "-c", _CHILD, str(SCENARIOS / scenario), *overrides],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def report(name: str, figures: dict, primitive: float) -> None:
    print(f"\n{name}: cpu {figures['cpu']:.1f} s, wall {figures['wall']:.1f} s ({figures['cpu'] / primitive:.1f}x a "
          f"10^6-timeout SimPy loop of {primitive:.2f} s), {figures['events'] / figures['cpu']:,.0f} events/s, "
          f"{figures['arrivals'] / figures['cpu']:,.0f} piece arrivals/s, peak {figures['maxrss_mb']:.0f} MB; "
          f"pulls p50 {figures['p50']:.2f} s, p99 {figures['p99']:.2f} s, p99.9 {figures['p999']:.2f} s, "
          f"makespan {figures['makespan']:.2f} s (bound {figures['bound']:.2f} s)")


def test_kraken_scenario_within_60_s(benchmark):
    primitive = simpy_loop()
    figures = benchmark.pedantic(run_child, args=("published/kraken-2600.yaml",), rounds=1, iterations=1)
    report("kraken-2600", figures, primitive)
    assert figures["cpu"] <= 60 / SLACK


def test_seed_scenario_within_10_s(benchmark):
    primitive = simpy_loop()
    figures = benchmark.pedantic(run_child, args=("seed-1000-nodes.yaml", "distribution.strategy=p2p-swarm"),
                                 rounds=1, iterations=1)
    report("seed-1000-nodes (p2p-swarm)", figures, primitive)
    assert figures["cpu"] <= 10 / SLACK


def test_seed_scenario_under_the_scheduler_within_12_s(benchmark):
    """The scheduler's peers keep their parents while they download, so it takes fewer decisions
    than it did when every parent that ran dry was dropped (15 s of CPU then, 9.5 s; 5.5 s after
    issue 17's speed work)."""
    primitive = simpy_loop()
    figures = benchmark.pedantic(run_child, args=("seed-1000-nodes.yaml", "distribution.strategy=p2p-scheduler"),
                                 rounds=1, iterations=1)
    report("seed-1000-nodes (p2p-scheduler)", figures, primitive)
    assert figures["cpu"] <= 12 / SLACK


def _cost(nodes: int, pieces: int, repeat: int = 3) -> float:
    """The least CPU time of ``repeat`` runs: one run's figure moved by 20 % between two calls in one
    process (the first pays for warming caches), enough to decide a ratio near its limit."""
    sc = star(nodes, layers=[f"{pieces * 4 * 1048576}B"])
    best = float("inf")
    for _ in range(repeat):
        t = time.process_time()
        simulate_p2p(sc, 1)
        best = min(best, time.process_time() - t)
    return best


def test_cost_grows_no_faster_than_nodes_times_pieces(benchmark):
    """Pieces are held to four times as many (80 to 320), not twice: per node x piece the cost was
    33-40 us from 40 to 320 pieces after issue 17's speed work, but the 80-piece run is the
    cheapest of them (its swarm's trajectory: 0.79 s, then 1.92 s at 160 pieces, 3.28 s at 320),
    so a single doubling from it read 2.4-2.65x, above the 2.5x limit, with no growth faster
    than linear behind it."""
    _cost(100, 20, repeat=1)  # warm-up: imports and first-use caches are not the model's cost
    base = benchmark.pedantic(_cost, args=(300, 80), rounds=1, iterations=1)
    nodes2, pieces4 = _cost(600, 80), _cost(300, 320)
    print(f"\ncost 300 nodes x 80 pieces {base:.2f} s cpu; 2x nodes {nodes2 / base:.2f}x; "
          f"4x pieces {pieces4 / base:.2f}x (linear would be 2x and 4x)")
    assert nodes2 / base <= 2 / SLACK
    assert pieces4 / base <= 4 / SLACK
