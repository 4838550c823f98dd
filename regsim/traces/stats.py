"""The shape of a trace in the terms of the FAST '18 study: mix, layer sizes, skew, push-then-pull.

    from regsim.traces import read_trace, summarize
    summarize(read_trace("tests/data/traces/synthetic-small.json"))["layers_under_10MB"]

Used to check that the synthetic generator keeps the shape it documents, and to describe a
recorded trace before replaying it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import numpy as np

from .ibm import Request, Trace

__all__ = ["summarize"]

TEN_MB = 10_000_000


def _top_share(counts: Counter[str], fraction: float) -> float:
    """Share of all requests that go to the most requested ``fraction`` of the keys."""
    if not counts:
        return 0.0
    ranked = sorted(counts.values(), reverse=True)
    top = max(1, int(round(len(ranked) * fraction)))
    return sum(ranked[:top]) / sum(ranked)


def summarize(trace: Trace | Iterable[Request], follow_s: float = 600.0) -> dict[str, float | int]:
    """Counts and shares that characterise ``trace``.

    ``layers_under_10MB`` is over distinct layers; ``top10pct_repo_pull_share`` is the share of
    manifest GETs taken by the most pulled tenth of repositories; ``pushes_followed_by_pull`` is
    the share of manifest PUTs whose image is pulled (manifest GET of the same repository and
    reference) by another client within ``follow_s`` seconds.
    """
    requests = sorted(trace, key=lambda r: r.time)
    methods = Counter(r.method for r in requests)
    layer_sizes: dict[str, int] = {}
    pulls: Counter[str] = Counter()
    pushes: list[Request] = []
    pulls_of: dict[tuple[str, str], list[Request]] = {}
    for r in requests:
        if r.kind == "blob" and r.method == "GET" and r.status < 400 or r.kind == "upload" and r.method == "PUT":
            if r.reference:
                layer_sizes[r.reference] = max(layer_sizes.get(r.reference, 0), r.size)
        elif r.kind == "manifest" and r.method == "GET":
            pulls[r.repository] += 1
            pulls_of.setdefault((r.repository, r.reference), []).append(r)
        elif r.kind == "manifest" and r.method == "PUT":
            pushes.append(r)
    followed = sum(
        any(p.client != push.client and 0 <= p.time - push.time <= follow_s
            for p in pulls_of.get((push.repository, push.reference), []))
        for push in pushes)
    sizes = np.array(sorted(layer_sizes.values()), dtype=float)
    quantile = (lambda q: float(np.quantile(sizes, q))) if sizes.size else (lambda q: 0.0)
    gets = methods.get("GET", 0)
    return {
        "requests": len(requests),
        "span_s": (requests[-1].time - requests[0].time) if requests else 0.0,
        "clients": len({r.client for r in requests}),
        "repositories": len({r.repository for r in requests if r.repository}),
        "get_share": gets / len(requests) if requests else 0.0,
        "manifest_gets": sum(pulls.values()),
        "layer_gets": sum(1 for r in requests if r.kind == "blob" and r.method == "GET"),
        "manifest_puts": len(pushes),
        "layer_puts": sum(1 for r in requests if r.kind == "upload" and r.method == "PUT"),
        "layers": len(layer_sizes),
        "layer_median_bytes": quantile(0.5),
        "layer_p90_bytes": quantile(0.9),
        "layer_max_bytes": float(sizes.max()) if sizes.size else 0.0,
        "layers_under_10MB": float((sizes < TEN_MB).mean()) if sizes.size else 0.0,
        "top10pct_repo_pull_share": _top_share(pulls, 0.1),
        "pushes_followed_by_pull": followed / len(pushes) if pushes else 0.0,
    }
