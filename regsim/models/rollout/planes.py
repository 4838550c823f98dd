"""Swarm data planes: a fluid approximation for large swarms and the exact flow model, behind one API.

A swarm moves bytes over *connections*: a source serving one peer a stream of pieces of one blob,
back to back, as a BitTorrent or Kraken peer keeps requests pipelined on a connection so that it
never idles between pieces. The driver opens a connection with the bytes of its first piece, hears
when they have all arrived (``on_arrival(owner, t)``, ``t`` the moment the last byte landed), and
then either ``extend``s the connection with the next piece's bytes or ``close``s it; a callback
that does neither is an error.

:class:`FluidPlane` is built for swarms of thousands of peers with tens of thousands of connections
in flight, where the exact model's re-share per flow start and end is far too slow. It keeps every
connection in numpy arrays and differs from the exact model in three stated ways:

1. **Rates** are max-min fair over the same links (host uplinks and downlinks, rack uplinks,
   registry egress), computed by *parallel progressive filling*: each round freezes, at once,
   every flow crossing a link whose fair share is the smallest share of every flow through it --
   such a link saturates at exactly that level in sequential progressive filling, so the rounds
   are exact -- and after ``rounds`` rounds any flow still unfrozen takes its current smallest
   fair share. That is feasible (no link ever carries more than its capacity) and below max-min
   only for the flows left over; ``stats.unconverged`` counts re-shares that stopped early.
2. **Windows**: arrivals are handled in windows of ``window_s`` opening at the first arrival, and
   new connections (and closes) take effect at the window's end, when rates are re-shared once.
   A connection's bytes keep flowing through the window (the next piece was pipelined), so no
   bandwidth is lost to the window; what is late by at most ``window_s`` is the knowledge of a
   piece (a peer serves it onwards that much later) and the start of new connections. Bytes of
   a connection closed at the window's end that flowed past its last piece are discarded, so the
   bandwidth of a connection that ends idles until the window closes: conservative.
3. **No latency**: a connection moves bytes from the re-share that starts it (path latencies are
   tens of microseconds against piece times of milliseconds).

Because every allocation is feasible, a fluid run can never beat a capacity bound such as Kumar and
Ross's. :class:`~regsim.models.rollout.plane_exact.ExactPlane` moves each piece as one transfer of the exact flow-level
:class:`~regsim.sim.network.Network` (latency, exact max-min re-share at every start and end); the
tests hold the fluid plane to it on swarms both can run, and ``docs/p2p.md`` states the error.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import simpy

from regsim.sim.topology import Topology, TopologyError

#: re-share rounds before leftover flows take their current fair share (see module text).
ROUNDS = 4
#: bytes a connection may fall short of its piece and still count as arrived (float rounding).
_ARRIVED = 1e-3
#: relative tolerance for "this link's share is that flow's smallest share".
_RTOL = 1e-9
_WIDTH = 4  # links on the longest route: host up, rack uplink, rack downlink, host down

OnArrival = Callable[[object, float], None]


@dataclass(slots=True)
class PlaneStats:
    """How much work a data plane did."""

    opened: int = 0
    closed: int = 0
    arrivals: int = 0
    wakes: int = 0
    reshares: int = 0
    rounds: int = 0
    unconverged: int = 0
    peak_active: int = 0


class FluidPlane:
    """Connections as fluid flows in numpy arrays, re-shared once per window (see module text)."""

    name = "fluid"

    def __init__(self, env: simpy.Environment, topology: Topology, on_arrival: OnArrival, *, window_s: float,
                 rounds: int = ROUNDS, groups: Mapping[str, Sequence[int]] | None = None) -> None:
        if not (window_s >= 0 and math.isfinite(window_s)):
            raise ValueError(f"window_s must be a non-negative number of seconds, got {window_s!r}")
        if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
            raise ValueError(f"rounds must be an integer >= 1, got {rounds!r}")
        self.env, self.topology, self.on_arrival = env, topology, on_arrival
        self.window_s, self.rounds = float(window_s), rounds
        self.stats = PlaneStats()
        cap = np.asarray(topology.capacities(), dtype=float)
        self.pad = cap.size
        self.cap = np.append(cap, np.inf)
        self._ends: dict[str, tuple[int, int, int, int]] = {}
        self._slots = 0
        self.route = np.empty((0, _WIDTH), dtype=np.int64)
        self.left = self.rate = np.empty(0)
        self.active = np.empty(0, dtype=bool)
        self.owner: list[object] = []
        self._free: list[int] = []
        self._grow(1024)
        self.n_active = 0
        self._t = env.now
        self._dirty = False
        #: load (bytes/s) of every link as of the last re-share
        self.load = np.zeros(self.pad + 1)
        self._in_wake = False
        self._armed = math.inf
        self._token = 0
        self.recorder = GroupRecorder(self.cap[:-1], groups or {})
        self.idle_hook: Callable[[], None] | None = None

    # -- the driver's API ---------------------------------------------------------------------
    def open(self, src: str, dst: str, nbytes: float, owner: object) -> int:
        """Start a connection carrying ``nbytes`` (its first piece); its id."""
        if not nbytes > 0:
            raise ValueError(f"connection {src}->{dst}: a piece needs a positive number of bytes, got {nbytes!r}")
        if not self._free:
            self._grow(2 * self._slots)
        fid = self._free.pop()
        self.route[fid] = self._route(src, dst)
        self.left[fid], self.rate[fid], self.active[fid] = nbytes, 0.0, True
        self.owner[fid] = owner
        self.n_active += 1
        self.stats.opened += 1
        self.stats.peak_active = max(self.stats.peak_active, self.n_active)
        self._changed()
        return fid

    def extend(self, fid: int, nbytes: float) -> None:
        """Pipeline ``nbytes`` more (the next piece) on connection ``fid``."""
        if not nbytes > 0:
            raise ValueError(f"connection {fid}: a piece needs a positive number of bytes, got {nbytes!r}")
        self.left[fid] += nbytes

    def close(self, fid: int) -> None:
        """End connection ``fid``; bytes it moved beyond its last piece are discarded."""
        if not self.active[fid]:
            raise ValueError(f"connection {fid} is not open")
        self.active[fid] = False
        self.route[fid] = self.pad
        self.left[fid] = self.rate[fid] = 0.0
        self.owner[fid] = None
        self._free.append(fid)
        self.n_active -= 1
        self.stats.closed += 1
        self._changed()

    # -- storage ------------------------------------------------------------------------------
    def _grow(self, size: int) -> None:
        old = self._slots
        route = np.full((size, _WIDTH), self.pad, dtype=np.int64)
        route[:old] = self.route
        self.route = route
        self.left, self.rate = np.append(self.left, np.zeros(size - old)), np.append(self.rate, np.zeros(size - old))
        self.active = np.append(self.active, np.zeros(size - old, dtype=bool))
        self.owner.extend([None] * (size - old))
        self._free.extend(range(size - 1, old - 1, -1))
        self._slots = size

    def _ends_of(self, host: str) -> tuple[int, int, int, int]:
        ends = self._ends.get(host)
        if ends is None:
            h = self.topology.host(host)
            rack = self.topology.racks[h.rack]
            ends = self._ends[host] = (h.up, h.down, -1 if rack.uplink is None else rack.uplink,
                                       -1 if rack.downlink is None else rack.downlink)
        return ends

    def _route(self, src: str, dst: str) -> tuple[int, int, int, int]:
        """Link ids of the path, padded: the topology's routes, without caching every host pair."""
        if src == dst:
            raise TopologyError(f"a connection needs two hosts, got {src!r} twice")
        a, b = self._ends_of(src), self._ends_of(dst)
        up, down = self._gated(src, dst, a[0], out=True), self._gated(dst, src, b[1], out=False)
        if self.topology.host(src).rack == self.topology.host(dst).rack:
            return up, down, self.pad, self.pad
        if a[2] < 0 or b[3] < 0:
            raise TopologyError(f"no route from {src!r} to {dst!r}: a rack without an uplink reaches only "
                                "its own hosts")
        return up, a[2], b[3], down

    def _gated(self, host: str, other: str, nic: int, *, out: bool) -> int:
        """``host``'s NIC link on a route to or from ``other``, or the gateway it sits behind (the
        registry's frontends share the site's egress) when the route crosses it. Routes here have
        room for four links, so the gateway stands in for the NIC: that loses nothing while the NIC
        is no slower than the gateway, as the world builds it; a slower one is refused."""
        gateway = self.topology.gateway_of(host)
        if gateway is None or other in gateway[2]:
            return nic
        shared = gateway[0] if out else gateway[1]
        if self.topology.links[nic].capacity < self.topology.links[shared].capacity:
            raise TopologyError(f"{host!r} is behind a gateway faster than its NIC; the fluid plane routes "
                                "through one of the two only")
        return shared

    # -- the manager --------------------------------------------------------------------------
    def _changed(self) -> None:
        self._dirty = True
        if not self._in_wake:
            self._arm(self.env.now + self.window_s)

    def _arm(self, when: float) -> None:
        if when >= self._armed:
            return
        self._armed = when
        self._token += 1
        token = self._token
        self.env.timeout(max(0.0, when - self.env.now)).callbacks.append(lambda _e: self._wake(token))

    def _wake(self, token: int) -> None:
        if token != self._token:
            return  # superseded by an earlier wake-up
        self._armed = math.inf
        self.stats.wakes += 1
        now = self.env.now
        idx = np.flatnonzero(self.active)  # new connections cannot arrive in this wake, so this covers all
        if idx.size:
            self.left[idx] -= self.rate[idx] * (now - self._t)
        self._t = now
        self._in_wake = True
        try:
            while idx.size:
                # the arrays are re-read on every pass: a driver's opens may have grown them
                active, left, rate = self.active, self.left, self.rate
                due = idx[(left[idx] <= _ARRIVED) & active[idx]]
                if due.size == 0:
                    break
                with np.errstate(divide="ignore", invalid="ignore"):
                    arrived = now + np.where(rate[due] > 0, left[due] / rate[due], 0.0)
                order = np.argsort(arrived, kind="stable")
                for fid, t in zip(due[order].tolist(), arrived[order].tolist()):
                    before = self.left[fid]
                    if not self.active[fid] or before > _ARRIVED:
                        continue  # closed, or closed and reused, by an earlier arrival's driver
                    self.stats.arrivals += 1
                    self.on_arrival(self.owner[fid], t)
                    if self.active[fid] and self.left[fid] == before:
                        raise RuntimeError(f"connection {fid}: its bytes arrived and the driver neither "
                                           "extended nor closed it")
            if self._dirty:
                self._reshare()
                self._dirty = False
                self.recorder.record(now, self.load[: self.pad])
        finally:
            self._in_wake = False
        idx = np.flatnonzero(self.active)
        rate = self.rate[idx]
        moving = rate > 0
        if moving.any():
            self._arm(now + float((self.left[idx][moving] / rate[moving]).min()) + self.window_s)
        elif self.n_active == 0 and self.idle_hook is not None:
            self.idle_hook()

    def _reshare(self) -> None:
        """New rates for every open connection after some opened or closed (module text, point 1)."""
        self.stats.reshares += 1
        idx = np.flatnonzero(self.active)
        if idx.size:
            routes = self.route[idx]
            rates = self.rate[idx] = self._fill(routes, self.cap.copy())
            self.load = np.bincount(routes.ravel(), weights=np.repeat(rates, _WIDTH), minlength=self.pad + 1)
        else:
            self.load = np.zeros(self.pad + 1)

    def _fill(self, routes: np.ndarray, free: np.ndarray) -> np.ndarray:
        """Parallel progressive filling of the connections with ``routes`` over capacities ``free``."""
        size = free.size
        rates = np.empty(routes.shape[0])
        rows = np.arange(routes.shape[0])
        for k in range(self.rounds):
            self.stats.rounds += 1
            users = np.bincount(routes.ravel(), minlength=size)
            with np.errstate(divide="ignore", invalid="ignore"):
                share = free / users
            share[self.pad] = np.inf
            shares = share[routes]
            level = shares.min(axis=1)
            if k == self.rounds - 1:
                rates[rows] = level
                self.stats.unconverged += 1
                break
            at_level = shares <= level[:, None] * (1.0 + _RTOL)
            bottleneck = np.bincount(routes[at_level], minlength=size) == users
            bottleneck[self.pad] = False
            bottleneck &= users > 0
            hit = bottleneck[routes].any(axis=1)
            if not hit.any():  # cannot happen with exact arithmetic; stay feasible regardless
                rates[rows] = level
                self.stats.unconverged += 1
                break
            rates[rows[hit]] = level[hit]
            if hit.all():
                break
            free = free - np.bincount(routes[hit].ravel(), weights=np.repeat(level[hit], _WIDTH), minlength=size)
            np.maximum(free, 0.0, out=free)
            free[self.pad] = np.inf
            keep = ~hit
            rows, routes = rows[keep], routes[keep]
        return rates

    def utilisation(self, times: np.ndarray) -> dict[str, np.ndarray]:
        """Mean utilisation of each link group at ``times`` (step functions between re-shares)."""
        return self.recorder.at(times)


