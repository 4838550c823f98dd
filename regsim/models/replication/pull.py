"""Pull-based replication: a job at the remote site fetches each blob whole from the source.

Harbor's pull-based replication runs the same transfer code at the destination, the source
being the remote registry: the WAN request is the ``GET`` of the blob (one request, the whole
blob on one connection), piped into the local upload (``POST``, then one ``PUT``). Per blob: a
local ``HEAD`` and ``POST``, and one WAN round trip plus the blob's transfer. ``workers`` jobs
run at once per site, each on its own connections.
"""

from __future__ import annotations

from collections.abc import Callable

import simpy

from .http import Connection, Counters, Steps, request, stream
from .sites import Sites

__all__ = ["pull_worker"]


def pull_worker(sites: Sites, counters: Counters, remote: str, queue: list[tuple[int, int]],
                done: dict[tuple[str, int], simpy.Event], keep_alive: bool, connect_rtts: int,
                progress: Callable[[float], None] | None = None) -> Steps:
    """One replication worker at ``remote``: fetches whole blobs off ``queue`` until it is empty."""
    job = Sites.job(remote)
    get = Connection(job, Sites.registry(sites.source), keep_alive, connect_rtts)
    put = Connection(job, Sites.registry(remote), keep_alive, connect_rtts)
    while queue:
        index, size = queue.pop(0)
        yield from request(sites, counters, put, 0, 0)      # HEAD at the local registry
        yield from request(sites, counters, put, 0, 0)      # POST: open the local upload
        yield from stream(sites, counters, get, put, size)  # GET over the WAN piped into the PUT
        counters.chunks += 1
        if progress is not None:
            progress(size)
        done[(remote, index)].succeed()
