"""The pull-through cache: hits and misses, revalidation by HEAD, stale-if-error, routes, capacity."""

from __future__ import annotations

import pytest

from regsim.registry import receipts
from regsim.registry.digest import Digest, compute
from regsim.registry.errors import ManifestUnknown, NameUnknown
from regsim.registry.pullthrough import (
    BLOB_GET,
    MANIFEST_GET,
    MANIFEST_HEAD,
    PullThroughCache,
    RateLimit,
    RegistryUpstream,
    UpstreamManifest,
    UpstreamRateLimited,
    UpstreamUnavailable,
)
from regsim.registry.receipts import Kind
from regsim.registry.registry import Registry

from .conftest import push

ALPINE = "docker.io/library/alpine"


def kinds(fetched):
    return [(r.kind, r.status) for r in fetched.upstream_requests]


def test_a_miss_fetches_and_stores_a_hit_serves_without_asking_upstream(make_cache, hub, hub_registry):
    cache = make_cache(manifest_ttl_s=300)
    first = cache.pull(ALPINE, "3.20")
    assert [f.source for f in first] == ["upstream"] * 4  # manifest, config, two layers
    # a cold tag: HEAD for its digest, then GET by digest (head_first, as distribution does)
    assert kinds(first[0]) == [(MANIFEST_HEAD, 200), (MANIFEST_GET, 200)]
    assert all(kinds(f) == [(BLOB_GET, 200)] for f in first[1:])
    expected = hub_registry.pull_image("library/alpine", "3.20")
    assert [f.data for f in first[2:]] == expected
    assert all(compute(f.data) == f.digest for f in first)
    second = cache.pull(ALPINE, "3.20")
    assert [f.source for f in second] == ["cache"] * 4 and all(f.upstream_requests == () for f in second)
    assert [f.data for f in second] == [f.data for f in first]
    s = cache.stats
    assert (s.requests, s.hits, s.misses) == (8, 4, 4)
    assert s.upstream_requests == {MANIFEST_HEAD: 1, MANIFEST_GET: 1, BLOB_GET: 3}
    assert s.bytes_from_upstream == sum(f.bytes for f in first) and s.bytes_served == 2 * s.bytes_from_upstream
    assert hub.pulls_counted("cache") == 1
    assert cache.cached_tag(ALPINE, "3.20") == first[0].digest


def test_by_default_a_tag_is_revalidated_on_every_request_by_a_free_head(make_cache, hub):
    cache = make_cache()  # manifest_ttl_s=0: distribution's behaviour
    cache.get_manifest(ALPINE, "3.20")
    for _ in range(10):
        again = cache.get_manifest(ALPINE, "3.20")
        assert again.source == "cache" and again.revalidated and kinds(again) == [(MANIFEST_HEAD, 200)]
    assert hub.pulls_counted("cache") == 1 and cache.stats.revalidations == 10


def test_revalidation_after_the_ttl_unchanged_means_no_get_changed_means_get(make_cache, hub, hub_registry, clock):
    cache = make_cache(manifest_ttl_s=300)
    old = cache.get_manifest(ALPINE, "3.20")
    clock.advance(299)
    assert kinds(cache.get_manifest(ALPINE, "3.20")) == []  # fresh
    clock.advance(1)
    same = cache.get_manifest(ALPINE, "3.20")
    assert kinds(same) == [(MANIFEST_HEAD, 200)] and same.digest == old.digest and same.source == "cache"
    clock.advance(100)
    assert kinds(cache.get_manifest(ALPINE, "3.20")) == []  # the HEAD renewed the TTL
    new = push(hub_registry, "library/alpine", "3.20", layers=3)
    clock.advance(300)
    changed = cache.get_manifest(ALPINE, "3.20")
    assert kinds(changed) == [(MANIFEST_HEAD, 200), (MANIFEST_GET, 200)]
    assert changed.source == "upstream" and changed.digest == new.manifest != old.digest
    assert cache.cached_tag(ALPINE, "3.20") == new.manifest
    assert cache.get_manifest(ALPINE, str(old.digest)).source == "cache"  # by digest: still cached
    assert (cache.stats.revalidations, cache.stats.revalidations_changed) == (1, 1)
    assert hub.pulls_counted("cache") == 2


