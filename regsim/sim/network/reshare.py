"""Re-sharing: new max-min rates for the flows that a start or an end affected.

Three exact strategies, cheapest first. Each either produces *the* max-min allocation (it is
unique) or declines, so results never depend on which one ran; the tests hold all three to a
naive reference.

1. **uniform** -- a saturated link is crossed by every flow (a storm from one server): all
   flows get that link's fair share ``capacity / weight``, which is exactly progressive
   filling's first and only round. A few whole-link-array operations, no per-link search.
2. **grouped** -- every flow keeps the bottleneck link it had, at that link's new fair share.
   Checked, not assumed: valid when each designated link is designated by all its users and no
   link ends up overloaded, because every flow then crosses a saturated link on which all flows
   have its level -- the max-min criterion. A storm from a few servers or racks: one gather and
   one scatter over the flows.
3. **component** -- progressive filling (:func:`.maxmin.fill_levels`) over the connected
   component of the changed links only; it also designates the bottlenecks (2) relies on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from regsim.sim.network.maxmin import SATURATION_RTOL, component, fill_levels

if TYPE_CHECKING:
    from regsim.sim.network.flows import FlowTable

#: a link this close (relative) to its capacity counts as full; no further over it as feasible.
FEASIBLE_RTOL = 1e-10


def reshare(table: FlowTable, t: float) -> str:
    """Give every flow affected by the table's dirty links its max-min rate as of ``t``.

    Returns the strategy that did it; ``table.last_reshare_size`` says for how many entries.
    ``table.levels`` is then each designated link's level when every entry sits at its
    designated link's level (uniform, or grouped without crossers: what :mod:`.lazy` takes
    over), else None.
    """
    table.levels = None
    if _uniform(table, t):
        path = "uniform"
    elif _grouped(table, t):
        path = "grouped"
    else:
        _component(table, t)
        path = "component"
    table.dirty[:] = False
    return path


def _commit(table: FlowTable, sel: slice | np.ndarray, rate: np.ndarray, t: float) -> None:
    """Bank each entry's progress at its old rate up to ``t``, then switch to the new rate."""
    table.prog[sel] += table.rate[sel] * (t - table.t0[sel])
    table.t0[sel] = t
    table.rate[sel] = rate
    table.fin[sel] = t + (table.thr[sel] - table.prog[sel]) / rate


def _uniform(table: FlowTable, t: float) -> bool:
    n = table.last_reshare_size = table.n
    if n == 0:
        table.load[:] = 0.0
        return True
    share = table.share
    bottleneck = int(share.argmin())
    level = share[bottleneck]
    if table.capped and (table.lcap[:n] < level).any():
        return False
    if table.users[bottleneck] != n:
        tied = np.flatnonzero(share <= level * (1.0 + SATURATION_RTOL))
        if not (table.users[tied] == n).any():
            return False
    _commit(table, slice(0, n), table.weight[:n] * level, t)
    np.multiply(table.wsum, level, out=table.load)
    table.load[table.pad] = 0.0
    _designate_all(table, bottleneck if table.users[bottleneck] == n else int(tied[table.users[tied] == n][0]),
                   float(level))
    return True


def _designate_all(table: FlowTable, link: int, level: float) -> None:
    """After a uniform re-share: every entry's bottleneck is ``link``, crossed by all of them."""
    n = table.n
    old = table.bott[:n]
    np.subtract.at(table.bsize, old[old >= 0], 1)
    table.bsize[link] += n
    table.bott[:n] = link
    table.undesignated = 0
    table.levels = {link: level}


def _grouped(table: FlowTable, t: float) -> bool:
    n = table.n
    if table.undesignated or n == 0:
        return False
    held = table.bsize > 0
    pure = bool((table.users[held] == table.bsize[held]).all())
    if pure:
        level = table.share[table.bott[:n]]
    else:
        level = _crossed_levels(table)
        if level is None:
            return False
    if table.capped and (table.lcap[:n] < level).any():
        return False
    rate = table.weight[:n] * level
    load = np.bincount(table.route[:, :n].ravel(), weights=(table.coef[:, :n] * (table.count[:n] * rate)).ravel(),
                       minlength=table.pad + 1)
    load[table.pad] = 0.0
    if (load > table.cap * (1.0 + FEASIBLE_RTOL)).any():
        return False
    _commit(table, slice(0, n), rate, t)
    table.load = load
    table.last_reshare_size = n
    if pure:
        links = np.flatnonzero(held)
        table.levels = dict(zip(links.tolist(), table.share[links].tolist()))
    return True


