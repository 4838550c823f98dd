"""Properties over random histories: several clients pulling over time through caches (and past
them) against a rate-limited upstream that moves tags and goes down.

- the upstream never serves a client more than N counted pulls in any window of W seconds;
- every successful answer's bytes hash to its digest, and that digest is one the upstream
  published for what was asked (a tag's current or an earlier target, the blob asked for);
- each cache's outcomes add up to its requests, and its store holds exactly what its policy keeps.
"""

from __future__ import annotations

from collections import defaultdict

from hypothesis import event, given, settings
from hypothesis import strategies as st

from regsim.registry.digest import compute
from regsim.registry.manifests import parse_manifest
from regsim.registry.pullthrough import (
    Fill,
    Follower,
    PullThroughCache,
    RateLimit,
    RegistryUpstream,
    UpstreamRateLimited,
    UpstreamUnavailable,
)
from regsim.registry.pullthrough.ratelimit import TOLERANCE_S
from regsim.registry.registry import Registry

from .conftest import Clock, push

N, W = 3, 60.0
IMAGES = [("library/alpine", "3.20"), ("library/debian", "12"), ("team/app", "v1")]
FAILURES = (UpstreamRateLimited, UpstreamUnavailable)

actions = st.one_of(
    st.tuples(st.just("pull"), st.integers(0, 2), st.integers(0, 2), st.floats(0, 8, allow_nan=False)),
    st.tuples(st.just("direct"), st.integers(0, 2), st.floats(0, 8, allow_nan=False)),
    st.tuples(st.just("burst"), st.integers(0, 1), st.integers(0, 2), st.integers(2, 5)),
    st.tuples(st.just("move"), st.integers(0, 2)),
    st.tuples(st.just("outage"), st.floats(1, 40, allow_nan=False)),
    # a client pulls until refused, then waits a fraction (or all) of the Retry-After and tries again
    st.tuples(st.just("retry"), st.integers(0, 2), st.one_of(st.just(1.0), st.floats(0.2, 1.0))),
)


@settings(max_examples=60, deadline=None)
@given(steps=st.lists(actions, min_size=10, max_size=60), ttl=st.sampled_from([0.0, 20.0]),
       coalescing=st.booleans(), head_first=st.booleans(), kind=st.sampled_from(["sliding", "fixed"]),
       capacity=st.sampled_from([None, 1500]))
def test_limits_hold_and_every_answer_is_what_the_upstream_published(steps, ttl, coalescing, head_first, kind,
                                                                      capacity):
    clock = Clock(1_000.0)
    origin = Registry(clock=clock)
    published: dict[tuple[str, str], set] = defaultdict(set)
    for repo, tag in IMAGES:
        published[(repo, tag)].add(push(origin, repo, tag, layers=2, size=200).manifest)
    hub = RegistryUpstream(origin, name="hub", limit=RateLimit(N, W, kind), clock=clock, log=True)
    caches = [PullThroughCache(Registry(clock=clock), {"hub": hub.client(f"cache{i}")}, clock=clock,
                               manifest_ttl_s=ttl, coalescing=coalescing, head_first=head_first,
                               capacity=capacity) for i in range(2)]
    direct = hub.client("direct")
    moves = 0

    def check(answer, repo, reference):
        assert compute(answer.data) == answer.digest
        if answer.media_type is None:
            assert str(answer.digest) == reference
        elif ":" in reference:
            assert str(answer.digest) == reference
        else:
            assert answer.digest in published[(repo, reference)]

    def pull(cache, repo, tag):
        try:
            manifest = cache.get_manifest(f"hub/{repo}", tag)
        except FAILURES:
            return
        check(manifest, repo, tag)
        for blob in parse_manifest(manifest.data).required_blobs():
            try:
                check(cache.get_blob(f"hub/{repo}", blob.digest), repo, str(blob.digest))
            except FAILURES:
                pass

    for step in steps:
        what = step[0]
        if what == "pull":
            _, who, image, dt = step
            clock.advance(dt)
            repo, tag = IMAGES[image]
            if who < 2:
                pull(caches[who], repo, tag)
            else:
                try:
                    m = direct.get_manifest(repo, tag)
                except FAILURES:
                    continue
                assert compute(m.data) == m.digest and m.digest in published[(repo, tag)]
        elif what == "direct":
            _, image, dt = step
            clock.advance(dt)
            try:
                direct.head_manifest(*IMAGES[image])  # never counted, never refused
            except UpstreamUnavailable:
                pass
        elif what == "burst":  # k requests for one manifest, interleaved: all begin, then all finish
            _, who, image, k = step
            repo, tag = IMAGES[image]
            cache = caches[who]
            begun = [cache.begin_manifest(f"hub/{repo}", tag) for _ in range(k)]
            fills = [s for s in begun if isinstance(s, Fill)]
            for fill in fills:
                cache.fetch(fill)
            clock.advance(1.0)
            for fill in fills:
                try:
                    check(cache.complete(fill), repo, tag)
                except FAILURES:
                    pass
            for follower in (s for s in begun if isinstance(s, Follower)):
                assert follower.done
                if not follower.failed:
                    check(follower.result(), repo, tag)
            for s in begun:
                if not isinstance(s, (Fill, Follower)):
                    check(s, repo, tag)
        elif what == "retry":
            _, image, fraction = step
            repo, tag = IMAGES[image]
            try:
                for _ in range(N + 1):
                    direct.get_manifest(repo, tag)
            except UpstreamUnavailable:
                continue
            except UpstreamRateLimited as refused:
                clock.advance(refused.retry_after * fraction)
                try:
                    direct.get_manifest(repo, tag)
                except UpstreamRateLimited:
                    assert fraction < 1.0  # waiting the whole Retry-After always frees a slot
                except UpstreamUnavailable:
                    pass
        elif what == "move":
            repo, tag = IMAGES[step[1]]
            moves += 1
            image = origin.push_image(repo, tag, [f"{repo} moved {moves} {i}".encode() * 20 for i in range(2)])
            published[(repo, tag)].add(image.manifest)
        else:
            hub.down_between(clock.now, clock.now + step[1])

    counted: dict[str, list[float]] = defaultdict(list)
    for entry in hub.log:
        if entry.status == 200 and entry.counted:
            counted[entry.client].append(entry.at)
        assert entry.kind != "manifest_head" or entry.status in (200, 503)  # HEADs are never refused
    for client, times in counted.items():
        assert len(times) == hub.pulls_counted(client)
        times.sort()
        if kind == "sliding":
            for i in range(len(times) - N):
                assert times[i + N] - times[i] >= W - TOLERANCE_S, (client, times)
        else:
            windows = defaultdict(int)
            for t in times:
                windows[int((t + TOLERANCE_S) // W)] += 1
            assert max(windows.values()) <= N
    refused = sum(e.status == 429 for e in hub.log)
    event("some pulls refused (429)" if refused else "no pull refused")
    for cache in caches:
        s = cache.stats
        for name in ("stale_serves", "coalesced_waits", "evictions", "revalidations_changed"):
            if getattr(s, name):
                event(f"a cache had {name}")
        assert s.requests == s.hits + s.misses + s.stale_serves + s.coalesced_waits + s.errors
        assert cache.used_bytes <= (capacity if capacity is not None else cache.used_bytes)
        assert set(cache.store.blobs.digests()) == set(cache.policy)  # the store holds what the policy keeps
