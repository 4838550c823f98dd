"""When requests are sent: an open loop (Poisson arrivals) or a closed loop of clients who think.

Both are SimPy processes over a :class:`~regsim.models.requests.run.PoissonRun`: they draw each
request's kind from the mix and hand it to ``run.submit``, and stop after the workload's duration
or its ``requests``, whichever comes first; the time they stop ends the run's measurement window.

- **open loop** (``kind: poisson``): exponential gaps at ``rate``, each request from a client
  drawn at random; arrivals do not wait for answers, so an overloaded registry builds a queue.
- **closed loop** (``kind: closed``): each client sends, waits for the answer (or the failure),
  thinks for an exponential time of mean ``think_time`` and sends again; clients start staggered
  by one think time. Throughput obeys the response-time law ``X = N / (R + Z)``.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Generator
from typing import TYPE_CHECKING

import simpy

if TYPE_CHECKING:
    from .run import PoissonRun

KINDS = ("pull", "push", "auth", "manifest")

Steps = Generator[simpy.Event, object, None]


class KindDraw:
    """Draws request kinds from a mix by its inverse CDF (``Generator.choice`` costs ~100 us a call)."""

    def __init__(self, mix, rng) -> None:
        self.cdf = list(itertools.accumulate([mix.pull, mix.push, mix.auth, mix.manifest]))[:-1]
        self.rng = rng

    def __call__(self) -> str:
        return KINDS[min(bisect.bisect_right(self.cdf, float(self.rng.random())), len(KINDS) - 1)]


def open_loop(run: PoissonRun) -> Steps:
    """Poisson arrivals at the workload's rate, from clients drawn at random."""
    rate, draw = run.workload.rate, KindDraw(run.workload.mix, run.rng["kinds"])  # type: ignore[union-attr]
    gaps, clients = run.rng["arrivals"], run.rng["clients"]
    t = 0.0
    while rate > 0 and run.sent < run.limit:
        t += float(gaps.exponential(1.0 / rate))
        if t >= run.duration:
            break
        yield run.env.timeout(t - run.env.now)
        run.submit(draw(), int(clients.integers(len(run.clients))))
        run.sent += 1
    if run.sent >= run.limit:
        run.window = run.env.now
    run.stop_sending()


def closed_loop(run: PoissonRun) -> Steps:
    """Every client in its own loop of request, answer and think time."""
    draw = KindDraw(run.workload.mix, run.rng["kinds"])
    loops = [run.env.process(_client(run, i, draw)) for i in range(len(run.clients))]
    yield run.env.all_of(loops)
    run.stop_sending()


def _client(run: PoissonRun, client: int, draw: KindDraw) -> Steps:
    think, rng = run.workload.think_time, run.rng["think"]  # type: ignore[union-attr]
    yield run.env.timeout(float(rng.exponential(think)) if think > 0 else 0.0)
    while run.env.now < run.duration and run.sent < run.limit:
        run.sent += 1
        if run.sent >= run.limit:
            run.window = run.env.now
        yield run.submit(draw(), client)
        if think > 0:
            yield run.env.timeout(float(rng.exponential(think)))
