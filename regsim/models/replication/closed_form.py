"""The closed form a replication run is tested against: round trips per request plus bytes over a rate.

One connection moves at ``r = g * min(link, window / RTT)``: ``g`` the sharing model's goodput
(0.97 under ``tcp``, 1 under ``maxmin``), ``link`` the narrowest link of its path (the WAN link,
the registries' NICs), ``window / RTT`` the TCP-like model's per-connection bound
(``window / (2 * one-way latency)``). A sequential push of a blob of ``S`` bytes in ``n`` chunks
then takes

    T_blob = (HEAD + POST) round trips + n * (RTT_wan + RTT_get) + S / r

(``RTT_get``: the ranged GET at the source, half a LAN round trip before the chunk's body
flows), plus the connection's handshake (``connect_rtts`` round trips) once per worker with
keep-alive, or per request without. ``W`` workers copying ``B`` equal blobs share the WAN link:
each connection gets ``min(window / RTT, link / W)``, so the aggregate rate is
``g * min(min(W, B) * window / RTT, link)``; the round trips of ``ceil(B / W)`` blobs in a row stay
on the critical path. Blobs of unequal sizes cannot all end together: the largest, copied on one
connection, takes at least its size over one connection's rate, so the bytes' term is the larger
of the two (exact for equal blobs, and when one blob dominates; an estimate in between).
"""

from __future__ import annotations

import math

from .config import ReplicationConfig
from .push import chunks_of
from .sites import Sites

__all__ = ["connection_rate", "predicted_replication_s"]


def connection_rate(sites: Sites, src: str, dst: str, flows: int = 1) -> float:
    """What one of ``flows`` equal connections from ``src`` to ``dst`` moves, alone on its path (bytes/s)."""
    model = sites.net.model
    route, latency = sites.topology.route(src, dst)
    link = min(sites.topology.links[i].capacity for i in route)
    return model.goodput * min(link / flows, model.bound(latency))


def predicted_replication_s(config: ReplicationConfig, sites: Sites) -> float:
    """The closed form's time to replicate every blob to the slowest remote site (push or pull); NaN for
    a pull-through cache, which replicates nothing."""
    w = config.workload
    if w.mode == "proxy-cache":
        return math.nan
    worst = 0.0
    flows = min(w.workers, len(w.blobs))
    for remote in sites.remotes:
        job = Sites.job(sites.source if w.mode == "push" else remote)
        src, dst = Sites.registry(sites.source), Sites.registry(remote)
        get_rtt, put_rtt = sites.rtt(job, src), sites.rtt(job, dst)
        # a streamed GET -> PUT: the GET's request, the longer of the two bodies' first-byte
        # latencies, the upload's response
        stream = get_rtt / 2 + max(get_rtt, put_rtt) / 2 + put_rtt / 2
        rate = flows * min(connection_rate(sites, src, job, flows), connection_rate(sites, job, dst, flows))
        alone = min(connection_rate(sites, src, job), connection_rate(sites, job, dst))
        handshake = 0 if w.keep_alive else w.connect_rtts
        per_blob = []
        for size in w.blobs:
            n = len(chunks_of(size, w.chunk_size)) if w.mode == "push" else 1
            setup = 2 * put_rtt * (1 + handshake)                       # HEAD and POST
            per_blob.append(setup + n * (stream + handshake * (get_rtt + put_rtt)))
        rounds = math.ceil(len(w.blobs) / w.workers)
        connect = w.connect_rtts * (get_rtt + put_rtt) if w.keep_alive else 0.0
        worst = max(worst, connect + rounds * max(per_blob) + max(sum(w.blobs) / rate, max(w.blobs) / alone))
    return worst
