"""A whole DHT in one process: nodes on one in-memory transport and one clock, built and converged.

:meth:`Network.build` makes ``n`` nodes with seeded random IDs, has each join through the first
(Kademlia's join: insert the bootstrap contact, self-lookup, refresh the farther buckets), then
*converges* the tables: every node does one more self-lookup and refreshes all its buckets, so
the early joiners learn of the late ones. This is what the tests' "converged table" means, and a
simulator can take a network in that state as its starting point (the set-up RPCs are counted in
the transport but belong to no lookup result).
"""

from __future__ import annotations

import random
from collections.abc import Hashable, Iterable, Iterator
from typing import Any

from .clock import Clock, ManualClock
from .contact import Contact
from .ids import random_id
from .node import DhtNode
from .transport import InMemoryTransport, RequestHook


class Network:
    """DHT nodes by address on an :class:`InMemoryTransport`, sharing ``clock``.

    ``node_options`` go to every :class:`DhtNode` (``k``, ``alpha``, ``record_ttl``, ...).
    """

    def __init__(self, clock: Clock | None = None, *, on_request: RequestHook | None = None,
                 **node_options: Any) -> None:
        self.clock = clock if clock is not None else ManualClock()
        self.transport = InMemoryTransport(on_request=on_request)
        self.nodes: dict[Hashable, DhtNode] = {}
        self.node_options = node_options

    def add(self, contact: Contact, *, rng: random.Random | None = None) -> DhtNode:
        """A new node at ``contact`` (not joined yet)."""
        if contact.addr in self.nodes:
            raise ValueError(f"address {contact.addr!r} is taken")
        node = DhtNode(contact, self.transport, clock=self.clock, rng=rng, **self.node_options)
        self.nodes[contact.addr] = node
        self.transport.register(contact, node)
        return node

    def __getitem__(self, addr: Hashable) -> DhtNode:
        return self.nodes[addr]

    def __iter__(self) -> Iterator[DhtNode]:
        return iter(self.nodes.values())

    def __len__(self) -> int:
        return len(self.nodes)

    def fail(self, addrs: Iterable[Hashable]) -> None:
        for addr in addrs:
            self.transport.fail(addr)

    def recover(self, addrs: Iterable[Hashable]) -> None:
        for addr in addrs:
            self.transport.recover(addr)

    def alive(self) -> list[DhtNode]:
        return [n for n in self.nodes.values() if self.transport.is_up(n.addr)]

    def converge(self) -> None:
        """Every node: one self-lookup, then a forced refresh of all its buckets."""
        for node in list(self.nodes.values()):
            node.lookup_nodes(node.id)
            node.refresh(force=True)

    @classmethod
    def build(
        cls,
        n: int,
        *,
        seed: int = 0,
        converge: bool = True,
        clock: Clock | None = None,
        prefix: str = "n",
        on_request: RequestHook | None = None,
        **node_options: Any,
    ) -> Network:
        """``n`` nodes named ``{prefix}0`` .. with random IDs from ``seed``, each joined through the
        first, then (``converge``) converged."""
        if n < 1:
            raise ValueError(f"a network needs at least one node, got {n}")
        net = cls(clock, on_request=on_request, **node_options)
        rng = random.Random(seed)
        nodes = [net.add(Contact(random_id(rng), f"{prefix}{i}"), rng=random.Random(rng.getrandbits(64)))
                 for i in range(n)]
        first = nodes[0].contact
        for node in nodes[1:]:
            node.join(first)
        if converge:
            net.converge()
        return net
