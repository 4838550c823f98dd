"""A DHT node: answers the four RPCs, and runs lookups, provides, republishes and refreshes.

The server side (:meth:`DhtNode.handle`) follows the libp2p kad-dht spec: ``PING`` is answered,
``FIND_NODE`` with the ``k`` closest contacts the node knows (never the asker itself),
``GET_PROVIDERS`` with the live provider records of the key plus the ``k`` closest contacts, and
``ADD_PROVIDER`` stores the record only when the provider named is the sender. As in Kademlia,
every request received and every reply received updates the routing table with its sender
(:meth:`~regsim.registry.dht.routing.RoutingTable.update`, with the least-recently-seen ping
rule). A PING received does *not* update the receiver's table: it is the liveness probe of that
rule, and letting it insert the pinger could set off a ping from the receiver in turn.

The client side:

- :meth:`DhtNode.join` -- Kademlia's join (paper, section 2.3): insert the bootstrap contact, look
  up one's own ID, then refresh every bucket farther than the closest neighbour found;
- :meth:`DhtNode.lookup_nodes` / :meth:`DhtNode.find_providers` -- iterative lookups
  (:mod:`~regsim.registry.dht.lookup`);
- :meth:`DhtNode.provide` -- FIND_NODE for the key, then ADD_PROVIDER to the ``k`` closest peers
  (and a record in the node's own store, as Spegel adds one);
- :meth:`DhtNode.republish` -- provide again every key whose republish time has come;
- :meth:`DhtNode.withdraw` -- stop providing a key (no RPC: remote records expire);
- :meth:`DhtNode.refresh` -- look up a random ID in every bucket not looked up for an interval.

A peer that fails to answer a lookup's request is removed from the table (its bucket's
replacement cache refills the place). Every request the node sends is counted in :attr:`sent`
by kind; the transport's hook sees each of them too, background pings included.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Hashable
from dataclasses import dataclass, field

import numpy as np

from .clock import Clock
from .contact import Contact
from .errors import Unreachable
from .ids import NodeId
from .lookup import DEFAULT_ALPHA, LookupResult, ProvideResult, Rpc, iterative_lookup
from .messages import (
    ADD_PROVIDER,
    FIND_NODE,
    GET_PROVIDERS,
    Ack,
    AddProvider,
    FindNode,
    GetProviders,
    Nodes,
    Ping,
    Pong,
    Providers,
    Reply,
    Request,
)
from .records import DEFAULT_RECORD_TTL_S, DEFAULT_REPUBLISH_INTERVAL_S, ProviderSchedule, ProviderStore
from .routing import DEFAULT_K, DEFAULT_REFRESH_INTERVAL_S, RoutingTable
from .transport import Transport


@dataclass(slots=True)
class Maintenance:
    """What one :meth:`DhtNode.maintain` call did: bucket refreshes, republishes, records pruned."""

    refreshes: list[LookupResult] = field(default_factory=list)
    republished: list[ProvideResult] = field(default_factory=list)
    pruned: int = 0

    @property
    def rpc_count(self) -> int:
        return sum(r.rpc_count for r in self.refreshes) + sum(p.rpc_count for p in self.republished)


class DhtNode:
    """One Kademlia node with libp2p's content routing, on an injected transport and clock."""

    def __init__(
        self,
        contact: Contact,
        transport: Transport,
        *,
        clock: Clock,
        k: int = DEFAULT_K,
        alpha: int = DEFAULT_ALPHA,
        record_ttl: float = DEFAULT_RECORD_TTL_S,
        republish_interval: float = DEFAULT_REPUBLISH_INTERVAL_S,
        refresh_interval: float = DEFAULT_REFRESH_INTERVAL_S,
        rng: random.Random | np.random.Generator | None = None,
        sweep: bool = True,
        ping_when_full: bool = True,
    ) -> None:
        self.contact = contact
        self.transport = transport
        self.clock = clock
        self.k = k
        self.alpha = alpha
        self.sweep = sweep
        self.refresh_interval = refresh_interval
        #: the generator behind refresh targets; seeded from the node ID unless given.
        self.rng = rng if rng is not None else random.Random(contact.id)
        self.routing = RoutingTable(contact.id, k=k, ping=self._alive if ping_when_full else None, clock=clock)
        #: records this node holds for others (and its own, as Spegel keeps a local one).
        self.records = ProviderStore(clock, ttl=record_ttl)
        #: the keys this node provides, and when each is due for republishing.
        self.providing = ProviderSchedule(clock, interval=republish_interval)
        #: requests sent, by kind (PING included).
        self.sent: Counter[str] = Counter()

    @property
    def id(self) -> NodeId:
        return self.contact.id

    @property
    def addr(self) -> Hashable:
        """The node's transport address (a host name in the simulator)."""
        return self.contact.addr

    def __repr__(self) -> str:
        return f"DhtNode({self.contact!r}, {len(self.routing)} contacts)"

    # -- server side -------------------------------------------------------------------------

    def handle(self, sender: Contact, message: Request) -> Reply:
        """Answer one request from ``sender`` (called by the transport)."""
        if isinstance(message, Ping):
            return Pong()
        self.routing.update(sender)
        if isinstance(message, FindNode):
            return Nodes(tuple(self.routing.closest(message.key, self.k, exclude=sender.id)))
        if isinstance(message, GetProviders):
            return Providers(tuple(self.records.get(message.key)),
                             tuple(self.routing.closest(message.key, self.k, exclude=sender.id)))
        if isinstance(message, AddProvider):
            if message.provider.id != sender.id:
                return Ack(False)
            self.records.add(message.key, message.provider)
            return Ack(True)
        raise TypeError(f"not a DHT request: {message!r}")

    # -- sending -----------------------------------------------------------------------------

    def _send(self, dst: Contact, message: Request) -> Reply:
        """Send a request; on failure drop ``dst`` from the table, on success note it was seen."""
        self.sent[message.kind] += 1
        try:
            reply = self.transport.request(self.contact, dst, message)
        except Unreachable:
            self.routing.remove(dst.id)
            raise
        self.routing.update(dst)
        return reply

    def _alive(self, contact: Contact) -> bool:
        """The routing table's liveness check: one PING through the transport."""
        self.sent[Ping.kind] += 1
        try:
            self.transport.request(self.contact, contact, Ping())
        except Unreachable:
            return False
        return True

    def ping(self, contact: Contact) -> bool:
        """PING ``contact``; True when it answered (and then it is noted as seen)."""
        try:
            self._send(contact, Ping())
        except Unreachable:
            return False
        return True

    # -- lookups -----------------------------------------------------------------------------

    def lookup_nodes(self, key: NodeId) -> LookupResult:
        """Iterative FIND_NODE: the ``k`` live peers closest to ``key``."""
        self.routing.touch_range(key)
        message = FindNode(key)
        return iterative_lookup(FIND_NODE, key, self.contact, self.routing.closest(key, self.k),
                                lambda peer: self._send(peer, message),
                                k=self.k, alpha=self.alpha, sweep=self.sweep)

    def find_providers(self, key: NodeId, want: int | None = None) -> LookupResult:
        """Iterative GET_PROVIDERS: providers of ``key``, the node's own records counted first.

        ``want`` ends the lookup once that many providers are known (None: run it to the end).
        """
        self.routing.touch_range(key)
        message = GetProviders(key)
        return iterative_lookup(GET_PROVIDERS, key, self.contact, self.routing.closest(key, self.k),
                                lambda peer: self._send(peer, message),
                                k=self.k, alpha=self.alpha, want=want, sweep=self.sweep,
                                known_providers=self.records.get(key))

    # -- providing ---------------------------------------------------------------------------

    def provide(self, key: NodeId) -> ProvideResult:
        """Advertise that this node provides ``key``: store a record at the ``k`` closest peers
        (and locally), and schedule the key's republish."""
        lookup = self.lookup_nodes(key)
        result = ProvideResult(key, lookup)
        message = AddProvider(key, self.contact)
        rnd = lookup.rounds + 1
        for peer in lookup.closest:
            try:
                ack = self._send(peer, message)
            except Unreachable:
                result.stores.append(Rpc(ADD_PROVIDER, self.contact, peer, rnd, 1, False))
                continue
            result.stores.append(Rpc(ADD_PROVIDER, self.contact, peer, rnd, 1,
                                     isinstance(ack, Ack) and ack.stored))
        self.records.add(key, self.contact)
        self.providing.done(key)
        return result

    def withdraw(self, key: NodeId) -> bool:
        """Stop providing ``key``: no more republishes, and the local record goes. Records already
        at other nodes stay until they expire (libp2p has no message to delete them)."""
        self.records.remove(key, self.contact.id)
        return self.providing.stop(key)

    def republish(self) -> list[ProvideResult]:
        """Provide again every key whose republish time has come (renewing its records' ttl)."""
        return [self.provide(key) for key in self.providing.due()]

    # -- table maintenance -------------------------------------------------------------------

    def join(self, bootstrap: Contact) -> list[LookupResult]:
        """Join through ``bootstrap``: insert it, look up our own ID, then refresh every bucket
        farther away than the closest neighbour that lookup found (Kademlia, section 2.3)."""
        self.routing.update(bootstrap)
        results = [self.lookup_nodes(self.contact.id)]
        indices = self.routing.indices()
        if indices:
            for _, target in self.routing.refresh_targets(self.rng, force=True, start=indices[0] + 1):
                results.append(self.lookup_nodes(target))
        return results

    def refresh(self, *, force: bool = False) -> list[LookupResult]:
        """Look up a random ID in each bucket (from the nearest non-empty one outwards) that no
        lookup targeted within ``refresh_interval`` (``force``: in every one of them)."""
        targets = self.routing.refresh_targets(self.rng, interval=self.refresh_interval, force=force)
        return [self.lookup_nodes(target) for _, target in targets]

    def maintain(self) -> Maintenance:
        """One periodic pass: refresh stale buckets, republish what is due, prune expired records."""
        return Maintenance(self.refresh(), self.republish(), self.records.prune())

    def next_republish(self) -> float | None:
        """When the next key is due for republishing (for a simulator to wait until)."""
        return self.providing.next_due()
