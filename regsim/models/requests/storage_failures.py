"""Storage nodes that fail and are repaired, in the real registry and on the simulated platform at once.

A failure marks the node down in the real registry (its reads and writes are routed around it)
and fails its simulated disk (I/O in flight is aborted). A node can come back with its data
(:meth:`StorageFailures.restore`: a reboot) or be replaced by an empty one
(:meth:`StorageFailures.replace`), which starts the repair.

The repair is the real one, :func:`regsim.registry.cluster.repair.repair`, run one blob at a time
so that the registry's state follows the simulated progress: a blob not rebuilt yet is still read
around, a rebuilt one is whole again. It runs on a repair worker, a host of its own in the registry
rack whose NIC is the repair's bandwidth cap; each blob's receipt -- ``k`` fragment reads and
transfers to the worker, the codec's reconstruction there, the rebuilt fragments' transfers and
disk writes -- is replayed as background work that shares the storage nodes' disks and NICs with
the foreground requests. That is where its effect on pull latency comes from.

What the report needs of it is handed over as a :class:`RepairStats` record (:meth:`StorageFailures.stats`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import simpy

from regsim.registry import receipts
from regsim.registry.cluster.repair import repair
from regsim.registry.errors import KeyNotFound
from regsim.registry.receipts import Kind
from regsim.registry.registry import Registry
from regsim.sim.cpu import HostCPU
from regsim.sim.failure_processes import FailureInjector, Repair

from regsim.models.core.work import merged, scale
from regsim.models.core.world import REGISTRY_RACK

if TYPE_CHECKING:
    from regsim.models.core.replay import Replay
    from regsim.models.core.world import World

#: the host the repair runs on (``worker`` of the real repair: its transfers name it).
WORKER = "repair"

ScaleOf = Callable[[str], tuple[int, int]]


@dataclass(frozen=True)
class RepairStats:
    """What the repair did over a run, at modelled sizes."""

    #: the repair worker's NIC: the repair's bandwidth cap (bytes/s)
    bandwidth: float
    bytes_read: float
    bytes_written: float
    fragments: int
    #: seconds the repair was running, over every episode (NaN: it never ran)
    time_s: float
    #: the repair was still running when the run ended
    repairing: bool
    #: blobs the repair found with fewer than k good fragments
    unrecoverable: int
    #: (time, bytes written so far): a row when a repair starts, one per blob rebuilt
    progress: tuple[tuple[float, int], ...]


def readable(registry: Registry, key: str) -> tuple[bool, ...]:
    """For each fragment of the stored blob ``key``: can a read fetch it right now?"""
    cluster = registry.cluster
    layout = cluster.layout(key)
    suspects = cluster.suspects(key)
    return tuple(node is not None and cluster.is_live(node) and i not in suspects
                 and cluster.node(node).exists(layout.fragment_key(i)) for i, node in enumerate(layout.nodes))


def phase_nodes(registry: Registry, keys: Sequence[str], k: int) -> tuple[str, str]:
    """Two storage nodes whose loss hurts reads of ``keys`` most: A holds the most fragments a
    healthy read uses (the first ``k``), B the most fragments of blobs A also holds."""
    cluster = registry.cluster
    layouts = [cluster.layout(key) for key in keys]
    order = {node: i for i, node in enumerate(cluster.node_names)}

    def used(node: str) -> int:
        return sum(node in layout.nodes[:k] for layout in layouts)

    a = min(cluster.node_names, key=lambda node: (-used(node), order[node]))
    shared = [layout for layout in layouts if a in layout.nodes]
    b = min((node for node in cluster.node_names if node != a),
            key=lambda node: (-sum(node in layout.nodes for layout in shared), -used(node), order[node]))
    return a, b


class StorageFailures:
    """Fails, restores and replaces storage nodes, and runs the repair that follows a replacement.

    ``scale_of(key)`` gives ``(modelled size, real size)`` of the blob a cluster key belongs to,
    so that the receipt of rebuilding a sample is priced at the modelled size; ``extent`` is the
    registry's extent size. ``bandwidth`` caps the worker's NIC (None: a storage node's NIC).
    """

    def __init__(self, world: World, registry: Registry, replay: Replay, *, scale_of: ScaleOf, extent: int,
                 bandwidth: float | None, cores: int, on_idle: Callable[[], None] = lambda: None) -> None:
        self.world, self.registry, self.replay = world, registry, replay
        self.env = world.env
        self.scale_of, self.extent, self.on_idle = scale_of, extent, on_idle
        storage = world.topology.host(world.storage[0])
        self.bandwidth = float(bandwidth) if bandwidth is not None else storage.nic_up
        world.topology.add_host(WORKER, rack=REGISTRY_RACK, nic=self.bandwidth, cores=cores)
        world.host_classes[WORKER] = "repair"
        cpu = HostCPU(self.env, cores, world.profile, name=WORKER)
        world.cpus[WORKER] = world.executor.cpus[WORKER] = cpu
        self.injector = FailureInjector(self.env, world.rr, on_fail=lambda node, _t: self.fail(node),
                                        on_repair=lambda node, _t: self.replace(node), stream="storage-failures")
        #: (time, "fail" | "restore" | "replace", node), in order
        self.log: list[tuple[float, str, str]] = []
        self._scripts = 0  # scripts still playing
        self._queue: deque[str] = deque()
        self._queued: set[str] = set()
        self._running = False
        self._started = 0.0
        #: (start, end) of each stretch of time the repair was busy
        self.episodes: list[tuple[float, float]] = []
        #: (time, modelled bytes written by the repair so far): a row when a repair starts, one per blob rebuilt
        self.progress: list[tuple[float, int]] = []
        self.bytes_read = self.bytes_written = 0
        self.fragments = self.blobs = 0
        #: blobs the repair found with fewer than k good fragments: their data is gone
        self.unrecoverable: set[str] = set()
        #: a node may be replaced in this run (a scripted storage repair, random failures or the
        #: degraded phases), and then the repair rebuilds every blob stored: while False, a blob no
        #: request reads again may be deleted from the real registry once its push is priced
        #: (:meth:`.request_kinds.RegistryRequests._push`), keeping a long run's memory bounded
        self.replaces = False

    # -- state -----------------------------------------------------------------------------------

    @property
    def down(self) -> tuple[str, ...]:
        return self.registry.cluster.down_nodes

    @property
    def repairing(self) -> bool:
        return self._running

    @property
    def active(self) -> bool:
        """True while a script still has events to play or the repair has work."""
        return self._running or self._scripts > 0

    # -- transitions -------------------------------------------------------------------------------

    def fail(self, node: str) -> None:
        if node in self.down:
            return
        self.registry.fail_node(node)
        self.world.disks[node].fail()
        self.log.append((self.env.now, "fail", node))

    def restore(self, node: str) -> None:
        """The node is back with whatever it held (a reboot, a cable put back)."""
        self.registry.restore_node(node)
        self.world.disks[node].repair()
        self.log.append((self.env.now, "restore", node))

    def replace(self, node: str) -> None:
        """The node comes back empty; the repair rebuilds every fragment now lost (of the blobs
        still stored: call it only in a run planned to replace nodes, see :attr:`replaces`)."""
        self.replaces = True
        self.registry.replace_node(node)
        self.world.disks[node].repair()
        self.log.append((self.env.now, "replace", node))
        self.start_repair()

    # -- drivers -----------------------------------------------------------------------------------

    def script(self, events: Iterable[tuple[float, str, str]]) -> None:
        """Scripted ``(time, node, "fail" | "repair")`` events; a repair replaces the node."""
        events = list(events)
        self._play(self.injector.schedule(events))  # checks each event is (time, node, kind)
        self.replaces = self.replaces or any(kind == "repair" for _, _, kind in events)

    def random(self, nodes: Iterable[str], afr: float, repair_s: float) -> None:
        """Fail each of ``nodes`` at random at ``afr``, replacing it ``repair_s`` after each failure."""
        for node in nodes:
            self.replaces = True
            self.injector.add(node, afr=afr, repair=Repair(repair_s))

    def phases(self, duration: float, a: str, b: str) -> None:
        """The degraded-read phases of ``docs/scenarios.md``: A fails at T/4, B at T/2; at 3T/4 A
        comes back with its data and B is replaced, so the repair rebuilds B's fragments only."""
        self.replaces = True
        def play():
            yield self.env.timeout(duration / 4)
            self.fail(a)
            yield self.env.timeout(duration / 4)
            self.fail(b)
            yield self.env.timeout(duration / 4)
            self.restore(a)
            self.replace(b)
        self._play(self.env.process(play()))

    def _play(self, script: simpy.Process) -> None:
        def watch():
            yield script
            self._scripts -= 1
            self.on_idle()
        self._scripts += 1
        self.env.process(watch())

    # -- repair ------------------------------------------------------------------------------------

    def start_repair(self) -> None:
        """Queue every blob with a fragment a read cannot fetch, and start the worker if idle."""
        for key in self.registry.cluster.keys():
            if key not in self._queued and not all(readable(self.registry, key)):
                self._queue.append(key)
                self._queued.add(key)
        if self._queue and not self._running:
            self._running = True
            self.env.process(self._work())

    def _work(self):
        start = self._started = self.env.now
        self.progress.append((start, self.bytes_written))
        while self._queue:
            key = self._queue.popleft()
            self._queued.discard(key)
            yield from self._rebuild(key)
        self._running = False
        self.episodes.append((start, self.env.now))
        self.on_idle()

    def _rebuild(self, key: str):
        try:
            if all(readable(self.registry, key)):
                return
        except KeyNotFound:
            return  # deleted meanwhile: nothing to protect
        with receipts.collect() as work:
            report = repair(self.registry.cluster, [key], worker=WORKER)
        size, sample = self.scale_of(key)
        items = merged(scale(work, size, sample, self.extent))
        read = sum(i.amount for i in items if i.kind == Kind.TRANSFER and i.dst == WORKER)
        written = sum(i.amount for i in items if i.kind == Kind.TRANSFER and i.node == WORKER)
        failed = yield from self.replay.serve(items)
        self.unrecoverable.update(report.unrecoverable)
        if failed and not all(readable(self.registry, key)) and key not in self._queued:
            self._queue.append(key)  # a disk failed under the rebuild: do it again
            self._queued.add(key)
        self.bytes_read += read
        self.bytes_written += written
        self.fragments += report.fragments_rebuilt
        self.blobs += report.blobs_repaired
        self.progress.append((self.env.now, self.bytes_written))

    def busy_s(self) -> float:
        """Seconds the repair was running, over every episode (the current one up to now)."""
        done = sum(end - start for start, end in self.episodes)
        return done + (self.env.now - self._started if self._running else 0.0)

    def stats(self) -> RepairStats:
        """What the repair did so far, as a record for the report."""
        return RepairStats(
            bandwidth=self.bandwidth, bytes_read=self.bytes_read, bytes_written=self.bytes_written,
            fragments=self.fragments, time_s=self.busy_s() if self.episodes or self._running else float("nan"),
            repairing=self._running, unrecoverable=len(self.unrecoverable), progress=tuple(self.progress))
