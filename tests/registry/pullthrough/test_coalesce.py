"""Coalescing concurrent misses: leaders and followers, driven step by step as a model would."""

from __future__ import annotations

import pytest

from regsim.registry.pullthrough import (
    BLOB_GET,
    Coalescer,
    Fetched,
    Fill,
    Follower,
    Leader,
    PullThroughError,
    UpstreamRateLimited,
    UpstreamUnavailable,
)

ALPINE = "docker.io/library/alpine"


def outcome_identity(stats):
    return stats.requests == stats.hits + stats.misses + stats.stale_serves + stats.coalesced_waits + stats.errors


def test_the_first_miss_leads_later_ones_follow_and_share_its_value():
    c = Coalescer()
    leader = c.begin("k")
    followers = [c.begin("k") for _ in range(3)]
    assert isinstance(leader, Leader) and all(isinstance(f, Follower) for f in followers)
    assert c.in_flight("k") and c.waiting("k") == 3 and len(c) == 1
    heard = []
    followers[0].add_callback(lambda f: heard.append(f.result()))
    with pytest.raises(PullThroughError):
        followers[1].result()
    assert c.complete(leader, "value") == followers
    assert [f.result() for f in followers] == ["value"] * 3 and heard == ["value"]
    assert not c.in_flight("k") and isinstance(c.begin("k"), Leader)  # the next miss leads a new fetch
    late = []
    followers[2].add_callback(late.append)  # already resolved: called at once
    assert late == [followers[2]]
    assert (c.leaders, c.followers) == (2, 3)


def test_followers_get_the_leaders_error():
    c = Coalescer()
    leader, follower = c.begin("k"), c.begin("k")
    error = UpstreamUnavailable("down")
    c.fail(leader, error)
    assert follower.failed and follower.error is error
    with pytest.raises(UpstreamUnavailable):
        follower.result()
    with pytest.raises(PullThroughError):
        c.complete(leader, "again")


def test_disabled_every_miss_leads():
    c = Coalescer(enabled=False)
    leaders = [c.begin("k") for _ in range(4)]
    assert all(isinstance(t, Leader) for t in leaders) and not c.in_flight("k")
    assert all(c.complete(t, None) == [] for t in leaders)


def concurrent_blob_misses(cache, digest, n):
    """n requests for one blob arrive while the first's fetch is in flight; returns the answers and
    how many fills there were."""
    steps = [cache.begin_blob(ALPINE, digest)]
    fills = [s for s in steps if isinstance(s, Fill)]
    for fill in fills:
        cache.fetch(fill)  # the leader's request goes upstream ...
    for _ in range(n - 1):
        step = cache.begin_blob(ALPINE, digest)  # ... and others arrive during its transfer
        steps.append(step)
        if isinstance(step, Fill):
            fills.append(step)
            cache.fetch(step)
    answers = [cache.complete(f) for f in fills]
    answers += [s.result() for s in steps if isinstance(s, Follower)]
    return answers, len(fills)


@pytest.mark.parametrize("coalescing, upstream_gets", [(True, 1), (False, 5)])
def test_n_concurrent_blob_misses_make_one_upstream_get_with_coalescing_n_without(make_cache, hub, hub_registry,
                                                                                   coalescing, upstream_gets):
    cache = make_cache(coalescing=coalescing)
    digest = hub_registry.repos.blob_links("library/alpine")[0]
    answers, fills = concurrent_blob_misses(cache, digest, 5)
    assert fills == upstream_gets and hub.counters("cache").blob_gets == upstream_gets
    assert cache.stats.upstream_requests[BLOB_GET] == upstream_gets
    assert len({a.data for a in answers}) == 1 and len(answers) == 5
    sources = sorted(a.source for a in answers)
    assert sources == (["coalesced"] * 4 + ["upstream"] if coalescing else ["upstream"] * 5)
    assert cache.stats.coalesced_waits == (4 if coalescing else 0) and outcome_identity(cache.stats)
    assert cache.get_blob(ALPINE, digest).source == "cache"  # after completion: a plain hit


@pytest.mark.parametrize("coalescing", [True, False])
def test_concurrent_manifest_misses_spend_one_pull_with_coalescing_and_exhaust_the_budget_without(
        make_cache, hub, coalescing):
    cache = make_cache(coalescing=coalescing)  # the hub allows 3 pulls per 100 s
    steps = [cache.begin_manifest(ALPINE, "3.20") for _ in range(5)]
    fills = [s for s in steps if isinstance(s, Fill)]
    for fill in fills:
        cache.fetch(fill)
    answers, errors = [], []
    for fill in fills:
        try:
            answers.append(cache.complete(fill))
        except UpstreamRateLimited as exc:
            errors.append(exc)
    answers += [s.result() for s in steps if isinstance(s, Follower)]
    if coalescing:
        assert len(fills) == 1 and hub.pulls_counted("cache") == 1 and len(answers) == 5 and not errors
    else:
        assert len(fills) == 5 and hub.pulls_counted("cache") == 3 and len(answers) == 3 and len(errors) == 2
        assert all(e.retry_after == pytest.approx(100.0) for e in errors)
        assert cache.stats.upstream_429s == 2
    assert outcome_identity(cache.stats)


def test_a_fills_content_is_invisible_until_it_completes(make_cache, hub_registry):
    cache = make_cache(coalescing=False)
    digest = hub_registry.repos.blob_links("library/alpine")[0]
    fill = cache.begin_blob(ALPINE, digest)
    cache.fetch(fill)
    assert not cache.has_blob(ALPINE, digest)
    assert isinstance(cache.begin_blob(ALPINE, digest), Fill)  # a concurrent miss goes upstream too
    cache.complete(fill)
    assert cache.has_blob(ALPINE, digest) and isinstance(cache.begin_blob(ALPINE, digest), Fetched)


def test_followers_share_a_failure_and_a_stale_answer(make_cache, hub, clock):
    cache = make_cache()
    hub.set_down(True)
    fill, follower = cache.begin_manifest(ALPINE, "3.20"), cache.begin_manifest(ALPINE, "3.20")
    requests = cache.fetch(fill)
    assert [(r.kind, r.status) for r in requests] == [("manifest_head", 503)] and fill.failed
    with pytest.raises(UpstreamUnavailable):
        cache.complete(fill)
    with pytest.raises(UpstreamUnavailable):
        follower.result()
    assert (cache.stats.errors, cache.stats.coalesced_errors) == (1, 1)
    hub.set_down(False)
    cache.get_manifest(ALPINE, "3.20")
    hub.set_down(True)
    fill, follower = cache.begin_manifest(ALPINE, "3.20"), cache.begin_manifest(ALPINE, "3.20")
    cache.fetch(fill)
    leader_answer = cache.complete(fill)
    assert leader_answer.source == "stale" and follower.result().source == "coalesced"
    assert follower.result().data == leader_answer.data and follower.result().stale_reason == "503"
    assert outcome_identity(cache.stats)


def test_driving_a_fill_out_of_order_is_refused(make_cache, hub_registry):
    cache = make_cache()
    digest = hub_registry.repos.blob_links("library/alpine")[0]
    fill = cache.begin_blob(ALPINE, digest)
    with pytest.raises(PullThroughError):
        cache.complete(fill)
    with pytest.raises(PullThroughError, match="being fetched"):
        cache.get_blob(ALPINE, digest)  # a synchronous call cannot wait for the fill in flight
    cache.fetch(fill)
    with pytest.raises(PullThroughError):
        cache.fetch(fill)
    cache.complete(fill)
    with pytest.raises(PullThroughError):
        cache.complete(fill)
