"""Lazy processor sharing: a start or an end that keeps every bottleneck costs a few scalars.

:func:`.reshare._grouped` settles a storm when every entry is *designated* to a link that only
its designators use (its bottleneck), at that link's fair share ``level[L] = capacity / wsum``:
an entry's rate is ``weight * level[L]``. Each start or end then changes the levels of the
links it touches and nothing else -- but every entry on such a link changes rate, so a
10,000-client central rollout (one bottleneck, the registry's egress, ~100,000 starts and ends)
re-shared 10,000 rates per event: 20 s of numpy. The allocation is still the same one scalar
per link; this module keeps it that way.

**Virtual time.** Each designated link ``L`` keeps a clock ``V[L]``, the integral of its level
over time (``V[L] + level[L] * (t - tV[L])`` at ``t``). An entry on ``L`` has moved ``weight *
(V - vb)`` bytes per member since it joined (``vb`` its virtual base), so its next member
finishes when ``V`` reaches ``vf = vb + thr / weight``; a heap per link orders its entries by
``vf``, and one heap orders the links by when their first entry finishes. A level change moves
one clock; a start pushes one heap item; an end pops one. The bytes a link carried are kept
per group crossing it: its weight there times the clock's advance, credited whenever that
weight changes, not per event.

**Exactness.** Levels are computed as :func:`.reshare._grouped` computes them, from the same
``share`` array, and the state is checked after every change the way it checks it, but only
where something changed: every touched designated link is still used only by its designators,
no entry's window is below its new level (a per-link heap of window bounds), and no link is
over capacity. A link crossed by one group only (a client's NIC) is within capacity exactly
when the group's level is at most the link's own share, so each group keeps a heap of the
shares of such links it crosses; a link crossed by several groups (a storage node serving two
frontends) sums their loads. A check that fails hands the state back to :mod:`.reshare`
(:meth:`LazyShares.leave` writes every entry's rate, progress and bytes into the table's
arrays) for an exact re-share, after which the network re-enters lazy mode when it can.
Results therefore equal the eager strategies' to rounding (the clock's sums round differently).
"""

from __future__ import annotations

import heapq
import itertools
import math
from typing import TYPE_CHECKING

import numpy as np

from regsim.sim.network.reshare import FEASIBLE_RTOL

if TYPE_CHECKING:
    from regsim.sim.network.flows import FlowTable
    from regsim.sim.network.transfer import Path, Transfer

#: members whose thresholds lie this close (relative) to the finishing one finish with it
#: (as in :meth:`.flows.FlowTable.complete_due`).
_SAME_THRESHOLD_RTOL = 1e-12
#: a per-link heap is rebuilt from its live items once it holds this many times more items
_GARBAGE = 4
#: no new levels (:meth:`LazyShares._load`): every group at its current one; never written
_CURRENT: dict[int, float] = {}


def can_enter(table: FlowTable) -> bool:
    """Whether the table's allocation is grouped and pure: every entry designated to a link only
    its designators use (what :class:`LazyShares` needs; the caller has just re-shared)."""
    if table.n == 0 or table.undesignated:
        return False
    held = table.bsize > 0
    return bool((table.users[held] == table.bsize[held]).all())


