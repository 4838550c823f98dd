"""A database server behind a connection pool: where database-backed auth spends its time.

A query takes a connection from the pool (waiting if all are taken), then one network round trip
plus the server's service time per query; the connection is held throughout, as a real pool
holds it while the query travels. ``query_s`` is the server-side time of one query -- an indexed
primary-key lookup on a warm PostgreSQL or MySQL is ~0.05-0.2 ms, a scenario states its own.

With ``cores`` the server's own CPU is modelled too: each query's service time occupies one of
``cores`` cores, so a big pool on a small server saturates on CPU rather than on connections.
Without it the server is assumed to keep up with any pool.

``down()`` / ``up()`` inject an outage: while down, queries are refused, and queries in flight
fail at the moment the server goes down -- each with :class:`DatabaseDown`.

The server is the connection pool: a :class:`~regsim.sim.monitored.MonitoredResource` of
``pool_size`` connections, whose busy time, utilisation and queue length are those of the pool.
"""

from __future__ import annotations

from collections.abc import Generator

import simpy

from regsim.errors import RegsimError

from .disk import InFlight
from .monitored import MonitoredResource, TimeWeighted


class DatabaseDown(RegsimError, RuntimeError):
    """A query was refused or aborted because the database server is down."""


class DatabaseServer(MonitoredResource):
    """A pooled database: ``yield from db.query(n)`` runs ``n`` queries on one connection."""

    def __init__(self, env: simpy.Environment, *, pool_size: int, query_s: float, network_latency_s: float,
                 cores: int | None = None, name: str = "db") -> None:
        if isinstance(pool_size, bool) or not isinstance(pool_size, int) or pool_size < 1:
            raise ValueError(f"DatabaseServer {name!r}: pool_size must be a positive integer, got {pool_size!r}")
        if not query_s >= 0 or not network_latency_s >= 0:
            raise ValueError(f"DatabaseServer {name!r}: query_s and network_latency_s must be non-negative, "
                             f"got {query_s!r} and {network_latency_s!r}")
        if cores is not None and (isinstance(cores, bool) or not isinstance(cores, int) or cores < 1):
            raise ValueError(f"DatabaseServer {name!r}: cores must be a positive integer or None, got {cores!r}")
        super().__init__(env, pool_size)
        self.env = env
        self.name = name
        self.query_s, self.network_latency_s = float(query_s), float(network_latency_s)
        self.cpu = simpy.Resource(env, capacity=cores) if cores else None
        self.is_down = False
        self._inflight = InFlight(env)
        self.queries = self.refused = self.aborted = 0

    def __repr__(self) -> str:
        state = "down" if self.is_down else "up"
        return f"DatabaseServer({self.name!r}, {state}, in_use={self.count}, queued={len(self.queue)})"

    @property
    def pool(self) -> DatabaseServer:
        """The connection pool, which is the server itself (``pool.count``: connections taken)."""
        return self

    @property
    def pool_size(self) -> int:
        return self.capacity

    @property
    def in_use(self) -> TimeWeighted:
        """The meter of connections in use: :attr:`busy` under the name a pool gives it."""
        return self.busy

    def _refuse(self) -> DatabaseDown:
        self.refused += 1
        return DatabaseDown(f"database {self.name!r} is down: query refused at t={self.env.now:g}")

    def query(self, n: int = 1) -> Generator[simpy.Event, object, float]:
        """Run ``n`` queries back to back on one pooled connection; returns the elapsed time."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"DatabaseServer {self.name!r}: n must be a positive number of queries, got {n!r}")
        if self.is_down:
            raise self._refuse()
        start = self.env.now
        with self.request() as conn:
            yield from self.wait_for(conn)
            with self.busy:
                for _ in range(n):
                    if self.is_down:
                        raise self._refuse()
                    yield self._inflight.service(self.network_latency_s)
                    if self.cpu is None:
                        yield self._inflight.service(self.query_s)
                    else:
                        with self.cpu.request() as core:
                            if not core.triggered:
                                yield core
                            if self.is_down:
                                raise self._refuse()
                            yield self._inflight.service(self.query_s)
                    self.queries += 1
        return self.env.now - start

    def down(self) -> int:
        """Take the server down; queries in flight fail now. Returns how many were aborted."""
        if self.is_down:
            return 0
        self.is_down = True
        now = self.env.now
        aborted = self._inflight.abort(lambda: DatabaseDown(f"database {self.name!r} went down at t={now:g} "
                                                            "during a query"))
        self.aborted += aborted
        return aborted

    def up(self) -> None:
        self.is_down = False
