"""Piece selection: which of the pieces a peer could fetch now it should fetch first.

One small protocol, three strategies, all vectorised over the piece axis (cost O(pieces) per
decision, a few numpy calls) and deterministic given the numpy Generator passed in:

- :class:`RarestFirst` -- BitTorrent's default: the pieces fewest swarm members hold, so rare
  pieces spread before their holders leave; ties broken at random, so peers that see the same
  availability still pick different pieces.
- :class:`RandomPiece` -- uniform among the candidates (BitTorrent's "random first piece").
- :class:`Sequential` -- lowest index first, as a streaming or back-to-source download reads.

``make_selector("rarest-first" | "random" | "sequential")`` maps the scenario's names.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from .errors import P2PError

_NONE = np.empty(0, dtype=np.intp)


@runtime_checkable
class Selector(Protocol):
    """Chooses up to ``n`` pieces among ``candidates`` (a bool mask over pieces), best first."""

    name: str

    def select(self, candidates: np.ndarray, availability: np.ndarray, n: int,
               rng: np.random.Generator) -> np.ndarray: ...


class RarestFirst:
    """Lowest availability first; equal availability in random order.

    One piece: a uniform pick among the pieces at the minimum count. Several: a uniform [0, 1)
    jitter added to the integer counts orders pieces by count and randomly within a count in one
    vector operation, and ``argpartition`` finds the best without a full sort.
    """

    name = "rarest-first"

    def select(self, candidates: np.ndarray, availability: np.ndarray, n: int,
               rng: np.random.Generator) -> np.ndarray:
        # ndarray methods rather than np.* functions: the dispatch overhead of the latter is
        # comparable to the work itself on arrays of a few hundred pieces
        idx = candidates.nonzero()[0]
        if n <= 0 or idx.size == 0:
            return _NONE
        if n == 1:
            counts = availability[idx]
            # the minimum as counts[argmin]: ndarray.min() goes through the generic ufunc
            # reduction and costs ~4x an argmin (about a third of a whole pick); same value
            ties = (counts == counts[counts.argmin()]).nonzero()[0]
            pick = ties[int(rng.random() * ties.size)]
            return idx[pick:pick + 1]
        key = availability[idx] + rng.random(idx.size)
        if n < idx.size:
            part = key.argpartition(n - 1)[:n]
            return idx[part[key[part].argsort()]]
        return idx[key.argsort()]


class RandomPiece:
    """Uniformly random among the candidates, without repeats."""

    name = "random"

    def select(self, candidates: np.ndarray, availability: np.ndarray, n: int,
               rng: np.random.Generator) -> np.ndarray:
        idx = candidates.nonzero()[0]
        if n <= 0 or idx.size == 0:
            return _NONE
        if n == 1:
            return idx[(rng.random(1) * idx.size).astype(np.intp)]
        return rng.permutation(idx)[:n]


class Sequential:
    """Lowest piece index first; needs no randomness."""

    name = "sequential"

    def select(self, candidates: np.ndarray, availability: np.ndarray, n: int,
               rng: np.random.Generator) -> np.ndarray:
        if n <= 0:
            return _NONE
        return candidates.nonzero()[0][:n]


SELECTORS: dict[str, type] = {s.name: s for s in (RarestFirst, RandomPiece, Sequential)}


def make_selector(spec: str | Selector) -> Selector:
    """A selector from its scenario name, or ``spec`` itself if it already is one."""
    if not isinstance(spec, str):
        if isinstance(spec, Selector):
            return spec
        raise P2PError(f"piece selection: expected a name or a Selector, got {type(spec).__name__}")
    try:
        return SELECTORS[spec]()
    except KeyError:
        raise P2PError(
            f"piece selection {spec!r} is unknown: expected one of {', '.join(sorted(SELECTORS))}"
        ) from None
