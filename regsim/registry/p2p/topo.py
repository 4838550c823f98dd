"""A topological numbering of a changing parent graph, so that "would this edge close a cycle?" is cheap.

Dragonfly keeps the parent -> child edges of a swarm in a DAG and refuses an edge that would close
a cycle (``CanAddEdge``, a depth-first search from the child). In a swarm of a thousand peers, each
with four parents, a peer's ancestors are soon most of the swarm, so a plain search costs that much
on every request. :class:`TopologicalOrder` keeps a number per peer that grows along every edge
(``pos[a] < pos[b]`` for each edge ``a -> b``): an edge ``p -> c`` cannot close a cycle when
``pos[c] > pos[p]``, and otherwise a path ``c -> ... -> p`` can only pass through peers numbered at
most ``pos[p]``, so the search stays inside that band. After an edge is added the numbers below it
are raised as far as the edge requires (the peers whose number changes, no more). Removing an edge
never breaks the numbering, so removals cost nothing.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping


class TopologicalOrder:
    """Numbers peers so that every edge goes up; reads the edges from ``children`` (parent ->
    its children), which its owner keeps and must report additions of through :meth:`added`."""

    __slots__ = ("_children", "_pos")

    def __init__(self, children: Mapping[Hashable, Iterable[Hashable]]) -> None:
        self._children = children
        self._pos: dict[Hashable, int] = {}

    def position(self, peer: Hashable) -> int:
        return self._pos.get(peer, 0)

    def closes_cycle(self, parent: Hashable, child: Hashable) -> bool:
        """Whether adding ``parent -> child`` would close a cycle (``child`` reaches ``parent``)."""
        if parent == child:
            return True
        pos, kids = self._pos, self._children
        top = pos.get(parent, 0)
        if pos.get(child, 0) > top:
            return False
        seen, stack = {child}, [child]
        while stack:
            for node in kids.get(stack.pop(), ()):
                if node == parent:
                    return True
                if node not in seen and pos.get(node, 0) <= top:  # higher-numbered peers cannot lead back up
                    seen.add(node)
                    stack.append(node)
        return False

    def added(self, parent: Hashable, child: Hashable) -> None:
        """The edge ``parent -> child`` now exists (and closes no cycle): renumber below it."""
        pos, kids = self._pos, self._children
        level = pos.get(parent, 0) + 1
        if pos.get(child, 0) >= level:
            return
        pos[child] = level
        stack = [child]
        while stack:
            node = stack.pop()
            above = pos[node] + 1
            for below in kids.get(node, ()):
                if pos.get(below, 0) < above:
                    pos[below] = above
                    stack.append(below)

    def forget(self, peer: Hashable) -> None:
        """``peer`` left (its edges are gone): drop its number."""
        self._pos.pop(peer, None)
