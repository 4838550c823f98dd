"""Weighted max-min fair sharing of link capacities, and the components it decomposes into.

Max-min fairness is the fluid model of TCP that SimGrid validated: no flow can get more without
taking from a flow that has less. With weights, "less" is measured per unit of weight, so a flow
of weight 2 gets twice the rate of a flow of weight 1 on the link they both bottleneck on.

It is computed by *progressive filling*: raise every unfrozen flow's level together until some
link is full, freeze the flows crossing it at that level, repeat. Each round is a handful of
whole-array numpy operations, and there are as many rounds as distinct bottleneck levels (one
in a pure client-server storm).

Routes are a dense ``(K, flows)`` matrix of link indices -- row ``j`` holds every flow's
``j``-th link -- padded with the index of a link of infinite capacity. Real routes are short (2
to 4 links), so a dense matrix vectorises where a ragged list would not, and the link-major
layout keeps every row contiguous: "does the flow cross a full link" is ``K`` gathers OR-ed
together, several times faster in numpy than a reduction along a short axis.
:func:`maxmin_rates` is the convenient entry point (ragged lists, ``-1`` pads);
:func:`fill_levels` is the kernel the network model calls on prepared data.

The allocations of flows that share no link, even indirectly, are independent, so after a
change only the connected component of the changed links needs a re-share: :func:`component`
finds it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: links whose fair share is within this relative distance of the minimum saturate together;
#: it absorbs rounding between equal shares computed by different divisions.
SATURATION_RTOL = 1e-12


def crosses(mask: np.ndarray, routes: np.ndarray) -> np.ndarray:
    """For each flow (column of ``routes``), whether it crosses a link set in ``mask``."""
    hit = mask[routes[0]]
    for row in routes[1:]:
        hit |= mask[row]
    return hit


def fill_levels(routes: np.ndarray, weights: np.ndarray, capacity: np.ndarray,
                coefs: np.ndarray | None = None, level_cap: np.ndarray | None = None) -> np.ndarray:
    """Per-unit-weight rate ("level") of each flow under weighted max-min fairness.

    ``routes`` is ``(K, k)`` indices into ``capacity``; padding points at an entry holding
    ``inf``. ``weights`` are positive. A flow's rate is ``weights * level``; on the link in row
    ``j`` of its column it takes ``coefs[j] * rate`` (1 when ``coefs`` is None). ``level_cap``
    bounds each flow's level (its window), ``inf`` for none. Every link stays within its
    capacity (up to rounding) and every flow either reaches its cap or crosses a saturated link
    on which its level is the highest: the max-min criterion.
    """
    width, k = routes.shape
    levels = np.empty(k)
    if k == 0:
        return levels
    m = capacity.shape[0]
    cols = np.ascontiguousarray(routes)
    wa = np.asarray(weights, dtype=float)
    co = np.ones((width, k)) if coefs is None else np.array(coefs, dtype=float)
    lc = None if level_cap is None or not np.isfinite(level_cap).any() else np.asarray(level_cap, dtype=float)
    left = np.array(capacity, dtype=float)
    flat = cols.ravel()
    wsum = np.bincount(flat, weights=(co * wa).ravel(), minlength=m)
    users = np.bincount(flat, minlength=m)  # exact counts: a drained link never looks loaded
    active = np.arange(k)
    share = np.empty(m)
    while True:
        with np.errstate(divide="ignore", invalid="ignore"):
            np.divide(left, wsum, out=share)
        share[users == 0] = np.inf
        level = share.min()
        if lc is not None:
            level = min(level, lc.min())
        if not np.isfinite(level):
            raise ValueError("a flow crosses no link of finite capacity: its max-min rate is unbounded")
        hit = crosses(share <= level * (1.0 + SATURATION_RTOL), cols)
        if lc is not None:
            hit |= lc <= level * (1.0 + SATURATION_RTOL)
        frozen = np.flatnonzero(hit)
        levels[active[frozen]] = level
        if frozen.size == active.size:
            return levels
        fc = cols.take(frozen, axis=1).ravel()
        fw = (co.take(frozen, axis=1) * wa[frozen]).ravel()
        left -= np.bincount(fc, weights=fw * level, minlength=m)
        np.maximum(left, 0.0, out=left)
        wsum -= np.bincount(fc, weights=fw, minlength=m)
        users -= np.bincount(fc, minlength=m)
        keep = np.flatnonzero(~hit)
        active, cols, wa, co = active[keep], cols.take(keep, axis=1), wa[keep], co.take(keep, axis=1)
        if lc is not None:
            lc = lc[keep]


def _pad_routes(routes: Sequence[Sequence[int]], pad: int) -> np.ndarray:
    width = max((len(r) for r in routes), default=1)
    out = np.full((max(width, 1), len(routes)), pad, dtype=np.int64)
    for i, r in enumerate(routes):
        out[: len(r), i] = r
    return out


def maxmin_rates(routes: Sequence[Sequence[int]], capacity: Sequence[float] | np.ndarray,
                 weights: Sequence[float] | np.ndarray | None = None,
                 bounds: Sequence[float] | np.ndarray | None = None) -> np.ndarray:
    """Weighted max-min fair rates (bytes/s) of flows given as lists of link ids.

    Every route needs at least one link; ``-1`` entries are ignored; ``weights`` default to 1;
    ``bounds`` caps each flow's rate (``inf`` for none).
    """
    cap = np.asarray(capacity, dtype=float)
    m = cap.shape[0]
    lists = [[int(link) for link in r if link != -1] for r in routes]
    if any(not 0 <= link < m for r in lists for link in r):
        raise ValueError(f"route link ids must lie in [0, {m}) (or be -1 padding)")
    if any(not r for r in lists):
        raise ValueError("every route needs at least one link")
    if (cap <= 0).any():
        raise ValueError("link capacities must be positive")
    w = np.ones(len(lists)) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != (len(lists),) or (w <= 0).any():
        raise ValueError("weights must be one positive number per route")
    cap_level = None
    if bounds is not None:
        b = np.asarray(bounds, dtype=float)
        if b.shape != (len(lists),) or (b <= 0).any():
            raise ValueError("bounds must be one positive number (or inf) per route")
        cap_level = b / w
    return w * fill_levels(_pad_routes(lists, m), w, np.append(cap, np.inf), level_cap=cap_level)


def component(routes: np.ndarray, seeds: np.ndarray, pad: int,
              users: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Flows and links connected, through shared links, to the links marked in ``seeds``.

    ``routes`` is ``(K, k)`` with padding index ``pad``; ``seeds`` a boolean mask over links
    (``pad`` included, and ignored). Returns ``(flow_mask, link_mask)``: the flows touching the
    component, and the seeds plus every link those flows cross. Each round widens the set by
    one hop of the flow-link graph. ``users`` (flows per link), when given, answers the
    commonest case at once: when the seeds already touch every flow, the links are those
    with a user.
    """
    links = seeds.copy()
    links[pad] = False
    flows = crosses(links, routes)
    while True:
        everything = flows.all()
        if everything and users is not None:
            links |= users > 0
            links[pad] = False
            return flows, links
        grown = np.zeros_like(links)
        grown[(routes if everything else routes[:, flows]).ravel()] = True
        grown[pad] = False
        if not (grown & ~links).any():
            return flows, links | grown
        links |= grown
        flows = crosses(links, routes)
