"""Scheduler-driven peers: the parents a Dragonfly-style scheduler assigns, streamed from, retried for.

:class:`Parenting` is the part of :class:`~regsim.models.rollout.swarm.SwarmDriver` that serves
``p2p-scheduler`` peers the way a Dragonfly child (the ``dfdaemon`` client) uses its parents:

- **asking**: a peer asks :meth:`~regsim.registry.p2p.Scheduler.assign` for parents when it joins
  and whenever it has fewer than ``connections``; it connects at once to each parent holding a
  piece it wants, one piece in flight per parent (Dragonfly requests pieces one by one);
- **streaming**: a parent with nothing the peer wants yet stays assigned, as a Dragonfly child
  keeps a parent's ``SyncPieces`` stream open; the moment the parent gains a piece the peer
  wants, the peer connects (:meth:`_feed`). A connection that runs out of pieces closes, but the
  parent is released only once the scheduler says it can no longer serve the peer
  (:meth:`~regsim.registry.p2p.Scheduler.can_serve`);
- **waiting**: a peer short of parents queues in its swarm and asks again when a parent's room
  (children under its upload-slot limit) frees; a peer with none at all also asks every
  ``retry_s`` (Dragonfly's ``retryInterval``). Only those timed requests, and the one at joining,
  count towards the scheduler's back-to-source limit: the extra chances that freed room gives a
  peer would not have happened between Dragonfly's timed retries.
"""

from __future__ import annotations

from regsim.registry.p2p.peer import Member

from .peers import SOURCE, Layer, Peer

__all__ = ["Parenting"]


class Parenting:
    """Mixin of the swarm driver: the scheduler's side. Relies on the driver's state and methods
    (``_queues``, ``_by_node``, ``layers``, ``plane``, ``retry_s``, ``_decide``, ``_open``, ``fill``)."""

    def _fill_scheduler(self, peer: Peer, retry: bool) -> None:
        """Ask the scheduler for parents and connect to those holding a piece the peer wants."""
        scheduler = peer.layer.scheduler
        plan = scheduler.assign(peer.node, count_miss=retry)
        if plan.back_to_source:
            if SOURCE not in peer.conns:
                self._open(peer, self._decide(peer, [], self.pipeline, back_to_source=True))
            return
        for parent in plan.parents:
            if parent.peer_id not in peer.conns and (peer.wanted & parent.have).any():
                self._open(peer, self._decide(peer, [parent], self.pipeline))
        if len(plan.parents) < self.connections:
            peer.gen += 1
            self._queues[peer.layer.index].append((peer, peer.gen))
            if not plan.parents:
                self._arm_retry()

    def _feed(self, layer: Layer, peer: Peer, piece: int) -> None:
        """``peer`` gained ``piece``: its children without a connection to it that want the piece
        start one (a Dragonfly child learns of its parents' new pieces through ``SyncPieces``)."""
        kids = layer.scheduler.children_in_order(peer.node)
        if not kids:
            return
        by_node, agent, key = self._by_node[layer.index], peer.agent, peer.node
        for kid_id in kids:
            kid = by_node[kid_id]
            if key not in kid.conns and kid.wanted[piece]:
                self._open(kid, self._decide(kid, [agent], self.pipeline))

    def _keeps(self, peer: Peer, parent: Member) -> bool:
        """The connection from ``parent`` ran out of pieces: True if the parent stays assigned;
        otherwise it is released (its room offered to waiting peers)."""
        scheduler = peer.layer.scheduler
        if parent.peer_id not in scheduler.parents_of(peer.node):
            return False
        if scheduler.can_serve(peer.node, parent.peer_id):
            return True
        scheduler.release(peer.node, parent.peer_id)
        self._wake_queued(peer.layer, parent)
        return False

    def _wake_queued(self, layer: Layer, source: Member) -> None:
        """``source`` may have room for children: as many queued peers ask the scheduler again."""
        free = source.slots.limit - layer.scheduler.load(source.peer_id)
        queue = self._queues[layer.index]
        while queue and free > 0:
            peer, gen = queue.popleft()
            if peer.gen == gen and not peer.agent.complete:
                free -= 1
                self.wakes += 1
                self.fill(peer)

    def _arm_retry(self) -> None:
        if not self._retrying and self.retry_s > 0:
            self._retrying = True
            self.plane.env.process(self._retry_loop())

    def _retry_loop(self):
        """Every ``retry_s``, each queued peer without a parent asks the scheduler again, until
        none is left (or nothing moves and no retry helped: the run then ends and reports the
        peers left waiting). Peers with some parents wait for room instead."""
        env = self.plane.env
        while True:
            yield env.timeout(self.retry_s)
            before, asked = self.plane.stats.opened, 0
            for layer, queue in zip(self.layers, self._queues):
                for _ in range(len(queue)):
                    peer, gen = queue.popleft()
                    if peer.gen != gen or peer.agent.complete:
                        continue  # superseded by a later request, or done
                    if layer.scheduler.parents_of(peer.node):
                        queue.append((peer, gen))
                        continue
                    asked += 1
                    self.fill(peer, retry=True)  # queues it again if it is still short of parents
            self.retries += asked
            if not asked or (self.plane.n_active == 0 and self.plane.stats.opened == before):
                break
        self._retrying = False