class LazyShares:
    """The allocation of a table whose entries all sit at their designated link's fair share."""

    def __init__(self, table: FlowTable, t: float, levels: dict[int, float]) -> None:
        """Take over ``table`` at time ``t``, just after a re-share gave each designated link
        ``L`` the level ``levels[L]`` (and committed every entry's progress to ``t``)."""
        self.table = table
        size = table.pad + 1
        self.lev = [0.0] * size
        self.V = [0.0] * size
        self.tV = [t] * size
        self._seq = itertools.count()
        self.touched: list[int] = []
        self.batch: set[int] = set()  # the links of the last batch settled (or refused)
        self.joined: set[int] = set()  # groups new entries joined since the last settle
        self.stale: set[int] = set()  # groups whose next finish must be recomputed
        self.now = t
        self.broken = False
        n = table.n
        bott = table.bott[:n]
        w = table.weight[:n]
        table.vb[:n] = -table.prog[:n] / w
        table.vf[:n] = table.vb[:n] + table.thr[:n] / w
        table.ing[:n] = 1.0
        for g, level in levels.items():
            self.lev[g] = level
        #: per designated link: its entries' heap of (vf, seq, key), and its window bounds
        self.gh: dict[int, list] = {}
        self.gc: dict[int, list] = {}
        keys, vf, lcap = table.keys, table.vf[:n].tolist(), table.lcap[:n].tolist()
        capped = bool(table.capped)
        seq = self._seq
        for i, g in enumerate(bott.tolist()):
            self.gh.setdefault(g, []).append((vf[i], next(seq), keys[i]))
            if capped and lcap[i] < math.inf:
                self.gc.setdefault(g, []).append((lcap[i], keys[i]))
        for heap in self.gh.values():
            heapq.heapify(heap)
        for heap in self.gc.values():
            heapq.heapify(heap)
        #: per link, per group crossing it: [entries, weight there (coef * count * weight), the
        #: group's clock when the link was last credited with the bytes of that weight]
        self.lg: dict[int, dict[int, list]] = {}
        self.gl: dict[int, list] = {g: [] for g in self.gh}  # (share, link) of links only g crosses
        self.gm: dict[int, set] = {g: set() for g in self.gh}  # links g crosses with other groups
        route, pad = table.route[:, :n], table.pad
        usage = table.coef[:, :n] * (table.count[:n] * w)
        groups = np.broadcast_to(bott, route.shape)
        real = route != pad
        pair = route[real] * size + groups[real]
        uniq, inverse, counts = np.unique(pair, return_inverse=True, return_counts=True)
        weights = np.bincount(inverse, weights=usage[real], minlength=uniq.size)
        share = table.share
        for p, c, wt in zip(uniq.tolist(), counts.tolist(), weights.tolist()):
            link, g = divmod(p, size)
            self.lg.setdefault(link, {})[g] = [c, wt, 0.0]
        for link, d in self.lg.items():
            if len(d) == 1:
                if table.bsize[link] == 0:
                    (g,) = d
                    self.gl[g].append((float(share[link]), link))
            else:
                for g in d:
                    self.gm[g].add(link)
        for heap in self.gl.values():
            heapq.heapify(heap)
        #: per link only one group crosses: (the group, the share last pushed on its heap); a link
        #: is here exactly while that item is on the heap
        self.seen: dict[int, tuple[int, float]] = {link: (g, s) for g, heap in self.gl.items() for s, link in heap}
        self.sent = [0.0] * size  # bytes credited to each link since the table's ``sent``
        self.gheap: list = []
        self.gseq: dict[int, int] = {}
        self.stale.update(self.gh)

    # -- clocks and schedules -------------------------------------------------------------------
    def _clock(self, g: int, t: float) -> float:
        return self.V[g] + self.lev[g] * (t - self.tV[g])

    def _top(self, g: int) -> tuple | None:
        """Group ``g``'s live first entry in its heap (stale items dropped), or None."""
        heap, table = self.gh.get(g), self.table
        if heap is None:
            return None
        index, vfcol, bott = table.index, table.vf, table.bott
        while heap:
            vf, _, key = heap[0]
            i = index.get(key)
            if i is not None and bott.item(i) == g and vfcol.item(i) == vf:
                return heap[0]
            heapq.heappop(heap)
        return None

    def _schedule(self, g: int, t: float) -> None:
        """(Re)compute when group ``g``'s first entry finishes; forget the group once empty."""
        top = self._top(g)
        if top is None:
            self.gseq.pop(g, None)
            if self.table.bsize.item(g) == 0:
                for d in (self.gh, self.gc, self.gl, self.gm):
                    d.pop(g, None)
            return
        lev = self.lev[g]
        when = t + (top[0] - (self.V[g] + lev * (t - self.tV[g]))) / lev
        s = next(self._seq)
        self.gseq[g] = s
        heapq.heappush(self.gheap, (when, s, g))
        if len(self.gh[g]) > _GARBAGE * self.table.bsize.item(g) + 16:
            self._compact(g)

    def _compact(self, g: int) -> None:
        table = self.table
        index, vfcol, bott = table.index, table.vf, table.bott
        live = []
        for item in self.gh[g]:
            i = index.get(item[2])
            if i is not None and bott[i] == g and vfcol[i] == item[0]:
                live.append(item)
        heapq.heapify(live)
        self.gh[g] = live

    def next_finish(self) -> float:
        """When the first member of any entry finishes (the groups changed since are rescheduled)."""
        if self.stale:
            t = self.now
            for g in self.stale:
                self._schedule(g, t)
            self.stale.clear()
        gheap, gseq = self.gheap, self.gseq
        if len(gheap) > _GARBAGE * len(gseq) + 64:
            gheap[:] = [item for item in gheap if gseq.get(item[2]) == item[1]]
            heapq.heapify(gheap)
        while gheap:
            when, s, g = gheap[0]
            if gseq.get(g) == s:
                return when
            heapq.heappop(gheap)
        return math.inf

    # -- per-entry bookkeeping ------------------------------------------------------------------
    def _weigh(self, path: Path, g: int, v: float, dcount: int, dweight: float, dentries: int) -> None:
        """An entry of group ``g`` on ``path`` gained ``dcount`` members (``dweight`` = their
        weight) and ``dentries`` entries at clock ``v``: credit the links with the bytes moved
        since, then update their weight sums and shares (as :meth:`.flows.FlowTable.weigh` does) and
        group records. Two loops over the entry's few links: this runs for every start and end."""
        links, coefs = path.links, path.coefs
        self.touched.extend(links)
        if dcount:
            # no link is marked dirty: while this state holds the eager strategies do not run,
            # and :meth:`leave` marks the links they must re-share
            table = self.table
            wsum, share, cap = table.wsum, table.share, table.cap
            for link, c in zip(links, coefs):
                w = wsum.item(link) + dweight * c
                if w < 0.0:
                    w = 0.0
                wsum[link] = w
                share[link] = cap.item(link) / w if w > 0.0 else math.inf
        lg, sent = self.lg, self.sent
        for link, c in zip(links, coefs):
            d = lg.get(link)
            if d is None:
                d = lg[link] = {}
            rec = d.get(g)
            if rec is None:
                d[g] = [dentries, c * dweight, v]
                if len(d) == 2:
                    for h in d:
                        self.gm.setdefault(h, set()).add(link)
                elif len(d) > 2:
                    self.gm.setdefault(g, set()).add(link)
                continue
            sent[link] += rec[1] * (v - rec[2])
            rec[2] = v
            rec[0] += dentries
            rec[1] += c * dweight
            if rec[0] == 0:
                del d[g]
                gm = self.gm.get(g)
                if gm is not None:
                    gm.discard(link)
                if len(d) == 1:
                    for h in d:
                        self.gm[h].discard(link)
                elif not d:
                    del lg[link]

    # -- the flow lifecycle -----------------------------------------------------------------------
    def complete_due(self, limit: float, t: float) -> list[Transfer]:
        """Remove and return the members that finish by ``limit`` (as of ``t``); levels stay."""
        self.now = t
        gheap = self.gheap
        if not gheap or gheap[0][0] > limit:
            return []
        table = self.table
        done: list[Transfer] = []
        gseq, index, bott, vfcol = self.gseq, table.index, table.bott, table.vf
        while gheap and gheap[0][0] <= limit:
            _, s, g = heapq.heappop(gheap)
            if gseq.get(g) != s:
                continue
            del gseq[g]
            self.stale.add(g)
            v = self._clock(g, t)
            vlim = v + (limit - t) * self.lev[g]
            heap = self.gh[g]
            while heap and heap[0][0] <= vlim:
                vf, _, key = heapq.heappop(heap)
                i = index.get(key)
                if i is None or bott.item(i) != g or vfcol.item(i) != vf:
                    continue
                self._finish(i, g, v, done)
        return done

    def _finish(self, i: int, g: int, v: float, done: list) -> None:
        table = self.table
        members, reached = table.members[i], table.thr.item(i)
        cutoff = reached + _SAME_THRESHOLD_RTOL * abs(reached)
        popped = 0
        while members and members[0][0] <= cutoff:
            done.append(heapq.heappop(members)[2])
            popped += 1
        path = table.paths[i]
        w = table.weight.item(i)
        table.count[i] -= popped
        if members:
            # the entry's progress is exactly what its finished members needed (as the eager table sets it)
            vb = v - reached / w
            table.vb[i] = vb
            thr = members[0][0]
            table.thr[i] = thr
            vf = table.vf[i] = vb + thr / w
            heapq.heappush(self.gh[g], (vf, next(self._seq), table.keys[i]))
            self._weigh(path, g, v, -popped, -popped * w, 0)
        else:
            self._weigh(path, g, v, -popped, -popped * w, -1)
            table._remove(i)

    def add_many(self, batch: list[tuple[Transfer, Path]], t: float) -> None:
        """Start ``(transfer, path)`` pairs at ``t``: members join their entries' clocks; new
        entries take the designation the table gives them (a group's, or none: then
        :meth:`settle` declines)."""
        table = self.table
        self.now = t
        fresh = []
        index, seq = table.index, self._seq
        for tr, path in batch:
            i = index.get(tr.key)
            if i is None:
                fresh.append((tr, path))
                continue
            g = table.bott.item(i)
            v = self.V[g] + self.lev[g] * (t - self.tV[g])
            w = table.weight.item(i)
            vb = table.vb.item(i)
            threshold = w * (v - vb) + tr.nbytes
            heapq.heappush(table.members[i], (threshold, next(table._seq), tr))
            table.count[i] += 1
            if threshold < table.thr.item(i):
                table.thr[i] = threshold
                vf = table.vf[i] = vb + threshold / w
                heapq.heappush(self.gh[g], (vf, next(seq), tr.key))
            self._weigh(path, g, v, 1, path.weight, 0)
        if not fresh:
            return
        table.add_many(fresh, t)
        capped = bool(table.capped)
        placed = set()
        for tr, path in fresh:
            if tr.key in placed:
                continue  # another member of an entry made in this batch: placed with the entry
            placed.add(tr.key)
            i = index[tr.key]
            g = int(table.bott[i])
            if g < 0 or g not in self.gh:
                # undesignated, or designated to a link no group holds: the re-share decides
                table.ing[i] = 0.0
                self.broken = True
                self.touched.extend(path.links)
                continue
            v = self._clock(g, t)
            w = float(table.weight[i])
            table.vb[i] = v
            table.ing[i] = 1.0
            vf = table.vf[i] = v + table.thr[i] / w
            heapq.heappush(self.gh[g], (vf, next(seq), tr.key))
            self.joined.add(g)
            if capped and path.level_cap < math.inf:
                heapq.heappush(self.gc.setdefault(g, []), (path.level_cap, tr.key))
            self._weigh(path, g, v, 0, float(table.count[i]) * w, 1)

    # -- re-sharing ---------------------------------------------------------------------------------
    def settle(self, t: float) -> bool:
        """New levels for the touched links; False (nothing changed) when the allocation is no
        longer grouped and pure, or a window or a link's capacity would be exceeded."""
        table = self.table
        touched = self.batch = set(self.touched)
        self.touched = []
        joined = self.joined
        if joined:
            self.joined = set()
        if self.broken or table.undesignated:
            return False
        bsize, users, share, lg, lev = table.bsize, table.users, table.share, self.lg, self.lev
        new: dict[int, float] = {}
        rising = []
        others = []
        for link in touched:
            designators = bsize.item(link)
            if designators:
                if users.item(link) != designators:
                    return False
                level = new[link] = share.item(link)
                if level > lev[link]:
                    rising.append(link)
            elif link in lg:
                others.append(link)
        if table.capped:
            for g in joined.union(rising) if joined else rising:
                if new.get(g, lev[g]) > self._least_window(g):
                    return False
        limit = 1.0 + FEASIBLE_RTOL
        cap, gl, seen = table.cap, self.gl, self.seen
        for link in others:
            d = lg[link]
            if len(d) == 1:
                for g in d:
                    s = share.item(link)
                    if new.get(g, lev[g]) > s * limit:
                        return False
                    # the heap needs the share only when it fell: a higher one is refreshed when read
                    last = seen.get(link)
                    if last is None or last[0] != g or s < last[1]:
                        seen[link] = (g, s)
                        heapq.heappush(gl[g], (s, link))
            elif self._load(d, new) > cap.item(link) * limit:
                return False
        for g in rising:
            if new[g] > self._least_share(g) * limit:
                return False
            for link in self.gm.get(g, ()):
                if link not in touched:
                    if self._load(lg[link], new) > cap.item(link) * limit:
                        return False
        V, tV, stale = self.V, self.tV, self.stale
        for g, level in new.items():
            if level != lev[g]:
                V[g] += lev[g] * (t - tV[g])
                tV[g] = t
                lev[g] = level
            stale.add(g)
        return True

    def _load(self, groups: dict[int, list], new: dict[int, float]) -> float:
        """A link's load at the groups' new levels (``new``, else their current ones): summed in
        a plain loop, in the order of ``groups`` (a generator under sum() cost more than the sum)."""
        lev = self.lev
        total = 0.0
        for g, rec in groups.items():
            total += new.get(g, lev[g]) * rec[1]
        return total

    def _least_share(self, g: int) -> float:
        """The smallest share of a non-designated link only group ``g`` crosses.

        The heap holds each such link's share as it was when it last fell (``seen``); one that
        has risen since is re-pushed at its current share when it comes to the top."""
        heap = self.gl.get(g)
        if not heap:
            return math.inf
        seen, share = self.seen, self.table.share
        if len(heap) > 2 * len(seen) + 64:
            heap[:] = [(gs[1], link) for link, gs in seen.items() if gs[0] == g]
            heapq.heapify(heap)
        while heap:
            s, link = heap[0]
            if seen.get(link) != (g, s):
                heapq.heappop(heap)  # superseded by a lower share
                continue
            if not self._sole(g, link):
                heapq.heappop(heap)  # no longer g's alone: forgotten, pushed again if it becomes so
                del seen[link]
                continue
            now = share.item(link)
            if now == s:
                return s
            heapq.heapreplace(heap, (now, link))
            seen[link] = (g, now)
        return math.inf

    def _sole(self, g: int, link: int) -> bool:
        """Whether ``link`` is undesignated and crossed by group ``g`` alone."""
        d = self.lg.get(link)
        return d is not None and len(d) == 1 and g in d and not self.table.bsize.item(link)

    def _least_window(self, g: int) -> float:
        heap = self.gc.get(g)
        table = self.table
        while heap:
            lcap, key = heap[0]
            i = table.index.get(key)
            if i is not None and table.bott[i] == g:
                return lcap
            heapq.heappop(heap)
        return math.inf

    # -- handing back -------------------------------------------------------------------------------
    def sync(self, t: float) -> None:
        """Write every entry's rate, progress, predicted finish, the links' loads and the bytes
        they carried into the table's arrays, as the eager strategies keep them (state stays)."""
        table = self.table
        n, pad = table.n, table.pad
        sent, lev, V, tV = self.sent, self.lev, self.V, self.tV
        for link, d in self.lg.items():
            for g, rec in d.items():
                v = V[g] + lev[g] * (t - tV[g])
                sent[link] += rec[1] * (v - rec[2])
                rec[2] = v
        table.sent += np.asarray(sent)
        table.sent[pad] = 0.0
        self.sent = [0.0] * (pad + 1)
        table._t_sent = t
        if n == 0:
            table.load[:] = 0.0
            return
        idx = np.flatnonzero(table.ing[:n] > 0)
        b = table.bott[idx]
        levs = np.asarray(lev)[b]
        v = np.asarray(V)[b] + levs * (t - np.asarray(tV)[b])
        w = table.weight[idx]
        rate = w * levs
        prog = w * (v - table.vb[idx])
        table.prog[idx], table.t0[idx], table.rate[idx] = prog, t, rate
        with np.errstate(divide="ignore"):
            table.fin[idx] = t + (table.thr[idx] - prog) / rate
        route = table.route[:, :n].ravel()
        table.load = np.bincount(route, weights=(table.coef[:, :n] * (table.count[:n] * table.rate[:n])).ravel(),
                                 minlength=pad + 1)
        table.load[pad] = 0.0

    def leave(self, t: float) -> None:
        """Hand the allocation back to the table's eager arrays (see :meth:`sync`) and detach."""
        self.sync(t)
        table = self.table
        table.ing[: table.n] = 0.0
        # the allocation was max-min before the last batch: only its links need re-sharing
        table.dirty[:] = False
        table.dirty[list(self.batch.union(self.touched))] = True
        table.dirty[table.pad] = False
        table.lazy = None

    def rate_of(self, i: int) -> float:
        table = self.table
        if not table.ing[i]:
            return float(table.rate[i])
        return float(table.weight[i]) * self.lev[int(table.bott[i])]

    def load_of(self, links: list[int]) -> list[float]:
        """The current load of each of ``links``: the sum over the groups crossing it."""
        lg, load = self.lg, self._load
        out = []
        for link in links:
            d = lg.get(link)
            out.append(load(d, _CURRENT) if d else 0.0)
        return out
