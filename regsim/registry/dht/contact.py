"""A contact: what a node knows of a peer -- its ID and the address to send requests to.

Kademlia's contact is the triple (IP address, UDP port, node ID); libp2p's is a peer ID with its
multiaddrs. Here the address is whatever the transport delivers to: a host name in the simulator
(``"rack3-n17"``), which is also what a zone lookup or a model's network takes. A named tuple,
because routing tables and replies hold thousands of them and they must hash and compare cheaply.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import NamedTuple

from .ids import NodeId, id_of_name, short


class Contact(NamedTuple):
    """A peer: its 256-bit node ID and its transport address."""

    id: NodeId
    addr: Hashable

    @classmethod
    def named(cls, name: str) -> Contact:
        """The contact of host ``name`` with its ID derived from the name (:func:`id_of_name`)."""
        return cls(id_of_name(name), name)

    def __repr__(self) -> str:
        return f"Contact({self.addr!r}, {short(self.id)})"
