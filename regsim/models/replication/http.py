"""HTTP requests on the flow network: what a request costs in round trips, and on which connection.

A request from ``client`` to ``server`` is its request body moving one way (after the route's
one-way latency) and its response body moving back (after the reverse latency): one round trip
plus the two transfers, each a flow of the network. A request on a connection that is not open
yet first pays ``connect_rtts`` round trips (TCP's handshake, and TLS's); with ``keep_alive``
(Go's HTTP transport, which Harbor's registry client uses, keeps idle connections for 90 s)
a worker opens its connection once and every later request reuses it, else every request opens
one. The fluid model has no slow start: a new connection moves at its share at once, so a closed
connection costs its handshake round trips only.

:class:`Counters` keeps what the KPIs count: requests (all, and those crossing a WAN link).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field

import simpy

from .sites import Sites

__all__ = ["Connection", "Counters", "request", "stream"]

Steps = Generator[simpy.Event, object, None]


@dataclass
class Counters:
    """Requests sent, by where they went."""

    requests: int = 0
    wan_requests: int = 0
    connections: int = 0
    chunks: int = 0


@dataclass
class Connection:
    """One worker's connection from ``client`` to ``server``: opened on first use, then kept or not."""

    client: str
    server: str
    keep_alive: bool
    connect_rtts: int
    is_open: bool = field(default=False)

    def open(self, sites: Sites, counters: Counters) -> float:
        """Seconds to spend before the next request can go: the handshake if one is needed."""
        if self.is_open and self.keep_alive:
            return 0.0
        self.is_open = True
        counters.connections += 1
        return self.connect_rtts * sites.rtt(self.client, self.server)


def _count(sites: Sites, counters: Counters, client: str, server: str) -> None:
    counters.requests += 1
    if sites.topology.host(client).rack != sites.topology.host(server).rack:
        counters.wan_requests += 1


def request(sites: Sites, counters: Counters, conn: Connection, up: float, down: float,
            klass: str | None = None) -> Steps:
    """One request on ``conn``: ``up`` bytes of request body, ``down`` bytes of response."""
    wait = conn.open(sites, counters)
    if wait:
        yield sites.env.timeout(wait)
    _count(sites, counters, conn.client, conn.server)
    yield sites.net.transfer(conn.client, conn.server, up, klass=klass)
    yield sites.net.transfer(conn.server, conn.client, down, klass=klass)


def stream(sites: Sites, counters: Counters, get: Connection, put: Connection, nbytes: float) -> Steps:
    """A GET on ``get`` whose response body is piped into the request body of a PUT/PATCH on ``put``.

    This is how Harbor's replication copies a blob or a chunk (``PullBlobChunk``'s reader handed
    to ``PushBlobChunk``): the GET's request goes first; when its response starts, both bodies
    flow at once (the pipe holds no more than a buffer, so the slower flow sets the pace, and
    the two run as concurrent flows), and the upload's response comes back when its body has
    landed. Time: GET RTT + PUT one-way + the slower body's transfer + PUT one-way back.
    """
    env = sites.env
    for conn in (get, put):
        wait = conn.open(sites, counters)
        if wait:
            yield env.timeout(wait)
    _count(sites, counters, get.client, get.server)
    _count(sites, counters, put.client, put.server)
    yield sites.net.transfer(get.client, get.server, 0)
    down = sites.net.transfer(get.server, get.client, nbytes)
    up = sites.net.transfer(put.client, put.server, nbytes)
    yield env.all_of([down, up])
    yield sites.net.transfer(put.server, put.client, 0)
