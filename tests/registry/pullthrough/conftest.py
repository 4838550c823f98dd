"""Fixtures for the pull-through tests: a hand-moved clock, upstream registries holding images,
and a cache in front of them."""

from __future__ import annotations

import pytest

from regsim.registry.pullthrough import PullThroughCache, RateLimit, RegistryUpstream
from regsim.registry.registry import Registry


class Clock:
    """Stands still until a test moves it."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def layer(tag: str, i: int, size: int = 300) -> bytes:
    return (f"{tag}-layer-{i}-".encode() * size)[:size]


def push(registry: Registry, repo: str, tag: str, layers: int = 2, size: int = 300):
    """Push an image of ``layers`` distinct layers of ``size`` bytes; returns the PushedImage."""
    return registry.push_image(repo, tag, [layer(f"{repo}:{tag}", i, size) for i in range(layers)])


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def hub_registry(clock):
    reg = Registry(clock=clock)
    push(reg, "library/alpine", "3.20")
    push(reg, "library/debian", "12")
    return reg


@pytest.fixture
def hub(hub_registry, clock):
    """Docker Hub in miniature: 3 pulls per 100 s per client, a log of every request."""
    return RegistryUpstream(hub_registry, name="docker.io", limit=RateLimit(3, 100.0), clock=clock, log=True)


@pytest.fixture
def make_cache(hub, clock):
    def make(routes=None, **options):
        routes = routes if routes is not None else {"docker.io": hub.client("cache")}
        return PullThroughCache(Registry(clock=clock), routes, clock=clock, **options)

    return make
