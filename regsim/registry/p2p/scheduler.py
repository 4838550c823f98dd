"""A Dragonfly-style scheduler: a few parents per peer, chosen by load, within upload limits.

Where a tracker hands out peers and lets them sort it out, Dragonfly's scheduler decides who
downloads from whom. For each peer asking, it keeps the parents that can still serve it, then
tops up to ``parents`` of them: it samples ``sample`` random members of the swarm (Dragonfly's
``LoadRandomPeers(filterParentLimit)``: never a walk over the whole swarm) plus every origin,
drops those that are the peer itself, already its parents, its own children (a parent cycle),
full, or that hold nothing the peer lacks, and ranks the rest by load (children / upload limit),
then by pieces held, then at random. A parent's load is the number of children it serves; it
never exceeds the parent's upload-slot limit, and drops when :meth:`Scheduler.release` ends a
child's transfer.

With ``streaming=True`` the filter is Dragonfly's own (``filterCandidateParents``): a member
qualifies when it can serve the peer now *or later* -- an origin, a complete peer, a peer sent back
to source, or a peer that has parents of its own -- whether or not it yet holds a piece the peer
lacks, because a Dragonfly child streams its parents' pieces as they land (``SyncPieces``) and
keeps a parent until that parent has nothing more to give. A parent is kept on the same terms,
and, as Dragonfly's DAG does, no edge may close a cycle, so that no ring of peers can wait on
each other for ever. Without it (the default), only members holding a piece the peer lacks
qualify, only a peer's own children are refused (a cycle of two), and a parent that no longer
holds a piece the peer lacks is dropped.

A peer that gets no parent waits and asks again; it is sent back to source (the registry) at once
when no member holds anything it needs, or after ``retry_back_to_source`` fruitless requests in a
row -- and in either case only while fewer than ``back_to_source_count`` peers of the swarm have
been sent there (Dragonfly's ``backToSourceCount``, 3, and ``retryBackToSourceLimit``, 5). A
request counts as a retry unless the caller says otherwise (``count_miss=False``: a driver asking
again because room freed, which Dragonfly's scheduler would not have done between its timed
retries). A peer sent back to source stays there until it completes; its grant is returned when
it leaves.

Load is counted per scheduler, and a scheduler serves one swarm: the simulator keeps one per
blob. Cost per decision: O((sample + origins) x pieces) numpy work, plus, when streaming, an
acyclicity check confined by :class:`~regsim.registry.p2p.topo.TopologicalOrder` to the part of
the graph between the two peers.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from dataclasses import dataclass

import numpy as np

from .errors import P2PError
from .peer import Member
from .swarm import Swarm
from .topo import TopologicalOrder


@dataclass(frozen=True, slots=True)
class Assignment:
    """A scheduling decision: download from ``parents``; or from the registry (``back_to_source``);
    or, with neither, wait and ask again."""

    parents: tuple[Member, ...]
    back_to_source: bool

    @property
    def parent_ids(self) -> tuple[Hashable, ...]:
        return tuple(p.peer_id for p in self.parents)


class Scheduler:
    """Parent assignment for one swarm. The counts default to Dragonfly's (4 parents from 15
    sampled; 3 peers back to source, after 5 fruitless requests); ``streaming=True`` applies its
    parent filter and acyclic graph too (module text)."""

    def __init__(self, swarm: Swarm, rng: np.random.Generator, *, parents: int = 4, sample: int = 15,
                 back_to_source_count: int = 3, retry_back_to_source: int = 5, streaming: bool = False) -> None:
        for name, value, low in (("parents", parents, 1), ("sample", sample, 1),
                                 ("back_to_source_count", back_to_source_count, 0),
                                 ("retry_back_to_source", retry_back_to_source, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise P2PError(f"scheduler {name} must be an integer >= {low}, got {value!r}")
        self.swarm = swarm
        self.rng = rng
        self.parents = parents
        self.sample = sample
        self.back_to_source_count = back_to_source_count
        self.retry_back_to_source = retry_back_to_source
        self.streaming = bool(streaming)
        self._misses: dict[Hashable, int] = {}  # fruitless assign() calls in a row
        self._sourcing: dict[Hashable, None] = {}  # peers sent back to source, in order
        self._parents: dict[Hashable, dict[Hashable, None]] = {}  # child -> ordered parent ids
        self._children: dict[Hashable, dict[Hashable, None]] = {}  # parent -> ordered child ids
        self._load: dict[Hashable, int] = {}
        #: streaming: a numbering that keeps the acyclicity check inside a band of the graph.
        self._topo = TopologicalOrder(self._children) if self.streaming else None

    # -- queries -----------------------------------------------------------------------------

    def load(self, peer_id: Hashable) -> int:
        """Children currently assigned to ``peer_id``."""
        return self._load.get(peer_id, 0)

    def parents_of(self, peer_id: Hashable) -> tuple[Hashable, ...]:
        return tuple(self._parents.get(peer_id, ()))

    def children_of(self, peer_id: Hashable) -> frozenset[Hashable]:
        return frozenset(self._children.get(peer_id, ()))

    def children_in_order(self, peer_id: Hashable) -> tuple[Hashable, ...]:
        """``peer_id``'s children in the order they were assigned (deterministic, unlike a set)."""
        return tuple(self._children.get(peer_id, ()))

    @property
    def back_to_source_peers(self) -> tuple[Hashable, ...]:
        """Peers currently sent back to source, in the order they were sent."""
        return tuple(self._sourcing)

    # -- decisions ---------------------------------------------------------------------------

    def assign(self, peer_id: Hashable, *, count_miss: bool = True) -> Assignment:
        """Keep the peer's parents that can still serve it and top them up to ``parents``; see the
        module text for when a peer without parents waits and when it is sent back to source."""
        child = self.swarm.member(peer_id)
        if child.held == self.swarm.num_pieces:
            self.release(peer_id)
            self._misses.pop(peer_id, None)
            return Assignment((), False)
        if peer_id in self._sourcing:
            return Assignment((), True)
        need = ~child.have
        current = self._parents.setdefault(peer_id, {})
        if current:
            members = [self.swarm.get(pid) for pid in current]
            present = [m for m in members if m is not None]
            keep = dict(zip((m.peer_id for m in present), self._can_serve(peer_id, present, need)))
            for pid in list(current):
                if not keep.get(pid, False):
                    self._unlink(peer_id, pid)
        room = self.parents - len(current)
        if room > 0:
            for parent in self._rank(peer_id, child, need, current):
                if self.streaming and self._closes_cycle(peer_id, parent.peer_id):
                    continue
                self._link(peer_id, parent.peer_id)
                room -= 1
                if not room:
                    break
        if current:
            self._misses.pop(peer_id, None)
            return Assignment(tuple(self.swarm.member(p) for p in current), False)
        del self._parents[peer_id]
        misses = self._misses.get(peer_id, 0) + count_miss
        if misses:
            self._misses[peer_id] = misses
        nobody_has_it = not self.swarm.availability[need].any()
        if (nobody_has_it or misses >= self.retry_back_to_source) and len(self._sourcing) < self.back_to_source_count:
            self._sourcing[peer_id] = None
            self._misses.pop(peer_id, None)
            return Assignment((), True)
        return Assignment((), False)

    def can_serve(self, peer_id: Hashable, parent_id: Hashable) -> bool:
        """Whether ``parent_id`` may go on serving ``peer_id``: it holds a piece the peer lacks or,
        when streaming, it is still to receive pieces the peer could then fetch (module text)."""
        parent = self.swarm.get(parent_id)
        if parent is None:
            return False
        return self._can_serve(peer_id, [parent], ~self.swarm.member(peer_id).have)[0]

    def _can_serve(self, peer_id: Hashable, members: list[Member], need: np.ndarray) -> list[bool]:
        useful = _useful(members, need)
        if not self.streaming:
            return useful
        return [u or self._in_tree(m) for u, m in zip(useful, members)]

    def _in_tree(self, member: Member) -> bool:
        """Dragonfly's test of a candidate parent: a seed peer (origin), a peer that succeeded,
        one sent back to source, or one with parents of its own -- each has, or is receiving,
        pieces a peer may stream from it."""
        pid = member.peer_id
        return (member.is_origin or member.held == self.swarm.num_pieces or pid in self._sourcing
                or bool(self._parents.get(pid)))

    def _closes_cycle(self, child: Hashable, parent: Hashable) -> bool:
        """Whether the edge parent -> child would close a cycle (``child`` is an ancestor of
        ``parent``): never for a peer without children or a parent without parents; otherwise
        a search bounded by :class:`~regsim.registry.p2p.topo.TopologicalOrder`."""
        if not self._children.get(child) or not self._parents.get(parent):
            return False
        return self._topo.closes_cycle(parent, child)

    def _rank(self, peer_id: Hashable, child: Member, need: np.ndarray,
              current: dict[Hashable, None]) -> Iterator[Member]:
        """Sampled members and origins that could serve the peer, best first.

        The candidates are sorted on (load ratio, -pieces held, random) first and tested for
        usefulness lazily, in that order, so a decision that fills its parents from the first few
        tests no more than those few: filtering after a stable sort yields the same sequence as
        sorting the filtered list, and the test draws nothing from the generator. Usefulness is
        first settled by counts where it can be (:meth:`_serves`).
        """
        mine = self._children.get(peer_id, ())
        load = self._load
        pool, keys = [], []
        members = self.swarm.sample_peers(self.sample, self.rng, exclude=peer_id)
        origins = self.swarm.origin_members
        if origins:
            members = [*origins, *members]
        for m in members:
            pid = m.peer_id
            used = load.get(pid, 0)
            limit = m.slots.limit
            if used < limit and pid != peer_id and pid not in current and pid not in mine:
                pool.append(m)
                keys.append((used / limit, -m.held))
        if not pool:
            return
        jitter = self.rng.random(len(pool)).tolist()
        # a handful of candidates: a Python sort on (load ratio, -pieces held, random) is cheapest
        order = sorted(range(len(pool)), key=lambda i: (*keys[i], jitter[i]))
        held = child.held
        for i in order:
            m = pool[i]
            if self._serves(m, held, need):
                yield m

    def _serves(self, member: Member, held: int, need: np.ndarray) -> bool:
        """:meth:`_can_serve` for one member: a member holding more pieces than the peer (``held``)
        holds one the peer lacks, so only a member holding no more needs the bitmap test."""
        if member.held > held or bool(np.logical_and(member.have, need).any()):
            return True
        return self.streaming and self._in_tree(member)

    def release(self, peer_id: Hashable, parent_id: Hashable | None = None) -> None:
        """A transfer ended: drop the edge to ``parent_id``, or all the peer's parents if None."""
        current = self._parents.get(peer_id)
        if current is None:
            if parent_id is not None:
                raise P2PError(f"scheduler: peer {peer_id!r} has no parents to release")
            return
        if parent_id is not None and parent_id not in current:
            raise P2PError(f"scheduler: {parent_id!r} is not a parent of {peer_id!r}")
        for pid in [parent_id] if parent_id is not None else list(current):
            self._unlink(peer_id, pid)
        if not current:
            del self._parents[peer_id]

    def leave(self, peer_id: Hashable) -> list[Hashable]:
        """Forget a departing peer as child, as parent and as back-to-source peer (freeing its
        grant); returns its orphaned children."""
        self.release(peer_id)
        self._misses.pop(peer_id, None)
        self._sourcing.pop(peer_id, None)
        orphans = sorted(self._children.get(peer_id, ()), key=repr)
        for child in orphans:
            self.release(child, peer_id)
        if self._topo is not None:
            self._topo.forget(peer_id)
        return orphans

    def _link(self, child: Hashable, parent: Hashable) -> None:
        self._parents[child][parent] = None
        self._children.setdefault(parent, {})[child] = None
        self._load[parent] = self._load.get(parent, 0) + 1
        if self._topo is not None:
            self._topo.added(parent, child)

    def _unlink(self, child: Hashable, parent: Hashable) -> None:
        del self._parents[child][parent]
        kids = self._children[parent]
        del kids[child]
        if not kids:
            del self._children[parent]
        self._load[parent] -= 1
        if not self._load[parent]:
            del self._load[parent]


def _useful(members: list[Member], need: np.ndarray) -> list[bool]:
    """For each member, whether it holds any piece in ``need`` (one matrix operation for all)."""
    if not members:
        return []
    holders = np.array([m.have for m in members], dtype=bool)
    holders &= need
    return np.logical_or.reduce(holders, axis=1).tolist()
