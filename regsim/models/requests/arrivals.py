"""When requests are sent: an open loop (Poisson arrivals) or a closed loop of clients who think.

:class:`Arrivals` is one SimPy process over the workload section, the number of clients and its
own random streams: it draws each request's kind from the mix and hands it to ``submit(kind,
client)``, and stops after the workload's duration or its ``requests``, whichever comes first;
then it calls ``on_stop``, and :attr:`Arrivals.window` is when the workload stopped sending
(the run's measurement window). Kept apart from the run so that what is sent, and when, depends
on the workload and the streams only -- and on :meth:`Arrivals.stop`, by which a run with
``workload.precision`` ends the sending once its statistics are precise enough (a run without it
never calls it, so its draws are the same as ever).

- **open loop** (``kind: poisson``): exponential gaps at ``rate``, each request from a client
  drawn at random; arrivals do not wait for answers, so an overloaded registry builds a queue.
- **closed loop** (``kind: closed``): each client sends, waits for the answer (or the failure),
  thinks for an exponential time of mean ``think_time`` and sends again; clients start staggered
  by one think time. Throughput obeys the response-time law ``X = N / (R + Z)``.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Callable, Generator

import numpy as np
import simpy

from .config import Closed, Mix, Poisson
from .request import KINDS

__all__ = ["Arrivals", "KindDraw"]

Steps = Generator[simpy.Event, object, None]
#: ``submit(kind, client number)``: send one request; the process ends when it is answered
Submit = Callable[[str, int], simpy.Process]


class KindDraw:
    """Draws request kinds from a mix by its inverse CDF (``Generator.choice`` costs ~100 us a call)."""

    def __init__(self, mix: Mix, rng: np.random.Generator) -> None:
        self.cdf = list(itertools.accumulate([mix.pull, mix.push, mix.auth, mix.manifest]))[:-1]
        self.rng = rng

    def __call__(self) -> str:
        return KINDS[min(bisect.bisect_right(self.cdf, float(self.rng.random())), len(KINDS) - 1)]


class Arrivals:
    """The workload's requests over time: how many are expected, how many were sent, and when sending stopped.

    ``kinds`` draws each request's kind; ``gaps`` and ``picks`` draw an open loop's inter-arrival
    times and clients, ``think`` a closed loop's think times.
    """

    def __init__(self, env: simpy.Environment, workload: Poisson | Closed, *, duration: float, clients: int,
                 kinds: np.random.Generator, gaps: np.random.Generator, picks: np.random.Generator,
                 think: np.random.Generator, submit: Submit, on_stop: Callable[[], None]) -> None:
        self.env, self.workload, self.duration, self.clients = env, workload, duration, clients
        self.kinds, self.gaps, self.picks, self.think = kinds, gaps, picks, think
        self.submit, self.on_stop = submit, on_stop
        self.closed = isinstance(workload, Closed)
        self.limit = workload.requests or math.inf
        self.sent = 0
        #: when the workload stopped sending: its duration, or when the request limit was reached
        self.window = duration
        #: :meth:`stop` was called: no more requests are sent
        self.stopped = False
        if isinstance(workload, Closed):
            think_time = max(workload.think_time, 1e-9)
            #: requests the run should see (for the progress bar and the real data plane's budget)
            self.expected = max(1, round(min(self.limit, clients * duration / think_time)))
            #: how long the workload should send: its duration, or the time its requests take to arrive
            self.expected_window = duration
        else:
            self.expected = max(1, round(min(self.limit, workload.rate * duration)))
            self.expected_window = min(duration, self.limit / max(workload.rate, 1e-12))

    def offered_rate(self) -> float:
        """Requests per second offered: the open loop's rate, what a closed loop's clients sent over the window."""
        if isinstance(self.workload, Closed):
            return self.sent / max(self.window, 1e-12)
        return float(self.workload.rate)

    def stop(self) -> None:
        """Send no more requests from now on (the window ends now); ``on_stop`` is called at once.

        A run stops the arrivals early when its statistics are precise enough
        (``workload.precision``); requests already sent are answered as usual.
        """
        if self.stopped:
            return
        self.stopped = True
        self.window = self.env.now
        self.on_stop()

    def process(self) -> Steps:
        """The SimPy process that sends the workload's requests."""
        return self._closed_loop() if self.closed else self._open_loop()

    def _open_loop(self) -> Steps:
        """Poisson arrivals at the workload's rate, from clients drawn at random."""
        env, rate = self.env, self.workload.rate  # type: ignore[union-attr]
        draw, gaps, picks = KindDraw(self.workload.mix, self.kinds), self.gaps, self.picks
        t = 0.0
        while rate > 0 and self.sent < self.limit:
            t += float(gaps.exponential(1.0 / rate))
            if t >= self.duration:
                break
            yield env.timeout(t - env.now)
            if self.stopped:
                return
            self.submit(draw(), int(picks.integers(self.clients)))
            self.sent += 1
        if self.sent >= self.limit:
            self.window = env.now
        self.on_stop()

    def _closed_loop(self) -> Steps:
        """Every client in its own loop of request, answer and think time."""
        draw = KindDraw(self.workload.mix, self.kinds)
        loops = [self.env.process(self._client(i, draw)) for i in range(self.clients)]
        yield self.env.all_of(loops)
        if not self.stopped:
            self.on_stop()

    def _client(self, client: int, draw: KindDraw) -> Steps:
        env, think, rng = self.env, self.workload.think_time, self.think  # type: ignore[union-attr]
        yield env.timeout(float(rng.exponential(think)) if think > 0 else 0.0)
        while env.now < self.duration and self.sent < self.limit and not self.stopped:
            self.sent += 1
            if self.sent >= self.limit:
                self.window = env.now
            yield self.submit(draw(), client)
            if think > 0:
                yield env.timeout(float(rng.exponential(think)))