def _crossed_levels(table: FlowTable) -> np.ndarray | None:
    """Each entry's level at its designated link when other entries also cross those links.

    Under the TCP model a flow's acknowledgements cross links where other flows are
    bottlenecked (a frontend's downlink carries its storage reads and its clients' acks). A
    designated link's level is then what its capacity leaves after the crossing entries' usage,
    over its designators' weight; that usage depends on the crossers' own levels, so the levels
    are a fixed point, reached in as many passes as the dependencies are deep. The result is
    max-min when every designated link is the place where its users' levels are highest (the
    crossers' levels are no higher), which is checked; otherwise, or without convergence, None.
    """
    n, pad = table.n, table.pad
    route, bott = table.route[:, :n], table.bott[:n]
    flat = route.ravel()
    usage = table.coef[:, :n] * (table.count[:n] * table.weight[:n])
    own = route == bott
    crossed = np.where(own, 0.0, usage)
    designators = np.bincount(flat, weights=(usage - crossed).ravel(), minlength=pad + 1)
    held = designators > 0
    held[pad] = False
    per = np.zeros(pad + 1)
    per[held] = 1.0 / designators[held]
    link_level = np.full(pad + 1, np.inf)
    link_level[held] = table.cap[held] * per[held]
    level = link_level[bott]
    for _ in range(_CROSSED_PASSES):
        crossing = np.bincount(flat, weights=(crossed * level).ravel(), minlength=pad + 1)
        link_level[held] = (table.cap[held] - crossing[held]) * per[held]
        new = link_level[bott]
        converged = np.abs(new - level).max() <= _CROSSED_RTOL * np.abs(level).max()
        level = new
        if converged:
            break
    else:
        return None
    if not (level > 0).all():
        return None
    # where a link is designated, no crosser may have a higher level than its designators
    crosser = ~own & held[route]
    if (np.where(crosser, level, -np.inf) > link_level[route] * (1.0 + SATURATION_RTOL)).any():
        return None
    return level


#: fixed-point passes of :func:`_crossed_levels` before giving up (dependency depth + 1 suffices)
_CROSSED_PASSES = 6
#: levels this close between passes have converged
_CROSSED_RTOL = 1e-14


def _component(table: FlowTable, t: float) -> None:
    n = table.n
    flows, links = component(table.route[:, :n], table.dirty, table.pad, table.users)
    entries = np.flatnonzero(flows)
    link_ids = np.flatnonzero(links)
    table.last_reshare_size = int(entries.size)
    if entries.size == 0:
        table.load[link_ids] = 0.0
        return
    sel = slice(0, n) if entries.size == n else entries
    base = table.weight[sel]
    total = table.count[sel] * base
    coef = table.coef[:, sel]
    m = link_ids.size
    table.lmap[link_ids] = np.arange(m)
    table.lmap[table.pad] = m
    routes = table.lmap[table.route[:, sel]]
    levels = fill_levels(routes, total, np.append(table.cap[link_ids], np.inf), coef,
                         table.lcap[sel] if table.capped else None)
    _commit(table, sel, base * levels, t)
    flat = routes.ravel()
    load = np.bincount(flat, weights=(coef * (total * levels)).ravel(), minlength=m + 1)[:m]
    table.load[link_ids] = load
    table.wsum[link_ids] = np.bincount(flat, weights=(coef * total).ravel(), minlength=m + 1)[:m]
    table.update_share(link_ids)
    _designate(table, entries, routes, levels, load, link_ids)


def _designate(table: FlowTable, entries: np.ndarray, routes: np.ndarray, levels: np.ndarray,
               load: np.ndarray, link_ids: np.ndarray) -> None:
    """Give each re-shared entry the first saturated link of its route where its level is the
    highest of the link's users: its max-min bottleneck (none if its window holds it)."""
    m = link_ids.size
    flat, spread = routes.ravel(), np.tile(levels, table.width)
    high = np.full(m + 1, -np.inf)
    np.maximum.at(high, flat, spread)
    full = np.append(load >= table.cap[link_ids] * (1.0 - FEASIBLE_RTOL), False)
    floor = high * (1.0 - SATURATION_RTOL)
    choice = np.full(entries.size, m)
    for row in routes:
        pick = full[row] & (levels >= floor[row]) & (choice == m)
        choice[pick] = row[pick]
    chosen = np.append(link_ids, -1)[choice]
    old = table.bott[entries]
    np.subtract.at(table.bsize, old[old >= 0], 1)
    np.add.at(table.bsize, chosen[chosen >= 0], 1)
    table.undesignated += int((chosen < 0).sum()) - int((old < 0).sum())
    table.bott[entries] = chosen
