"""The max-min kernel on its own: closed forms, the max-min criterion, weights, components."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regsim.sim.network import component, maxmin_rates

RTOL = 1e-9


def check_maxmin(routes: list[list[int]], cap: np.ndarray, weights: np.ndarray, rates: np.ndarray) -> None:
    """Assert feasibility and the max-min criterion, straight from their definitions."""
    load = np.zeros_like(cap)
    for r, x in zip(routes, rates, strict=True):
        load[r] += x
    assert (load <= cap * (1 + RTOL)).all(), "a link carries more than its capacity"
    level = rates / weights
    for f, route in enumerate(routes):
        ok = False
        for link in route:
            users = [g for g, other in enumerate(routes) if link in other]
            saturated = load[link] >= cap[link] * (1 - RTOL)
            if saturated and level[f] >= max(level[g] for g in users) * (1 - RTOL):
                ok = True
        assert ok, f"flow {f} has no bottleneck link on which its (weighted) rate is maximal"


def test_a_lone_flow_gets_its_tightest_link() -> None:
    assert maxmin_rates([[0, 1, 2]], [30.0, 10.0, 20.0]).tolist() == [10.0]


def test_flows_sharing_a_bottleneck_split_it_evenly() -> None:
    rates = maxmin_rates([[0, 1], [0, 2]], [100.0, 1000.0, 1000.0])
    assert rates.tolist() == [50.0, 50.0]


def test_capacity_left_by_a_constrained_flow_goes_to_the_others() -> None:
    # flow 0 is held to 10 by its own link; flows 1 and 2 split the remaining 90 of link 0
    rates = maxmin_rates([[0, 1], [0, 2], [0, 3]], [100.0, 10.0, 1000.0, 1000.0])
    assert rates == pytest.approx([10.0, 45.0, 45.0])


def test_weights_scale_shares_on_a_shared_link() -> None:
    rates = maxmin_rates([[0], [0], [0]], [120.0], weights=[1.0, 2.0, 3.0])
    assert rates == pytest.approx([20.0, 40.0, 60.0])


def test_padding_and_validation() -> None:
    assert maxmin_rates([[0, -1], [0, 1]], [10.0, 3.0]) == pytest.approx([7.0, 3.0])
    with pytest.raises(ValueError, match="at least one link"):
        maxmin_rates([[]], [1.0])
    with pytest.raises(ValueError, match="link ids"):
        maxmin_rates([[1]], [1.0])
    with pytest.raises(ValueError, match="positive"):
        maxmin_rates([[0]], [0.0])
    with pytest.raises(ValueError, match="weights"):
        maxmin_rates([[0]], [1.0], weights=[-1.0])


@st.composite
def instances(draw):
    links = draw(st.integers(1, 8))
    cap = np.array(draw(st.lists(st.sampled_from([1.0, 3.0, 10.0, 25.0, 100.0, 1e6, 7.5e8]),
                                 min_size=links, max_size=links)))
    routes = draw(st.lists(st.lists(st.integers(0, links - 1), min_size=1, max_size=4, unique=True),
                           min_size=1, max_size=25))
    weights = np.array(draw(st.lists(st.sampled_from([1.0, 0.5, 2.0, 3.7]),
                                     min_size=len(routes), max_size=len(routes))))
    return routes, cap, weights


@settings(max_examples=150, deadline=None)
@given(instances())
def test_progressive_filling_meets_the_max_min_criterion(instance) -> None:
    routes, cap, weights = instance
    rates = maxmin_rates(routes, cap, weights)
    assert (rates > 0).all()
    check_maxmin(routes, cap, weights, rates)


@settings(max_examples=100, deadline=None)
@given(instances())
def test_a_component_is_closed_and_only_it_depends_on_its_links(instance) -> None:
    routes, cap, _ = instance
    width = max(len(r) for r in routes)
    pad = len(cap)
    mat = np.full((width, len(routes)), pad)  # link-major: row j holds every flow's j-th link
    for i, r in enumerate(routes):
        mat[: len(r), i] = r
    seeds = np.zeros(pad + 1, dtype=bool)
    seeds[routes[0][0]] = True
    flows, links = component(mat, seeds, pad)
    assert flows[0] and not links[pad]
    for i, r in enumerate(routes):  # closed: a flow is inside iff it touches an inside link
        assert flows[i] == bool(links[r].any())
    # the rates inside do not depend on the flows outside
    inside = [r for i, r in enumerate(routes) if flows[i]]
    assert maxmin_rates(inside, cap) == pytest.approx(maxmin_rates(routes, cap)[flows], rel=1e-12)
