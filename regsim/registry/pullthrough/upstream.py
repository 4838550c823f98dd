"""Upstream registries: the protocol a pull-through cache fetches through, and one in memory.

:class:`Upstream` is all the cache needs from a remote registry: a manifest by tag or digest (a
GET), a manifest's digest (a HEAD, to revalidate a cached tag), a blob (a GET). Each raises
:class:`~.errors.UpstreamRateLimited` (429) or :class:`~.errors.UpstreamUnavailable` (down), or
the registry's own ``ManifestUnknown`` / ``BlobUnknown`` / ``NameUnknown`` (404).

:class:`RegistryUpstream` is such a remote in memory, built on a real
:class:`~regsim.registry.registry.Registry` that holds the content, with Docker Hub's pull limit
and injected outages. It serves any number of clients; :meth:`RegistryUpstream.client` gives the
:class:`Upstream` one client sees (a cache's address or account: its identity is what the limit
is counted against). What counts as a pull follows Docker Hub's definition
(docs.docker.com/docker-hub/usage/pulls/, "Pull definition" and "View pull rate and limit"):

- a GET of an image manifest is one pull, whether by tag or by digest;
- a HEAD of a manifest (a "version check") is never counted, and is answered even when the
  budget is spent (it is how clients read ``ratelimit-remaining``);
- blob GETs are never counted (a pull is defined by manifests);
- a GET of an index (a multi-arch manifest list) is not counted by default: Docker counts a
  multi-arch pull as one pull per architecture, i.e. per image manifest fetched. Set
  ``count_index_gets=True`` to count it too. (Assumption: an uncounted GET is not refused.)

A counted GET with the budget spent is answered 429 and served nothing (whether a GET counts
depends on the manifest's media type, so its metadata is looked up first: a GET of something that
does not exist is a 404 either way); a GET that fails takes nothing from the budget. The
upstream's own registry work is done under :func:`~regsim.registry.receipts.suspended`: it is
the remote's cost, not the cache's.
Everything happens on ``clock`` (the registry's, unless given), never on the wall clock.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple, Protocol, runtime_checkable

from .. import receipts
from ..descriptors import INDEX_MANIFESTS
from ..digest import Digest
from ..registry import Registry
from .errors import UpstreamRateLimited, UpstreamUnavailable
from .ratelimit import RateLimit, RateLimiter
from .results import BLOB_GET, MANIFEST_GET, MANIFEST_HEAD

#: the client identity of requests that give none (Docker Hub: an anonymous client's address)
ANONYMOUS = "anonymous"


class UpstreamManifest(NamedTuple):
    """A manifest as an upstream sends it: the bytes, ``Content-Type`` and
    ``Docker-Content-Digest``."""

    data: bytes
    media_type: str
    digest: Digest


@runtime_checkable
class Upstream(Protocol):
    """A remote registry as one client sees it. ``name`` identifies it in results and stats."""

    name: str

    def get_manifest(self, repo: str, reference: str) -> UpstreamManifest: ...

    def head_manifest(self, repo: str, reference: str) -> Digest: ...

    def get_blob(self, repo: str, digest: str | Digest) -> bytes: ...


@dataclass(frozen=True)
class Outage:
    """The upstream answers nothing (503) from ``start`` (included) to ``end`` (excluded)."""

    start: float
    end: float

    def covers(self, t: float) -> bool:
        return self.start <= t < self.end


class LogEntry(NamedTuple):
    """One request the upstream received: when, from whom, what, and its answer."""

    at: float
    client: str
    kind: str
    repo: str
    reference: str
    status: int
    counted: bool
    bytes: int
    digest: Digest | None


@dataclass
class ClientCounters:
    """What one client asked of the upstream and how it was answered."""

    pulls: int = 0  # counted manifest GETs served
    refused: int = 0  # 429s
    unavailable: int = 0  # answered 503 (outage)
    not_found: int = 0
    manifest_gets: int = 0  # every manifest GET served, counted or not
    manifest_heads: int = 0
    blob_gets: int = 0
    bytes_served: int = 0


class RegistryUpstream:
    """A remote registry in memory: ``registry`` holds the content; ``limit`` (None: unlimited)
    is applied per client identity; :meth:`down_between` injects outages.

    ``log=True`` keeps every request in :attr:`log` (tests, traces); counters per client are
    always kept in :attr:`clients`.
    """

    def __init__(self, registry: Registry, *, name: str = "upstream", limit: RateLimit | None = None,
                 clock: Callable[[], float] | None = None, count_index_gets: bool = False,
                 log: bool = False) -> None:
        self.registry = registry
        self.name = name
        self.clock = clock if clock is not None else registry.clock
        self.limit = limit
        self.limiter = RateLimiter(limit, self.clock) if limit is not None else None
        self.count_index_gets = count_index_gets
        self.outages: list[Outage] = []
        self._down = False
        self.clients: dict[str, ClientCounters] = {}
        self.log: list[LogEntry] | None = [] if log else None

    def __repr__(self) -> str:
        return f"RegistryUpstream({self.name!r}, limit={self.limit!r})"

    # -- failures ------------------------------------------------------------------------------

    def down_between(self, start: float, end: float) -> Outage:
        """Be down (answer 503 to everything) over ``[start, end)`` on the clock."""
        if not end > start:
            raise ValueError(f"an outage must end after it starts, got [{start}, {end})")
        outage = Outage(float(start), float(end))
        self.outages.append(outage)
        return outage

    def set_down(self, down: bool) -> None:
        """Be down (or up again) from now until told otherwise, beside any scheduled outage."""
        self._down = down

    def is_down(self, at: float | None = None) -> bool:
        t = self.clock() if at is None else at
        return self._down or any(o.covers(t) for o in self.outages)

    # -- clients -------------------------------------------------------------------------------

    def client(self, identity: str = ANONYMOUS) -> UpstreamClient:
        """The upstream as the client ``identity`` sees it (its pulls count against its budget)."""
        return UpstreamClient(self, identity)

    def counters(self, client: str) -> ClientCounters:
        c = self.clients.get(client)
        if c is None:
            c = self.clients[client] = ClientCounters()
        return c

    def ratelimit_headers(self, client: str) -> dict[str, str]:
        """The rate-limit headers a manifest response to ``client`` carries (none when unlimited)."""
        return self.limiter.headers(client) if self.limiter is not None else {}

    def pulls_counted(self, client: str) -> int:
        """Counted pulls ``client`` was served, in all."""
        return self.counters(client).pulls

    # -- the API -------------------------------------------------------------------------------

    def get_manifest(self, repo: str, reference: str, *, client: str = ANONYMOUS) -> UpstreamManifest:
        now = self.clock()
        counters = self.counters(client)
        self._check_up(now, client, MANIFEST_GET, repo, reference)
        with receipts.suspended():
            try:
                digest, media_type, _ = self.registry.repos.manifest_info(repo, reference)
            except Exception as exc:
                self._not_found(exc, now, client, MANIFEST_GET, repo, reference)
                raise
            counted = self.limiter is not None and (self.count_index_gets or media_type not in INDEX_MANIFESTS)
            if counted:
                decision = self.limiter.check(client)
                if not decision.allowed:
                    counters.refused += 1
                    self._log(now, client, MANIFEST_GET, repo, reference, 429, False, 0, None)
                    raise UpstreamRateLimited(
                        f"{self.name}: you have reached your pull rate limit ({self.limit.pulls} pulls per "
                        f"{self.limit.window_s:g} s for {client}); retry after {decision.retry_after:g} s",
                        retry_after=decision.retry_after, upstream=self.name, limit=self.limit.pulls,
                        window_s=self.limit.window_s)
            stored = self.registry.get_manifest(repo, str(digest))
        if counted:
            self.limiter.take(client)
            counters.pulls += 1
        counters.manifest_gets += 1
        counters.bytes_served += len(stored.data)
        self._log(now, client, MANIFEST_GET, repo, reference, 200, counted, len(stored.data), stored.digest)
        return UpstreamManifest(stored.data, stored.media_type, stored.digest)

    def head_manifest(self, repo: str, reference: str, *, client: str = ANONYMOUS) -> Digest:
        now = self.clock()
        self._check_up(now, client, MANIFEST_HEAD, repo, reference)
        with receipts.suspended():
            try:
                digest, _, _ = self.registry.repos.manifest_info(repo, reference)
            except Exception as exc:
                self._not_found(exc, now, client, MANIFEST_HEAD, repo, reference)
                raise
        self.counters(client).manifest_heads += 1
        self._log(now, client, MANIFEST_HEAD, repo, reference, 200, False, 0, digest)
        return digest

    def get_blob(self, repo: str, digest: str | Digest, *, client: str = ANONYMOUS) -> bytes:
        now = self.clock()
        d = Digest.parse(digest)
        self._check_up(now, client, BLOB_GET, repo, str(d))
        with receipts.suspended():
            try:
                data = self.registry.get_blob(repo, d)
            except Exception as exc:
                self._not_found(exc, now, client, BLOB_GET, repo, str(d))
                raise
        counters = self.counters(client)
        counters.blob_gets += 1
        counters.bytes_served += len(data)
        self._log(now, client, BLOB_GET, repo, str(d), 200, False, len(data), d)
        return data

    # -- helpers -------------------------------------------------------------------------------

    def _check_up(self, now: float, client: str, kind: str, repo: str, reference: str) -> None:
        if self.is_down(now):
            self.counters(client).unavailable += 1
            self._log(now, client, kind, repo, reference, 503, False, 0, None)
            raise UpstreamUnavailable(f"{self.name} is unavailable (503) at t={now:g}", upstream=self.name)

    def _not_found(self, exc: Exception, now: float, client: str, kind: str, repo: str, reference: str) -> None:
        status = getattr(exc, "status", 500)
        if status == 404:
            self.counters(client).not_found += 1
        self._log(now, client, kind, repo, reference, status, False, 0, None)

    def _log(self, at: float, client: str, kind: str, repo: str, reference: str, status: int, counted: bool,
             nbytes: int, digest: Digest | None) -> None:
        if self.log is not None:
            self.log.append(LogEntry(at, client, kind, repo, reference, status, counted, nbytes, digest))

    def served(self) -> Counter[tuple[str, str]]:
        """Requests answered 200, by (client, kind), from the log (needs ``log=True``)."""
        if self.log is None:
            raise ValueError(f"{self.name} keeps no log; create it with log=True")
        return Counter((e.client, e.kind) for e in self.log if e.status == 200)


class UpstreamClient:
    """A :class:`RegistryUpstream` as client ``identity`` sees it: an :class:`Upstream`."""

    def __init__(self, upstream: RegistryUpstream, identity: str) -> None:
        self.upstream = upstream
        self.identity = identity
        self.name = upstream.name

    def __repr__(self) -> str:
        return f"UpstreamClient({self.name!r}, {self.identity!r})"

    def get_manifest(self, repo: str, reference: str) -> UpstreamManifest:
        return self.upstream.get_manifest(repo, reference, client=self.identity)

    def head_manifest(self, repo: str, reference: str) -> Digest:
        return self.upstream.head_manifest(repo, reference, client=self.identity)

    def get_blob(self, repo: str, digest: str | Digest) -> bytes:
        return self.upstream.get_blob(repo, digest, client=self.identity)

    def ratelimit_headers(self) -> dict[str, str]:
        return self.upstream.ratelimit_headers(self.identity)


__all__ = ["ANONYMOUS", "ClientCounters", "LogEntry", "Outage", "RegistryUpstream", "Upstream", "UpstreamClient",
           "UpstreamManifest"]
