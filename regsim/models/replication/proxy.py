"""A pull-through cache at a remote site: nothing is replicated; the first pull of a blob fills it.

The remote registry is a proxy of the source (Harbor's proxy-cache projects, the registry
library's :mod:`regsim.registry` pull-through cache). A client's GET for a blob the cache holds is
served locally. The first GET for a blob it lacks makes the cache fetch it from the source over
the WAN on its connection, and the bytes stream to that client as they arrive (both flows run at
once). A GET for a blob being filled waits for the fill (concurrent misses are coalesced), then
is served locally.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import simpy

from .http import Connection, Counters, Steps, request
from .sites import Sites

__all__ = ["ProxyCache"]


@dataclass
class ProxyCache:
    """The cache of one remote site: blobs held, blobs being filled, and the WAN time it spent."""

    site: str
    upstream: Connection
    held: set[int] = field(default_factory=set)
    filling: dict[int, simpy.Event] = field(default_factory=dict)
    #: (start, end) of every fill from the source
    fills: list[tuple[float, float]] = field(default_factory=list)

    def get(self, sites: Sites, counters: Counters, conn: Connection, index: int, size: int) -> Steps:
        """The GET of blob ``index`` by the client on ``conn`` (whose server is this cache)."""
        env = sites.env
        while index not in self.held and index in self.filling:
            yield self.filling[index]
        if index in self.held:
            yield from request(sites, counters, conn, 0, size)
            return
        fill = self.filling[index] = env.event()
        start = env.now
        wait = conn.open(sites, counters)
        if wait:
            yield env.timeout(wait)
        counters.requests += 1
        yield sites.net.transfer(conn.client, conn.server, 0)       # the client's GET reaches the cache
        wait = self.upstream.open(sites, counters)
        if wait:
            yield env.timeout(wait)
        counters.requests += 1
        counters.wan_requests += 1
        yield sites.net.transfer(self.upstream.client, self.upstream.server, 0)  # the cache's GET upstream
        upstream = sites.net.transfer(self.upstream.server, self.upstream.client, size)
        to_client = sites.net.transfer(conn.server, conn.client, size)
        yield env.all_of([upstream, to_client])
        self.fills.append((start, env.now))
        self.held.add(index)
        del self.filling[index]
        fill.succeed()