def test_a_tag_that_moved_to_content_already_cached_costs_no_get(make_cache, hub, hub_registry):
    cache = make_cache(head_first=False)
    alpine = hub_registry.get_manifest("library/alpine", "3.20")
    cache.get_manifest(ALPINE, "3.20")
    hub_registry.put_manifest("library/alpine", "latest", alpine.data, alpine.media_type)
    cache.get_manifest(ALPINE, "latest")  # a cold tag: a GET (head_first is off)
    other = push(hub_registry, "library/alpine", "3.21")
    cache.get_manifest(ALPINE, "3.21")
    hub_registry.put_manifest("library/alpine", "latest", hub_registry.get_manifest("library/alpine", "3.21").data,
                              alpine.media_type)
    moved = cache.get_manifest(ALPINE, "latest")
    assert moved.digest == other.manifest and kinds(moved) == [(MANIFEST_HEAD, 200)] and moved.source == "cache"
    assert hub.pulls_counted("cache") == 3


def test_head_first_lets_a_new_tag_of_cached_content_cost_no_pull(make_cache, hub, hub_registry):
    cache = make_cache(head_first=True)
    alpine = hub_registry.get_manifest("library/alpine", "3.20")
    hub_registry.put_manifest("library/alpine", "latest", alpine.data, alpine.media_type)
    first = cache.get_manifest(ALPINE, "3.20")
    assert kinds(first) == [(MANIFEST_HEAD, 200), (MANIFEST_GET, 200)]
    assert first.upstream_requests[1].reference == str(alpine.digest)  # the GET is by the HEAD's digest
    latest = cache.get_manifest(ALPINE, "latest")
    assert kinds(latest) == [(MANIFEST_HEAD, 200)] and latest.digest == alpine.digest
    assert hub.pulls_counted("cache") == 1


def exhaust(hub, client="cache"):
    up = hub.client(client)
    while up.ratelimit_headers()["ratelimit-remaining"].split(";")[0] != "0":
        up.get_manifest("library/debian", "12")


def test_stale_if_error_on_429_serves_the_cached_copy(make_cache, hub, hub_registry):
    cache = make_cache()
    old = cache.get_manifest(ALPINE, "3.20")
    exhaust(hub)
    push(hub_registry, "library/alpine", "3.20", layers=3)  # moved: the HEAD says so, the GET is refused
    stale = cache.get_manifest(ALPINE, "3.20")
    assert stale.source == "stale" and stale.digest == old.digest and stale.data == old.data
    assert kinds(stale) == [(MANIFEST_HEAD, 200), (MANIFEST_GET, 429)]
    assert stale.upstream_requests[1].retry_after > 0 and stale.stale_reason == "429"
    assert (cache.stats.stale_serves, cache.stats.upstream_429s) == (1, 1)


def test_stale_if_error_when_the_upstream_is_down(make_cache, hub, clock):
    cache = make_cache()
    old = cache.pull(ALPINE, "3.20")
    hub.down_between(clock.now, clock.now + 60)
    again = cache.pull(ALPINE, "3.20")
    assert again[0].source == "stale" and kinds(again[0]) == [(MANIFEST_HEAD, 503)]
    assert [f.source for f in again[1:]] == ["cache"] * 3  # blobs never need the upstream once cached
    assert [f.data for f in again] == [f.data for f in old]
    assert (cache.stats.stale_serves, cache.stats.upstream_unavailable) == (1, 1)
    clock.advance(60)
    assert cache.get_manifest(ALPINE, "3.20").source == "cache"


