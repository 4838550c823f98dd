"""The swarm driver: the real P2P agents, trackers and schedulers, moving pieces over a data plane.

Every decision is made by :mod:`regsim.registry.p2p`; this module turns decisions into
connections on a data plane (:mod:`.planes`) and arrivals back into agent calls. A peer is one
node in one layer's swarm. It downloads over *connections*, one per source, each carrying a
pipeline of up to ``pipeline`` requested pieces (Kraken's pipeline limit) back to back:

- **opening**: a peer with room below its download limit offers its agent the members it may
  fetch from -- its tracker handout (``p2p-swarm``) or its scheduler-assigned parents
  (``p2p-scheduler``) -- and opens one connection per source among the requests it gets;
- **arrival**: each piece is handed to the agent the moment its last byte lands (``on_piece``,
  with verified bytes on the real data plane), so it can be served onwards at once; when a
  connection's pipeline is empty the agent chooses the next batch -- from the same source, or
  from one of a few neighbours probed beside it if one is less loaded (the agent gives a piece to
  the holder with the most free slots) -- and the connection carries on without a gap;
- **closing**: when no probed source has anything the peer needs, the connection closes, the
  source's slots free, and the peer tries to open another.

One agent decision per batch, not per piece, is what lets 2,600 peers x 750 pieces run in
seconds; upload slots count pieces in flight, so a host uploads to ``slots / pipeline``
connections per layer at full pipelines.

Below its download limit a peer waits for sources. A tracker-driven peer knows its handout as a
BitTorrent peer knows its neighbours; whenever a host gains a piece or frees upload slots, the
peers that were handed that host, have room and want one of its pieces take its free slots,
neediest first (fewest pieces held or coming), as an uploader unchokes interested neighbours --
so a wake-up costs no more than the capacity the host offers, and peers progress evenly. A
tracker-driven peer re-announces when the swarm has outgrown its handout or nobody serves it.

A scheduler-driven peer asks its swarm's scheduler for parents, streams their pieces as they
land and retries for parents on a timer, as a Dragonfly client does (:mod:`.parents`).
Should the whole data plane fall idle, every peer with room retries.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable

import numpy as np

from regsim.registry.p2p import Tracker
from regsim.registry.p2p.peer import Member, Request

from .parents import Parenting
from .peers import CANDIDATES, SOURCE, Conn, Hungry, Layer, Peer, host_of
from .unchoke import Unchoking

__all__ = ["SOURCE", "SwarmDriver"]


class SwarmDriver(Unchoking, Parenting):
    """Peers of every layer's swarm, their connections on a data plane, and who is waiting.

    ``mode`` is ``"tracker"`` or ``"scheduler"``; ``handout`` is how many peers a tracker hands
    out; ``connections`` the most sources a peer downloads one layer from at once, and the most
    peers a host uploads one layer to; ``pipeline`` the pieces a connection asks for in one
    decision (so a member's upload slots are ``connections * pipeline`` pieces in flight).
    ``on_done(peer, t)`` is called when a peer holds its whole layer; ``on_source(peer, nbytes)``
    when a peer asks the registry for ``nbytes``.
    """

    def __init__(self, *, mode: str, tracker: Tracker | None, handout: int, connections: int, pipeline: int,
                 on_done: Callable[[Peer, float], None], on_source: Callable[[Peer, int], None],
                 rng: np.random.Generator, real: bool = False, retry_s: float = 0.0, setup_s: float = 0.0,
                 announce_s: float = 0.0) -> None:
        if mode not in ("tracker", "scheduler"):
            raise ValueError(f"mode must be 'tracker' or 'scheduler', got {mode!r}")
        if mode == "tracker" and tracker is None:
            raise ValueError("a tracker-driven swarm needs a tracker")
        if pipeline < 1 or connections < 1:
            raise ValueError(f"need pipeline >= 1 and connections >= 1, got {pipeline} and {connections}")
        if not retry_s >= 0:
            raise ValueError(f"retry_s must be a non-negative number of seconds, got {retry_s!r}")
        self.mode, self.tracker = mode, tracker
        self.handout, self.connections, self.pipeline, self.real = handout, connections, pipeline, real
        self.on_done, self.on_source = on_done, on_source
        self.rng = rng
        #: scheduler: seconds between a waiting peer's timed requests (Dragonfly's retryInterval).
        self.retry_s = float(retry_s)
        #: seconds a new connection waits before its first byte (handshakes, slow start)
        self.setup_s = float(setup_s)
        #: tracker: seconds between a peer's announces (0: it announces whenever it needs to)
        self.announce_s = float(announce_s)
        self._retrying = False
        self.layers: list[Layer] = []
        self.plane = None  # set by attach()
        self.peers: list[Peer] = []
        #: per swarm member (one host in one layer), the connections it uploads on.
        self._uploads: dict[Member, int] = {}
        #: the same counts as a numpy array by member number, so that a peer can tell which of
        #: its fifty neighbours have room in a few array operations (see :meth:`_sources`)
        self._number: dict[Member, int] = {}
        self._up = np.zeros(1024, dtype=np.int64)
        #: tracker: per swarm member, the peers whose handout holds it (an ordered set).
        self._audience: dict[Member, dict[Peer, None]] = {}
        #: scheduler: per layer, peers waiting for parents, with the generation they queued at.
        self._queues: list[deque] = []
        #: per layer, the peers by node (a scheduler names children by node).
        self._by_node: list[dict[str, Peer]] = []
        #: per layer, incomplete peers below their connection limit (sampled by rechokes).
        self._hungry: list[Hungry] = []
        self._draws: list[float] = []
        self.announces = self.wakes = self.decisions = self.rechokes = self.retries = 0

    def add_layer(self, layer: Layer) -> None:
        if layer.index != len(self.layers):
            raise ValueError(f"layers join in order: expected index {len(self.layers)}, got {layer.index}")
        self.layers.append(layer)
        self._queues.append(deque())
        self._by_node.append({})
        self._hungry.append(Hungry())

    def attach(self, plane) -> None:
        self.plane = plane
        plane.idle_hook = self.idle

    # -- joining -----------------------------------------------------------------------------
    def join(self, peer: Peer) -> None:
        """Announce a peer that has just joined its swarm and start its downloads."""
        self.peers.append(peer)
        self._by_node[peer.layer.index][peer.node] = peer
        if self.tracker is not None:
            self.tracker.announce(peer.node, peer.layer.info.digest, complete=peer.agent.complete)
        if peer.agent.complete:
            return
        if self.mode == "tracker":
            self._announce(peer)
        self.fill(peer, retry=True)

    def _announce(self, peer: Peer) -> bool:
        """Ask the tracker for a fresh handout; the peer now listens to those hosts. With an
        announce interval, only once it has passed since the last (False: too early; a timer
        announces then) -- and the peers handed out learn of the asker too, as the connection it
        opens to them carries pieces both ways (Kraken's conns are bidirectional)."""
        now = self.plane.env.now
        if self.announce_s > 0 and now < peer.next_announce:
            if not peer.announce_armed:
                peer.announce_armed = True
                self.plane.env.timeout(peer.next_announce - now).callbacks.append(lambda _e, p=peer: self._tick(p))
            return False
        peer.next_announce = now + self.announce_s
        self.announces += 1
        layer = peer.layer
        audiences = self._audience
        for member in peer.neighbours:
            audiences[member].pop(peer, None)
        swarm = layer.swarm
        peer.neighbours = [swarm.member(p) for p in self.tracker.peers(layer.info.digest, peer.node, self.handout)]
        peer.neighbour_index = None
        for member in peer.neighbours:
            audience = audiences.get(member)
            if audience is None:
                audience = audiences[member] = {}
            audience[peer] = None
        if self.announce_s > 0:
            by_node, agent = self._by_node[layer.index], peer.agent
            mine = audiences.setdefault(agent, {})
            for member in peer.neighbours:
                other = by_node.get(member.peer_id)
                if other is not None and other is not peer and other not in mine and not other.agent.complete:
                    mine[other] = None
                    other.neighbours.append(agent)
                    other.neighbour_index = None
        return True

    def _tick(self, peer: Peer) -> None:
        """An announce timer fired: announce if the peer still needs to, and look for sources."""
        peer.announce_armed = False
        if peer.agent.complete:
            return
        if self._stale(peer) or not peer.conns:
            self._announce(peer)
        self.fill(peer)

    def _stale(self, peer: Peer) -> bool:
        """True when the swarm has outgrown the peer's handout (it joined early)."""
        have = len(peer.neighbours)
        return have < self.handout and have < len(peer.layer.swarm) - 1

    def _forget(self, peer: Peer) -> None:
        for member in peer.neighbours:
            self._audience[member].pop(peer, None)
        peer.neighbours = []
        peer.neighbour_index = None

    # -- deciding ----------------------------------------------------------------------------
    def _decide(self, peer: Peer, candidates: list[Member], room: int, *,
                back_to_source: bool = False, nothing_offered: bool = False) -> list[Request]:
        """The agent's requests among ``candidates``, at most ``room`` more pieces
        (``nothing_offered``: see :meth:`~regsim.registry.p2p.Agent.next_requests`)."""
        agent = peer.agent
        limit = agent.max_downloads
        agent.max_downloads = peer.inflight + room
        try:
            self.decisions += 1
            return agent.next_requests(candidates, back_to_source=back_to_source, nothing_offered=nothing_offered)
        finally:
            agent.max_downloads = limit

    def fill(self, peer: Peer, *, retry: bool = False) -> None:
        """Open connections up to the peer's limit, from its handout or its parents.

        A new connection starts with one piece (the agent spreads a decision's pieces over the
        least loaded holders); its later batches are full pipelines from the same source.
        ``retry``: under a scheduler, this request counts towards sending the peer back to source
        (a join, a timed retry), rather than being an extra chance because room freed.
        """
        if peer.agent.complete or len(peer.conns) >= self.connections:
            return
        if self.mode == "tracker":
            self._fill_tracker(peer)
        else:
            self._fill_scheduler(peer, retry)

    def _sources(self, peer: Peer, members: list[Member], most: int | None = None) -> list[Member]:
        """Members the peer is not connected to that can take one more connection; with ``most``,
        at most that many, scanned from a random place in ``members``."""
        conns, uploads, limit = peer.conns, self._uploads, self.connections
        if most is None or len(members) <= most:
            return [m for m in members if m.peer_id not in conns and uploads.get(m, 0) < limit]
        start = int(self._uniform() * len(members))
        out = []
        # members with room, in the order of a scan from ``start`` round to it (as one would
        # walk the list), found in array operations; then the first ``most`` not connected
        if members is peer.neighbours:
            index = peer.neighbour_index
            if index is None:
                index = peer.neighbour_index = np.array([self._numbered(m) for m in members], dtype=np.intp)
            room = self._up[index] < limit
            order = np.concatenate((room[start:].nonzero()[0] + start, room[:start].nonzero()[0])).tolist()
            for i in order:
                m = members[i]
                if m.peer_id not in conns:
                    out.append(m)
                    if len(out) == most:
                        break
            return out
        for m in members[start:] + members[:start]:
            if m.peer_id not in conns and uploads.get(m, 0) < limit:
                out.append(m)
                if len(out) == most:
                    break
        return out

    def _numbered(self, member: Member) -> int:
        """The member's number in :attr:`_up` (given on first sight)."""
        number = self._number.get(member)
        if number is None:
            number = self._number[member] = len(self._number)
            if number >= self._up.size:
                self._up = np.concatenate((self._up, np.zeros(self._up.size, dtype=np.int64)))
            self._up[number] = self._uploads.get(member, 0)
        return number

    def _fill_tracker(self, peer: Peer) -> None:
        room = self.connections - len(peer.conns)
        if self._stale(peer):
            self._announce(peer)
        requests = self._decide(peer, self._sources(peer, peer.neighbours, CANDIDATES), room)
        if not requests and not peer.conns and self._announce(peer):
            requests = self._decide(peer, self._sources(peer, peer.neighbours), room)
        self._open(peer, requests)

    def _open(self, peer: Peer, requests: list[Request]) -> None:
        batches: dict[Hashable, tuple[Member | None, list[int]]] = {}
        for piece, source in requests:
            key = SOURCE if source is None else source.peer_id
            batches.setdefault(key, (source, []))[1].append(piece)
        sizes = peer.layer.sizes
        for key, (source, pieces) in batches.items():
            peer.inflight += len(pieces)
            peer.wanted[pieces] = False
            if source is None:
                self.on_source(peer, sum(sizes[p] for p in pieces))
            conn = peer.conns.get(key)
            if conn is not None:  # an open connection to that source: queue the pieces on it
                conn.pieces.extend(pieces)
                continue
            conn = peer.conns[key] = Conn(peer, source, peer.frontend if source is None else host_of(source), pieces)
            if self.setup_s > 0:
                # handshakes and slow start: the first byte moves setup_s later (the connection
                # holds its slots meanwhile); nothing can close it before it opens
                self.plane.env.timeout(self.setup_s).callbacks.append(lambda _e, c=conn: self._start(c))
            else:
                self._start(conn)
            if source is not None:
                number = self._numbered(source)  # before the count moves: a first sight copies it
                self._uploads[source] = self._uploads.get(source, 0) + 1
                self._up[number] += 1
        self._track(peer)

    def _start(self, conn: Conn) -> None:
        conn.fid = self.plane.open(conn.host, conn.peer.node, conn.peer.layer.sizes[conn.pieces[0]], conn)

    # -- arrivals ----------------------------------------------------------------------------
    def on_arrival(self, conn: Conn, t: float) -> None:
        """The first piece queued on ``conn`` fully arrived at ``t``: deliver it, then go on."""
        peer, source = conn.peer, conn.source
        agent, layer = peer.agent, peer.layer
        piece = conn.pieces.pop(0)
        if self.real:
            agent.on_piece(piece, layer.read_source(piece) if source is None else source.read_piece(piece))
            complete = agent.complete
        else:
            complete = agent.on_piece(piece)
        peer.inflight -= 1
        nbytes = layer.sizes[piece]
        if source is None:
            peer.from_source += nbytes
        elif source.is_origin:
            peer.from_origins += nbytes
        else:
            peer.from_peers += nbytes
        if complete:
            self._complete(peer, conn, t)
            if layer.scheduler is not None:
                self._feed(layer, peer, piece)  # its last piece too: children waiting for it connect
            return
        if layer.scheduler is not None:
            self._feed(layer, peer, piece)
        if self._uploads.get(agent, 0) < self.connections and (self.mode == "tracker" or agent.held == 1):
            # it holds one more piece and has room: waiting peers may want it (under a scheduler,
            # only its first piece makes it a new candidate parent)
            self._offer(layer, agent)
        if self.mode == "tracker":
            # an origin with upload room offers it to waiting peers at every arrival: nothing else
            # wakes an origin whose connections all closed (under super-seeding it had nothing to
            # offer for a while), and a seeder's spare upload would idle while peers trade
            for seed in layer.origins:
                if self._uploads.get(seed, 0) < self.connections:
                    self._offer(layer, seed)
        if conn.pieces:
            self.plane.extend(conn.fid, layer.sizes[conn.pieces[0]])
            return
        self._refill(peer, conn)

    def _refill(self, peer: Peer, conn: Conn) -> None:
        """A connection's pipeline ran empty: the agent picks the next batch from the same source
        -- unless the source unchokes a peer further behind instead (see :meth:`_rechoke`)."""
        source, layer = conn.source, peer.layer
        if self.mode == "tracker":
            if self._stale(peer):
                self._announce(peer)  # it joined early: a fresh handout lets it (and others) find better sources
            if source is not None and self._rechoke(peer, conn):
                return
        if source is None:
            requests = self._decide(peer, [], self.pipeline, back_to_source=layer.scheduler is not None)
        else:
            requests = self._decide(peer, [source], self.pipeline)
        if requests:
            conn.pieces = [r.piece for r in requests]
            peer.inflight += len(requests)
            peer.wanted[conn.pieces] = False
            if source is None:
                self.on_source(peer, sum(layer.sizes[p] for p in conn.pieces))
            self.plane.extend(conn.fid, layer.sizes[conn.pieces[0]])
            return
        self._close(conn)
        if source is not None and layer.scheduler is not None and self._keeps(peer, source):
            return  # the parent stays assigned: _feed reconnects when it has a piece the peer wants
        self.fill(peer)

    def _complete(self, peer: Peer, conn: Conn, t: float) -> None:
        layer = peer.layer
        peer.done = t
        if self.tracker is not None:
            self.tracker.announce(peer.node, layer.info.digest, complete=True)
            self._forget(peer)
        parents: tuple = ()
        if layer.scheduler is not None:
            parents = layer.scheduler.parents_of(peer.node)
            layer.scheduler.release(peer.node)
        self._close(conn)
        self._offer(layer, peer.agent)
        for parent in parents:  # their room freed
            self._offer(layer, layer.swarm.member(parent))
        self.on_done(peer, t)

    def _close(self, conn: Conn, *, offer: bool = True) -> None:
        peer = conn.peer
        del peer.conns[SOURCE if conn.source is None else conn.source.peer_id]
        self.plane.close(conn.fid)
        self._track(peer)
        if conn.source is not None:
            self._uploads[conn.source] -= 1
            self._up[self._number[conn.source]] -= 1
            if offer:
                self._offer(peer.layer, conn.source)
