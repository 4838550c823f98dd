"""The KPIs, time series and result every rollout strategy reports, and the bounds they are held to.

Each strategy (:mod:`.central`, :mod:`.proxy`, :mod:`.p2p`) hands :func:`rollout_kpis` a
:class:`RolloutRecord` -- what it measured, as plain values -- plus the columns that are its own,
so that the columns they share are computed once, the same way, and a central-vs-P2P sweep
compares like with like. Columns every strategy reports (``summary.csv``), in this order with
the strategy's own columns at the places :func:`rollout_kpis` names:

- ``strategy``, ``nodes``, ``image_bytes``, ``data_plane``;
- ``pull_mean_s`` (the mean pull time, what a benchmark's "average time" is), ``pull_p50_s``,
  ``pull_p90_s``, ``pull_p99_s``, ``pull_p999_s``, ``pull_max_s`` (a pull: from its start to its
  last layer) and ``makespan_s`` (first start to last end);
- the strategy's own bound (``central_bound_s``, ``proxy_bound_s``, ``kumar_ross_bound_s``),
  ``makespan_over_bound`` and ``central_bound_s`` (N*F/u_registry, what central pulls would need);
- ``registry_egress_bytes`` (everything the registry sent: preheats and cache fills included),
  ``back_to_source_share`` (registry egress over the bytes delivered to the nodes: 1 for central
  pulls), ``peer_bytes_share`` (bytes nodes got from other nodes over the bytes delivered);
- ``registry_cpu_busy_s`` (the frontends' busy core-seconds).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from regsim.models.core.result import VariantResult
from regsim.models.core.world import World

SERIES_POINTS = 200

#: the pull-time columns of :func:`pull_kpis`, in order
PULL_COLUMNS = ("pull_mean_s", "pull_p50_s", "pull_p90_s", "pull_p99_s", "pull_p999_s", "pull_max_s", "makespan_s")
#: the columns :func:`rollout_kpis` computes for every strategy (a strategy's own bound aside)
COMMON_COLUMNS = ("strategy", "nodes", "image_bytes", "data_plane", *PULL_COLUMNS, "makespan_over_bound",
                  "central_bound_s", "registry_egress_bytes", "back_to_source_share", "peer_bytes_share",
                  "registry_cpu_busy_s")

Kpis = dict[str, float | int | str]
Utilisation = Callable[[np.ndarray], Mapping[str, np.ndarray]]


@dataclass(frozen=True)
class RolloutRecord:
    """What a rollout measured, for the columns every strategy reports.

    ``starts`` and ``ends`` are the pulls' start and end times by pull (a node, or a node and its
    repeat); only the pulls in ``ends`` count. ``bound_name`` names the strategy's own lower bound
    on the makespan, ``bound_s``, to which ``makespan_over_bound`` holds it. ``delivered_bytes``
    are the bytes the nodes received, ``peer_bytes`` those of them that came from other nodes.
    """

    strategy: str
    data_plane: str
    nodes: int
    image_bytes: int
    starts: Mapping[Hashable, float]
    ends: Mapping[Hashable, float]
    bound_name: str
    bound_s: float
    central_bound_s: float
    registry_egress_bytes: int
    delivered_bytes: int
    peer_bytes: int
    registry_cpu_busy_s: float
    #: SimPy events the run processed
    events: int = 0

    @property
    def t0(self) -> float:
        """The first pull's start (0 for an empty rollout): time 0 of the series."""
        return min(self.starts.values(), default=0.0)


def kumar_ross_bound(image: float, nodes: int, server_up: float, node_down: float, node_up_sum: float) -> float:
    """Kumar and Ross's lower bound on distributing ``image`` bytes to ``nodes`` peers:
    ``max(F/u_s, F/d_min, N*F/(u_s + sum u_i))``."""
    if nodes == 0 or image == 0:
        return 0.0
    return max(image / server_up, image / node_down, nodes * image / (server_up + node_up_sum))


def frontend_busy_s(world: World) -> float:
    """Core-seconds the registry's frontends were busy (``registry_cpu_busy_s``)."""
    return sum(world.cpus[fe].busy_s for fe in world.frontends)