def test_without_stale_if_error_the_refusal_reaches_the_client(make_cache, hub, clock):
    cache = make_cache(stale_if_error=False)
    cache.get_manifest(ALPINE, "3.20")
    hub.set_down(True)
    with pytest.raises(UpstreamUnavailable):
        cache.get_manifest(ALPINE, "3.20")


def test_with_nothing_cached_a_429_is_an_error_with_retry_after(make_cache, hub, clock):
    cache = make_cache()
    exhaust(hub)
    with pytest.raises(UpstreamRateLimited) as info:
        cache.get_manifest(ALPINE, "3.20")
    assert info.value.status == 429 and info.value.retry_after == pytest.approx(100.0)
    assert (cache.stats.errors, cache.stats.requests) == (1, 1)
    clock.advance(info.value.retry_after)
    assert cache.get_manifest(ALPINE, "3.20").source == "upstream"


def test_with_nothing_cached_an_outage_is_a_502(make_cache, hub, hub_registry):
    cache = make_cache()
    hub.set_down(True)
    with pytest.raises(UpstreamUnavailable) as info:
        cache.get_manifest(ALPINE, "3.20")
    assert info.value.status == 502
    blob = hub_registry.repos.blob_links("library/alpine")[0]
    with pytest.raises(UpstreamUnavailable):
        cache.get_blob(ALPINE, blob)
    assert cache.stats.errors == 2


def test_a_404_upstream_is_a_404_from_the_cache(make_cache):
    cache = make_cache()
    with pytest.raises(ManifestUnknown):
        cache.get_manifest(ALPINE, "nope")
    assert cache.stats.upstream_not_found == 1 and cache.stats.errors == 1


def test_routes_by_prefix_reach_their_own_upstream(hub, clock):
    ghcr_registry = Registry(clock=clock)
    push(ghcr_registry, "org/app", "v1")
    ghcr = RegistryUpstream(ghcr_registry, name="ghcr.io", clock=clock)
    routes = {"docker.io": hub.client("cache"), "ghcr.io/": ghcr.client("cache")}
    cache = PullThroughCache(Registry(clock=clock), routes, clock=clock)
    a = cache.pull(ALPINE, "3.20")
    b = cache.pull("ghcr.io/org/app", "v1")
    assert {f.upstream for f in a} == {"docker.io"} and {f.upstream for f in b} == {"ghcr.io"}
    assert cache.stats.upstream_requests_by_upstream == {"docker.io": 5, "ghcr.io": 5}
    assert ghcr.counters("cache").manifest_gets == 1 and hub.pulls_counted("cache") == 1
    with pytest.raises(NameUnknown):
        cache.get_manifest("quay.io/org/app", "v1")
    with pytest.raises(NameUnknown):
        cache.get_manifest("docker.iox/library/alpine", "3.20")


def test_several_upstreams_on_a_route_are_tried_in_order(hub, hub_registry, clock):
    mirror_registry = Registry(clock=clock)
    push(mirror_registry, "library/busybox", "1")
    mirror = RegistryUpstream(mirror_registry, name="mirror", limit=RateLimit(1, 50.0), clock=clock)
    cache = PullThroughCache(Registry(clock=clock), {"docker.io": [mirror.client("cache"), hub.client("cache")]},
                             clock=clock)
    busybox = cache.get_manifest("docker.io/library/busybox", "1")
    assert busybox.upstream == "mirror" and kinds(busybox) == [(MANIFEST_HEAD, 200), (MANIFEST_GET, 200)]
    alpine = cache.get_manifest(ALPINE, "3.20")  # the mirror lacks it: 404, then the hub
    assert alpine.upstream == "docker.io"
    assert kinds(alpine) == [(MANIFEST_HEAD, 404), (MANIFEST_HEAD, 200), (MANIFEST_GET, 200)]
    push(mirror_registry, "library/debian", "12")
    debian = cache.get_manifest("docker.io/library/debian", "12")  # the mirror's budget is spent: 429
    assert debian.upstream == "docker.io"
    assert kinds(debian) == [(MANIFEST_HEAD, 200), (MANIFEST_GET, 429), (MANIFEST_HEAD, 200), (MANIFEST_GET, 200)]
    # both refuse or fail: 429 wins, with the soonest Retry-After
    hub.set_down(True)
    push(mirror_registry, "library/debian", "13")
    push(hub_registry, "library/debian", "13")
    with pytest.raises(UpstreamRateLimited) as info:
        cache.get_manifest("docker.io/library/debian", "13")
    assert info.value.retry_after == pytest.approx(50.0)
    mirror.set_down(True)
    with pytest.raises(UpstreamUnavailable):
        cache.get_manifest("docker.io/library/debian", "13")


