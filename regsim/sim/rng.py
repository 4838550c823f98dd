"""Determinism: one seed per run, split into named, independent random streams.

A simulation draws random numbers for many unrelated purposes -- failure times, request arrivals,
which node a client picks. If they all shared one generator, adding a single draw for one purpose
(say, one more disk) would shift every number drawn after it for every other purpose, and two
variants of a sweep could no longer be compared draw for draw. So each purpose gets its own
stream, named by a string::

    rr = RunRandom(42)
    ttf = rr.stream("failures/disk-3").exponential(1e6)
    arrival = rr.stream("arrivals").exponential(0.01)

Streams are derived with numpy's :class:`~numpy.random.SeedSequence` (designed for exactly this:
statistically independent child streams) from the run seed and a *stable* hash of the name --
BLAKE2b of its UTF-8 bytes, never Python's ``hash()``, which is salted per process. The bit
generator is PCG64, whose output for a given seed numpy keeps fixed across versions and
platforms, so the same seed gives the same numbers on every machine.

:func:`derive_seed` does the same for a sweep: each variant of a factorial design gets its own
seed from the sweep's seed and the variant's labels, so variants are independent yet reproducible
one by one.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

#: labels accepted by :func:`derive_seed`: plain JSON scalars have one canonical spelling.
Label = str | int | float | bool


def _check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"a run seed must be a non-negative integer, got {type(seed).__name__} {seed!r}")
    if seed < 0:
        raise ValueError(f"a run seed must be a non-negative integer, got {seed}")
    return int(seed)


def _words(*labels: Label) -> tuple[int, ...]:
    """Eight 32-bit words of a BLAKE2b digest of the labels' canonical JSON encoding.

    JSON keeps ``1``, ``1.0``, ``True`` and ``"1"`` apart, and the encoding of a label list is
    unambiguous (``["a/b"]`` differs from ``["a", "b"]``).
    """
    for label in labels:
        if not isinstance(label, (str, int, float, bool)):
            raise TypeError(f"a stream or seed label must be str, int, float or bool, got {type(label).__name__}")
    text = json.dumps(list(labels), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=32).digest()
    return tuple(int.from_bytes(digest[i:i + 4], "little") for i in range(0, 32, 4))


def derive_seed(seed: int, *labels: Label) -> int:
    """A 63-bit seed for one variant of a sweep, from the sweep's ``seed`` and the variant's labels.

    ``derive_seed(7, "codec", "rs(4,2)", "nodes", 1000)`` is the same number on every machine and
    every run, and practically never collides with the seed of another label tuple.
    """
    sequence = np.random.SeedSequence(_check_seed(seed), spawn_key=_words(*labels))
    return int(sequence.generate_state(1, np.uint64)[0] >> np.uint64(1))


class RunRandom:
    """The random source of one run: a seed and the named streams drawn from it.

    ``stream(name)`` returns the same generator object each time it is asked for the same name, so
    successive calls continue one sequence; :meth:`fresh` restarts a stream from its beginning.
    """

    __slots__ = ("seed", "_streams")

    def __init__(self, seed: int) -> None:
        self.seed = _check_seed(seed)
        self._streams: dict[str, np.random.Generator] = {}

    def __repr__(self) -> str:
        return f"RunRandom(seed={self.seed}, streams={sorted(self._streams)})"

    def seed_sequence(self, name: str) -> np.random.SeedSequence:
        """The seed sequence behind stream ``name``: run seed plus the stable hash of the name."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"a stream name must be a non-empty string, got {name!r}")
        return np.random.SeedSequence(self.seed, spawn_key=_words(name))

    def fresh(self, name: str) -> np.random.Generator:
        """A new generator for stream ``name``, starting at its first number (not cached)."""
        return np.random.Generator(np.random.PCG64(self.seed_sequence(name)))

    def stream(self, name: str) -> np.random.Generator:
        """The run's generator for ``name``, created on first use and shared afterwards."""
        generator = self._streams.get(name)
        if generator is None:
            generator = self._streams[name] = self.fresh(name)
        return generator

    def child(self, *labels: Label) -> RunRandom:
        """A run source for a sub-experiment, seeded by :func:`derive_seed` from this one."""
        return RunRandom(derive_seed(self.seed, *labels))

    def names(self) -> list[str]:
        """Names of the streams used so far (for the run record)."""
        return sorted(self._streams)
