"""A pull-through cache: manifests and blobs served from a local registry, misses fetched upstream.

:class:`PullThroughCache` answers pulls of repositories routed to upstream registries
(:mod:`.routes`) from its own store, a :class:`~regsim.registry.registry.Registry`, and fetches
what it lacks from the route's upstreams (:mod:`.upstream`), in fallback order.

Freshness. Blobs, and manifests asked for by digest, are content-addressed: a cached copy is
always right and is never revalidated. A tag is a name whose target changes: a cached tag is fresh
for ``manifest_ttl_s`` seconds after the upstream last confirmed it; after that the next request
revalidates it with a HEAD upstream, which Docker Hub does not count as a pull. Unchanged digest:
the cached copy is served. Changed: the new manifest is fetched with a GET (a pull) -- unless the
new digest is already cached (another tag, a pull by digest), then no GET at all. The default TTL
is 0, CNCF distribution's behaviour: its proxy asks the remote for a tag's digest on every request
(``registry/proxy/proxytagservice.go``: remote first, the local tag only if the remote fails;
docs/content/recipes/mirror.md: "When a pull is attempted with a tag, the Registry checks the
remote"). A model that wants fewer upstream round trips sets a TTL (e.g. 300 s).
A tag that is not cached at all is HEADed too before it is fetched (``head_first``, on by
default, as in distribution, whose tag service always asks the remote for the digest first): a tag
whose digest is already cached under another name then costs no pull, and the GET is by digest.
``head_first=False`` saves that round trip on a cold tag (one GET by tag instead).

Errors. When every upstream refuses (429) or fails and a copy of the tag is cached, that copy is
served (stale-if-error; ``stale_serves``), as distribution's tag service falls back to its local
tag on any remote error; ``stale_if_error=False`` turns that off. With no copy, the request fails
with :class:`~.errors.UpstreamRateLimited` (the cache answers 429, ``Retry-After`` the soonest any
upstream frees a slot) or :class:`~.errors.UpstreamUnavailable` (502); if every upstream said 404,
with the registry's own 404 error.

Capacity. Every cached object -- blob or manifest -- takes its size in bytes from ``capacity``,
managed by an LRU or LFU policy of :mod:`regsim.registry.cache.policies`; an object is kept once
whatever the repositories it is linked into; an eviction deletes its bytes from the store and
forgets the tags that pointed at it. An object larger than the capacity is served and not kept
(``pass_through``). Distribution instead expires content a fixed time after it was fetched (its
``proxy.ttl``, 7 days by default); not modelled here.

Driving it. The synchronous calls -- :meth:`PullThroughCache.get_manifest`,
:meth:`~PullThroughCache.get_blob`, :meth:`~PullThroughCache.pull` -- are for callers without
concurrency. A discrete-event model drives each request in steps, so that requests overlap::

    step = cache.begin_blob(repo, digest)   # at the request's arrival
    if isinstance(step, Fetched):           # a hit: done (price a local read)
        ...
    elif isinstance(step, Follower):        # another request's fill of it is in flight:
        step.add_callback(wake)             #   wait; step.result() is the Fetched (or raises)
    else:                                   # a Fill: this request leads the fetch
        requests = cache.fetch(step)        #   the upstream requests happen now (clock time)
        ...                                 #   price them: a round trip each + their bytes
        result = cache.complete(step)       #   at the end of the transfer; wakes the followers

A fill's upstream requests, the store writes and the admission happen in :meth:`fetch`; the new
content becomes visible to other requests only at :meth:`complete`, so a request that arrives in
between is a follower (coalescing on) or makes its own fetch upstream (off: every concurrent miss
goes upstream, as in distribution, whose proxy has no single flight for blobs). An approximation:
a HEAD and the GET after it are made at the same instant; a model may space them by a round trip
when it prices them.

The index of what is cached (tags, manifests, blob links) lives in memory; the bytes live in the
store. Every step reads ``clock``, never the wall clock.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from .. import receipts
from ..cache.policies import CachePolicy, make_policy
from ..digest import Digest, verify
from ..errors import BlobUnknown, DigestInvalid, RegistryError
from ..manifests import parse_manifest
from ..names import is_digest_reference, validate_tag
from ..registry import Registry
from .coalesce import Coalescer, Follower, Leader
from .errors import PullThroughError, UpstreamRateLimited, UpstreamUnavailable
from .results import BLOB_GET, MANIFEST_GET, MANIFEST_HEAD, Fetched, UpstreamRequest
from .routes import Route, Router
from .stats import PullThroughStats
from .upstream import Upstream

FillKind = Literal["manifest", "blob"]

#: capacity of a cache created without one: effectively unbounded
UNBOUNDED = 1 << 62


@dataclass
class _Tag:
    digest: Digest
    validated_at: float


@dataclass(frozen=True)
class _Outcome:
    """What a fill's fetch produced, published at completion."""

    source: str  # "upstream", "cache" (revalidated), "stale"
    data: bytes
    digest: Digest
    media_type: str | None
    upstream: str | None
    stored: bool
    revalidated: bool = False
    changed: bool = False
    stale_reason: str | None = None