class Corrupt:
    """An upstream whose answers do not match their digests."""

    name = "corrupt"

    def __init__(self, real):
        self.real = real

    def get_manifest(self, repo, reference):
        m = self.real.get_manifest(repo, reference)
        return UpstreamManifest(m.data + b" ", m.media_type, m.digest)

    def head_manifest(self, repo, reference):
        return self.real.head_manifest(repo, reference)

    def get_blob(self, repo, digest):
        return self.real.get_blob(repo, digest) + b"!"


def test_content_that_does_not_match_its_digest_is_never_served_or_kept(hub, clock):
    good = hub.client("cache")
    cache = PullThroughCache(Registry(clock=clock), {"docker.io": [Corrupt(hub.client("other")), good]}, clock=clock)
    answers = cache.pull(ALPINE, "3.20")
    assert all(f.upstream == "docker.io" and compute(f.data) == f.digest for f in answers)
    assert all(502 in [status for _, status in kinds(f)] and kinds(f)[-1][1] == 200 for f in answers)
    alone = PullThroughCache(Registry(clock=clock), {"docker.io": Corrupt(good)}, clock=clock)
    with pytest.raises(UpstreamUnavailable, match="does not match"):
        alone.get_manifest(ALPINE, "3.20")
    assert alone.used_bytes == 0


def test_capacity_evicts_by_bytes_and_forgets_the_evicted(make_cache, hub, hub_registry, clock):
    image_bytes = sum(f.bytes for f in make_cache().pull(ALPINE, "3.20"))
    cache = make_cache(capacity=image_bytes + 100, manifest_ttl_s=1e9)
    cache.pull(ALPINE, "3.20")
    assert cache.used_bytes == image_bytes
    clock.advance(100)  # a fresh budget for the client
    cache.pull("docker.io/library/debian", "12")  # about as large: alpine must go
    s = cache.stats
    assert s.evictions >= 1 and s.evicted_bytes >= 1 and cache.used_bytes <= image_bytes + 100
    assert cache.cached_tag(ALPINE, "3.20") is None
    evicted = [d for d in hub_registry.repos.blob_links("library/alpine") if not cache.has_blob(ALPINE, d)]
    assert evicted and not any(cache.store.blobs.exists(d) for d in evicted)  # the bytes are gone from the store
    clock.advance(100)
    again = cache.pull(ALPINE, "3.20")
    assert again[0].source == "upstream"


def test_lfu_keeps_the_popular_image(make_cache, hub, clock):
    image_bytes = sum(f.bytes for f in make_cache().pull(ALPINE, "3.20"))
    cache = make_cache(capacity=2 * image_bytes + 200, policy="lfu", manifest_ttl_s=1e9)
    for _ in range(3):
        cache.pull(ALPINE, "3.20")
    clock.advance(100)
    cache.pull("docker.io/library/debian", "12")
    push(hub.registry, "library/ubuntu", "24.04")
    clock.advance(100)
    cache.pull("docker.io/library/ubuntu", "24.04")
    assert [f.source for f in cache.pull(ALPINE, "3.20")] == ["cache"] * 4


