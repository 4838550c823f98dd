"""A node's CPU: cores as a SimPy resource, held for the priced duration of each piece of CPU work.

Work items from a receipt are priced by a :class:`~regsim.sim.profile.CostProfile` and each one
holds one core for that long; items queue FIFO when every core is busy, which is where contention
between concurrent requests on one node shows up. A request is a context manager, so a process
interrupted while it waits or computes gives its core back.

:class:`TimeWeighted` is the shared bookkeeping of every modelled resource (cores, disks,
connection pools): the time integral of a level such as "cores in use" or "requests queued", from
which utilisation and mean queue length follow without sampling.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable

import simpy

from regsim.registry.receipts import WorkItem

from .profile import CPU_KINDS, CostProfile


class TimeWeighted:
    """The integral over simulated time of a level that steps up and down (busy cores, queue length)."""

    __slots__ = ("_env", "level", "_area", "_last", "start", "peak")

    def __init__(self, env: simpy.Environment) -> None:
        self._env = env
        self.level = 0
        self._area = 0.0
        self._last = self.start = env.now
        self.peak = 0

    def change(self, delta: int) -> None:
        now = self._env.now
        self._area += self.level * (now - self._last)
        self._last = now
        self.level += delta
        self.peak = max(self.peak, self.level)

    @property
    def area(self) -> float:
        """Level-seconds accumulated so far, including the level held right now."""
        return self._area + self.level * (self._env.now - self._last)

    def mean(self) -> float:
        """Time-average of the level since the meter was created (0 before any time passed)."""
        elapsed = self._env.now - self.start
        return self.area / elapsed if elapsed > 0 else 0.0


class HostCPU(simpy.Resource):
    """``cores`` CPU cores of one node, priced by ``profile``.

    ``yield from cpu.run(items)`` (or ``env.process(cpu.execute(items))``) holds one core per CPU
    item for its priced duration; items of other kinds (disk, network, database) are left to their
    own models and skipped here. ``yield from cpu.hold(seconds)`` holds a core for a duration priced
    elsewhere (TEE transitions, attestation).
    """

    def __init__(self, env: simpy.Environment, cores: int, profile: CostProfile, *, name: str = "cpu") -> None:
        if isinstance(cores, bool) or not isinstance(cores, int) or cores < 1:
            raise ValueError(f"HostCPU {name!r}: cores must be a positive integer, got {cores!r}")
        super().__init__(env, capacity=cores)
        self.name = name
        self.profile = profile
        self.busy = TimeWeighted(env)
        self.waiting = TimeWeighted(env)
        self.items_done = 0

    def __repr__(self) -> str:
        return f"HostCPU({self.name!r}, cores={self.capacity}, busy={self.count}, queued={len(self.queue)})"

    @property
    def cores(self) -> int:
        return self.capacity

    def hold(self, seconds: float) -> Generator[simpy.Event, object, float]:
        """Occupy one core for ``seconds`` of simulated time (after waiting for a free one)."""
        if seconds < 0:
            raise ValueError(f"HostCPU {self.name!r}: cannot hold a core for negative time {seconds}")
        with self.request() as req:
            if not req.triggered:  # a free core is granted at once: no queueing to wait or count
                self.waiting.change(+1)
                try:
                    yield req
                finally:
                    self.waiting.change(-1)
            self.busy.change(+1)
            try:
                yield self._env.timeout(seconds)
            finally:
                self.busy.change(-1)
        return seconds

    def run(self, items: Iterable[WorkItem]) -> Generator[simpy.Event, object, float]:
        """Run the CPU items in order, one core each; returns the CPU-seconds charged."""
        charged = 0.0
        for item in items:
            if item.kind not in CPU_KINDS:
                continue
            charged += yield from self.hold(self.profile.cost(item))
            self.items_done += 1
        return charged

    def execute(self, items: Iterable[WorkItem]) -> Generator[simpy.Event, object, float]:
        """Alias of :meth:`run` for ``env.process(cpu.execute(items))``."""
        return (yield from self.run(items))

    @property
    def busy_s(self) -> float:
        """Core-seconds spent computing so far."""
        return self.busy.area

    def utilisation(self) -> float:
        """Fraction of all cores' time spent busy since the CPU was created."""
        return self.busy.mean() / self.capacity

    def mean_queue(self) -> float:
        """Time-average number of work items waiting for a core."""
        return self.waiting.mean()
