"""A swarm: every member sharing one blob, and what the swarm as a whole holds.

The swarm is the shared state that makes per-decision costs independent of its size: piece
availability is a count per piece updated when a member joins, leaves or gains a piece, never
recomputed from bitmaps; pieces being fetched back-to-source are counted the same way, so that
two peers do not both fetch the same missing piece from the registry; and non-origin members
sit in a :class:`~regsim.registry.p2p.pool.RandomPool` so a scheduler can sample a few of them
in O(sample) time.

Availability here is the swarm-wide view a Dragonfly scheduler has (peers report every piece to
it). A BitTorrent or Kraken peer only counts its neighbours' bitmaps, so rarest-first driven by
these counts is somewhat better informed than theirs; per-neighbourhood counts would cost an
update per neighbour on every piece gained.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator

import numpy as np

from .bitfield import Availability, check
from .errors import P2PError
from .metainfo import MetaInfo
from .peer import Member
from .pool import RandomPool


class Swarm:
    """Members of one blob's swarm, piece availability, and back-to-source pieces in flight."""

    def __init__(self, metainfo: MetaInfo) -> None:
        self.metainfo = metainfo
        self.num_pieces = metainfo.num_pieces
        self._avail = Availability(self.num_pieces)
        #: back-to-source requests in flight, per piece.
        self.sourcing = np.zeros(self.num_pieces, dtype=np.int32)
        #: requests to members in flight, per piece: copies on their way (see :attr:`spread`).
        self.requested = np.zeros(self.num_pieces, dtype=np.int32)
        self._members: dict[Hashable, Member] = {}
        self._peers: RandomPool[Hashable] = RandomPool()
        self._origins: dict[Hashable, Member] = {}
        #: the origins as a tuple, rebuilt on an origin's join or leave (a scheduler reads it
        #: on every decision; copying the dict's values each time was measurable there).
        self.origin_members: tuple[Member, ...] = ()
        #: non-origin members holding every piece.
        self.completed = 0
        #: members that joined holding every piece (origins, seeders): a piece with no more copies
        #: held or coming than this has not reached any peer yet.
        self.seed_copies = 0
        self._full_at_join: set[Hashable] = set()
        #: pieces with no more copies held than :attr:`seed_copies` (none has reached a peer yet),
        #: kept up to date as pieces arrive: a super-seeding origin asks this on every decision
        self.unreached = self.num_pieces

    # -- membership --------------------------------------------------------------------------

    def join(self, member: Member) -> None:
        """Add ``member`` with the pieces it already holds."""
        pid = member.peer_id
        if pid in self._members:
            raise P2PError(f"peer {pid!r} is already in the swarm of {self.metainfo.digest.short}")
        have = check(member.have, self.num_pieces, f"bitmap of peer {pid!r}")
        self._avail.add(have)
        self._members[pid] = member
        if self.num_pieces and have.all():
            self.seed_copies += 1
            self._full_at_join.add(pid)
        if member.is_origin:
            self._origins[pid] = member
            self.origin_members = tuple(self._origins.values())
        else:
            self._peers.add(pid)
            if self.num_pieces and have.all():
                self.completed += 1
        self._count_unreached()

    def leave(self, peer_id: Hashable) -> Member:
        """Remove a member; its pieces no longer count as available."""
        member = self.member(peer_id)
        self._avail.remove(member.have)
        del self._members[peer_id]
        if peer_id in self._full_at_join:
            self._full_at_join.discard(peer_id)
            self.seed_copies -= 1
        if member.is_origin:
            del self._origins[peer_id]
            self.origin_members = tuple(self._origins.values())
        else:
            self._peers.discard(peer_id)
            if self.num_pieces and member.have.all():
                self.completed -= 1
        self._count_unreached()
        return member

    def _count_unreached(self) -> None:
        self.unreached = int(np.count_nonzero(self._avail.counts <= self.seed_copies))

    def member(self, peer_id: Hashable) -> Member:
        try:
            return self._members[peer_id]
        except KeyError:
            raise P2PError(f"peer {peer_id!r} is not in the swarm of {self.metainfo.digest.short}") from None

    def get(self, peer_id: Hashable) -> Member | None:
        return self._members.get(peer_id)

    def __contains__(self, peer_id: object) -> bool:
        return peer_id in self._members

    def __len__(self) -> int:
        return len(self._members)

    def __iter__(self) -> Iterator[Member]:
        return iter(list(self._members.values()))

    @property
    def origins(self) -> list[Member]:
        return list(self._origins.values())

    @property
    def num_peers(self) -> int:
        """Members that are not origins."""
        return len(self._peers)

    def sample_peers(self, k: int, rng: np.random.Generator, exclude: Hashable | None = None) -> list[Member]:
        """Up to ``k`` random non-origin members (never ``exclude``), in O(k)."""
        return [self._members[p] for p in self._peers.sample(k, rng, exclude)]

    # -- availability ------------------------------------------------------------------------

    @property
    def availability(self) -> np.ndarray:
        """Per piece, how many members hold it (int32; read it, never write it)."""
        return self._avail.counts

    @property
    def spread(self) -> np.ndarray:
        """Per piece, copies held plus copies on their way from a member (requested, not yet
        arrived): what rarest-first ranks by, so that two peers asking at once do not both take
        the one copy of a piece while another piece has none on its way -- the swarm-wide view a
        Dragonfly scheduler has of pieces being downloaded, and what lets one seed push each
        piece out once before it sends any twice (BitTorrent's super-seeding, BEP 16)."""
        return self._avail.counts + self.requested

    @property
    def unavailable(self) -> int:
        """Number of pieces no member holds."""
        return self._avail.unavailable

    def note_have(self, index: int) -> None:
        """A member gained piece ``index`` (called by the member itself)."""
        self._avail.gain(index)
        if self._avail.counts[index] == self.seed_copies + 1:
            self.unreached -= 1

    def note_haves(self, indices: np.ndarray) -> None:
        """A member gained several distinct pieces at once."""
        self._avail.gain_many(indices)
        self.unreached -= int(np.count_nonzero(self._avail.counts[indices] == self.seed_copies + 1))

    def note_complete(self) -> None:
        """A non-origin member now holds every piece."""
        self.completed += 1