def test_an_object_larger_than_the_cache_passes_through(make_cache):
    cache = make_cache(capacity=299)  # each layer is 300 bytes
    answers = cache.pull(ALPINE, "3.20")
    layers = answers[2:]
    assert all(f.source == "upstream" and not f.stored for f in layers)
    assert cache.stats.pass_through == sum(not f.stored for f in answers) >= 2
    assert cache.used_bytes == sum(f.bytes for f in answers if f.stored) <= 299
    assert all(cache.get_blob(ALPINE, f.digest).source == "upstream" for f in layers)


def test_blobs_shared_by_repositories_are_fetched_per_repository_unless_shared(hub, hub_registry, clock):
    base = b"shared-base-layer" * 40
    hub_registry.push_image("team/a", "1", [base, b"a" * 100])
    hub_registry.push_image("team/b", "1", [base, b"b" * 100])
    base_digest = compute(base)
    for share, expected in ((False, "upstream"), (True, "cache")):
        cache = PullThroughCache(Registry(clock=clock), {"docker.io": hub.client(f"share-{share}")}, clock=clock,
                                 share_blobs=share)
        cache.pull("docker.io/team/a", "1")
        assert cache.get_blob("docker.io/team/b", base_digest).source == expected
        assert cache.used_bytes == sum(cache.policy.size_of(k) for k in cache.policy)


def test_the_caches_own_work_is_on_the_receipt_and_the_upstreams_is_not(make_cache):
    cache = make_cache(manifest_ttl_s=300)
    with receipts.collect() as miss:
        fetched = cache.pull(ALPINE, "3.20")
    stored = sum(f.bytes for f in fetched)
    assert miss.total(Kind.SHA256) == stored  # each object hashed once, as it is stored
    assert miss.total(Kind.DISK_WRITE) > 0 and miss.total(Kind.DISK_READ) == 0
    with receipts.collect() as hit:
        cache.pull(ALPINE, "3.20")
    assert hit.total(Kind.DISK_READ) > 0 and hit.total(Kind.DISK_WRITE) == 0


def test_digest_references_are_never_revalidated(make_cache, hub_registry):
    cache = make_cache()
    digest = str(hub_registry.get_manifest("library/alpine", "3.20").digest)
    assert cache.get_manifest(ALPINE, digest).source == "upstream"
    for _ in range(3):
        again = cache.get_manifest(ALPINE, digest)
        assert again.source == "cache" and again.upstream_requests == ()
    assert isinstance(again.digest, Digest)


def test_bad_options_are_refused(hub):
    with pytest.raises(ValueError):
        PullThroughCache(Registry(), {"docker.io": hub.client()}, manifest_ttl_s=-1)
    with pytest.raises(ValueError):
        PullThroughCache(Registry(), {"docker.io": hub.client(), "docker.io/": hub.client()})


def test_an_erasure_coded_encrypted_store_works_the_same(hub, clock):
    from regsim.registry.config import RegistryConfig

    store = Registry(RegistryConfig(codec="rs(4,2)", nodes=6, encryption="aes-256-gcm"), clock=clock)
    cache = PullThroughCache(store, {"docker.io": hub.client("cache")}, clock=clock, capacity=1500,
                             manifest_ttl_s=1e9)
    first = cache.pull(ALPINE, "3.20")
    assert [f.data for f in cache.pull(ALPINE, "3.20")] == [f.data for f in first]
    clock.advance(100)
    cache.pull("docker.io/library/debian", "12")
    assert cache.stats.evictions and cache.used_bytes <= 1500
    assert sorted(str(d) for d in store.blobs.digests()) == sorted(str(k) for k in cache.policy)


def test_bad_names_and_references_are_refused_and_counted(make_cache):
    from regsim.registry.errors import DigestInvalid, NameInvalid, TagInvalid

    cache = make_cache()
    for call, error in ((lambda: cache.get_manifest(ALPINE, "bad tag"), TagInvalid),
                        (lambda: cache.get_manifest("docker.io/Library/alpine", "3.20"), NameInvalid),
                        (lambda: cache.get_blob(ALPINE, "sha256:xyz"), DigestInvalid)):
        with pytest.raises(error):
            call()
    assert cache.stats.requests == cache.stats.errors == 3
