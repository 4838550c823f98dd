"""An S3-like object store as a storage device: elastic, latent, rate-limited per prefix.

Where a :class:`~regsim.sim.disk.Disk` is one device with a queue, an object store has no queue
a client can see: each request waits a *first-byte latency* (lognormal, drawn per request), then
moves its bytes at a *per-connection rate*. What bounds it is the request rate: every partitioned
prefix admits at most ``get_rate`` GET/HEAD and ``put_rate`` PUT/POST/DELETE per second (a token
bucket ``burst`` seconds deep); beyond, the request is answered 503 SlowDown after its round trip
and the client backs off (full jitter, doubling up to a cap) and tries again. After ``attempts``
tries the SDK gives up and the request fails to its caller, which starts a fresh one: counted in
:attr:`ObjectStore.failed_requests`. A sustained overload may make the store double its
partitions (``repartition_after``), as S3 does "while it repartitions".

Writes larger than ``part_size`` are multipart uploads: a create, one PUT per part (sent one after
another, as CNCF distribution's s3 driver does), and a complete -- each a request that is counted,
rate-limited and billed. Keys spread evenly over the partitions (a registry's blob keys are
digests), so each request goes to a uniformly drawn partition.

With ``client_cost`` each request (each try) first pays the registry's S3 client's own CPU time --
the calibrated ``s3_get_request`` / ``s3_put_request`` prices, a per-request overhead plus a
per-byte cost -- as time on the request's path (not as load on a frontend's cores: the device
does not know which frontend sent it). The store's bandwidth to the registry is the network's business (the storage host's NIC); this
device prices only what a request costs at the store. It offers the Disk interface the receipt
executor and the models use (``read``, ``write``, ``start_io``, the byte meters), so an object
store stands where a storage node's disk stood.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from dataclasses import dataclass

import numpy as np
import simpy

from .disk import DiskFailed, start_process

#: z of the 90th percentile of the standard normal
_Z90 = 1.2815515655446004


@dataclass(frozen=True)
class ObjectStoreParams:
    """An object store's behaviour; defaults and sources in ``regsim.spec.storage_tier``."""

    first_byte_median_s: float = 0.015
    first_byte_p90_s: float = 0.020
    connection_rate: float = 93e6
    get_rate: float = 5500.0
    put_rate: float = 3500.0
    partitions: int = 1
    repartition_after_s: float = 0.0
    burst_s: float = 1.0
    part_size: int = 10 << 20
    attempts: int = 3
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 20.0
    #: the registry's S3 client's own CPU time for one request of ``nbytes`` (PUT when ``write``):
    #: signing, serialisation, parsing -- the calibrated ``s3_*_request`` prices; none: free
    client_cost: Callable[[int, bool], float] | None = None

    def __post_init__(self) -> None:
        for name in ("first_byte_median_s", "connection_rate", "get_rate", "put_rate", "burst_s", "backoff_base_s",
                     "backoff_cap_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"ObjectStoreParams.{name} must be positive, got {getattr(self, name)!r}")
        if self.first_byte_p90_s < self.first_byte_median_s:
            raise ValueError("ObjectStoreParams: the first byte's p90 must be at least its median")
        if self.partitions < 1 or self.attempts < 1 or self.part_size < 1:
            raise ValueError("ObjectStoreParams: partitions, attempts and part_size must be at least 1")

    @property
    def sigma(self) -> float:
        """The lognormal's shape, from its median and 90th percentile."""
        return math.log(self.first_byte_p90_s / self.first_byte_median_s) / _Z90

    def requests_for(self, nbytes: int, *, write: bool) -> int:
        """Requests one read or write of ``nbytes`` makes: 1, or create + parts + complete."""
        if not write or nbytes <= self.part_size:
            return 1
        return math.ceil(nbytes / self.part_size) + 2


class _Bucket:
    """A token bucket: ``rate`` tokens per second, at most ``depth`` held."""

    __slots__ = ("rate", "depth", "tokens", "last")

    def __init__(self, rate: float, depth: float, now: float) -> None:
        self.rate, self.depth, self.tokens, self.last = rate, depth, depth, now

    def take(self, now: float) -> bool:
        self.tokens = min(self.depth, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class ObjectStore:
    """One bucket's service as the registry sees it; counts requests, throttles and bytes."""

    def __init__(self, env: simpy.Environment, params: ObjectStoreParams, rng: np.random.Generator, *,
                 name: str = "object-store") -> None:
        self._env, self.params, self._rng, self.name = env, params, rng, name
        self.failed = False
        self.partitions = params.partitions
        self._buckets: dict[tuple[int, bool], _Bucket] = {}
        self._overload_since: float | None = None
        self._last_throttle = -math.inf
        self._budget_used = {False: 0.0, True: 0.0}
        self._start = env.now
        self.bytes_read = self.bytes_written = 0
        self.reads = self.writes = 0
        self.get_requests = self.put_requests = 0
        self.throttled = self.failed_requests = self.repartitions = 0
        self.latencies: list[float] = []
        #: seconds of the client's own work (``client_cost``) over every request sent
        self.client_s = 0.0

    def __repr__(self) -> str:
        return f"ObjectStore({self.name!r}, partitions={self.partitions}, throttled={self.throttled})"

    # -- the Disk interface ---------------------------------------------------------------------------

    def read(self, nbytes: int) -> Generator[simpy.Event, object, float]:
        """One ranged GET of ``nbytes``; returns its duration."""
        return (yield from self._io(nbytes, write=False))

    def write(self, nbytes: int) -> Generator[simpy.Event, object, float]:
        """One PUT (or multipart upload) of ``nbytes``; returns its duration."""
        return (yield from self._io(nbytes, write=True))

    def start_io(self, nbytes: int, done: Callable[[float | DiskFailed], None], *, write: bool = False) -> None:
        """:meth:`read` or :meth:`write` run on its own; ``done(duration)`` when it ends."""
        start_process(self._env, self._io(nbytes, write=write), done)

    def fail(self) -> int:
        """Make the store refuse requests (an outage); returns 0: requests in flight finish."""
        self.failed = True
        return 0

    def repair(self) -> None:
        self.failed = False

    #: the two request budgets (GET/HEAD and PUT/POST/DELETE) are the store's "slots"
    capacity = 2

    @property
    def busy_s(self) -> float:
        """Budget-seconds used so far: each admitted request uses ``1 / (rate * partitions)``
        seconds of its class's budget, so ``busy_s / (capacity * span)`` is the mean use."""
        return self._budget_used[False] + self._budget_used[True]

    def utilisation(self) -> float:
        """Fraction of the request budgets used since the start, the mean of GETs' and PUTs'."""
        span = self._env.now - self._start
        return self.busy_s / (self.capacity * span) if span > 0 else 0.0

    # -- one operation ---------------------------------------------------------------------------------

    def _io(self, nbytes: int, *, write: bool) -> Generator[simpy.Event, object, float]:
        if nbytes < 0:
            raise ValueError(f"ObjectStore {self.name!r}: negative I/O size {nbytes}")
        if self.failed:
            raise DiskFailed(f"object store {self.name!r} is down: request refused at t={self._env.now:g}")
        t0 = self._env.now
        p = self.params
        if write and nbytes > p.part_size:
            yield from self._request(0, write=True)  # CreateMultipartUpload
            left = nbytes
            while left > 0:
                part = min(p.part_size, left)
                yield from self._request(part, write=True)
                left -= part
            yield from self._request(0, write=True)  # CompleteMultipartUpload
        else:
            yield from self._request(nbytes, write=write)
        if write:
            self.bytes_written += nbytes
            self.writes += 1
        else:
            self.bytes_read += nbytes
            self.reads += 1
        elapsed = self._env.now - t0
        self.latencies.append(elapsed)
        return elapsed

    def _request(self, nbytes: int, *, write: bool) -> Generator[simpy.Event, object, None]:
        """One HTTP request to the store, retried until admitted."""
        p = self.params
        tries = 0
        while True:
            if p.client_cost is not None:  # signing and sending, before the request leaves
                cost = p.client_cost(nbytes, write)
                self.client_s += cost
                yield self._env.timeout(cost)
            first_byte = self._first_byte()
            if self._admit(write):
                if write:
                    self.put_requests += 1
                else:
                    self.get_requests += 1
                yield self._env.timeout(first_byte + nbytes / p.connection_rate)
                return
            self.throttled += 1
            yield self._env.timeout(first_byte)  # the 503 comes back after the round trip
            tries += 1
            if tries == p.attempts:  # the SDK gives up; the caller starts a fresh request
                self.failed_requests += 1
                tries = 0
                continue
            ceiling = min(p.backoff_cap_s, p.backoff_base_s * 2.0 ** (tries - 1))
            yield self._env.timeout(float(self._rng.uniform(0.0, ceiling)))

    def _first_byte(self) -> float:
        p = self.params
        return float(p.first_byte_median_s * math.exp(p.sigma * self._rng.standard_normal()))

    def _admit(self, write: bool) -> bool:
        now, p = self._env.now, self.params
        part = int(self._rng.integers(self.partitions)) if self.partitions > 1 else 0
        bucket = self._buckets.get((part, write))
        rate = p.put_rate if write else p.get_rate
        if bucket is None:
            bucket = self._buckets[(part, write)] = _Bucket(rate, rate * p.burst_s, now)
        if bucket.take(now):
            self._budget_used[write] += 1.0 / (rate * self.partitions)
            return True
        self._note_throttle(now)
        return False

    def _note_throttle(self, now: float) -> None:
        """Track a sustained overload; after ``repartition_after`` of it, double the partitions."""
        after = self.params.repartition_after_s
        if after <= 0:
            return
        if self._overload_since is None or now - self._last_throttle > after:
            self._overload_since = now
        self._last_throttle = now
        if now - self._overload_since >= after:
            self.partitions *= 2
            self.repartitions += 1
            self._overload_since = None
