"""The bridge from receipts to simulated time: run each work item on the resource that does it.

The registry hands back a receipt -- "read 4 MiB from s3's disk, sha256 it on s3, send it to
client-17" -- and :class:`ReceiptExecutor` replays it in simulated time:

========================  =====================================================================
item kind                 resource
========================  =====================================================================
CPU kinds (sha256, ...)   one core of the item's node, for the profile's price
disk_read / disk_write    the item's node's disk
transfer                  ``network.transfer(item.node, item.dst, item.amount)`` (a SimPy event)
db_query                  the database server, ``amount`` queries
========================  =====================================================================

CPU items are priced by the executor's ``profile`` (each HostCPU's own profile serves standalone
use only), so one profile governs a whole run. Items without a node run on ``default_node``. Items run in receipt order, each starting when the
previous one ends -- the registry did them in that order. With ``parallel_transfers`` a run of
consecutive transfers from one node starts together and the receipt continues when the last one
ends: the fan-out of erasure-coded fragments to their storage nodes. :meth:`ReceiptExecutor.start`
runs one item on its own, as a process of ``execute([item])`` would, but a transfer or a disk
item without a SimPy process (a streaming blob runs each of its items side by side this way).

With a :class:`~regsim.sim.tee.TeeModel`, the nodes in ``tee_nodes`` (default: every node with a
CPU) price CPU work with the TEE-transformed profile, and each of their I/O items first spends the
TEE's transition cost on one of their cores.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Generator, Iterable, Mapping
from typing import Protocol

import simpy

from regsim.errors import RegsimError
from regsim.registry.receipts import Kind, Receipt, WorkItem

from .cpu import HostCPU
from .database import DatabaseServer
from .disk import Disk, DiskFailed
from .profile import CPU_KINDS, CostProfile
from .tee import TeeModel


#: kinds :meth:`ReceiptExecutor.start` runs without a process (when no TEE transition comes first)
_DIRECT_KINDS = frozenset({Kind.TRANSFER, Kind.DISK_READ, Kind.DISK_WRITE})


class Network(Protocol):
    """What the executor needs from the network model."""

    def transfer(self, src: str, dst: str, nbytes: int) -> simpy.Event: ...


class UnroutableItem(RegsimError, LookupError):
    """A work item names a node, disk or service the executor was not given."""


def _defuse_failure(event: simpy.Event) -> None:
    # A failed branch of a parallel group is reported once, through the group; later failures of
    # sibling branches must not crash the run as unhandled.
    if not event.ok:
        event.defused = True


class ReceiptExecutor:
    """Replays receipts on modelled resources; ``env.process(ex.execute(receipt))`` returns elapsed time."""

    def __init__(self, env: simpy.Environment, *, cpus: Mapping[str, HostCPU], disks: Mapping[str, Disk],
                 network: Network | None, profile: CostProfile, database: DatabaseServer | None = None,
                 tee: TeeModel | None = None, default_node: str | None = None, parallel_transfers: bool = False,
                 tee_nodes: Iterable[str] | None = None, working_set_bytes: int = 0) -> None:
        self.env = env
        self.cpus, self.disks = dict(cpus), dict(disks)
        self.network, self.database = network, database
        self.profile, self.tee = profile, tee
        self.default_node = default_node
        self.parallel_transfers = parallel_transfers
        self.tee_nodes = frozenset(self.cpus if tee_nodes is None else tee_nodes) if tee else frozenset()
        self.tee_profile = tee.apply(profile, working_set_bytes) if tee else profile
        #: simulated seconds spent per kind, queueing included, over every receipt executed.
        self.time_by_kind: dict[str, float] = defaultdict(float)
        self.items_done = 0

    # -- entry points ------------------------------------------------------------------------------

    def process(self, receipt: Receipt | Iterable[WorkItem]) -> simpy.Process:
        """Start executing ``receipt`` as a new SimPy process."""
        return self.env.process(self.execute(receipt))

    def execute(self, receipt: Receipt | Iterable[WorkItem]) -> Generator[simpy.Event, object, float]:
        """Run every item of ``receipt``; returns the elapsed simulated time."""
        items = list(receipt)
        start = self.env.now
        i = 0
        while i < len(items):
            item = items[i]
            j = i + 1
            if self.parallel_transfers and item.kind == Kind.TRANSFER:
                while j < len(items) and items[j].kind == Kind.TRANSFER and items[j].node == item.node:
                    j += 1
            if j - i > 1:
                branches = [self.env.process(self._run(it)) for it in items[i:j]]
                for branch in branches:
                    branch.callbacks.append(_defuse_failure)
                yield self.env.all_of(branches)
            else:
                yield from self._run(item)
            i = j
        return self.env.now - start

    def start(self, item: WorkItem, on_failure: Callable[[WorkItem], None] | None = None) -> simpy.Event:
        """One item started on its own: an event that succeeds when it is done, as
        ``env.process(self.execute([item]))`` would, without a SimPy process per item.

        A plain transfer is the network's own event and a disk item the disk's
        :meth:`~regsim.sim.disk.Disk.start_io`, with the executor's accounting hung on them: the
        same simulated times, for the thousands of items a large rollout streams side by side.
        A disk that fails under the item fails the event with :class:`DiskFailed`, unless
        ``on_failure`` is given: then it is called with the item and the event succeeds. Items
        that need a process (CPU, database, a TEE transition first) run in one.
        """
        kind, node = item.kind, self._node(item)
        if (self.tee is not None and node in self.tee_nodes) or kind not in _DIRECT_KINDS:
            if on_failure is None:
                return self.env.process(self._run(item))
            return self.env.process(self._tolerant(item, on_failure))
        t0 = self.env.now
        if kind == Kind.TRANSFER:
            if item.dst is None:
                raise UnroutableItem(f"transfer item from {node!r} has no destination")
            if self.network is None:
                raise UnroutableItem("a transfer item needs a network model, and the executor has none")
            event = self.network.transfer(node, item.dst, item.amount)
            event.callbacks.append(_Accounted(self, item, t0, None, None))
            return event
        disk = self.disks.get(node)
        if disk is None:
            raise UnroutableItem(f"no disk modelled for node {node!r} ({kind}); "
                                 f"disks: {', '.join(sorted(self.disks)) or 'none'}")
        event = simpy.Event(self.env)
        disk.start_io(item.amount, _Accounted(self, item, t0, event, on_failure), write=kind == Kind.DISK_WRITE)
        return event

    def _tolerant(self, item: WorkItem, on_failure: Callable[[WorkItem], None]) -> Generator[simpy.Event, object, None]:
        try:
            yield from self._run(item)
        except DiskFailed:
            on_failure(item)

    def attest(self, node: str) -> Generator[simpy.Event, object, float]:
        """The TEE's start-up attestation on ``node`` (one core for ``tee.attestation_s``)."""
        if self.tee is None:
            return 0.0
        return (yield from self._cpu(node, "attestation").hold(self.tee.attestation_s))

    # -- one item ------------------------------------------------------------------------------------

    def _node(self, item: WorkItem) -> str:
        node = item.node or self.default_node
        if node is None:
            raise UnroutableItem(f"{item.kind} item has no node and the executor has no default_node")
        return node

    def _cpu(self, node: str, what: str) -> HostCPU:
        try:
            return self.cpus[node]
        except KeyError:
            raise UnroutableItem(f"no CPU modelled for node {node!r} ({what}); "
                                 f"CPUs: {', '.join(sorted(self.cpus)) or 'none'}") from None

    def _transition(self, node: str, item: WorkItem) -> Generator[simpy.Event, object, None]:
        if self.tee is not None and node in self.tee_nodes:
            seconds = self.tee.transition_cost(item)
            if seconds > 0:
                yield from self._cpu(node, f"TEE transition of {item.kind}").hold(seconds)

    def _run(self, item: WorkItem) -> Generator[simpy.Event, object, None]:
        kind, node, t0 = item.kind, self._node(item), self.env.now
        if kind in CPU_KINDS:
            profile = self.tee_profile if node in self.tee_nodes else self.profile
            yield from self._cpu(node, kind).hold(profile.cost(item))
        elif kind in (Kind.DISK_READ, Kind.DISK_WRITE):
            disk = self.disks.get(node)
            if disk is None:
                raise UnroutableItem(f"no disk modelled for node {node!r} ({kind}); "
                                     f"disks: {', '.join(sorted(self.disks)) or 'none'}")
            yield from self._transition(node, item)
            yield from (disk.read(item.amount) if kind == Kind.DISK_READ else disk.write(item.amount))
        elif kind == Kind.TRANSFER:
            if item.dst is None:
                raise UnroutableItem(f"transfer item from {node!r} has no destination")
            if self.network is None:
                raise UnroutableItem("a transfer item needs a network model, and the executor has none")
            yield from self._transition(node, item)
            yield self.network.transfer(node, item.dst, item.amount)
        elif kind == Kind.DB_QUERY:
            if self.database is None:
                raise UnroutableItem("a db_query item needs a database model, and the executor has none")
            if item.amount > 0:
                yield from self._transition(node, item)
                yield from self.database.query(n=int(item.amount))
        else:
            raise UnroutableItem(f"unknown receipt kind {kind!r}: no resource executes it")
        self.time_by_kind[kind] += self.env.now - t0
        self.items_done += 1


class _Accounted:
    """What :meth:`ReceiptExecutor.start` does when an item started on its own ends: the
    executor's accounting, and for a disk item the outcome handed to ``event`` (or the failure to
    ``on_failure``). A callable with slots rather than a closure: a rollout holds tens of thousands
    of them at once, and a closure's cells are more objects for the garbage collector to walk."""

    __slots__ = ("executor", "item", "t0", "event", "on_failure")

    def __init__(self, executor: ReceiptExecutor, item: WorkItem, t0: float, event: simpy.Event | None,
                 on_failure: Callable[[WorkItem], None] | None) -> None:
        self.executor, self.item, self.t0, self.event, self.on_failure = executor, item, t0, event, on_failure

    def __call__(self, outcome: object) -> None:
        """A transfer's event, or a disk's outcome: the service time or the :class:`DiskFailed`."""
        executor, event = self.executor, self.event
        if isinstance(outcome, DiskFailed):
            if self.on_failure is None:
                event.fail(outcome)
                return
            self.on_failure(self.item)
        else:
            executor.time_by_kind[self.item.kind] += executor.env.now - self.t0
            executor.items_done += 1
        if event is not None:
            event.succeed()
