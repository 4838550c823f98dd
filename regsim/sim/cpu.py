"""A node's CPU: cores as a SimPy resource, held for the priced duration of each piece of CPU work.

Work items from a receipt are priced by a :class:`~regsim.sim.profile.CostProfile` and each one
holds one core for that long; items queue FIFO when every core is busy, which is where contention
between concurrent requests on one node shows up. A request is a context manager, so a process
interrupted while it waits or computes gives its core back. Busy core-seconds, utilisation and
queue length come from :class:`~regsim.sim.monitored.MonitoredResource`.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable

import simpy

from regsim.registry.receipts import WorkItem

from .monitored import MonitoredResource
from .profile import CPU_KINDS, CostProfile


class HostCPU(MonitoredResource):
    """``cores`` CPU cores of one node, priced by ``profile``.

    ``yield from cpu.run(items)`` (or ``env.process(cpu.execute(items))``) holds one core per CPU
    item for its priced duration; items of other kinds (disk, network, database) are left to their
    own models and skipped here. ``yield from cpu.hold(seconds)`` holds a core for a duration priced
    elsewhere (TEE transitions, attestation).
    """

    def __init__(self, env: simpy.Environment, cores: int, profile: CostProfile, *, name: str = "cpu") -> None:
        if isinstance(cores, bool) or not isinstance(cores, int) or cores < 1:
            raise ValueError(f"HostCPU {name!r}: cores must be a positive integer, got {cores!r}")
        super().__init__(env, cores)
        self.name = name
        self.profile = profile
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
            yield from self.wait_for(req)
            with self.busy:
                yield self._env.timeout(seconds)
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
