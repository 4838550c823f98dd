"""Stripe layouts: which node holds each fragment of a blob, and where fragments live on a node.

On a node, fragment ``i`` of blob ``key`` is the object ``fragments/<key>/<i>``::

    fragments/
      blobs/sha256/ab/ab12.../
        0        header + data chunk 0
        ...
        5        header + parity 1        (rs(4,2): indices 4 and 5 are parity)

A node holds at most one fragment of a blob, so losing a node costs each blob at most one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..errors import InvalidKey
from .fragment import header_size, payload_size

FRAGMENTS = "fragments"


def fragment_key(key: str, index: int) -> str:
    """The node-side object key of fragment ``index`` of blob ``key``."""
    return f"{FRAGMENTS}/{key}/{index}"


def split_fragment_key(object_key: str) -> tuple[str, int]:
    """Blob key and fragment index of a node-side object key (inverse of :func:`fragment_key`)."""
    prefix, sep, rest = object_key.partition("/")
    key, _, index = rest.rpartition("/")
    if prefix != FRAGMENTS or not sep or not key or not index.isdigit():
        raise InvalidKey(f"{object_key!r} is not a fragment key ('{FRAGMENTS}/<blob key>/<index>')")
    return key, int(index)


@dataclass(frozen=True, slots=True)
class StripeLayout:
    """One blob's stripe: its size, its codec and the node of each fragment index.

    ``nodes[i]`` is None when no node is known to hold fragment ``i`` (a rescan that found none).
    """

    key: str
    size: int
    codec: str
    k: int
    nodes: tuple[str | None, ...]

    @property
    def n(self) -> int:
        return len(self.nodes)

    @property
    def fragment_size(self) -> int:
        """Bytes of one fragment on a node, header included."""
        return self.header_size + payload_size(self.size, self.k)

    @property
    def header_size(self) -> int:
        return header_size(self.codec, self.key)

    @property
    def chunk(self) -> int:
        """Payload bytes per fragment (the data chunk length)."""
        return payload_size(self.size, self.k)

    def fragment_key(self, index: int) -> str:
        return fragment_key(self.key, index)

    def index_on(self, node: str) -> int | None:
        """The fragment index ``node`` holds, if any."""
        for i, holder in enumerate(self.nodes):
            if holder == node:
                return i
        return None

    def moved(self, index: int, node: str | None) -> StripeLayout:
        """This layout with fragment ``index`` on ``node``."""
        nodes = list(self.nodes)
        nodes[index] = node
        return replace(self, nodes=tuple(nodes))