def pull_kpis(starts: Mapping[Hashable, float], ends: Mapping[Hashable, float]) -> tuple[dict[str, float], np.ndarray]:
    """Mean and quantiles of the pull times and the makespan of the pulls in ``ends``; also their pull
    times, in ``ends``' order."""
    pulls = list(ends)
    times = np.array([ends[p] - starts[p] for p in pulls])
    if not pulls:
        return dict.fromkeys(PULL_COLUMNS, 0.0), times
    q = np.quantile(times, [0.5, 0.9, 0.99, 0.999])
    makespan = max(ends.values()) - min(starts[p] for p in pulls)
    return {"pull_mean_s": float(times.mean()), "pull_p50_s": float(q[0]), "pull_p90_s": float(q[1]),
            "pull_p99_s": float(q[2]), "pull_p999_s": float(q[3]), "pull_max_s": float(times.max()),
            "makespan_s": float(makespan)}, times


def rollout_kpis(record: RolloutRecord, *, setup: Mapping[str, float | int | str] | None = None,
                 model: Mapping[str, float | int | str] | None = None,
                 before_egress: Mapping[str, float | int | str] | None = None,
                 sources: Mapping[str, float | int | str] | None = None,
                 work: Mapping[str, float | int | str] | None = None) -> Kpis:
    """The KPIs of one rollout: the common columns, with the strategy's own at their places.

    ``setup`` goes before ``data_plane`` (what the strategy was configured with), ``model`` after
    it (how it was simulated), ``before_egress`` after the bounds, ``sources`` after the byte
    shares (where the bytes came from) and ``work`` last (what the run did). Column order is
    part of ``summary.csv``, so each strategy's stays as it always was.
    """
    r = record
    timing, _ = pull_kpis(r.starts, r.ends)
    kpis: Kpis = {"strategy": r.strategy, "nodes": r.nodes, "image_bytes": r.image_bytes, **(setup or {}),
                  "data_plane": r.data_plane, **(model or {}), **timing}
    kpis[r.bound_name] = r.bound_s
    kpis["makespan_over_bound"] = timing["makespan_s"] / r.bound_s if r.bound_s else 0.0
    # central pulls are held to the central bound itself: it keeps its place before the ratio
    kpis.setdefault("central_bound_s", r.central_bound_s)
    kpis.update(before_egress or {})
    kpis["registry_egress_bytes"] = r.registry_egress_bytes
    kpis["back_to_source_share"] = r.registry_egress_bytes / r.delivered_bytes if r.delivered_bytes else 0.0
    kpis["peer_bytes_share"] = r.peer_bytes / r.delivered_bytes if r.delivered_bytes else 0.0
    kpis.update(sources or {})
    kpis["registry_cpu_busy_s"] = r.registry_cpu_busy_s
    kpis.update(work or {})
    return kpis


def series(t0: float, makespan: float, utilisation: Utilisation, ends: Mapping[Hashable, float]) -> pd.DataFrame:
    """Link-group utilisation and completed pulls on a uniform grid over the rollout, from ``t0``.

    ``utilisation(times)`` gives each link group's mean utilisation at absolute times.
    """
    times = np.linspace(0.0, max(makespan, 1e-9), SERIES_POINTS)
    frames = [pd.DataFrame({"time_s": times, "metric": f"{name}_utilisation", "value": values})
              for name, values in utilisation(t0 + times).items()]
    done = np.searchsorted(np.sort(np.fromiter(ends.values(), float)) - t0, times, side="right")
    frames.append(pd.DataFrame({"time_s": times, "metric": "pulls_completed", "value": done.astype(float)}))
    return pd.concat(frames, ignore_index=True)


def rollout_result(record: RolloutRecord, kpis: Kpis, utilisation: Utilisation, notes: list[str]) -> VariantResult:
    """The variant's result: ``kpis`` (of :func:`rollout_kpis`), the series over the rollout, the
    pull times as samples (``pull_time_s``) and ``notes``."""
    _, times = pull_kpis(record.starts, record.ends)
    return VariantResult(kpis=kpis, series=series(record.t0, float(kpis["makespan_s"]), utilisation, record.ends),
                         samples={"pull_time_s": times}, notes=notes, events=record.events)
