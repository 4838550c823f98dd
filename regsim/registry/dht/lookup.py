"""The iterative lookup: FIND_NODE and GET_PROVIDERS, alpha queries a round, and what it cost.

Kademlia's node lookup (Maymounkov & Mazieres 2002, section 2.3) as libp2p specifies it
("Peer routing"): the initiator starts from the ``k`` contacts of its own table closest to the key
and queries them, ``alpha`` at a time, always the closest not yet queried; every reply adds the
replier's closest contacts to the candidates; a peer that does not answer is dropped. The lookup
**ends when the k closest peers seen have all been queried and answered** (or fewer, when the
whole network is smaller). A GET_PROVIDERS lookup may end earlier, once it has ``want`` providers
(go-libp2p-kad-dht's ``FindProvidersAsync(count)``, which Spegel calls with its resolve count).

It runs in synchronous **rounds**: a round sends up to ``alpha`` requests "in parallel" and takes
all their replies before choosing the next ones. A round costs one round trip (the slowest of
its RPCs), so ``rounds`` is the lookup's latency in RTTs. As in the paper, when a round brings no
peer closer than the closest already seen, the next round queries *all* of the ``k`` closest not
yet queried (at most ``k`` in parallel) instead of ``alpha`` -- the step that makes the lookup
finish in a bounded number of rounds (``sweep=False`` keeps strictly ``alpha`` per round).

Every request is listed in the result as an :class:`Rpc` (which peer, which round, answered or
not, and its *hop*: 1 for peers of the initiator's own table, ``h + 1`` for a peer first
learned from a reply of a hop-``h`` peer), so a model can price each as one round trip, or schedule
them asynchronously if it prefers. The lookup only decides whom to ask; the node passes the
``query`` function that really sends the request (and updates its routing table).
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from .contact import Contact
from .errors import Unreachable
from .ids import NodeId
from .messages import FIND_NODE, GET_PROVIDERS, Reply

#: the libp2p spec's concurrency parameter (and the paper's suggestion).
DEFAULT_ALPHA = 3


class Rpc(NamedTuple):
    """One request a lookup (or a provide) sent: priced by a model as one round trip.

    ``round`` counts from 1 within the operation; ``hop`` is the discovery depth of ``dst`` (see
    the module doc); ``ok`` is False when the peer was unreachable (a model prices that as a
    timeout, not a round trip).
    """

    kind: str
    src: Contact
    dst: Contact
    round: int
    hop: int
    ok: bool


@dataclass(slots=True)
class LookupResult:
    """What a lookup found and every RPC it made.

    ``closest`` are the (up to ``k``) closest peers that answered, nearest first; ``providers`` the
    providers found (GET_PROVIDERS), in the order they were found; ``rounds`` the number of rounds
    (round trips on the critical path); ``hops`` the hop of the peer whose reply first named a
    provider (GET_PROVIDERS; 0 when the initiator held a record itself) or the largest hop among
    ``closest`` (FIND_NODE); ``None`` when nothing was found.
    """

    kind: str
    key: NodeId
    origin: Contact
    closest: list[Contact] = field(default_factory=list)
    providers: list[Contact] = field(default_factory=list)
    rpcs: list[Rpc] = field(default_factory=list)
    rounds: int = 0
    hops: int | None = None
    #: round in which the first provider was found (0: held locally; None: none found).
    found_round: int | None = None

    @property
    def found(self) -> bool:
        return bool(self.providers)

    @property
    def rpc_count(self) -> int:
        return len(self.rpcs)

    @property
    def failed(self) -> list[Contact]:
        """Peers that did not answer."""
        return [r.dst for r in self.rpcs if not r.ok]

    @property
    def peers(self) -> list[Contact]:
        """Every peer queried, in order."""
        return [r.dst for r in self.rpcs]

    def by_round(self) -> list[list[Rpc]]:
        """The RPCs grouped by round: ``by_round()[r - 1]`` went out together in round ``r``."""
        out: list[list[Rpc]] = [[] for _ in range(self.rounds)]
        for rpc in self.rpcs:
            out[rpc.round - 1].append(rpc)
        return out


Query = Callable[[Contact], Reply]


def iterative_lookup(
    kind: str,
    key: NodeId,
    origin: Contact,
    seeds: Iterable[Contact],
    query: Query,
    *,
    k: int = 20,
    alpha: int = DEFAULT_ALPHA,
    want: int | None = None,
    sweep: bool = True,
    known_providers: Iterable[Contact] = (),
) -> LookupResult:
    """Run one lookup of ``key`` (``kind``: FIND_NODE or GET_PROVIDERS) from ``origin``.

    ``seeds`` are the initiator's own closest contacts; ``query(contact)`` sends the request and
    returns the reply or raises :class:`Unreachable`. For GET_PROVIDERS, ``want`` stops the lookup
    after the round in which that many distinct providers are known (``known_providers``, the
    initiator's own records, count towards it; ``None``: run to the end and collect all).
    """
    if kind not in (FIND_NODE, GET_PROVIDERS):
        raise ValueError(f"a lookup is FIND_NODE or GET_PROVIDERS, not {kind!r}")
    if k < 1 or alpha < 1:
        raise ValueError(f"k and alpha must be at least 1 (k={k}, alpha={alpha})")
    result = LookupResult(kind, key, origin)
    providers: dict[NodeId, Contact] = {}
    for p in known_providers:
        providers.setdefault(p.id, p)
    if providers:
        result.hops, result.found_round = 0, 0
    if want is not None and len(providers) >= want:
        result.providers = list(providers.values())
        return result

    # Candidates by distance: ``order`` holds the distances sorted (distinct for distinct IDs),
    # ``at`` maps one back to its peer; a round's shortlist is a walk from the front.
    order: list[int] = []
    at: dict[int, NodeId] = {}
    contact_of: dict[NodeId, Contact] = {}
    hop: dict[NodeId, int] = {}
    for c in seeds:
        if c.id != origin.id and c.id not in contact_of:
            d = c.id ^ key
            contact_of[c.id], hop[c.id], at[d] = c, 1, c.id
            order.append(d)
    order.sort()
    queried: set[NodeId] = set()
    failed: set[NodeId] = set()
    best = order[0] if order else None
    widen = False
    rnd = 0
    while True:
        pending: list[NodeId] = []
        taken = 0
        for d in order:
            pid = at[d]
            if pid in failed:
                continue
            if pid not in queried:
                pending.append(pid)
            taken += 1
            if taken == k:
                break
        if not pending:
            break
        batch = pending if widen else pending[:alpha]
        rnd += 1
        improved = False
        for pid in batch:
            queried.add(pid)
            peer = contact_of[pid]
            try:
                reply = query(peer)
            except Unreachable:
                failed.add(pid)
                result.rpcs.append(Rpc(kind, origin, peer, rnd, hop[pid], False))
                continue
            result.rpcs.append(Rpc(kind, origin, peer, rnd, hop[pid], True))
            for p in reply.providers:
                if p.id not in providers:
                    providers[p.id] = p
                    if result.found_round is None:
                        result.hops, result.found_round = hop[pid], rnd
            for c in reply.closer:
                if c.id == origin.id or c.id in contact_of:
                    continue
                d = c.id ^ key
                contact_of[c.id], hop[c.id], at[d] = c, hop[pid] + 1, c.id
                insort(order, d)
                if best is None or d < best:
                    best, improved = d, True
        if want is not None and len(providers) >= want:
            break
        widen = sweep and not improved

    result.rounds = rnd
    result.providers = list(providers.values())
    answered = [at[d] for d in order if at[d] in queried and at[d] not in failed]
    result.closest = [contact_of[i] for i in answered[:k]]
    if kind == FIND_NODE and result.closest:
        result.hops = max(hop[c.id] for c in result.closest)
    return result


@dataclass(slots=True)
class ProvideResult:
    """A provide (or republish): the FIND_NODE lookup of the key, then one round of ADD_PROVIDER
    to the closest peers it found (sent in parallel, so one more round trip; each listed with
    hop 1, being sent straight to a known peer)."""

    key: NodeId
    lookup: LookupResult
    stores: list[Rpc] = field(default_factory=list)

    @property
    def rpcs(self) -> list[Rpc]:
        return self.lookup.rpcs + self.stores

    @property
    def rpc_count(self) -> int:
        return len(self.lookup.rpcs) + len(self.stores)

    @property
    def rounds(self) -> int:
        return self.lookup.rounds + (1 if self.stores else 0)

    @property
    def stored_at(self) -> list[Contact]:
        """The peers that accepted the record."""
        return [r.dst for r in self.stores if r.ok]

    def by_round(self) -> list[list[Rpc]]:
        return self.lookup.by_round() + ([self.stores] if self.stores else [])
