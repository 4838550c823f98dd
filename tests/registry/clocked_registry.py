"""A registry on a hand-moved clock, for tests of what time decides (grace periods, expiry).

Test modules import the fixtures by name (``from .clocked_registry import Clock, clock, reg``):
``reg`` runs each test on ``replicate(1)`` and on ``rs(4,2)``, both encrypted."""

from __future__ import annotations

import pytest

from regsim.registry.config import RegistryConfig
from regsim.registry.registry import Registry


class Clock:
    """A clock that stands still until a test sets ``now``."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture(params=["replicate(1)", "rs(4,2)"])
def reg(request, clock):
    nodes = 6 if request.param.startswith("rs") else 1
    return Registry(RegistryConfig(codec=request.param, nodes=nodes, encryption="aes-256-gcm"), clock=clock)
