"""Shared fixtures for the signing tests: key pairs (made once per module: generating is cheap,
encrypting one is an scrypt at N = 2^15) and a small registry holding one image."""

from __future__ import annotations

import pytest

from regsim.registry.registry import Registry
from regsim.registry.signing import keys


@pytest.fixture(scope="module")
def key():
    return keys.generate()


@pytest.fixture(scope="module")
def other_key():
    return keys.generate()


@pytest.fixture
def registry():
    return Registry()


@pytest.fixture
def image(registry):
    """``team/app:v1`` pushed into ``registry``; returns its PushedImage."""
    return registry.push_image("team/app", "v1", [b"layer one", b"layer two" * 100])
