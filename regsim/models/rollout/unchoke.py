"""Who gets a host's free upload room: unchoking waiting peers, neediest first, and optimistic rechokes.

:class:`Unchoking` is the half of :class:`~regsim.models.rollout.swarm.SwarmDriver` that decides which
waiting peer takes room a host frees or gains:

- when a host gains a piece or frees an upload connection, the waiting peers that were handed it
  and want one of its pieces take its room, neediest first (fewest pieces held or coming), as an
  uploader unchokes interested neighbours -- at most :data:`~regsim.models.rollout.peers.CANDIDATES`
  are weighed, so a wake-up costs no more than the capacity the host offers;
- at the end of a connection's pipeline, the source may unchoke a random peer of the swarm that
  has room, is further behind and wants one of its pieces instead (BitTorrent's optimistic
  unchoke, at pipeline boundaries);
- under a scheduler, peers queued for parents ask the scheduler again when a parent's room
  frees (:mod:`.parents`);
- when the whole data plane falls idle, every peer with room tries again.
"""

from __future__ import annotations

from itertools import compress

import numpy as np

from regsim.registry.p2p.peer import Member

from .peers import CANDIDATES, Conn, Layer, Peer

__all__ = ["Unchoking"]


class Unchoking:
    """Mixin of the swarm driver: the waiting side. Relies on the driver's state and methods
    (``_uploads``, ``_audience``, ``_hungry``, ``_decide``, ``_open``, ``_close``, ``fill``,
    ``_wake_queued``)."""

    def _rechoke(self, peer: Peer, conn: Conn) -> bool:
        """BitTorrent's optimistic unchoke, at a pipeline boundary: a random peer of the swarm with
        room for another connection takes this source's connection if it is further behind (fewer
        pieces held or coming), was handed this source, and wants one of its pieces."""
        pool = self._hungry[peer.layer.index]
        if not pool:
            return False
        source = conn.source
        taker = pool.pick(self._uniform())
        if (taker is peer or source.peer_id in taker.conns
                or taker.agent.held + taker.inflight >= peer.agent.held + peer.inflight
                or taker not in self._audience.get(source, ())
                or not (taker.wanted & source.have).any()):
            return False
        requests = self._decide(taker, [source], self.pipeline)
        if not requests:
            return False
        self.rechokes += 1
        self._open(taker, requests)
        self._close(conn, offer=False)
        self.fill(peer)
        return True

    def _uniform(self) -> float:
        """The next uniform [0, 1) number, drawn from the generator in blocks of 4096."""
        if not self._draws:
            self._draws = self.rng.random(4096).tolist()
            self._draws.reverse()
        return self._draws.pop()

    def _track(self, peer: Peer) -> None:
        """Keep the layer's pool of peers below their connection limit up to date."""
        if len(peer.conns) < self.connections and not peer.agent.complete:
            self._hungry[peer.layer.index].add(peer)
        else:
            self._hungry[peer.layer.index].discard(peer)

    # -- waiting -----------------------------------------------------------------------------
    def _offer(self, layer: Layer, source: Member) -> None:
        """``source`` (a member of ``layer``'s swarm) may have room for uploads: waiting peers take it."""
        if self.mode == "scheduler":
            self._wake_queued(layer, source)
            return
        free = self.connections - self._uploads.get(source, 0)
        if free <= 0:
            return
        audience = self._audience.get(source)
        if not audience:
            return
        limit, key = self.connections, source.peer_id
        waiting = []
        for p in audience:  # in turn: peers served go to the back of the line
            if len(p.conns) < limit and key not in p.conns:
                waiting.append(p)
                if len(waiting) == CANDIDATES:
                    break
        if not waiting:
            return
        # which of them want one of its pieces: a boolean matrix-vector product is, per row,
        # "any piece both wanted and held" (a third of the time of an and, then any by row)
        wants = np.array([p.wanted for p in waiting], dtype=bool).dot(source.have).tolist()
        # the neediest first -- fewest pieces held or coming -- so that peers progress evenly
        takers = sorted(compress(waiting, wants), key=lambda p: p.agent.held + p.inflight)
        if not takers:
            return
        # a super-seeding origin with no fresh piece offers nothing: each peer's decision is then
        # only its random draws (it stays empty, and changes nothing the next one reads)
        empty = source.is_origin and hasattr(source, "offer") and not source.offer(layer.swarm.spread).any()
        for peer in takers:
            self.wakes += 1
            requests = self._decide(peer, [source], self.pipeline, nothing_offered=empty)
            if requests:
                self._open(peer, requests)
                del audience[peer]
                audience[peer] = None  # served: to the back of the line
                free -= 1
                if free <= 0:
                    break

    def idle(self) -> None:
        """Nothing moves: every peer with room tries again (a scheduler may now send it to source)."""
        for peer in self.peers:
            if not peer.agent.complete and len(peer.conns) < self.connections:
                self.wakes += 1
                self.fill(peer, retry=True)

    @property
    def waiting(self) -> int:
        """Incomplete peers with room for more connections."""
        return sum(1 for p in self.peers if not p.agent.complete and len(p.conns) < self.connections)
