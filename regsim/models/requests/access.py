"""The access layer in front of the registry's frontends: a load balancer, connections, TLS, rate limits.

Every request of the ``poisson`` and ``closed`` models enters through :meth:`AccessLayer.enter`,
which gives it the frontend that serves it:

- **Connections and keep-alive.** A client holds one connection to one frontend and sends its
  requests over it (several at once, as HTTP/2 would). The server closes a connection after
  ``registry.tls.keep_alive`` requests or ``idle_timeout`` of silence; the client's next request
  opens a new one. The run starts in the steady state: every client already holds a connection
  that has carried a random number of requests (and has a TLS session to resume).
- **Load balancer.** A new connection goes to the reachable frontend holding the fewest
  connections (ties: the lowest index), so frontends share connections, not requests.
- **Handshakes.** A new connection costs a TCP round trip; with TLS one more round trip and the
  server's side of a TLS 1.3 handshake on a core of its frontend, priced by the cost profile
  (``tls_handshake_full``, or ``tls_handshake_resumed`` for the share ``resumption`` of
  connections that resume the client's session). A registry in a TEE pays the TEE's price.
- **Certificate rotation.** :meth:`AccessLayer.rotate` replaces the certificate and the session-
  ticket keys: a client whose ticket predates the rotation cannot resume, so its next connection
  is a full handshake whatever ``resumption`` says (counted as ``forced_full``); with
  ``drop_connections`` every open connection closes at once, so every active client reconnects
  within its next request -- the handshake storm.
- **Rate limits.** With ``registry.rate_limit.rate`` each client has a token bucket of ``burst``
  requests refilled at ``rate``; a request finding it empty is answered 429 (Too Many Requests)
  without reaching the registry.
- **Partitions.** A request from a partitioned client host, or over a connection to a partitioned
  frontend, times out after :data:`NETWORK_TIMEOUT_S` (a network failure); the load balancer
  gives new connections to reachable frontends only. Requests already inside are not cut short.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Generator
from dataclasses import dataclass

import numpy as np
import simpy

from regsim.errors import RegsimError
from regsim.registry.errors import TooManyRequests
from regsim.registry.receipts import Kind, WorkItem

from regsim.models.core.world import World

from .config import RequestsConfig

#: how long a request to an unreachable registry waits before it gives up (a connect timeout)
NETWORK_TIMEOUT_S = 1.0

Steps = Generator[simpy.Event, object, str]


class NetworkFailure(RegsimError):
    """A request could not reach a frontend: its client or the frontend is partitioned away."""


class TokenBucket:
    """Per-client token buckets: ``burst`` tokens each, refilled continuously at ``rate`` per second.

    (The HTTP server has its own in :mod:`regsim.server.ratelimit`; this one runs on simulated time
    and the model layer cannot import the interface layer.)
    """

    def __init__(self, rate: float, burst: int) -> None:
        if not rate > 0 or burst < 1:
            raise ValueError(f"a token bucket needs rate > 0 and burst >= 1, got {rate} and {burst}")
        self.rate, self.burst = float(rate), int(burst)
        self._state: dict[str, tuple[float, float]] = {}  # client -> (tokens, at)

    def take(self, client: str, now: float) -> bool:
        """Take one token of ``client``'s bucket at time ``now``; False if it is empty."""
        tokens, at = self._state.get(client, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        if tokens >= 1.0 - 1e-9:  # a request exactly 1/rate after the last finds its token (rounding aside)
            self._state[client] = (max(0.0, tokens - 1.0), now)
            return True
        self._state[client] = (tokens, now)
        return False


@dataclass(slots=True)
class Connection:
    """A client's open connection to one frontend."""

    frontend: str
    requests: int
    last_used: float
    ready: simpy.Event


class AccessLayer:
    """Connections, TLS handshakes, load balancing, rate limits and partitions of one run."""

    def __init__(self, world: World, config: RequestsConfig, rng: np.random.Generator) -> None:
        reg = config.registry
        self.world, self.env, self.rng = world, world.env, rng
        self.tls = reg.tls.enabled
        self.resumption, self.keep_alive, self.idle_timeout = reg.tls.resumption, reg.tls.keep_alive, reg.tls.idle_timeout
        limit = reg.rate_limit
        self.limiter = TokenBucket(limit.rate, limit.burst) if limit.rate is not None else None
        self.frontends = list(world.frontends)
        self.open: Counter[str] = Counter({fe: 0 for fe in self.frontends})
        self.connections: dict[str, Connection] = {}
        #: partitioned client hosts and frontends, with how many partitions hold each (they may overlap)
        self.cut: Counter[str] = Counter()
        self.handshakes: Counter[str] = Counter()  # "tcp", "full", "resumed", "forced_full"
        #: (time, "full" | "resumed") of every TLS handshake, for the series
        self.handshake_times: list[tuple[float, str]] = []
        self.rate_limited = 0
        #: the session-ticket keys' generation, and the one each client's ticket was issued under
        self.ticket_epoch = 0
        self.client_epoch: dict[str, int] = {}
        self.rotations: list[float] = []

    # -- the steady state at time 0 --------------------------------------------------------------

    def warm(self, clients: list[str]) -> None:
        """Give every client a connection that has carried a random share of its keep-alive budget."""
        used = self.rng.integers(0, self.keep_alive, len(clients)) if self.keep_alive > 1 else np.zeros(len(clients))
        for client, count in zip(clients, used):
            ready = self.env.event()
            ready.succeed()
            frontend = self._pick()
            self.open[frontend] += 1
            self.connections[client] = Connection(frontend, int(count), self.env.now, ready)

    # -- certificate rotation ------------------------------------------------------------------------

    def rotate(self, drop_connections: bool) -> int:
        """Rotate the certificate and the ticket keys now; returns the connections dropped."""
        self.ticket_epoch += 1
        self.rotations.append(self.env.now)
        if not drop_connections:
            return 0
        dropped = 0
        for client, conn in list(self.connections.items()):
            if conn.ready.triggered:  # one being opened finishes under the new certificate
                self._close(client, conn)
                dropped += 1
        return dropped

    # -- partitions ----------------------------------------------------------------------------------

    def partition(self, names: list[str], on: bool) -> None:
        """Cut ``names`` (client hosts or frontends) off the network, or restore them."""
        for name in names:
            self.cut[name] += 1 if on else -1
            if self.cut[name] <= 0:
                del self.cut[name]

    def reachable(self, name: str) -> bool:
        return name not in self.cut

    # -- a request's way in -------------------------------------------------------------------------

    def enter(self, client: str, host: str) -> Steps:
        """Bring ``client``'s request from ``host`` to a frontend; returns the frontend's name.

        Raises :class:`NetworkFailure` (after the timeout) if it cannot get there, and
        :class:`~regsim.registry.errors.TooManyRequests` if the client's bucket is empty.
        """
        env = self.env
        if host in self.cut:
            yield env.timeout(NETWORK_TIMEOUT_S)
            raise NetworkFailure(f"client {client} on {host} is partitioned from the registry")
        conn = self.connections.get(client)
        if conn is not None and conn.ready.triggered and self._expired(conn):
            self._close(client, conn)
            conn = None
        if conn is None:
            conn = yield from self._connect(client, host)
        elif not conn.ready.triggered:
            yield conn.ready  # another request of the client is opening this connection
        if conn.frontend in self.cut:
            self._close(client, conn)
            yield env.timeout(NETWORK_TIMEOUT_S)
            raise NetworkFailure(f"frontend {conn.frontend} is partitioned: {client}'s connection timed out")
        conn.requests += 1
        conn.last_used = env.now
        if self.limiter is not None and not self.limiter.take(client, env.now):
            self.rate_limited += 1
            raise TooManyRequests(f"{client} sent more than {self.limiter.burst} requests in a burst; "
                                  f"the limit is {self.limiter.rate:g} per second")
        return conn.frontend

    def leave(self, client: str) -> None:
        """The client's request is answered: its connection's idle time starts now."""
        conn = self.connections.get(client)
        if conn is not None:
            conn.last_used = self.env.now

    def _expired(self, conn: Connection) -> bool:
        return conn.requests >= self.keep_alive or self.env.now - conn.last_used > self.idle_timeout

    def _close(self, client: str, conn: Connection) -> None:
        if self.connections.get(client) is conn:
            del self.connections[client]
            self.open[conn.frontend] -= 1

    def _pick(self) -> str:
        live = [fe for fe in self.frontends if fe not in self.cut]
        if not live:
            raise NetworkFailure("every frontend is partitioned")
        return min(live, key=lambda fe: self.open[fe])  # min() keeps the first of equals

    def _connect(self, client: str, host: str) -> Generator[simpy.Event, object, Connection]:
        env = self.env
        try:
            frontend = self._pick()
        except NetworkFailure:
            yield env.timeout(NETWORK_TIMEOUT_S)
            raise
        conn = Connection(frontend, 0, env.now, env.event())
        self.connections[client] = conn
        self.open[frontend] += 1
        rtt = 2 * self.world.topology.latency(host, frontend)
        yield env.timeout(rtt)  # TCP: SYN, SYN-ACK
        self.handshakes["tcp"] += 1
        if self.tls:
            fresh_ticket = self.client_epoch.get(client, 0) == self.ticket_epoch
            resumed = fresh_ticket and self.resumption > 0 and float(self.rng.random()) < self.resumption
            if not fresh_ticket and self.resumption > 0:
                self.handshakes["forced_full"] += 1
            self.client_epoch[client] = self.ticket_epoch
            kind = Kind.TLS_HANDSHAKE_RESUMED if resumed else Kind.TLS_HANDSHAKE_FULL
            self.handshakes["resumed" if resumed else "full"] += 1
            self.handshake_times.append((env.now, "resumed" if resumed else "full"))
            yield env.timeout(rtt)  # TLS 1.3: ClientHello, ServerHello..Finished
            yield from self.world.executor.execute([WorkItem(kind, 1, frontend)])
        conn.last_used = env.now
        conn.ready.succeed()
        return conn
