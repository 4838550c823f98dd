"""KPIs, time series and notes of a P2P or proxy-cache rollout, and the bounds they are held to.

Columns every distribution strategy reports (``summary.csv``): ``strategy``, ``nodes``,
``pull_p50_s`` .. ``pull_max_s`` (a node's pull: from its start to its last layer),
``makespan_s`` (first start to last end), ``registry_egress_bytes`` (everything the registry
sent: preheats and cache fills included), ``back_to_source_share`` (registry egress over the
bytes delivered to the nodes: 1 for central pulls) and ``peer_bytes_share`` (bytes nodes got from
other nodes over the bytes delivered).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from regsim.models.core.result import VariantResult

if TYPE_CHECKING:
    from .p2p import P2PRun

SERIES_POINTS = 200


def kumar_ross_bound(image: float, nodes: int, server_up: float, node_down: float, node_up_sum: float) -> float:
    """Kumar and Ross's lower bound on distributing ``image`` bytes to ``nodes`` peers:
    ``max(F/u_s, F/d_min, N*F/(u_s + sum u_i))``."""
    if nodes == 0 or image == 0:
        return 0.0
    return max(image / server_up, image / node_down, nodes * image / (server_up + node_up_sum))


def pull_kpis(starts: Mapping[str, float], ends: Mapping[str, float]) -> tuple[dict[str, float], np.ndarray]:
    """Pull-time quantiles and the makespan of the nodes in ``ends``; also the pull times."""
    nodes = list(ends)
    pulls = np.array([ends[n] - starts[n] for n in nodes])
    if not nodes:
        return {k: 0.0 for k in ("pull_p50_s", "pull_p90_s", "pull_p99_s", "pull_p999_s", "pull_max_s",
                                 "makespan_s")}, pulls
    q = np.quantile(pulls, [0.5, 0.9, 0.99, 0.999])
    makespan = max(ends.values()) - min(starts[n] for n in nodes)
    return {"pull_p50_s": float(q[0]), "pull_p90_s": float(q[1]), "pull_p99_s": float(q[2]),
            "pull_p999_s": float(q[3]), "pull_max_s": float(pulls.max()), "makespan_s": float(makespan)}, pulls


def series(t0: float, makespan: float, utilisation, ends: Mapping[str, float]) -> pd.DataFrame:
    """Link-group utilisation and completed pulls on a uniform grid over the rollout."""
    times = np.linspace(0.0, max(makespan, 1e-9), SERIES_POINTS)
    frames = [pd.DataFrame({"time_s": times, "metric": f"{name}_utilisation", "value": values})
              for name, values in utilisation(t0 + times).items()]
    done = np.searchsorted(np.sort(np.fromiter(ends.values(), float)) - t0, times, side="right")
    frames.append(pd.DataFrame({"time_s": times, "metric": "pulls_completed", "value": done.astype(float)}))
    return pd.concat(frames, ignore_index=True)


def p2p_result(run: P2PRun) -> VariantResult:
    sc, world = run.scenario, run.world
    nic = sc.cluster.node.nic
    image = sum(run.work.sizes)
    n = len(run.targets)
    timing, pulls = pull_kpis(run.starts, run.ends)
    peers = [p for p in run.driver.peers if p.node in run.ends]
    from_peers = sum(p.from_peers for p in peers)
    from_origins = sum(p.from_origins for p in peers)
    from_source = sum(p.from_source for p in peers)
    delivered = from_peers + from_origins + from_source
    server_up = len(run.origins) * nic.up + len(run.seeders) * nic.up
    bound = kumar_ross_bound(image, n, server_up, nic.down, n * nic.up)
    central = n * image / sc.registry.egress
    stats = run.plane.stats
    kpis: dict[str, float | int | str] = {
        "strategy": sc.distribution.strategy,
        "nodes": n,
        "image_bytes": image,
        "piece_size": run.piece_size,
        "sim_piece_bytes": run.unit,
        "data_plane": sc.data_plane,
        "flow_model": run.plane.name,
        **timing,
        "kumar_ross_bound_s": bound,
        "makespan_over_bound": timing["makespan_s"] / bound if bound else 0.0,
        "central_bound_s": central,
        "origin_preheat_s": run.preheat_s,
        "registry_egress_bytes": run.registry_egress,
        "back_to_source_share": run.registry_egress / delivered if delivered else 0.0,
        "peer_bytes_share": from_peers / delivered if delivered else 0.0,
        "origin_bytes_share": from_origins / delivered if delivered else 0.0,
        "registry_cpu_busy_s": sum(world.cpus[fe].busy_s for fe in world.frontends),
        "verified_bytes": run.verified_bytes,
        "piece_arrivals": stats.arrivals,
        "connections": stats.opened,
        "reshares": stats.reshares,
        "decisions": run.driver.decisions,
    }
    notes = [
        f"{sc.distribution.strategy}: {n} nodes x {image / 1e6:.0f} MB in pieces of {run.piece_size / 2**20:g} MiB "
        f"(scheduled as runs of {run.group}: {run.unit / 2**20:g} MiB), {len(run.origins)} preheated origin(s) at "
        f"{nic.up * 8 / 1e9:.3g} Gbit/s; node NICs {nic.up * 8 / 1e9:.3g} up / {nic.down * 8 / 1e9:.3g} down Gbit/s. "
        f"Kumar-Ross bound {bound:.1f} s; simulated makespan {timing['makespan_s']:.1f} s "
        f"({timing['makespan_s'] / bound:.3f}x the bound) on the {run.plane.name} data plane; "
        f"central pulls would need at least {central:.1f} s." if bound else "Empty rollout.",
        f"Pulls: p50 {timing['pull_p50_s']:.2f} s, p99 {timing['pull_p99_s']:.2f} s, "
        f"p99.9 {timing['pull_p999_s']:.2f} s, "
        f"max {timing['pull_max_s']:.2f} s; {kpis['peer_bytes_share']:.1%} of the bytes came from other nodes, "
        f"origins preheated in {run.preheat_s:.1f} s.",
    ]
    return VariantResult(kpis=kpis, series=series(min(run.starts.values(), default=0.0), timing["makespan_s"],
                                                  run.plane.utilisation, run.ends),
                         samples={"pull_time_s": pulls}, notes=notes, events=int(getattr(world.env, "events", 0)))
