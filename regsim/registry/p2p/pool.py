"""A set that can hand out a uniform random sample in time proportional to the sample.

Trackers and schedulers answer "give me k random peers of this swarm" for every request; with
10,000 peers in a swarm, drawing a permutation of all of them per request would make each
decision cost grow with the swarm. :class:`RandomPool` keeps its items in a list with an index
(swap-remove on discard) and samples k of them by drawing k random positions and re-drawing the
rare collisions, so a sample costs O(k) whatever the pool's size.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from typing import Generic, TypeVar

import numpy as np

T = TypeVar("T", bound=Hashable)

#: below this ratio of pool size to sample size, a permutation is cheaper than re-drawing.
_DENSE = 4


def _positions(rng: np.random.Generator, size: int, k: int) -> list[int]:
    """``k`` uniform positions in ``range(size)``.

    Scaled uniform floats rather than ``rng.integers``, whose argument handling costs several
    times more than the draw for a handful of values (the bias is of order size / 2**53).
    """
    return (rng.random(k) * size).astype(np.intp).tolist()


class RandomPool(Generic[T]):
    """An insertion-indexed set with O(1) add and discard and O(k) random sampling.

    Iteration order is an implementation detail (it changes on discard); samples are uniform and
    depend only on the pool's contents, the order of past adds and discards, and the generator.
    """

    __slots__ = ("_items", "_pos")

    def __init__(self) -> None:
        self._items: list[T] = []
        self._pos: dict[T, int] = {}

    def add(self, item: T) -> bool:
        """Add ``item``; False if it was already present."""
        if item in self._pos:
            return False
        self._pos[item] = len(self._items)
        self._items.append(item)
        return True

    def discard(self, item: T) -> bool:
        """Remove ``item``; False if it was absent."""
        i = self._pos.pop(item, None)
        if i is None:
            return False
        last = self._items.pop()
        if i < len(self._items):
            self._items[i] = last
            self._pos[last] = i
        return True

    def __contains__(self, item: object) -> bool:
        return item in self._pos

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[T]:
        return iter(list(self._items))

    def sample(self, k: int, rng: np.random.Generator, exclude: T | None = None) -> list[T]:
        """Up to ``k`` distinct items in random order, never ``exclude``."""
        if k < 0:
            raise ValueError(f"sample size must be >= 0, got {k}")
        skip = exclude is not None and exclude in self._pos
        size = len(self._items)
        want = min(k + skip, size)
        if want == 0:
            return []
        if size == 1:
            picks = [0]
        elif want * _DENSE >= size:
            picks = rng.random(size).argsort()[:want].tolist()
        else:
            seen = dict.fromkeys(_positions(rng, size, want))
            while len(seen) < want:
                seen.update(dict.fromkeys(_positions(rng, size, want - len(seen))))
            picks = list(seen)
        items = self._items
        out = [items[i] for i in picks]
        if skip:
            out = [x for x in out if x != exclude]
        return out[:k]
