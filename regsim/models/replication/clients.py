"""Clients at the remote sites pulling the image: every blob at once, from their site's registry.

Client ``i`` of a remote site starts ``clients_start + i * clients_interval`` after the
replication starts and downloads ``client_downloads`` blobs at a time, each on a connection of its
own (as a container runtime pulls layers: Docker's ``max-concurrent-downloads`` is 3). With push or pull replication, the GET of a blob not replicated yet waits until its
replica lands (a client arriving early waits for the replication), then is a local transfer.
With a pull-through cache, it goes through the cache (:mod:`.proxy`).
"""

from __future__ import annotations

from dataclasses import dataclass

import simpy

from .http import Connection, Counters, Steps, request
from .proxy import ProxyCache
from .sites import Sites

__all__ = ["ClientPull", "client_pull"]


@dataclass(frozen=True)
class ClientPull:
    """One remote client's pull of the whole image: when it started and ended."""

    site: str
    client: int
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


def client_pull(sites: Sites, counters: Counters, site: str, client: int, delay: float, blobs: list[int],
                replicated: dict[tuple[str, int], simpy.Event] | None, cache: ProxyCache | None,
                keep_alive: bool, connect_rtts: int, downloads: int, out: list[ClientPull]) -> Steps:
    """Wait ``delay``, then pull every blob from ``site``'s registry (or cache); record the pull in ``out``."""
    env = sites.env
    if delay:
        yield env.timeout(delay)
    start = env.now
    host, server = Sites.client(site, client), Sites.registry(site)
    slots = simpy.Resource(env, capacity=downloads)

    def blob(index: int, size: int) -> Steps:
        with slots.request() as slot:
            yield slot
            conn = Connection(host, server, keep_alive, connect_rtts)
            if cache is not None:
                yield from cache.get(sites, counters, conn, index, size)
                return
            assert replicated is not None
            yield replicated[(site, index)]
            yield from request(sites, counters, conn, 0, size)

    yield env.all_of([env.process(blob(i, size)) for i, size in enumerate(blobs)])
    out.append(ClientPull(site, client, start, env.now))
