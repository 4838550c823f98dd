"""The SimPy-facing flow-level network: ``net.transfer(src, dst, nbytes)`` -> an event.

A transfer first pays the one-way latency of its path, then joins the fluid model: its bytes
move at the max-min fair rate of the moment, re-shared over every link of every affected path
whenever a flow starts or ends, and its event succeeds when the last byte has arrived. That is
SimGrid's flow model (latency first, then bandwidth), so a lone flow takes
``latency + nbytes / min(capacity on the path)``.

One manager owns every flow: no SimPy process per flow, only one pending SimPy timer at the
next moment something happens (a flow's predicted completion, a start that has paid its
latency, or the end of a coalescing window). Time jumps from one such moment to the next; rates
are constant in between, so nothing is ticked.

Coalescing (``coalesce_s = d > 0``) trades exactness for fewer re-shares. The first start or end
after a re-share opens a window of ``d`` seconds; the next re-share happens when it closes and
takes in every start and end of the window. Meanwhile starting flows wait (their start is late
by at most ``d``) and the bandwidth of flows that ended stays idle (the others keep their rates).
The approximation is therefore conservative: no link ever carries more than its capacity and
bytes are conserved exactly; a transfer may finish later than in the exact model and, because a
delayed competitor takes less early on, occasionally slightly earlier. On a single saturated
bottleneck the makespan never shrinks and grows by at most ``d`` per window, i.e.
``exact <= coalesced <= exact + d * stats.reshares``; tests check that bound. Measured on a
1,000-client storm with starts over 60 s (tests/sim/test_network_coalesce.py): the makespan
moves by 3 to 6 ``d``; the worst per-flow relative error is 7e-7 at d = 1 ms, 5e-5 at 10 ms
and 4e-3 at 100 ms, for 4 %, 21 % and 67 % fewer re-shares.

Exact re-shares are cheap where it matters most: flows on one route share one weighted entry,
a storm whose flows all cross one bottleneck is re-shared in a few whole-array operations, and
a storm with a few bottlenecks (several servers, several rack uplinks) in one pass over the
flows; anything else re-runs progressive filling on the changed component only. See
:mod:`.flows` and :mod:`.reshare`. Once every entry sits at its bottleneck's fair share, the
re-shares go lazy (:mod:`.lazy`): a start or an end moves one clock per touched bottleneck and
costs a few heap operations, whatever the number of flows, until a check fails and the eager
strategies take over again.

How flows share links is a :class:`~regsim.sim.network.sharing.FlowModel`: plain max-min (the
engine's default, the closed forms' model) or the TCP-like model after SimGrid's LV08 that
scenarios use by default -- goodput a fraction of capacity, shares weighted by round trip,
acknowledgements loading the reverse path, a window bounding each connection. See
:mod:`.sharing`.

Traffic classes (``classes``: name -> weight) weight a flow's share on every link it contends
for: a transfer's ``klass`` (or what ``classify(src, dst, tag)`` names) multiplies its weight,
and flows of a weighted class keep entries of their own. Weighted max-min is the fluid form of
weighted fair queueing: a class of weight 0.1 gets a tenth of an equal flow's share where they
compete, and the whole link where nothing else wants it.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass

import numpy as np
import simpy

from regsim.sim.network.flows import FlowTable, Snapshot
from regsim.sim.network.lazy import LazyShares, can_enter
from regsim.sim.network.reshare import reshare
from regsim.sim.network.sharing import MAXMIN, FlowModel
from regsim.sim.network.transfer import Path, Transfer
from regsim.sim.topology import Topology


#: utilisation of at most this many links is summed from the lazy state, more from a sync
_FEW_LINKS = 64
#: lazy stays of at least this many re-shares paid for taking over; shorter ones back off
_LAZY_WORTH = 8


def _slack(t: float) -> float:
    """How far past ``t`` an event may be predicted and still count as due now (rounding)."""
    return 1e-12 * max(1.0, abs(t))


@dataclass(slots=True)
class NetworkStats:
    """How much work the model did: the numbers that explain its speed.

    ``uniform``, ``grouped`` and ``component`` count the re-shares each strategy of
    :mod:`regsim.sim.network.reshare` served, ``lazy`` those :mod:`regsim.sim.network.lazy`
    settled by moving levels only.
    """

    requested: int = 0
    started: int = 0
    completed: int = 0
    reshares: int = 0
    reshared_entries: int = 0
    uniform: int = 0
    grouped: int = 0
    component: int = 0
    lazy: int = 0
    wakeups: int = 0
    peak_entries: int = 0


class Network:
    """Flow-level network over a :class:`Topology`, driven by one manager inside ``env``."""

    def __init__(self, env: simpy.Environment, topology: Topology, *, model: FlowModel = MAXMIN,
                 coalesce_s: float = 0.0, classes: Mapping[str, float] | None = None, lazy: bool = True) -> None:
        """``lazy=False`` keeps every re-share eager (:mod:`.reshare`): the same results, for
        tests and benchmarks that hold the lazy state (:mod:`.lazy`) to it."""
        if not isinstance(model, FlowModel):
            raise TypeError(f"model must be a FlowModel, got {type(model).__name__}")
        if not (coalesce_s >= 0 and math.isfinite(coalesce_s)):
            raise ValueError(f"coalesce_s must be a non-negative number of seconds, got {coalesce_s!r}")
        self.env, self.topology = env, topology
        self.model, self.coalesce_s = model, float(coalesce_s)
        self.lazy = bool(lazy)
        self.classes = dict(classes or {})
        for name, weight in self.classes.items():
            if not (weight > 0 and math.isfinite(weight)):
                raise ValueError(f"traffic class {name!r}: its weight must be a positive number, got {weight!r}")
        #: the class of a transfer not given one: ``classify(src, dst, tag)``, None for the default
        self.classify: Callable[[str, str, Hashable], str | None] | None = None
        self.stats = NetworkStats()
        self.bytes_by_tag: Counter[Hashable] = Counter()
        self._nominal = np.asarray(topology.capacities(), dtype=float)
        self._table = FlowTable(self._nominal)
        self._links = len(topology.links)
        self._paths: dict[tuple[int, ...], Path] = {}
        self._pending: list[tuple[float, int, Transfer]] = []
        self._seq = 0
        self._armed: list[float] = []
        self._deadline = math.inf
        self._subscribers: list[Callable[[Network], None]] = []
        # lazy re-shares (:mod:`.lazy`): settled since it last took over, and how many eager
        # re-shares to wait before it takes over again after a short stay (it costs a pass over
        # every entry to take over)
        self._lazy_settles = 0
        self._lazy_backoff = 0
        self._lazy_wait = 0
        #: :meth:`_wake`, bound once: the manager arms a timer per event
        self._wake_cb = self._wake

    # -- the API models call ----------------------------------------------------------------
    def transfer(self, src: str, dst: str, nbytes: float, *, tag: Hashable = None,
                 klass: str | None = None) -> simpy.Event:
        """An event that succeeds, with the :class:`Transfer` as value, when the last byte lands.

        ``src == dst`` is a local copy: no links, no latency, done at once. Zero bytes cost the
        path latency only. ``klass`` names the transfer's traffic class (else ``classify`` may);
        a class's weight (``classes``) multiplies the flow's share of every link it contends for.
        """
        nbytes = float(nbytes)
        if not (nbytes >= 0 and math.isfinite(nbytes)):
            raise ValueError(f"transfer {src}->{dst}: nbytes must be a non-negative number, got {nbytes!r}")
        topology = self.topology
        route, latency = topology.route(src, dst)
        now = self.env.now
        if len(topology.links) != self._links:
            if self._table.lazy is not None:
                self._table.lazy.leave(now)
            self._nominal = np.asarray(topology.capacities(), dtype=float)
            self._table.grow_links(self._nominal)
            self._links = len(topology.links)
        latency = self.model.delay(latency)
        classes = self.classes
        if not classes:
            klass = None  # no class weighs other than 1: every flow is of the default class
        else:
            if klass is None and self.classify is not None:
                klass = self.classify(src, dst, tag)
            if klass is not None and classes.get(klass, 1.0) == 1.0:
                klass = None  # weight 1: the default class, the same entry as unclassed flows
        tr = Transfer(src, dst, nbytes, tag, route, latency, now, klass)
        self.stats.requested += 1
        if not route or nbytes == 0:
            tr.started = tr.finished = now + latency
            self.stats.started += 1
            self.stats.completed += 1
            self.bytes_by_tag[tag] += nbytes
            return simpy.Timeout(self.env, latency, tr)
        if tr.key not in self._paths:
            self._path(tr)  # a route the sharing model cannot price fails here, not later
        tr._event = event = simpy.Event(self.env)
        start = now + latency
        heapq.heappush(self._pending, (start, self._seq, tr))
        self._seq += 1
        if self._deadline == math.inf:
            self._arm(start)
        return event

    def rate(self, transfer: Transfer) -> float:
        """The rate (bytes/s) ``transfer`` moves at now; 0 before it starts and after it ends."""
        return self._table.rate_of(transfer)

    def _sync(self) -> None:
        """Write the lazy state (if any) into the table's arrays, which the views read."""
        if self._table.lazy is not None:
            self._table.lazy.sync(self.env.now)

    def link_bytes(self) -> np.ndarray:
        """Bytes each link has carried so far, indexed by link id: on the wire, so under the TCP
        model the payload over the bandwidth factor, plus acknowledgements on reverse paths."""
        self._sync()
        self._table.accrue(self.env.now)
        return self._table.sent[: self._links].copy()

    def link_load(self) -> np.ndarray:
        """Current rate (bytes/s) on each link, indexed by link id."""
        self._sync()
        return self._table.load[: self._links].copy()

    def utilisation(self, links: np.ndarray | None = None) -> np.ndarray:
        """Current load over capacity of each link (indexed by link id), or of ``links`` only
        (cheap while the lazy state holds: no array of every entry is brought up to date)."""
        if links is None:
            self._sync()
            return self._table.load[: self._links] / self._nominal[: self._links]
        links = np.asarray(links, dtype=np.int64)
        lazy = self._table.lazy
        if lazy is None or links.size > _FEW_LINKS:
            self._sync()
            return self._table.load[links] / self._nominal[links]
        return np.array(lazy.load_of(links.tolist())) / self._nominal[links]

    def subscribe(self, callback: Callable[[Network], None]) -> None:
        """Call ``callback(net)`` after every change of link loads (re-share or completion).

        Loads are constant between calls, so the calls give exact step-function time series;
        :class:`~regsim.sim.network.sampling.LinkRecorder` records them.
        """
        self._subscribers.append(callback)

    def loads_of(self, links: list[int]) -> list[float]:
        """Current load (bytes/s) of each of a few ``links``, as a list: what a recorder reads
        after every change, cheaply while the lazy state holds."""
        lazy = self._table.lazy
        if lazy is None:
            load = self._table.load
            return [float(load[link]) for link in links]
        return lazy.load_of(links)

    def snapshot(self) -> Snapshot:
        """``(routes, rates, counts, weights, coefs)`` of the active route entries: each entry's
        links (-1 padded) and the load it puts on each per unit of rate."""
        self._sync()
        return self._table.snapshot()

    def capacity(self) -> np.ndarray:
        """Each link's capacity (bytes/s), indexed by link id."""
        return self._nominal[: self._links].copy()

    @property
    def active(self) -> int:
        """Transfers moving bytes now."""
        return self.stats.started - self.stats.completed

    @property
    def pending(self) -> int:
        """Transfers requested but still paying latency or waiting for a coalescing window."""
        return len(self._pending)

    # -- the manager ------------------------------------------------------------------------
    def _path(self, tr: Transfer) -> Path:
        """What the sharing model makes of ``tr``'s route (cached per route).

        The table moves bytes at ``weight * level`` and loads each link with ``coef`` times
        that. SimGrid allots ``level / penalty`` and moves ``goodput`` times the allotment, so
        the weight is ``goodput / penalty`` and each coefficient is divided by the goodput:
        the levels, the loads and the rates all come out as SimGrid's.
        """
        path = self._paths.get(tr.key)
        if path is not None:
            return path
        model, route = self.model, tr.route
        latency = self.topology.route(tr.src, tr.dst)[1]
        good = model.goodput
        load = dict.fromkeys(route, 1.0 / good)
        if model.reverse > 0:  # a link on both paths (a half-duplex one) takes both loads
            for link in self.topology.route(tr.dst, tr.src)[0]:
                load[link] = load.get(link, 0.0) + model.reverse / good
        links, coefs = tuple(load), tuple(load.values())
        penalty = 1.0
        if model.weighted:
            penalty = model.penalty(latency, [float(self._nominal[i]) for i in route])
            if penalty <= 0:
                raise ValueError(f"latency-weighted sharing needs a positive route latency (or weight_s > 0); "
                                 f"route {route} has latency {latency}")
        share = self.classes.get(tr.klass, 1.0) if tr.klass is not None else 1.0
        weight = good * share / penalty
        path = self._paths[tr.key] = Path(links, coefs, weight, model.bound(latency) * penalty / share)
        return path

    def _arm(self, when: float) -> None:
        """Make sure the manager wakes at ``when``; an earlier pending wake-up will re-arm."""
        if self._armed and self._armed[0] <= when:
            return
        heapq.heappush(self._armed, when)
        env = self.env
        simpy.Timeout(env, max(0.0, when - env.now)).callbacks.append(self._wake_cb)

    def _wake(self, _event: simpy.Event) -> None:
        """One step of the manager: finish what is due, re-share if the window is closed, re-arm."""
        heapq.heappop(self._armed)
        stats = self.stats
        stats.wakeups += 1
        now = self.env.now
        due = now + 1e-12 * max(1.0, abs(now))  # _slack(now), inlined: this runs per event
        table = self._table
        lazy = table.lazy
        if lazy is None:
            table.accrue(now)
            done = table.complete_due(due, now)
        else:
            done = lazy.complete_due(due, now)
        changed = bool(done)
        pending = self._pending
        if self._deadline == math.inf:
            if done:
                self._deadline = now + self.coalesce_s
            elif pending and pending[0][0] <= due:
                self._deadline = pending[0][0] + self.coalesce_s
        if self._deadline <= due:
            self._deadline = math.inf
            batch = []
            paths = self._paths
            while pending and pending[0][0] <= due:
                tr = heapq.heappop(pending)[2]
                tr.started = now
                batch.append((tr, paths.get(tr.key) or self._path(tr)))
            stats.started += len(batch)
            path = self._reshare(batch, now)
            setattr(stats, path, getattr(stats, path) + 1)
            stats.reshares += 1
            stats.reshared_entries += table.last_reshare_size
            if table.n > stats.peak_entries:
                stats.peak_entries = table.n
            changed = True
        if done:
            by_tag = self.bytes_by_tag
            for tr in done:
                tr.finished = now
                by_tag[tr.tag] += tr.nbytes
                # the event holds the transfer as its value: dropping the transfer's hold on
                # it breaks the cycle, so both go by reference counting, not by the collector
                event, tr._event = tr._event, None
                event.succeed(tr)
            stats.completed += len(done)
        if changed:
            for callback in self._subscribers:
                callback(self)
        nxt = table.next_finish() if table.lazy is None else table.lazy.next_finish()
        if not nxt > now and not changed:  # also catches NaN: a broken state must not spin
            raise RuntimeError(f"network model stuck at t={now}: next completion {nxt} is not in the future")
        if self._deadline < math.inf:
            nxt = min(nxt, self._deadline)
        elif pending:
            nxt = min(nxt, pending[0][0])
        if nxt < math.inf:
            self._arm(nxt)

    def _reshare(self, batch: list[tuple[Transfer, Path]], now: float) -> str:
        """Start ``batch`` and re-share: lazily (levels only) while that holds, else eagerly
        (:func:`.reshare.reshare`), after which the lazy state takes over again when it can."""
        table = self._table
        lazy = table.lazy
        if lazy is not None:
            lazy.add_many(batch, now)
            if lazy.settle(now):
                self._lazy_settles += 1
                table.last_reshare_size = 0
                return "lazy"
            lazy.leave(now)
            self._lazy_backoff = 0 if self._lazy_settles >= _LAZY_WORTH else max(1, 2 * self._lazy_backoff)
            self._lazy_wait = self._lazy_backoff
        else:
            table.add_many(batch, now)
        path = reshare(table, now)
        if table.levels is not None:
            if self._lazy_wait > 0:
                self._lazy_wait -= 1
            elif self.lazy and can_enter(table):
                table.lazy = LazyShares(table, now, table.levels)
                self._lazy_settles = 0
        return path
