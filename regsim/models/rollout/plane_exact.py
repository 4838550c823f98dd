"""The exact data plane: every piece one transfer of the flow-level network, the fluid plane's reference.

Same API as :class:`~regsim.models.rollout.planes.FluidPlane` (``open``, ``extend``, ``close``, an
``on_arrival(owner, t)`` callback, ``stats``, ``utilisation``): a connection's pieces move one after
the other as transfers of :class:`~regsim.sim.network.Network`, each paying its path latency and
sharing bandwidth with every other transfer under the network's sharing model (the world's
``network.model``: plain max-min, or the TCP-like LV08 model), re-shared at every start and end.
Exact, and too slow for thousands of peers; the tests hold the fluid plane, given the same model,
to it on swarms both can run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import simpy

from regsim.sim.network import LinkRecorder, Network

from .planes import OnArrival, PlaneStats

__all__ = ["ExactPlane"]


class ExactPlane:
    """Each piece as one transfer of the exact flow-level network; the reference for the fluid plane."""

    name = "exact"

    def __init__(self, env: simpy.Environment, net: Network, on_arrival: OnArrival, *,
                 groups: Mapping[str, Sequence[int]] | None = None) -> None:
        self.env, self.net, self.on_arrival = env, net, on_arrival
        self.stats = PlaneStats()
        self._conns: list[list] = []  # fid -> [src, dst, owner, open, sends]
        self._free: list[int] = []
        self.n_active = 0
        self.groups = {name: np.asarray(ids, dtype=np.int64) for name, ids in (groups or {}).items()}
        every = np.unique(np.concatenate(list(self.groups.values()))) if self.groups else np.empty(0, np.int64)
        self._links = every.tolist()
        self._recorder: LinkRecorder | None = None  # made at the first connection: the network knows every link by then
        self._column = {int(link): j for j, link in enumerate(self._links)}
        self.idle_hook: Callable[[], None] | None = None

    def open(self, src: str, dst: str, nbytes: float, owner: object) -> int:
        if self._recorder is None and self._links:
            self._recorder = LinkRecorder(self.net, self._links)
        fid = self._free.pop() if self._free else len(self._conns)
        conn = [src, dst, owner, True, 0]
        if fid == len(self._conns):
            self._conns.append(conn)
        else:
            self._conns[fid] = conn
        self.n_active += 1
        self.stats.opened += 1
        self.stats.peak_active = max(self.stats.peak_active, self.n_active)
        self._send(fid, nbytes)
        return fid

    def extend(self, fid: int, nbytes: float) -> None:
        self._send(fid, nbytes)

    def close(self, fid: int) -> None:
        conn = self._conns[fid]
        if not conn[3]:
            raise ValueError(f"connection {fid} is not open")
        conn[3] = False
        self._free.append(fid)
        self.n_active -= 1
        self.stats.closed += 1

    def _send(self, fid: int, nbytes: float) -> None:
        if not nbytes > 0:
            raise ValueError(f"connection {fid}: a piece needs a positive number of bytes, got {nbytes!r}")
        conn = self._conns[fid]
        conn[4] += 1
        self.net.transfer(conn[0], conn[1], nbytes).callbacks.append(lambda _e: self._arrived(fid, conn))

    def _arrived(self, fid: int, conn: list) -> None:
        if not conn[3]:
            return
        sends = conn[4]
        self.stats.arrivals += 1
        self.on_arrival(conn[2], self.env.now)
        if conn[3] and conn[4] == sends:
            raise RuntimeError(f"connection {fid}: its bytes arrived and the driver neither extended nor closed it")
        if self.n_active == 0 and self.idle_hook is not None:
            self.idle_hook()

    def utilisation(self, times: np.ndarray) -> dict[str, np.ndarray]:
        if self._recorder is None:
            return {name: np.zeros(len(times)) for name in self.groups}
        values = self._recorder.at(times)
        return {name: values[:, [self._column[int(i)] for i in ids]].mean(axis=1) if ids.size else np.zeros(len(times))
                for name, ids in self.groups.items()}
