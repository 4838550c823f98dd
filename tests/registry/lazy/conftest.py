"""Session fixtures: the layers every lazy-format test reads (built once, real bytes)."""

from __future__ import annotations

import random

import pytest

from .layers import MiB, Layer, build_tar, compressible, mixed_spec


@pytest.fixture(scope="session")
def mixed() -> Layer:
    """About 300 entries, ~20 MiB uncompressed, two files over 4 MiB."""
    return build_tar(mixed_spec())


@pytest.fixture(scope="session")
def big() -> Layer:
    """A ~20 MiB layer whose gzip form is over 10 MiB (what SOCI indexes), with small files
    spread through it."""
    rnd = random.Random(11)
    spec = [("data", "dir", None)]
    for i in range(60):
        spec.append((f"data/small{i:02d}.txt", "reg", compressible(rnd, rnd.randint(10, 3000))))
        spec.append((f"data/blob{i:02d}.bin", "reg", rnd.randbytes(rnd.randint(200_000, 260_000))))
    spec.append(("data/text.log", "reg", compressible(rnd, 4 * MiB)))
    layer = build_tar(spec)
    assert len(layer.gz) > 10 * MiB
    return layer
