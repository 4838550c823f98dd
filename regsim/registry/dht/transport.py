"""How a request reaches another node: the :class:`Transport` protocol and an in-memory one.

A DHT node never opens a socket. It hands each request to a transport, which delivers it to the
addressed node and returns the reply, or raises :class:`~regsim.registry.dht.errors.Unreachable`.
Delivery is a plain function call, instantaneous: the simulator prices each RPC as one round trip
from the lists lookups return (or from :attr:`InMemoryTransport.on_request`, which sees every
request, background pings included), so nothing here needs threads or time.

:class:`InMemoryTransport` is the transport of the tests and of the simulator: a directory of
nodes by address, some of which can be failed (every request to or from them is unreachable)
and recovered.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable
from typing import Protocol

from .contact import Contact
from .errors import Unreachable
from .messages import Reply, Request


class Handler(Protocol):
    """The receiving side: a DHT node."""

    def handle(self, sender: Contact, message: Request) -> Reply: ...


class Transport(Protocol):
    """Delivers ``message`` from ``src`` to ``dst`` and returns the reply; raises
    :class:`Unreachable` when ``dst`` cannot be reached or does not answer."""

    def request(self, src: Contact, dst: Contact, message: Request) -> Reply: ...


#: ``on_request(src, dst, message, delivered)``: told of every request, delivered or not.
RequestHook = Callable[[Contact, Contact, Request, bool], None]


class InMemoryTransport:
    """Nodes in one process, by address; failed nodes neither answer nor send.

    A request to an address that is failed or unknown, or whose node now has another ID, raises
    :class:`Unreachable` (as a timed-out or refused stream would). ``sent`` counts requests by kind,
    ``lost`` the undelivered ones.
    """

    def __init__(self, *, on_request: RequestHook | None = None) -> None:
        self.nodes: dict[Hashable, Handler] = {}
        self._ids: dict[Hashable, int] = {}
        self.down: set[Hashable] = set()
        self.on_request = on_request
        self.sent: Counter[str] = Counter()
        self.lost: Counter[str] = Counter()

    def register(self, contact: Contact, handler: Handler) -> None:
        self.nodes[contact.addr] = handler
        self._ids[contact.addr] = contact.id

    def unregister(self, addr: Hashable) -> None:
        self.nodes.pop(addr, None)
        self._ids.pop(addr, None)
        self.down.discard(addr)

    def fail(self, addr: Hashable) -> None:
        """From now on ``addr`` neither answers nor sends (a crashed or cut-off node)."""
        self.down.add(addr)

    def recover(self, addr: Hashable) -> None:
        self.down.discard(addr)

    def is_up(self, addr: Hashable) -> bool:
        return addr in self.nodes and addr not in self.down

    def request(self, src: Contact, dst: Contact, message: Request) -> Reply:
        kind = message.kind
        self.sent[kind] += 1
        handler = self.nodes.get(dst.addr)
        delivered = (handler is not None and dst.addr not in self.down and src.addr not in self.down
                     and self._ids.get(dst.addr) == dst.id)
        if self.on_request is not None:
            self.on_request(src, dst, message, delivered)
        if not delivered:
            self.lost[kind] += 1
            raise Unreachable(f"{dst.addr!r} did not answer {kind} from {src.addr!r}")
        return handler.handle(src, message)  # type: ignore[union-attr]
