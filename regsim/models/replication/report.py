"""What a replication run reports: one summary.csv row comparing push, pull and a pull-through cache.

- ``makespan_s``: when the last copy or remote pull ended;
- **replication**: ``replication_time_s`` (until every blob is at every remote site; NaN for a
  pull-through cache, which replicates nothing), ``throughput_Bps`` (blob bytes delivered to the
  remote sites over that time), ``closed_form_s`` (:mod:`.closed_form`) and
  ``closed_form_ratio`` (simulated over closed form), ``chunks`` (upload requests carrying
  data), ``requests`` and ``wan_requests`` (HTTP requests, and those crossing a WAN link),
  ``connections`` (opened);
- **the WAN**: ``wan_bytes`` (bytes over the WAN links, both ways) and ``wan_utilisation`` (bytes
  towards the remote sites over their links' capacity during the WAN transfers: the replication,
  or the cache fills from the first start to the last end);
- **remote clients**: ``time_to_first_remote_pull_s`` (from the start of the replication to the
  first remote client holding the whole image), ``remote_pull_p50_s``/``p99_s`` (each client's
  pull, from its start).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from regsim.models.core.result import VariantResult

from .clients import ClientPull
from .config import ReplicationConfig
from .http import Counters

__all__ = ["ReplicationOutcome", "replication_result"]

NAN = float("nan")


@dataclass(frozen=True)
class ReplicationOutcome:
    """What a run measured (not the run itself)."""

    config: ReplicationConfig
    counters: Counters
    #: when the last replica landed (NaN: nothing replicated)
    replicated_at: float
    #: the WAN transfers' span: (first start, last end), or None if nothing crossed
    wan_span: tuple[float, float] | None
    #: bytes towards the remote sites, and both ways, over their WAN links
    wan_down_bytes: float
    wan_bytes: float
    #: capacity of the WAN links towards the remote sites, summed (bytes/s)
    wan_capacity: float
    pulls: Sequence[ClientPull]
    closed_form_s: float
    #: when the last copy or pull ended
    end_s: float
    events: int


def replication_result(o: ReplicationOutcome) -> VariantResult:
    """The KPIs (see the module docstring) and notes of one run."""
    w = o.config.workload
    remotes = len(w.sites) - 1
    delivered = sum(w.blobs) * remotes if w.mode != "proxy-cache" else NAN
    t = o.replicated_at
    span = (o.wan_span[1] - o.wan_span[0]) if o.wan_span else NAN
    durations = np.asarray([p.duration for p in o.pulls], dtype=float)
    p50, p99 = (float(np.quantile(durations, q)) for q in (0.5, 0.99)) if len(durations) else (NAN, NAN)
    kpis: dict[str, float | int | str] = {
        "mode": w.mode,
        "makespan_s": o.end_s,
        "blob_bytes": int(sum(w.blobs)),
        "blob_count": len(w.blobs),
        "replication_time_s": t,
        "throughput_Bps": delivered / t if t and not math.isnan(t) else NAN,
        "closed_form_s": o.closed_form_s,
        "closed_form_ratio": t / o.closed_form_s if not math.isnan(o.closed_form_s) and o.closed_form_s else NAN,
        "chunks": o.counters.chunks,
        "requests": o.counters.requests,
        "wan_requests": o.counters.wan_requests,
        "connections": o.counters.connections,
        "wan_bytes": float(o.wan_bytes),
        "wan_utilisation": (o.wan_down_bytes / (o.wan_capacity * span)) if span and not math.isnan(span) else NAN,
        "time_to_first_remote_pull_s": min((p.end for p in o.pulls), default=NAN),
        "remote_pull_p50_s": p50,
        "remote_pull_p99_s": p99,
    }
    notes = [f"replication ({w.mode}) of {len(w.blobs)} blob(s), {sum(w.blobs) / 1e9:.3g} GB, to {remotes} remote "
             f"site(s): {_s(t)} (closed form {_s(o.closed_form_s)}); first remote pull done at "
             f"{_s(float(kpis['time_to_first_remote_pull_s']))}"]
    return VariantResult(kpis=kpis, notes=notes, events=o.events)


def _s(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.4g} s"
