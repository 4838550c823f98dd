"""The storage series of a ``poisson`` or ``closed`` run, sampled on the simulated clock.

Every ``interval`` while the workload sends (and at most as long again after), the
:class:`StorageSampler` reads the storage nodes' disks and NICs and takes exact interval
averages of their utilisation, counts the storage nodes down, and notes the bytes each
repository holds. The report turns its rows into the ``storage_*`` series.
"""

from __future__ import annotations

from collections.abc import Generator

import simpy

from regsim.models.core.world import World

from .request_kinds import Repositories
from .storage_failures import StorageFailures

__all__ = ["StorageSampler"]

Steps = Generator[simpy.Event, object, None]


class StorageSampler:
    """Samples storage utilisation and repository sizes every ``interval`` until ``finished``
    triggers or the simulated time reaches ``until``."""

    def __init__(self, world: World, *, interval: float, until: float, storage: StorageFailures,
                 repositories: Repositories, finished: simpy.Event) -> None:
        self.world, self.env, self.interval, self.until = world, world.env, interval, until
        self.storage, self.repositories, self.finished = storage, repositories, finished
        #: rows: time, mean and max storage disk utilisation, storage NIC utilisation, storage nodes down
        self.samples: list[tuple[float, float, float, float, int]] = []
        #: rows: time, repository, stored bytes
        self.storage_samples: list[tuple[float, str, float]] = []

    def process(self) -> Steps:
        """Storage disk and NIC utilisation over each interval (exact interval averages), and the
        bytes each repository holds."""
        world, storage, dt = self.world, self.world.storage, self.interval
        disks = [world.disks[s] for s in storage]
        links = [world.topology.host(s).up for s in storage] + [world.topology.host(s).down for s in storage]
        capacity = world.topology.capacities()[links] * dt
        busy, sent = [d.busy_s for d in disks], world.net.link_bytes()[links]
        repositories = self.repositories
        while not self.finished.triggered and self.env.now < self.until:
            yield self.env.timeout(dt)
            now_busy, now_sent = [d.busy_s for d in disks], world.net.link_bytes()[links]
            util = [(b - a) / (dt * d.capacity) for a, b, d in zip(busy, now_busy, disks)]
            nic = float(((now_sent - sent) / capacity).mean())
            self.samples.append((self.env.now, sum(util) / len(util), max(util), nic, len(self.storage.down)))
            busy, sent = now_busy, now_sent
            self.storage_samples += [(self.env.now, repo, repositories.overhead * b)
                                     for repo, b in repositories.bytes.items()]