class Fill:
    """A fetch upstream that one request leads (see the module docstring for the protocol).

    ``requests`` lists the upstream requests :meth:`PullThroughCache.fetch` made, for pricing;
    ``key`` is what followers coalesce on.
    """

    __slots__ = ("kind", "repo", "reference", "key", "leader", "requests", "fetched", "fetched_at", "_outcome",
                 "_error")

    def __init__(self, kind: FillKind, repo: str, reference: str, key: Hashable, leader: Leader) -> None:
        self.kind = kind
        self.repo = repo
        self.reference = reference
        self.key = key
        self.leader = leader
        self.requests: list[UpstreamRequest] = []
        self.fetched = False
        self.fetched_at: float | None = None
        self._outcome: _Outcome | None = None
        self._error: BaseException | None = None

    def __repr__(self) -> str:
        state = "done" if self.leader.done else "fetched" if self.fetched else "new"
        return f"Fill({self.kind} {self.repo}:{self.reference}, {state})"

    @property
    def failed(self) -> bool:
        """The fetch found no answer to give (known once fetched)."""
        return self._error is not None


Step = Fetched | Fill | Follower


class PullThroughCache:
    """Serves pulls from ``store``, fetching misses through ``routes`` (see the module docstring).

    ``routes``: a :class:`~.routes.Router`, or what one is built from (prefix -> upstream or
    upstreams). ``capacity`` in bytes (None: unbounded) with ``policy`` ``lru`` or ``lfu``, or a
    :class:`~regsim.registry.cache.policies.CachePolicy` instance (then no ``capacity``).
    ``coalescing``: concurrent misses for the same content wait for one fetch. ``share_blobs``: a
    blob cached for one repository is served to another from the cache (content addressing makes
    that safe for public content); off by default, as in distribution, whose repositories each
    fetch their blobs (stored once, linked per repository).
    """

    def __init__(self, store: Registry, routes: Router | Mapping[str, Upstream | Sequence[Upstream]] | Sequence[Route],
                 *, clock: Callable[[], float] | None = None, capacity: int | None = None,
                 policy: str | CachePolicy = "lru", manifest_ttl_s: float = 0.0, coalescing: bool = True,
                 stale_if_error: bool = True, head_first: bool = True, share_blobs: bool = False) -> None:
        if not manifest_ttl_s >= 0:
            raise ValueError(f"manifest_ttl_s must be a non-negative number of seconds, got {manifest_ttl_s!r}")
        self.store = store
        self.router = routes if isinstance(routes, Router) else Router(routes)
        self.clock = clock if clock is not None else store.clock
        if isinstance(policy, CachePolicy):
            if capacity is not None:
                raise ValueError("give the capacity to the policy instance, not to the cache as well")
            self.policy = policy
        else:
            self.policy = make_policy(policy, UNBOUNDED if capacity is None else capacity)
        previous = self.policy.on_evict

        def on_evict(key: Hashable, size: int) -> None:
            self._evicted(key, size)
            if previous is not None:
                previous(key, size)

        self.policy.on_evict = on_evict
        self.manifest_ttl_s = float(manifest_ttl_s)
        self.coalescer = Coalescer(enabled=coalescing)
        self.stale_if_error = stale_if_error
        self.head_first = head_first
        self.share_blobs = share_blobs
        self.stats = PullThroughStats()
        #: (repo, tag) -> its digest and when an upstream last confirmed it
        self._tags: dict[tuple[str, str], _Tag] = {}
        self._tags_by_digest: dict[Digest, set[tuple[str, str]]] = {}
        #: (repo, manifest digest) -> media type, for the manifests visible in each repository
        self._manifests: dict[tuple[str, Digest], str] = {}
        #: digest -> repositories its cached blob is visible in
        self._blobs: dict[Digest, set[str]] = {}
        #: digest -> repositories the store has it linked into (visible or still being filled)
        self._linked: dict[Digest, set[str]] = {}

    def __repr__(self) -> str:
        return (f"PullThroughCache(routes={[r.prefix for r in self.router.routes]}, policy={self.policy!r}, "
                f"ttl={self.manifest_ttl_s:g}s, coalescing={self.coalescer.enabled})")

    @property
    def coalescing(self) -> bool:
        return self.coalescer.enabled

    # -- what is cached ------------------------------------------------------------------------

    def cached_tag(self, repo: str, tag: str) -> Digest | None:
        """The digest cached for ``repo:tag`` (fresh or not), None if none."""
        entry = self._tags.get((repo, tag))
        return entry.digest if entry is not None else None

    def has_manifest(self, repo: str, digest: str | Digest) -> bool:
        return (repo, Digest.parse(digest)) in self._manifests

    def has_blob(self, repo: str, digest: str | Digest) -> bool:
        return repo in self._blobs.get(Digest.parse(digest), ())

    @property
    def used_bytes(self) -> int:
        return self.policy.used

    # -- requests, in steps --------------------------------------------------------------------

    def begin_manifest(self, repo: str, reference: str) -> Step:
        """A client asks for ``repo``'s manifest ``reference`` (a tag or a digest): a hit
        (:class:`~.results.Fetched`), a :class:`Fill` to lead, or a :class:`Follower`."""
        self.stats.requests += 1
        try:
            self.router.resolve(repo)
            reference = self._reference(reference)
        except RegistryError:
            self.stats.errors += 1
            raise
        hit = self._manifest_hit(repo, reference)
        if hit is not None:
            return hit
        return self._begin_fill("manifest", repo, reference)

    def begin_blob(self, repo: str, digest: str | Digest) -> Step:
        """A client asks for blob ``digest`` of ``repo``: a hit, a :class:`Fill` or a :class:`Follower`."""
        self.stats.requests += 1
        try:
            self.router.resolve(repo)
            d = Digest.parse(digest)
        except RegistryError:
            self.stats.errors += 1
            raise
        hit = self._blob_hit(repo, d)
        if hit is not None:
            return hit
        return self._begin_fill("blob", repo, str(d))

    def fetch(self, fill: Fill) -> tuple[UpstreamRequest, ...]:
        """Make ``fill``'s requests upstream now; returns them (one round trip each, in order).

        Errors are not raised here but at :meth:`complete`, so the driver can price the failed
        attempts first (a 429 is a round trip too)."""
        if fill.fetched:
            raise PullThroughError(f"{fill!r} fetched twice")
        fill.fetched = True
        fill.fetched_at = self.clock()
        route, upstream_repo = self.router.resolve(fill.repo)
        if fill.kind == "blob":
            self._fetch_blob(fill, route, upstream_repo)
        else:
            self._fetch_manifest(fill, route, upstream_repo)
        return tuple(fill.requests)

    def complete(self, fill: Fill) -> Fetched:
        """End ``fill`` (its transfer is over): publish what it fetched, resolve its followers,
        return its answer -- or raise its error (followers get the same)."""
        if not fill.fetched:
            raise PullThroughError(f"{fill!r} completed before it was fetched")
        if fill.leader.done:
            raise PullThroughError(f"{fill!r} completed twice")
        if fill._error is not None:
            self.stats.errors += 1
            followers = self.coalescer.fail(fill.leader, fill._error)
            self.stats.coalesced_errors += len(followers)
            raise fill._error
        outcome = fill._outcome
        assert outcome is not None
        stored = self._publish(fill, outcome)
        result = Fetched(source=outcome.source, data=outcome.data, digest=outcome.digest,  # type: ignore[arg-type]
                         media_type=outcome.media_type, upstream_requests=tuple(fill.requests), stored=stored,
                         revalidated=outcome.revalidated, upstream=outcome.upstream,
                         stale_reason=outcome.stale_reason)
        if outcome.source == "upstream":
            self.stats.misses += 1
        elif outcome.source == "stale":
            self.stats.stale_serves += 1
        else:
            self.stats.hits += 1
        followers = self.coalescer.complete(fill.leader, replace(result, source="coalesced", upstream_requests=(),
                                                                  revalidated=False))
        self.stats.bytes_served += result.bytes * (1 + len(followers))
        return result

    # -- requests, in one call -----------------------------------------------------------------

    def get_manifest(self, repo: str, reference: str) -> Fetched:
        """:meth:`begin_manifest`, then :meth:`fetch` and :meth:`complete` on a miss."""
        try:
            key = ("manifest", repo, self._reference(reference))
        except RegistryError:
            key = None  # a bad reference: begin_manifest counts and raises it
        self._refuse_if_in_flight(key)
        return self._run(self.begin_manifest(repo, reference))

    def get_blob(self, repo: str, digest: str | Digest) -> Fetched:
        """:meth:`begin_blob`, then :meth:`fetch` and :meth:`complete` on a miss."""
        try:
            key = ("blob", repo, str(Digest.parse(digest)))
        except RegistryError:
            key = None  # a bad digest: begin_blob counts and raises it
        self._refuse_if_in_flight(key)
        return self._run(self.begin_blob(repo, digest))

    def pull(self, repo: str, reference: str) -> list[Fetched]:
        """A client's pull of an image: the manifest, then its config and layers (an index: the
        index only). Returns the answers in that order; the first error ends the pull."""
        manifest = self.get_manifest(repo, reference)
        with receipts.suspended():  # reading the manifest is the client's work, not the cache's
            parsed = parse_manifest(manifest.data, manifest.media_type)
        return [manifest, *(self.get_blob(repo, b.digest) for b in parsed.required_blobs())]

    # -- hits ----------------------------------------------------------------------------------

    def _manifest_hit(self, repo: str, reference: str) -> Fetched | None:
        if is_digest_reference(reference):
            d = Digest.parse(reference)
            media_type = self._manifests.get((repo, d))
            if media_type is None:
                return None
        else:
            entry = self._tags.get((repo, reference))
            if entry is None or self.clock() - entry.validated_at >= self.manifest_ttl_s:
                return None
            d = entry.digest
            media_type = self._manifests.get((repo, d))
            if media_type is None:  # never: evicting a manifest forgets its tags
                return None
        return self._hit(repo, d, media_type)

    def _blob_hit(self, repo: str, d: Digest) -> Fetched | None:
        visible = self._blobs.get(d)
        if not visible:
            return None
        if repo not in visible:
            if not self.share_blobs:
                return None
            self.store.mount_blob(repo, next(iter(visible)), d)
            visible.add(repo)
            self._linked.setdefault(d, set()).add(repo)
        return self._hit(repo, d, None)

    def _hit(self, repo: str, d: Digest, media_type: str | None) -> Fetched:
        data = self.store.get_blob(repo, d)
        self.policy.request(d, len(data))
        self.stats.hits += 1
        self.stats.bytes_served += len(data)
        return Fetched(source="cache", data=data, digest=d, media_type=media_type)

    # -- fills ---------------------------------------------------------------------------------

    def _begin_fill(self, kind: FillKind, repo: str, reference: str) -> Fill | Follower:
        key = (kind, repo, reference)
        token = self.coalescer.begin(key)
        if isinstance(token, Follower):
            self.stats.coalesced_waits += 1
            return token
        fill = Fill(kind, repo, reference, key, token)
        token.context = fill
        return fill

    def _fetch_blob(self, fill: Fill, route: Route, upstream_repo: str) -> None:
        d = Digest.parse(fill.reference)
        errors: list[RegistryError] = []
        for up in route.upstreams:
            try:
                data = up.get_blob(upstream_repo, d)
            except RegistryError as exc:
                errors.append(self._failed(fill, up, BLOB_GET, upstream_repo, str(d), exc))
                continue
            try:
                stored = self._store(fill.repo, d, data)
            except DigestInvalid as exc:
                errors.append(self._bad_content(fill, up, BLOB_GET, upstream_repo, str(d), data, exc))
                continue
            self._record(fill, up, BLOB_GET, upstream_repo, str(d), 200, len(data))
            fill._outcome = _Outcome("upstream", data, d, None, up.name, stored)
            return
        fill._error = self._give_up(errors, fill, "blob")

    def _fetch_manifest(self, fill: Fill, route: Route, upstream_repo: str) -> None:
        by_digest = is_digest_reference(fill.reference)
        cached: Digest | None = None
        if not by_digest:
            entry = self._tags.get((fill.repo, fill.reference))
            cached = entry.digest if entry is not None else None
        head = not by_digest and (cached is not None or self.head_first)
        errors: list[RegistryError] = []
        for up in route.upstreams:
            target = fill.reference
            if head:
                try:
                    current = up.head_manifest(upstream_repo, fill.reference)
                except RegistryError as exc:
                    errors.append(self._failed(fill, up, MANIFEST_HEAD, upstream_repo, fill.reference, exc))
                    continue
                self._record(fill, up, MANIFEST_HEAD, upstream_repo, fill.reference, 200, 0)
                if (fill.repo, current) in self._manifests:  # unchanged, or changed to what is cached
                    data = self.store.get_blob(fill.repo, current)
                    self.policy.request(current, len(data))
                    changed = current != cached
                    if cached is not None:
                        if changed:
                            self.stats.revalidations_changed += 1
                        else:
                            self.stats.revalidations += 1
                    fill._outcome = _Outcome("cache", data, current, self._manifests[(fill.repo, current)], up.name,
                                             True, revalidated=True, changed=changed)
                    return
                if cached is not None:
                    self.stats.revalidations_changed += 1
                target = str(current)  # GET what the HEAD named, as distribution does
            try:
                manifest = up.get_manifest(upstream_repo, target)
            except RegistryError as exc:
                errors.append(self._failed(fill, up, MANIFEST_GET, upstream_repo, target, exc))
                continue
            want = Digest.parse(target) if is_digest_reference(target) else manifest.digest
            try:
                stored = self._store(fill.repo, want, manifest.data)
            except DigestInvalid as exc:
                errors.append(self._bad_content(fill, up, MANIFEST_GET, upstream_repo, target, manifest.data, exc))
                continue
            self._record(fill, up, MANIFEST_GET, upstream_repo, target, 200, len(manifest.data))
            fill._outcome = _Outcome("upstream", manifest.data, want, manifest.media_type, up.name, stored,
                                     changed=cached is not None)
            return
        if cached is not None and self.stale_if_error and (fill.repo, cached) in self._manifests:
            data = self.store.get_blob(fill.repo, cached)
            self.policy.request(cached, len(data))
            reason = ",".join(str(r.status) for r in fill.requests if not r.ok)
            fill._outcome = _Outcome("stale", data, cached, self._manifests[(fill.repo, cached)], None, True,
                                     stale_reason=reason)
            return
        fill._error = self._give_up(errors, fill, "manifest")

    def _store(self, repo: str, d: Digest, data: bytes) -> bool:
        """Admit ``data`` (verified against ``d``) into the store if the policy keeps it; True if kept."""
        self.policy.request(d, len(data))  # a use if held, else a miss that admits it if it fits
        if d in self.policy:
            try:
                self.store.put_blob(repo, data, d)  # verifies the digest, stores the bytes once
            except DigestInvalid:
                if d not in self._linked:
                    self.policy.discard(d)
                raise
            self._linked.setdefault(d, set()).add(repo)
            return True
        verify(data, d)
        self.stats.pass_through += 1
        return False

    def _publish(self, fill: Fill, outcome: _Outcome) -> bool:
        """Make a completed fill's content visible to later requests; True if it is cached."""
        d = outcome.digest
        if outcome.source == "stale":
            return (fill.repo, d) in self._manifests
        if not (outcome.stored and d in self.policy and fill.repo in self._linked.get(d, ())):
            return False  # passed through, or evicted since the fetch
        if fill.kind == "blob":
            self._blobs.setdefault(d, set()).add(fill.repo)
            return True
        self._manifests[(fill.repo, d)] = outcome.media_type or ""
        if not is_digest_reference(fill.reference):
            key = (fill.repo, fill.reference)
            old = self._tags.get(key)
            if old is not None and old.digest != d:
                self._tags_by_digest.get(old.digest, set()).discard(key)
            assert fill.fetched_at is not None
            self._tags[key] = _Tag(d, fill.fetched_at)
            self._tags_by_digest.setdefault(d, set()).add(key)
        return True

    def _evicted(self, key: Hashable, size: int) -> None:
        d = Digest.parse(key)  # type: ignore[arg-type]  # the cache's keys are digests
        self.stats.evictions += 1
        self.stats.evicted_bytes += size
        for repo in self._linked.pop(d, set()):
            self._manifests.pop((repo, d), None)
            try:
                self.store.delete_blob(repo, d)
            except BlobUnknown:
                pass
        self._blobs.pop(d, None)
        for tag_key in self._tags_by_digest.pop(d, set()):
            entry = self._tags.get(tag_key)
            if entry is not None and entry.digest == d:
                del self._tags[tag_key]
        if self.store.blobs.exists(d):
            self.store.blobs.delete(d)

    # -- upstream bookkeeping ------------------------------------------------------------------

    def _record(self, fill: Fill, up: Upstream, kind: str, repo: str, reference: str, status: int, nbytes: int,
                retry_after: float | None = None) -> None:
        fill.requests.append(UpstreamRequest(up.name, kind, repo, reference, status, nbytes,
                                             fill.fetched_at or 0.0, retry_after))
        s = self.stats
        s.upstream_requests[kind] += 1
        s.upstream_requests_by_upstream[up.name] += 1
        s.bytes_from_upstream += nbytes
        if status == 429:
            s.upstream_429s += 1
        elif status >= 500:
            s.upstream_unavailable += 1
        elif status == 404:
            s.upstream_not_found += 1

    def _failed(self, fill: Fill, up: Upstream, kind: str, repo: str, reference: str,
                exc: RegistryError) -> RegistryError:
        retry_after = exc.retry_after if isinstance(exc, UpstreamRateLimited) else None
        status = 503 if isinstance(exc, UpstreamUnavailable) else exc.status
        self._record(fill, up, kind, repo, reference, status, 0, retry_after)
        return exc

    def _bad_content(self, fill: Fill, up: Upstream, kind: str, repo: str, reference: str, data: bytes,
                     exc: DigestInvalid) -> RegistryError:
        self._record(fill, up, kind, repo, reference, 502, len(data))
        return UpstreamUnavailable(f"{up.name} sent {kind} content for {repo}:{reference} that does not match "
                                   f"its digest: {exc.message}", upstream=up.name)

    def _give_up(self, errors: list[RegistryError], fill: Fill, what: str) -> RegistryError:
        """The error of a fill no upstream could answer: the upstream's own if there was one;
        404 if all said so; else 429 if any refused (Retry-After: the soonest), else 502."""
        if len(errors) == 1:
            return errors[0]
        limited = [e for e in errors if isinstance(e, UpstreamRateLimited)]
        failed = [e for e in errors if isinstance(e, UpstreamUnavailable)]
        if not limited and not failed:
            return errors[0]
        names = ", ".join(sorted({getattr(e, "upstream", None) or "?" for e in errors}))
        if limited:
            soonest = min(limited, key=lambda e: e.retry_after)
            return UpstreamRateLimited(
                f"every upstream of {fill.repo} refused or failed the {what} {fill.reference} ({names}); "
                f"retry after {soonest.retry_after:g} s", retry_after=soonest.retry_after,
                limit=soonest.limit, window_s=soonest.window_s)
        return UpstreamUnavailable(f"no upstream of {fill.repo} could serve the {what} {fill.reference} ({names})")

    # -- helpers -------------------------------------------------------------------------------

    @staticmethod
    def _reference(reference: str) -> str:
        if is_digest_reference(reference):
            return str(Digest.parse(reference))
        return validate_tag(reference)

    def _refuse_if_in_flight(self, key: tuple[str, str, str] | None) -> None:
        if key is not None and self.coalescer.in_flight(key):
            kind, repo, reference = key
            raise PullThroughError(f"{kind} {repo}:{reference} is being fetched by another request; "
                                   "a synchronous call cannot wait for it (use begin_*/fetch/complete)")

    def _run(self, step: Step) -> Fetched:
        if isinstance(step, Fetched):
            return step
        if isinstance(step, Follower):  # pragma: no cover - _refuse_if_in_flight prevents it
            raise PullThroughError(f"{step!r}: a synchronous call cannot wait")
        self.fetch(step)
        return self.complete(step)


__all__ = ["Fill", "PullThroughCache", "Step", "UNBOUNDED"]
