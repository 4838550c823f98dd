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

1. **Rates** follow the world's sharing model (:class:`~regsim.sim.network.sharing.FlowModel`,
   ``network.model``) over the same links (host uplinks and downlinks, rack uplinks, registry
   egress), so that a P2P run and a central one compared in one scenario share bandwidth alike.
   Under ``maxmin`` a connection's rate is its max-min fair share. Under ``tcp`` (LV08, the
   default) it is what :class:`~regsim.sim.network.Network` gives the same connection: weighted
   max-min with weight ``1 / P`` (``P`` the route's latency plus ``weight_s`` times the sum of
   ``1 / capacity`` over it, from the topology's own route), coefficient 1 on the route's links and
   ``reverse_load`` on the reverse route's (its acknowledgements; routes are then 8 links wide),
   an allotment capped at ``window / (2 * latency)``, and bytes moving at ``bandwidth_factor``
   times the allotment. Link loads (the utilisation series) are the allotments times the
   coefficients, so a saturated link reads fully used. Either way the allocation is computed by
   *parallel progressive filling*: each round gives every unfrozen flow the smallest fair share
   (free capacity over the summed weight times coefficient of the link's unfrozen users) of its
   links, capped by its window, and freezes, at once, every flow at its cap or crossing a link at
   which every user sits at that link's share -- such a link saturates at exactly that level in
   sequential progressive filling, so the rounds are exact -- and after ``rounds`` rounds any flow
   still unfrozen takes its current smallest fair share. That is feasible (no link ever carries
   more than its capacity) and below the fair allocation only for the flows left over;
   ``stats.unconverged`` counts re-shares that stopped early.
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
:class:`~regsim.sim.network.Network` (latency, exact re-share under the same sharing model at every
start and end); the tests hold the fluid plane to it on swarms both can run, under both models, and
``docs/p2p.md`` states the error.

Routes are the topology's with a gateway standing in for the NIC of a host behind it (four links
each way at most; see ``_gated``); the weights and window bounds of the TCP model are priced on the
full route, NIC and gateway both, as the exact network prices them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import simpy

from regsim.sim.network.sharing import MAXMIN, FlowModel
from regsim.sim.topology import Topology, TopologyError

#: re-share rounds before leftover flows take their current fair share (see module text).
ROUNDS = 4
#: bytes a connection may fall short of its piece and still count as arrived (float rounding).
_ARRIVED = 1e-3
#: relative tolerance for "this link's share is that flow's smallest share".
_RTOL = 1e-9
_WIDTH = 4  # links on the longest route: host up, rack uplink, rack downlink, host down


def _row_min(a: np.ndarray) -> np.ndarray:
    """``a.min(axis=1)`` for an ``(n, width)`` array of a few columns, as element-wise minima of
    its columns: the same values, several times faster than numpy's reduction along a short axis."""
    out = a[:, 0].copy()
    for j in range(1, a.shape[1]):
        np.minimum(out, a[:, j], out=out)
    return out


def _row_any(a: np.ndarray) -> np.ndarray:
    """``a.any(axis=1)`` for an ``(n, width)`` bool array of a few columns (see :func:`_row_min`)."""
    out = a[:, 0].copy()
    for j in range(1, a.shape[1]):
        out |= a[:, j]
    return out

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
                 rounds: int = ROUNDS, groups: Mapping[str, Sequence[int]] | None = None,
                 model: FlowModel = MAXMIN) -> None:
        if not (window_s >= 0 and math.isfinite(window_s)):
            raise ValueError(f"window_s must be a non-negative number of seconds, got {window_s!r}")
        if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
            raise ValueError(f"rounds must be an integer >= 1, got {rounds!r}")
        if not isinstance(model, FlowModel):
            raise TypeError(f"model must be a FlowModel, got {type(model).__name__}")
        self.env, self.topology, self.on_arrival = env, topology, on_arrival
        self.window_s, self.rounds, self.model = float(window_s), rounds, model
        self.stats = PlaneStats()
        cap = np.asarray(topology.capacities(), dtype=float)
        self.pad = cap.size
        self.cap = np.append(cap, np.inf)
        #: whether connections are weighted, load their reverse route and are window-bound (tcp)
        self.weighted = model.weighted
        reverse = model.reverse if self.weighted else 0.0
        self.width = 2 * _WIDTH if reverse > 0 else _WIDTH
        #: load a connection puts on each column of its route per unit of its allotment
        self.coef = np.array([1.0] * _WIDTH + [reverse] * (self.width - _WIDTH))
        self._lat = np.asarray(topology.latencies(), dtype=float)
        self._ends: dict[str, tuple[int, int, int, int]] = {}
        self._slots = 0
        self.route = np.empty((0, self.width), dtype=np.int64)
        #: per route column, how many open connections use it (not the padding): a re-share
        #: leaves out columns nobody uses (a one-rack fabric's rack links), half the work there
        self._columns = np.zeros(self.width, dtype=np.int64)
        #: per connection: its weight 1/P and the cap on its level (tcp; 1 and inf under maxmin)
        self.weight, self.level_cap = np.empty(0), np.empty(0)
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
        if self.weighted:
            self._price(fid, src, dst)
        else:
            self.route[fid] = self._route(src, dst)
        self.left[fid], self.rate[fid], self.active[fid] = nbytes, 0.0, True
        self._columns += self.route[fid] != self.pad
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
        self._columns -= self.route[fid] != self.pad
        self.route[fid] = self.pad
        self.left[fid] = self.rate[fid] = 0.0
        self.weight[fid], self.level_cap[fid] = 1.0, np.inf
        self.owner[fid] = None
        self._free.append(fid)
        self.n_active -= 1
        self.stats.closed += 1
        self._changed()

    # -- storage ------------------------------------------------------------------------------
    def _grow(self, size: int) -> None:
        old = self._slots
        route = np.full((size, self.width), self.pad, dtype=np.int64)
        route[:old] = self.route
        self.route = route
        self.weight = np.append(self.weight, np.ones(size - old))
        self.level_cap = np.append(self.level_cap, np.full(size - old, np.inf))
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

    def _price(self, fid: int, src: str, dst: str) -> None:
        """Route, weight and level cap of connection ``fid`` under the weighted (tcp) model: the
        forward route, then the reverse one (loaded at ``reverse_load``); the weight ``1 / P`` and
        the window bound priced on the topology's full route (NIC and gateway both, in its order),
        computed here rather than looked up so that no host pair is cached."""
        route = self._route(src, dst)
        if self.width > _WIDTH:
            self.route[fid] = route + self._route(dst, src)
        else:
            self.route[fid] = route
        topo = self.topology
        a, b = topo.host(src), topo.host(dst)
        full = [a.up]
        if a.rack != b.rack:
            ra, rb = topo.racks[a.rack], topo.racks[b.rack]
            full += [ra.uplink, rb.downlink]
        out, into = topo.gateway_of(src), topo.gateway_of(dst)
        if out is not None and dst not in out[2]:
            full.insert(1, out[0])
        if into is not None and src not in into[2]:
            full.append(into[1])
        full.append(b.down)
        latency = float(sum(self._lat[i] for i in full))
        model = self.model
        penalty = model.penalty(latency, [float(self.cap[i]) for i in full])
        if not penalty > 0:
            raise ValueError(f"latency-weighted sharing needs a positive route latency (or weight_s > 0); "
                             f"{src}->{dst} has latency {latency}")
        self.weight[fid] = 1.0 / penalty
        self.level_cap[fid] = model.bound(latency) * penalty

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
        if not idx.size:
            self.load = np.zeros(self.pad + 1)
            return
        routes, coef = self.route[idx], self.coef
        used = self._columns > 0
        if not used.all():
            # padding columns load nothing; dropping them keeps every link's sums in the same
            # order, so the rates are the same to the bit
            routes, coef = routes[:, used], coef[used]
        if not self.weighted:
            rates = self.rate[idx] = self._fill(routes, self.cap.copy())
            self.load = np.bincount(routes.ravel(), weights=np.repeat(rates, routes.shape[1]),
                                    minlength=self.pad + 1)
            return
        weight = self.weight[idx]
        allotment = weight * self._fill(routes, self.cap.copy(), weight, coef, self.level_cap[idx])
        self.rate[idx] = self.model.goodput * allotment
        self.load = np.bincount(routes.ravel(), weights=(allotment[:, None] * coef).ravel(),
                                minlength=self.pad + 1)

    def _fill(self, routes: np.ndarray, free: np.ndarray, weights: np.ndarray | None = None,
              coefs: np.ndarray | None = None, level_cap: np.ndarray | None = None) -> np.ndarray:
        """Parallel progressive filling of the connections with ``routes`` (``(n, width)`` link ids,
        padded with ``self.pad``) over capacities ``free``: each one's level (rate per unit of
        weight). A connection of weight ``w`` puts ``coefs[j] * w * level`` on the link in column
        ``j`` of its route (``coefs`` a row of ``width``, or ``(n, width)``; 1 when None), and its
        level is at most ``level_cap`` (None: no cap). Without weights, coefficients and caps the
        levels are the plain max-min rates, computed as they always were."""
        size = free.size
        width = routes.shape[1]
        levels = np.empty(routes.shape[0])
        rows = np.arange(routes.shape[0])
        cw = None  # load per unit of level of each route entry
        if weights is not None or coefs is not None:
            w = np.ones(routes.shape[0]) if weights is None else np.asarray(weights, dtype=float)
            c = np.ones(width) if coefs is None else np.asarray(coefs, dtype=float)
            cw = np.array(np.broadcast_to(w[:, None] * c, routes.shape))
            idle = cw <= 0
            if idle.any():
                routes = routes.copy()
                routes[idle] = self.pad  # an entry that loads nothing takes no part in the sharing
        lc = None
        if level_cap is not None and np.isfinite(level_cap).any():
            lc = np.asarray(level_cap, dtype=float)
        for k in range(self.rounds):
            self.stats.rounds += 1
            users = np.bincount(routes.ravel(), minlength=size)
            demand = users if cw is None else np.bincount(routes.ravel(), weights=cw.ravel(), minlength=size)
            with np.errstate(divide="ignore", invalid="ignore"):
                share = free / demand
            share[self.pad] = np.inf
            shares = share.take(routes)
            level = _row_min(shares)
            if lc is not None:
                np.minimum(level, lc, out=level)
            if k == self.rounds - 1:
                levels[rows] = level
                self.stats.unconverged += 1
                break
            at_level = shares <= level[:, None] * (1.0 + _RTOL)
            # entries at their link's share, counted per link (float counts of whole numbers: exact)
            bottleneck = np.bincount(routes.ravel(), weights=at_level.ravel(), minlength=size) == users
            bottleneck[self.pad] = False
            bottleneck &= users > 0
            hit = _row_any(bottleneck.take(routes))
            if lc is not None:
                hit |= lc <= level * (1.0 + _RTOL)
            if not hit.any():  # cannot happen with exact arithmetic; stay feasible regardless
                levels[rows] = level
                self.stats.unconverged += 1
                break
            # rows picked by index (take) rather than by mask: the same rows, in half the time
            done = hit.nonzero()[0]
            level_hit = level.take(done)
            levels[rows.take(done)] = level_hit
            if done.size == hit.size:
                break
            if cw is None:
                used = np.repeat(level_hit, width)
            else:
                used = (cw.take(done, axis=0) * level_hit[:, None]).ravel()
            free = free - np.bincount(routes.take(done, axis=0).ravel(), weights=used, minlength=size)
            np.maximum(free, 0.0, out=free)
            free[self.pad] = np.inf
            keep = (~hit).nonzero()[0]
            rows, routes = rows.take(keep), routes.take(keep, axis=0)
            if cw is not None:
                cw = cw.take(keep, axis=0)
            if lc is not None:
                lc = lc.take(keep)
        return levels

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
