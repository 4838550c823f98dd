"""Piece selection: rarest-first really picks the rarest, sequential the lowest, random per seed."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regsim.registry.p2p import P2PError, RandomPiece, RarestFirst, Selector, Sequential, make_selector

STRATEGIES = [RarestFirst(), RandomPiece(), Sequential()]


@st.composite
def swarm_view(draw):
    """Random availability counts and a random "they have it and I lack it" mask."""
    pieces = draw(st.integers(1, 200))
    availability = np.array(draw(st.lists(st.integers(0, 50), min_size=pieces, max_size=pieces)), dtype=np.int32)
    mask = np.array(draw(st.lists(st.booleans(), min_size=pieces, max_size=pieces)), dtype=bool)
    return availability, mask, draw(st.integers(1, 20)), draw(st.integers(0, 2**32 - 1))


@settings(max_examples=150, deadline=None)
@given(swarm_view())
def test_rarest_first_picks_the_least_available_candidates(view):
    availability, mask, n, seed = view
    picked = RarestFirst().select(mask, availability, n, np.random.default_rng(seed))
    assert len(picked) == len(set(picked.tolist())) == min(n, int(mask.sum()))
    assert mask[picked].all(), "only pieces the candidate mask allows"
    if mask.any():
        assert availability[picked[0]] == availability[mask].min()
    # the picks are the n smallest counts among the candidates, best first
    assert sorted(availability[picked].tolist()) == sorted(availability[mask].tolist())[: len(picked)]
    assert availability[picked].tolist() == sorted(availability[picked].tolist())


@settings(max_examples=80, deadline=None)
@given(swarm_view())
def test_sequential_picks_the_lowest_missing_pieces(view):
    availability, mask, n, seed = view
    picked = Sequential().select(mask, availability, n, np.random.default_rng(seed))
    assert picked.tolist() == np.flatnonzero(mask)[:n].tolist()


@settings(max_examples=80, deadline=None)
@given(swarm_view())
def test_random_picks_distinct_candidates_deterministically_per_seed(view):
    availability, mask, n, seed = view
    picked = RandomPiece().select(mask, availability, n, np.random.default_rng(seed))
    assert len(picked) == len(set(picked.tolist())) == min(n, int(mask.sum()))
    assert mask[picked].all()
    again = RandomPiece().select(mask, availability, n, np.random.default_rng(seed))
    assert picked.tolist() == again.tolist()


@pytest.mark.parametrize("n", [1, 3])
def test_rarest_first_breaks_ties_at_random(n):
    availability = np.array([5, 1, 1, 1, 1, 9], dtype=np.int32)
    mask = np.ones(6, dtype=bool)
    rng = np.random.default_rng(0)
    firsts = Counter(int(RarestFirst().select(mask, availability, n, rng)[0]) for _ in range(2000))
    assert set(firsts) == {1, 2, 3, 4}, "only the rarest pieces come first"
    assert min(firsts.values()) > 350, f"each tied piece comes first about 500 times in 2000: {firsts}"


def test_random_is_roughly_uniform_and_differs_across_seeds():
    mask = np.zeros(100, dtype=bool)
    mask[::2] = True
    avail = np.zeros(100, dtype=np.int32)
    rng = np.random.default_rng(1)
    counts = Counter(int(RandomPiece().select(mask, avail, 1, rng)[0]) for _ in range(5000))
    assert set(counts) == set(range(0, 100, 2)) and min(counts.values()) > 50
    draws = {tuple(RandomPiece().select(mask, avail, 5, np.random.default_rng(s)).tolist()) for s in range(10)}
    assert len(draws) == 10


@pytest.mark.parametrize("selector", STRATEGIES, ids=lambda s: s.name)
def test_nothing_to_pick_gives_nothing(selector):
    rng = np.random.default_rng(0)
    avail = np.arange(5, dtype=np.int32)
    assert selector.select(np.zeros(5, dtype=bool), avail, 3, rng).size == 0
    assert selector.select(np.ones(5, dtype=bool), avail, 0, rng).size == 0
    assert selector.select(np.zeros(0, dtype=bool), avail[:0], 2, rng).size == 0


def test_make_selector_knows_the_scenario_names():
    for selector in STRATEGIES:
        made = make_selector(selector.name)
        assert type(made) is type(selector) and isinstance(made, Selector)
    custom = Sequential()
    assert make_selector(custom) is custom
    with pytest.raises(P2PError, match="'fastest' is unknown: expected one of random, rarest-first, sequential"):
        make_selector("fastest")
    with pytest.raises(P2PError, match="got int"):
        make_selector(3)  # type: ignore[arg-type]
