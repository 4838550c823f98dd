"""The swarm driver's bookkeeping: layers, peers, their connections, and the peers still hungry.

A :class:`Peer` is one node in one layer's swarm (its real :class:`~regsim.registry.p2p.Agent`,
handout and connections, and the bytes it got from peers, origins and the registry); a
:class:`Conn` is one source serving it, with the pieces requested on it in arrival order.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from regsim.registry.p2p import Agent, MetaInfo, Scheduler, Swarm
from regsim.registry.p2p.peer import Member

__all__ = ["CANDIDATES", "SOURCE", "Conn", "Hungry", "Layer", "Peer", "host_of"]

SOURCE = None  # connection key of a peer's back-to-source connection
#: members a decision weighs at once: a peer opening connections considers this many of its
#: handout with room (Kraken keeps ten connections per torrent), and a host with free upload room
#: this many of the peers waiting on it, neediest first.
CANDIDATES = 16


@dataclass
class Layer:
    """One blob's swarm: its metainfo, piece lengths, and the scheduler that serves it (if any)."""

    index: int
    info: MetaInfo
    swarm: Swarm
    scheduler: Scheduler | None = None
    #: the registry's bytes of piece i (real data plane), for back-to-source pieces.
    read_source: Callable[[int], bytes] | None = None
    sizes: list[int] = field(init=False)
    origins: list[Member] = field(init=False)

    def __post_init__(self) -> None:
        self.sizes = self.info.piece_lengths().tolist()
        #: the swarm's origins (seeds), fixed once the layer is built
        self.origins = self.swarm.origins


class Peer:
    """One node in one layer's swarm, and what it received from whom."""

    __slots__ = ("node", "layer", "agent", "conns", "neighbours", "gen", "inflight", "frontend", "done",
                 "from_peers", "from_origins", "from_source", "wanted", "next_announce", "announce_armed",
                 "neighbour_index")

    def __init__(self, node: str, layer: Layer, agent: Agent, frontend: str) -> None:
        self.node, self.layer, self.agent, self.frontend = node, layer, agent, frontend
        self.conns: dict[Hashable, Conn] = {}
        self.neighbours: list[Member] = []
        #: the driver's member numbers of ``neighbours`` (a numpy array), or None once they changed
        self.neighbour_index = None
        self.gen = 0
        self.inflight = 0
        self.done: float | None = None
        self.from_peers = self.from_origins = self.from_source = 0
        #: pieces neither held nor requested -- what the agent would still ask for -- kept here so
        #: that a host can tell in one array operation which waiting peers want its pieces
        self.wanted = ~agent.have
        #: earliest time of its next tracker announce, and whether a timer waits for it
        self.next_announce = 0.0
        self.announce_armed = False


class Conn:
    """A source serving one peer: the requested pieces, in arrival order, and the plane's id."""

    __slots__ = ("peer", "source", "host", "pieces", "fid")

    def __init__(self, peer: Peer, source: Member | None, host: str, pieces: list[int]) -> None:
        self.peer, self.source, self.host, self.pieces = peer, source, host, pieces
        self.fid = -1


class Hungry:
    """A set of peers with O(1) add, discard and uniform pick (swap-remove list plus index)."""

    __slots__ = ("items", "index")

    def __init__(self) -> None:
        self.items: list[Peer] = []
        self.index: dict[Peer, int] = {}

    def add(self, peer: Peer) -> None:
        if peer not in self.index:
            self.index[peer] = len(self.items)
            self.items.append(peer)

    def discard(self, peer: Peer) -> None:
        i = self.index.pop(peer, None)
        if i is not None:
            last = self.items.pop()
            if i < len(self.items):
                self.items[i] = last
                self.index[last] = i

    def pick(self, u: float) -> Peer:
        """The peer at uniform position ``u`` in [0, 1)."""
        return self.items[int(u * len(self.items))]

    def __len__(self) -> int:
        return len(self.items)


def host_of(member: Member) -> str:
    """The host a swarm member runs on: its peer id, which the model gives as the host's name
    (an agent's node, an origin's host); checked here so that a mismatch fails loudly."""
    node = getattr(member, "node", None)
    host = node if node is not None else member.origin.node  # type: ignore[attr-defined]
    if host != member.peer_id:
        raise ValueError(f"swarm member {member.peer_id!r} runs on host {host!r}: the driver keys hosts by peer id")
    return host


