"""The state of every active flow, kept in persistent numpy arrays (no SimPy here).

Flows on the same route are indistinguishable to max-min sharing -- they always get the same
rate -- so they live in one *entry*: a weighted flow of ``count`` members. Members that joined
at different times or carry different sizes simply finish at different points of the entry's
common progress, so an entry keeps a heap of member thresholds ("done when the entry has moved
this many bytes per member"). A thousand layers pulled over one route cost one row, not a
thousand.

Per entry the table stores, in parallel arrays: its links (a column of link ids, see
:mod:`.maxmin`: the route, then the reverse path when acknowledgements load it) and the load
per unit of rate each link takes (1 on the route, the model's reverse load on the way back),
member count, base weight, the highest level (rate per unit of weight) a member may reach (its
window bound), per-member rate, progress per member at time ``t0``, the next member's
threshold and the predicted time it finishes. Progress advances
lazily: an entry is touched only when its rate changes or a member finishes, never on a clock
tick, and the next completion is read off the arrays as ``t0 + (threshold - progress) / rate``.

Per link it stores the current load, the bytes carried so far, the weight and number of
entries crossing it, their fair share ``capacity / weight``, and how many entries designate it
as their bottleneck: kept up to date on every start and end, they let :mod:`.reshare` settle
the common storms without a component search or filling rounds.

The table never decides rates itself; :func:`.reshare.reshare` does, after each batch of
starts and ends.
"""

from __future__ import annotations

import heapq
import itertools
import math
from typing import NamedTuple

import numpy as np

from regsim.sim.network.transfer import Path, Transfer

#: members whose thresholds lie this close (relative) to the finishing one finish with it.
_SAME_THRESHOLD_RTOL = 1e-12
#: batches of starts at least this large create their new entries in bulk. The bulk path's numpy
#: calls cost ~90 us whatever the batch, one start alone ~7 us: the break-even is about 20 (a
#: central rollout's nodes start their three layers' streams two or three nodes at a time).
_BULK = 20