class GroupRecorder:
    """Mean utilisation of named groups of links, recorded at every re-share (a step function)."""

    def __init__(self, capacity: np.ndarray, groups: Mapping[Hashable, Sequence[int]]) -> None:
        self.groups = {str(name): np.asarray(ids, dtype=np.int64) for name, ids in groups.items()}
        kept = [ids for ids in self.groups.values() if ids.size]
        self._links = np.concatenate(kept) if kept else np.empty(0, dtype=np.int64)
        self._capacity = np.asarray(capacity, dtype=float)[self._links]
        sizes = np.array([ids.size for ids in self.groups.values()])
        self._sizes = sizes[sizes > 0]
        self._starts = np.concatenate([[0], np.cumsum(self._sizes)[:-1]]).astype(np.int64) if kept else None
        self._present = sizes > 0
        self.times: list[float] = []
        self.rows: list[np.ndarray] = []

    def record(self, t: float, loads: np.ndarray) -> None:
        if not self.groups:
            return
        row = np.zeros(self._present.size)
        if self._starts is not None:
            row[self._present] = np.add.reduceat(loads[self._links] / self._capacity, self._starts) / self._sizes
        if self.times and self.times[-1] == t:
            self.rows[-1] = row
        else:
            self.times.append(t)
            self.rows.append(row)

    def at(self, times: np.ndarray) -> dict[str, np.ndarray]:
        t = np.asarray(times, dtype=float)
        if not self.rows:
            return {name: np.zeros(t.size) for name in self.groups}
        idx = np.searchsorted(np.asarray(self.times), t, side="right") - 1
        values = np.vstack(self.rows)
        out = np.where(idx[:, None] >= 0, values[np.maximum(idx, 0)], 0.0)
        return {name: out[:, j] for j, name in enumerate(self.groups)}
