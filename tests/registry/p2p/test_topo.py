"""TopologicalOrder: the cycle check agrees with a full search, and every edge keeps going up."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from regsim.registry.p2p import TopologicalOrder


def reaches(children: dict, start, goal) -> bool:
    """Plain depth-first search: is there a path start -> ... -> goal?"""
    seen, stack = {start}, [start]
    while stack:
        node = stack.pop()
        if node == goal:
            return True
        for nxt in children.get(node, ()):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return False


def test_a_chain_refuses_the_edge_that_would_close_it_and_nothing_else():
    children: dict = {}
    order = TopologicalOrder(children)
    for a, b in [("a", "b"), ("b", "c"), ("c", "d")]:
        assert not order.closes_cycle(a, b)
        children.setdefault(a, {})[b] = None
        order.added(a, b)
    assert order.closes_cycle("d", "a") and order.closes_cycle("c", "b") and order.closes_cycle("a", "a")
    assert not order.closes_cycle("a", "d") and not order.closes_cycle("x", "a")
    assert [order.position(n) for n in "abcd"] == [0, 1, 2, 3]


def test_a_late_edge_from_deep_down_renumbers_only_what_it_must():
    children = {"r": {"x": None}, "a": {"b": None}}
    order = TopologicalOrder(children)
    order.added("r", "x")
    order.added("a", "b")
    children["x"] = {"a": None}  # r -> x -> a -> b: a and b move below x
    order.added("x", "a")
    assert (order.position("r"), order.position("x"), order.position("a"), order.position("b")) == (0, 1, 2, 3)
    assert order.closes_cycle("b", "r")
    order.forget("b")
    assert order.position("b") == 0


@settings(max_examples=60, deadline=None)
@given(ops=st.lists(st.tuples(st.booleans(), st.integers(0, 11), st.integers(0, 11)), min_size=1, max_size=120))
def test_the_check_matches_a_full_search_and_edges_always_go_up(ops):
    children: dict = {}
    order = TopologicalOrder(children)
    for add, a, b in ops:
        if add:
            would_close = a == b or reaches(children, b, a)
            assert order.closes_cycle(a, b) == would_close, (a, b, children)
            if not would_close:
                children.setdefault(a, {})[b] = None
                order.added(a, b)
        elif b in children.get(a, {}):
            del children[a][b]  # removing an edge never needs the order's help
        for parent, kids in children.items():
            for kid in kids:
                assert order.position(parent) < order.position(kid), (parent, kid)