class FlowTable:
    """Active flows grouped by route into weighted entries, and per-link load and bytes."""

    #: per entry; ``vb``, ``vf`` and ``ing`` belong to :mod:`.lazy` (the entry's virtual base and
    #: next finish, and whether the entry is in its care)
    _COLUMNS = ("count", "weight", "lcap", "rate", "prog", "t0", "thr", "fin", "vb", "vf", "ing")
    _LINK_ARRAYS = (("load", 0.0), ("sent", 0.0), ("wsum", 0.0), ("users", 0), ("share", np.inf),
                    ("dirty", False), ("bsize", 0))

    def __init__(self, capacity: np.ndarray) -> None:
        self.n = 0
        self._rows = 0
        self.route = np.zeros((1, 0), dtype=np.int64)
        self.coef = np.zeros((1, 0))
        self.capped = 0  # entries whose window bound is finite
        #: the per-entry columns, one row each (a removal moves an entry's row in one copy);
        #: ``self.count`` and the others are views of its rows
        self.cols = np.empty((len(self._COLUMNS), 0))
        self._views()
        self.bott = np.empty(0, dtype=np.int64)
        self.undesignated = 0
        self.members: list[list[tuple[float, int, Transfer]]] = []
        self.keys: list[object] = []  # a route, or (route, traffic class)
        self.paths: list[Path] = []  # each entry's links and coefficients, as Python tuples
        #: the lazy processor-sharing state (:mod:`.lazy`) while it holds the allocation, else None
        self.lazy = None
        #: what :func:`.reshare.reshare` leaves for :mod:`.lazy`: each designated link's level
        self.levels: dict[int, float] | None = None
        self.index: dict[object, int] = {}
        self._seq = itertools.count()
        self.pad = 0
        self.cap = np.full(1, np.inf)
        self.goodput = 1.0
        for name, fill in self._LINK_ARRAYS:
            setattr(self, name, np.full(1, fill))
        self._t_sent = 0.0
        self.last_reshare_size = 0
        self.grow_links(capacity)

    # -- storage ----------------------------------------------------------------------------
    def grow_links(self, capacity: np.ndarray) -> None:
        """Adopt a longer capacity vector (the topology gained links); the pad index moves.

        ``capacity`` is what flows can use of each link (its goodput), not its nominal rate."""
        old, new = self.pad, len(capacity)
        if new < old:
            raise ValueError("a topology never loses links")
        for name, fill in self._LINK_ARRAYS:
            out = np.full(new + 1, fill)
            out[:old] = getattr(self, name)[:old]
            setattr(self, name, out)
        self.lmap = np.zeros(new + 1, dtype=np.int64)  # scratch: global link id -> local index
        self.cap = np.append(np.asarray(capacity, dtype=float), np.inf)
        self.route[self.route == old] = new
        self.pad = new

    def _views(self) -> None:
        for j, name in enumerate(self._COLUMNS):
            setattr(self, name, self.cols[j])

    @property
    def width(self) -> int:
        return self.route.shape[0]

    def _reserve(self, rows: int, width: int) -> None:
        if rows <= self._rows and width <= self.width:
            return
        size, width = max(rows, 2 * self._rows, 64), max(width, self.width)
        route = np.full((width, size), self.pad, dtype=np.int64)
        route[: self.width, : self.n] = self.route[:, : self.n]
        coef = np.zeros((width, size))
        coef[: self.width, : self.n] = self.coef[:, : self.n]
        self.route, self.coef = route, coef
        cols = np.zeros((len(self._COLUMNS), size))
        cols[:, : self.n] = self.cols[:, : self.n]
        self.cols = cols
        self._views()
        bott = np.full(size, -1, dtype=np.int64)
        bott[: self.n] = self.bott[: self.n]
        self.bott = bott
        self._rows = size

    def _remove(self, i: int) -> None:
        # scalar loops over the entry's few links: cheaper than fancy indexing at this size
        last = self.n - 1
        links = self.paths[i].links
        del self.index[self.keys[i]]
        self.capped -= math.isfinite(self.lcap[i])
        self._designate(i, -1)
        self.undesignated -= 1
        users, wsum, load, share = self.users, self.wsum, self.load, self.share
        for link in links:
            users[link] -= 1
            if users[link] == 0:
                wsum[link] = load[link] = 0.0
                share[link] = math.inf
        members, key, path = self.members.pop(), self.keys.pop(), self.paths.pop()
        if i != last:
            self.route[:, i] = self.route[:, last]
            self.coef[:, i] = self.coef[:, last]
            self.cols[:, i] = self.cols[:, last]
            self.bott[i] = self.bott[last]
            self.members[i], self.keys[i], self.paths[i] = members, key, path
            self.index[key] = i
        self.route[:, last] = self.pad
        self.coef[:, last] = 0.0
        self.n = last

    def _remove_many(self, gone: list[int]) -> None:
        """Remove many entries at once by compacting the arrays (a storm ending together)."""
        n = self.n
        keep = np.ones(n, dtype=bool)
        keep[gone] = False
        stay = np.flatnonzero(keep)
        flat = self.route[:, gone].ravel()
        real = flat[flat != self.pad]
        np.subtract.at(self.users, real, 1)
        idle = real[self.users[real] == 0]
        self.wsum[idle], self.load[idle], self.share[idle] = 0.0, 0.0, np.inf
        held = self.bott[gone]
        np.subtract.at(self.bsize, held[held >= 0], 1)
        self.undesignated -= int((held < 0).sum())
        self.capped -= int(np.isfinite(self.lcap[gone]).sum())
        m = stay.size
        self.route[:, :m] = self.route[:, stay]
        self.route[:, m:n] = self.pad
        self.coef[:, :m] = self.coef[:, stay]
        self.coef[:, m:n] = 0.0
        self.cols[:, :m] = self.cols[:, stay]
        self.bott[:m] = self.bott[stay]
        self.members = [self.members[i] for i in stay.tolist()]
        self.keys = [self.keys[i] for i in stay.tolist()]
        self.paths = [self.paths[i] for i in stay.tolist()]
        self.index = {key: j for j, key in enumerate(self.keys)}
        self.n = m

    def update_share(self, links: list[int] | np.ndarray) -> None:
        with np.errstate(divide="ignore"):
            self.share[links] = self.cap[links] / self.wsum[links]

    def _designate(self, i: int, link: int) -> None:
        """Record ``link`` (-1: none) as the bottleneck entry ``i`` is expected to share."""
        old = self.bott[i]
        if old >= 0:
            self.bsize[old] -= 1
        else:
            self.undesignated -= 1
        if link >= 0:
            self.bsize[link] += 1
        else:
            self.undesignated += 1
        self.bott[i] = link

    # -- the flow lifecycle -----------------------------------------------------------------
    def _links(self, i: int) -> list[int]:
        """The links entry ``i`` loads: its route, then its reverse path if that is loaded."""
        col = self.route[:, i]
        return col[col != self.pad].tolist()

    def add(self, transfer: Transfer, path: Path, t: float) -> None:
        """Start ``transfer`` at time ``t``; its entry must be re-shared before time moves on."""
        key = transfer.key
        links = path.links
        i = self.index.get(key)
        if i is None:
            i = self.n
            if i >= self._rows or len(links) > self.route.shape[0]:
                self._reserve(i + 1, len(links))
            self.route[: len(links), i] = links
            self.coef[: len(links), i] = path.coefs
            self.count[i], self.weight[i], self.rate[i] = 0.0, path.weight, 0.0
            self.lcap[i] = path.level_cap
            self.capped += math.isfinite(path.level_cap)
            self.prog[i], self.t0[i], self.thr[i], self.fin[i] = 0.0, t, np.inf, np.inf
            self.members.append([])
            self.keys.append(key)
            self.paths.append(path)
            self.index[key] = i
            users, bsize = self.users, self.bsize
            designated = -1
            for link in links:
                users[link] += 1
                if designated < 0 and bsize[link] > 0:
                    designated = link
            self.n += 1
            self.bott[i] = -1
            self.undesignated += 1
            self._designate(i, designated)
            threshold = transfer.nbytes
        else:
            self.prog[i] += self.rate[i] * (t - self.t0[i])
            self.t0[i] = t
            threshold = self.prog[i] + transfer.nbytes
        heapq.heappush(self.members[i], (threshold, next(self._seq), transfer))
        self.count[i] += 1
        if threshold < self.thr[i]:
            self.thr[i] = threshold
        self.weigh(links, path.coefs, path.weight)

    def weigh(self, links: tuple[int, ...], coefs: tuple[float, ...], weight: float) -> None:
        """Add ``weight`` (negative: take it away) times each coefficient to its link's weight
        sum, and update the links' fair shares; the links are marked dirty."""
        wsum, share, cap, dirty = self.wsum, self.share, self.cap, self.dirty
        for link, c in zip(links, coefs):
            w = wsum.item(link) + weight * c
            if w < 0.0:
                w = 0.0
            wsum[link] = w
            share[link] = cap.item(link) / w if w > 0.0 else math.inf
            dirty[link] = True

    def add_many(self, batch: list[tuple[Transfer, Path]], t: float) -> None:
        """Start many ``(transfer, path)`` at time ``t``: new routes get their rows in bulk."""
        fresh: dict[object, tuple[Path, list[Transfer]]] = {}
        for transfer, path in batch:
            if transfer.key in self.index or len(batch) < _BULK:
                self.add(transfer, path, t)
            else:
                fresh.setdefault(transfer.key, (path, []))[1].append(transfer)
        if not fresh:
            return
        start, k = self.n, len(fresh)
        self._reserve(start + k, max(len(path.links) for path, _ in fresh.values()))
        width, pad = self.width, self.pad
        routes = np.array([path.links + (pad,) * (width - len(path.links)) for path, _ in fresh.values()],
                          dtype=np.int64).T
        coefs = np.array([path.coefs + (0.0,) * (width - len(path.coefs)) for path, _ in fresh.values()]).T
        counts, weights, thr, lcap = np.empty(k), np.empty(k), np.empty(k), np.empty(k)
        for j, (key, (path, transfers)) in enumerate(fresh.items()):
            heap = [(tr.nbytes, next(self._seq), tr) for tr in transfers]
            heapq.heapify(heap)
            self.members.append(heap)
            self.keys.append(key)
            self.paths.append(path)
            self.index[key] = start + j
            counts[j], weights[j], thr[j], lcap[j] = len(heap), path.weight, heap[0][0], path.level_cap
        rows = slice(start, start + k)
        self.route[:, rows], self.coef[:, rows] = routes, coefs
        self.count[rows], self.weight[rows], self.thr[rows], self.lcap[rows] = counts, weights, thr, lcap
        self.capped += int(np.isfinite(lcap).sum())
        self.rate[rows], self.prog[rows], self.t0[rows], self.fin[rows] = 0.0, 0.0, t, np.inf
        flat = routes.ravel()
        real = flat[flat != pad]
        np.add.at(self.users, real, 1)
        np.add.at(self.wsum, flat, (coefs * (counts * weights)).ravel())
        self.wsum[pad] = 0.0
        self.update_share(real)
        self.dirty[real] = True
        choice = np.full(k, -1)
        for row in routes:
            pick = (choice < 0) & (self.bsize[row] > 0)
            choice[pick] = row[pick]
        np.add.at(self.bsize, choice[choice >= 0], 1)
        self.undesignated += int((choice < 0).sum())
        self.bott[rows] = choice
        self.n += k

    def accrue(self, t: float) -> None:
        """Credit every link with the bytes its current load carried since the last call."""
        if t > self._t_sent:
            self.sent += self.load * (t - self._t_sent)
            self._t_sent = t

    def complete_due(self, limit: float, t: float) -> list[Transfer]:
        """Remove and return the members predicted to finish by ``limit``, as of time ``t``.

        Rates of the survivors are left alone (the caller decides when to re-share); the links
        of every finished member are marked dirty and lose that member's load at once.
        """
        if self.n == 0:
            return []
        due = np.flatnonzero(self.fin[: self.n] <= limit)
        if due.size == 0:
            return []
        done: list[Transfer] = []
        popped = np.zeros(due.size)
        empty = []
        for j, i in enumerate(due.tolist()):
            heap, reached = self.members[i], self.thr[i]
            cutoff = reached + _SAME_THRESHOLD_RTOL * abs(reached)
            while heap and heap[0][0] <= cutoff:
                done.append(heapq.heappop(heap)[2])
                popped[j] += 1
            self.prog[i], self.t0[i] = reached, t
            self.count[i] -= popped[j]
            if heap:
                self.thr[i] = heap[0][0]
                self.fin[i] = t + (heap[0][0] - reached) / self.rate[i]
            else:
                empty.append(i)
        flat = self.route[:, due].ravel()
        coef = self.coef[:, due]
        np.subtract.at(self.load, flat, (coef * (popped * self.rate[due])).ravel())
        np.subtract.at(self.wsum, flat, (coef * (popped * self.weight[due])).ravel())
        self.load[flat] = np.maximum(self.load[flat], 0.0)
        self.wsum[flat] = np.maximum(self.wsum[flat], 0.0)
        self.wsum[self.pad] = self.load[self.pad] = 0.0
        self.update_share(flat)
        self.dirty[flat] = True
        self.dirty[self.pad] = False
        if 8 * len(empty) > self.n:
            self._remove_many(empty)
        else:
            for i in sorted(empty, reverse=True):
                self._remove(i)
        return done

    def next_finish(self) -> float:
        return float(self.fin[: self.n].min()) if self.n else np.inf

    # -- views ------------------------------------------------------------------------------
    def rate_of(self, transfer: Transfer) -> float:
        """Current rate of an active transfer, 0 if it is not moving bytes now."""
        i = self.index.get(transfer.key)
        if i is None or not any(member[2] is transfer for member in self.members[i]):
            return 0.0
        return self.lazy.rate_of(i) if self.lazy is not None else float(self.rate[i])

    def snapshot(self) -> Snapshot:
        """Every entry's links (``(entries, K)``, -1 padded), the load each takes per unit of
        rate, and its rate, member count and weight."""
        routes = self.route[:, : self.n].T.copy()
        routes[routes == self.pad] = -1
        return Snapshot(routes, self.rate[: self.n].copy(), self.count[: self.n].copy(),
                        self.weight[: self.n].copy(), self.coef[:, : self.n].T.copy())


class Snapshot(NamedTuple):
    """The active entries of a :class:`FlowTable` at one moment (see :meth:`FlowTable.snapshot`)."""

    routes: np.ndarray
    rates: np.ndarray
    counts: np.ndarray
    weights: np.ndarray
    coefs: np.ndarray
