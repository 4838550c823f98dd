"""Where the fragments of a blob go: rendezvous (highest-random-weight) hashing.

Every node gets a weight for a key, the first 8 bytes of ``sha256(key NUL node)``; the nodes in
descending weight are the key's *ranking*, and fragment ``i`` goes to the ``i``-th node of it. No
table is kept: any process with the node names computes the same placement, and adding or
removing a node changes only the keys that rank that node among their first ``n``.

Nodes that are down are not dropped from the ranking but *excluded*: each excluded node's slot
passes to the next usable node below the first ``n``, and every other fragment stays where it
was. So a write made while a node is down differs from the healthy placement in exactly that
node's fragment, and repair fills a lost fragment from the same ranking.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Sequence

from ..errors import StorageUnavailable


def weight(key: str, node: str) -> int:
    """The node's rendezvous weight for ``key`` (a 64-bit integer)."""
    return int.from_bytes(hashlib.sha256(f"{key}\0{node}".encode()).digest()[:8], "big")


def rank(key: str, nodes: Iterable[str]) -> list[str]:
    """``nodes`` from most to least preferred for ``key``; ties (never in practice) go by name."""
    return sorted(nodes, key=lambda node: (-weight(key, node), node))


def place(key: str, nodes: Sequence[str], n: int, *, exclude: Collection[str] = ()) -> tuple[str, ...]:
    """The node of each of the ``n`` fragments of ``key``, none of them in ``exclude``.

    ``nodes`` is the full membership (healthy or not); ``exclude`` the nodes that cannot take a
    fragment now. Raises :class:`StorageUnavailable` when fewer than ``n`` usable nodes remain.
    """
    if len(set(nodes)) != len(nodes):
        raise ValueError(f"node names must be unique, got {list(nodes)}")
    if n < 1:
        raise ValueError(f"a stripe has at least one fragment, got n={n}")
    usable = [node for node in nodes if node not in exclude]
    if len(usable) < n:
        down = sorted(set(nodes) & set(exclude))
        raise StorageUnavailable(
            f"cannot place {n} fragments of {key!r}: only {len(usable)} of {len(nodes)} nodes are usable "
            f"(unavailable: {', '.join(down) or 'none'}; usable: {', '.join(usable) or 'none'})"
        )
    ranking = rank(key, nodes)
    spares = iter(node for node in ranking[n:] if node not in exclude)
    return tuple(node if node not in exclude else next(spares) for node in ranking[:n])


def spare(key: str, nodes: Sequence[str], *, exclude: Collection[str] = ()) -> str | None:
    """The most preferred node for ``key`` outside ``exclude``, or None: where a rebuilt fragment goes."""
    for node in rank(key, nodes):
        if node not in exclude:
            return node
    return None
