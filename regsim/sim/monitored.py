"""A SimPy resource that meters its own use: busy time, utilisation and queue length.

Cores (:class:`~regsim.sim.cpu.HostCPU`), disks (:class:`~regsim.sim.disk.Disk`) and database
connection pools (:class:`~regsim.sim.database.DatabaseServer`) all report the same three numbers,
so they derive from :class:`MonitoredResource` rather than each keeping its own meters. A
subclass uses it in the usual SimPy way and marks the two phases it wants counted::

    with self.request() as req:
        yield from self.wait_for(req)      # counted as queueing, unless granted at once
        ...                                # checks that may turn the work away, uncounted
        with self.busy:                    # counted as one slot busy
            yield self._env.timeout(seconds)

:class:`TimeWeighted` is the meter: the time integral of a level such as "slots in use" or
"requests queued", from which utilisation and mean queue length follow without sampling.
"""

from __future__ import annotations

from collections.abc import Generator

import simpy


class TimeWeighted:
    """The integral over simulated time of a level that steps up and down (busy cores, queue length).

    ``with meter:`` raises the level by one for the block and lowers it again on the way out,
    however the block is left (an interrupt, a failure, a closed generator).
    """

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

    def __enter__(self) -> TimeWeighted:
        self.change(+1)
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.change(-1)

    @property
    def area(self) -> float:
        """Level-seconds accumulated so far, including the level held right now."""
        return self._area + self.level * (self._env.now - self._last)

    def mean(self) -> float:
        """Time-average of the level since the meter was created (0 before any time passed)."""
        elapsed = self._env.now - self.start
        return self.area / elapsed if elapsed > 0 else 0.0


class MonitoredResource(simpy.Resource):
    """A :class:`simpy.Resource` of ``capacity`` slots with a busy meter and a queue meter.

    ``busy`` counts slots doing work (entered by the subclass around its service, so a slot
    granted and then refused is not busy); ``waiting`` counts requests queued for a slot (entered
    by :meth:`wait_for`).
    """

    def __init__(self, env: simpy.Environment, capacity: int) -> None:
        super().__init__(env, capacity=capacity)
        self.busy = TimeWeighted(env)
        self.waiting = TimeWeighted(env)

    def wait_for(self, request: simpy.Event) -> Generator[simpy.Event, object, None]:
        """Wait until ``request`` is granted, counting the wait as queueing.

        A request granted at once is neither waited for nor counted, so an idle resource adds no
        simulation event.
        """
        if not request.triggered:
            with self.waiting:
                yield request

    @property
    def busy_s(self) -> float:
        """Slot-seconds spent busy so far (core-seconds for a CPU)."""
        return self.busy.area

    def utilisation(self) -> float:
        """Fraction of all slots' time spent busy since the resource was created."""
        return self.busy.mean() / self.capacity

    def mean_queue(self) -> float:
        """Time-average number of requests waiting for a slot."""
        return self.waiting.mean()

    @property
    def queue_length(self) -> int:
        """Requests waiting for a slot right now."""
        return len(self.queue)
