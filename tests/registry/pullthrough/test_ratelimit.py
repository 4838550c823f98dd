"""The pull limit: exactly N pulls per window per client, Retry-After to the freed slot."""

from __future__ import annotations

import pytest

from regsim.registry.pullthrough import DOCKER_HUB_ANONYMOUS, DOCKER_HUB_PERSONAL, RateLimit, RateLimiter

from .conftest import Clock


def test_docker_hub_budgets_are_the_documented_ones():
    assert (DOCKER_HUB_ANONYMOUS.pulls, DOCKER_HUB_ANONYMOUS.window_s) == (100, 21600.0)
    assert (DOCKER_HUB_PERSONAL.pulls, DOCKER_HUB_PERSONAL.window_s) == (200, 21600.0)
    assert DOCKER_HUB_ANONYMOUS.kind == "sliding"


def test_exactly_n_pulls_per_sliding_window_then_retry_after_to_the_oldest_slot():
    clock = Clock(0.0)
    limiter = RateLimiter(RateLimit(3, 100.0), clock)
    taken = []
    for t in (0.0, 10.0, 25.0):
        clock.now = t
        taken.append(limiter.take("a"))
    assert [d.allowed for d in taken] == [True, True, True]
    assert [d.remaining for d in taken] == [2, 1, 0]
    clock.now = 40.0
    refused = limiter.take("a")
    assert not refused.allowed and refused.remaining == 0
    assert refused.retry_after == pytest.approx(60.0)  # the pull at 0 frees its slot at 100
    clock.now = 99.999
    assert not limiter.take("a").allowed
    clock.now = 100.0  # exactly when the first slot frees
    assert limiter.take("a").allowed
    clock.now = 105.0
    assert limiter.take("a").retry_after == pytest.approx(5.0)  # next frees at 10 + 100


def test_a_refused_request_takes_nothing():
    clock = Clock(0.0)
    limiter = RateLimiter(RateLimit(1, 60.0), clock)
    assert limiter.take("a").allowed
    for t in (1.0, 30.0, 59.0):
        clock.now = t
        assert not limiter.take("a").allowed
    clock.now = 60.0
    assert limiter.take("a").allowed  # the refusals did not push the window


def test_advancing_by_retry_after_always_lands_on_a_free_slot():
    clock = Clock(1_000_000.3)
    limiter = RateLimiter(RateLimit(2, 21600.0), clock)
    limiter.take("a")
    clock.advance(0.7)
    limiter.take("a")
    clock.advance(123.456789)
    wait = limiter.check("a").retry_after
    clock.advance(wait)  # floating-point rounding must not leave the slot a hair short
    assert limiter.take("a").allowed


def test_clients_are_independent():
    clock = Clock(0.0)
    limiter = RateLimiter(RateLimit(2, 100.0), clock)
    assert limiter.take("a").allowed and limiter.take("a").allowed
    assert not limiter.take("a").allowed
    assert limiter.take("b").allowed and limiter.take("b").allowed
    assert not limiter.take("b").allowed
    assert limiter.remaining("c") == 2


def test_fixed_window_resets_at_window_boundaries():
    clock = Clock(50.0)
    limiter = RateLimiter(RateLimit(2, 100.0, "fixed"), clock)
    assert limiter.take("a").allowed and limiter.take("a").allowed
    clock.now = 90.0
    refused = limiter.take("a")
    assert not refused.allowed and refused.retry_after == pytest.approx(10.0)
    clock.now = 100.0  # a new window: the whole budget again, 10 s after two pulls
    assert limiter.take("a").allowed and limiter.take("a").allowed
    assert not limiter.take("a").allowed


def test_headers_are_docker_hubs():
    clock = Clock(0.0)
    limiter = RateLimiter(DOCKER_HUB_ANONYMOUS, clock)
    limiter.take("192.0.2.1")
    assert limiter.headers("192.0.2.1") == {"ratelimit-limit": "100;w=21600", "ratelimit-remaining": "99;w=21600",
                                           "docker-ratelimit-source": "192.0.2.1"}


@pytest.mark.parametrize("kwargs", [dict(pulls=0), dict(pulls=-1), dict(pulls=True), dict(pulls=2.5),
                                    dict(pulls=1, window_s=0), dict(pulls=1, window_s=float("inf")),
                                    dict(pulls=1, kind="leaky")])
def test_bad_limits_are_refused(kwargs):
    with pytest.raises(ValueError):
        RateLimit(**kwargs)
