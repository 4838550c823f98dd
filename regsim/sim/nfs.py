"""A shared file server (NFS-like) as a storage device: a disk behind round trips and a window.

The registry's filesystem backend on a network mount costs, per operation, what the server's
disks cost (one :class:`~regsim.sim.disk.Disk`, a bandwidth bound served in turn) plus what the
protocol costs the client: ``metadata_round_trips`` round trips before any data moves (LOOKUP,
OPEN or GETATTR), then the data in READ/WRITE RPCs of ``rsize`` bytes with ``in_flight`` of them
outstanding -- a window of ``in_flight * rsize`` bytes per round trip. An operation therefore
takes ``metadata_round_trips * rtt`` and then the longer of the server's service (queueing
included) and ``nbytes * rtt / (in_flight * rsize)``. The bytes themselves cross the network as
the receipt's transfers (the server's NIC is the storage host's NIC).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass

import simpy

from .disk import Disk, DiskFailed, start_process


@dataclass(frozen=True)
class NfsParams:
    """The protocol's costs; defaults (all assumptions) in ``regsim.spec.storage_tier.NfsSpec``."""

    rtt_s: float = 500e-6
    metadata_round_trips: int = 2
    rsize: int = 1 << 20
    in_flight: int = 16

    def __post_init__(self) -> None:
        if not self.rtt_s > 0 or self.metadata_round_trips < 0 or self.rsize < 1 or self.in_flight < 1:
            raise ValueError(f"NfsParams: rtt must be positive, the counts and rsize at least 1: {self!r}")

    def window_time(self, nbytes: int) -> float:
        """Seconds the client's RPC window needs to move ``nbytes``."""
        return nbytes * self.rtt_s / (self.in_flight * self.rsize)


class NfsServer(Disk):
    """The server's disk with the protocol's round trips around each operation."""

    def __init__(self, env: simpy.Environment, params: NfsParams, disk_bw: float, *, name: str = "nfs") -> None:
        super().__init__(env, disk_bw, disk_bw, name=name)
        self.params = params

    def read(self, nbytes: int) -> Generator[simpy.Event, object, float]:
        return (yield from self._op(nbytes, write=False))

    def write(self, nbytes: int) -> Generator[simpy.Event, object, float]:
        return (yield from self._op(nbytes, write=True))

    def start_io(self, nbytes: int, done: Callable[[float | DiskFailed], None], *, write: bool = False) -> None:
        start_process(self._env, self._op(nbytes, write=write), done)

    def _op(self, nbytes: int, *, write: bool) -> Generator[simpy.Event, object, float]:
        t0, p = self._env.now, self.params
        if p.metadata_round_trips:
            yield self._env.timeout(p.metadata_round_trips * p.rtt_s)
        window = self._env.timeout(p.window_time(nbytes))
        yield from self._io(nbytes, write=write)
        if not window.processed:
            yield window
        return self._env.now - t0
