"""A downloading peer's state machine for one blob: what it holds, what it is fetching, from whom.

The agent decides; its driver (a test loop, the simulator) moves the bytes and tells it how each
transfer ended. One decision round is::

    requests = agent.next_requests(candidates)    # [(piece, source)], slots now reserved
    ...                                           # driver moves each piece (source None: registry)
    agent.on_piece(piece, data)                   # or on_failed(piece); frees the slot

``next_requests`` keeps at most ``max_downloads`` pieces in flight, picks pieces with the agent's
:class:`~regsim.registry.p2p.selection.Selector` among those some candidate with a free upload slot
holds, gives each to the holder with the most free slots (ties at random), and reserves that
slot. Pieces that no swarm member holds and nobody is already fetching go back-to-source, to the
registry (``source is None``), when the agent decides that for itself (``auto_back_to_source``,
the default); all remaining pieces go there when a scheduler says so.

Bytes are optional: ``on_piece(i, data)`` verifies and stores real bytes (so the agent can serve
them onwards); ``on_piece(i)`` records a piece of the modelled data plane. Nothing here knows
about time, threads or transport.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from itertools import compress

import numpy as np

from ..digest import Digest
from ..errors import IntegrityError
from .bitfield import check, empty, pack
from .errors import P2PError
from .peer import Member, Request, UploadSlots
from .selection import Selector, make_selector
from .store import PieceStore
from .swarm import Swarm


class Agent:
    """One peer in one swarm. Joins ``swarm`` on construction; ``leave()`` takes it out again."""

    is_origin = False

    def __init__(self, peer_id: Hashable, swarm: Swarm, *, rng: np.random.Generator,
                 selector: str | Selector = "rarest-first", upload_slots: int | UploadSlots = 4,
                 max_downloads: int = 4, auto_back_to_source: bool = True, have: np.ndarray | None = None,
                 node: str | None = None) -> None:
        if isinstance(max_downloads, bool) or not isinstance(max_downloads, int) or max_downloads < 1:
            raise P2PError(f"peer {peer_id!r}: max_downloads must be an integer >= 1, got {max_downloads!r}")
        self.peer_id = peer_id
        self.swarm = swarm
        self.metainfo = swarm.metainfo
        self.rng = rng
        self.selector = make_selector(selector)
        self.slots = upload_slots if isinstance(upload_slots, UploadSlots) else UploadSlots(upload_slots, peer_id)
        self.max_downloads = max_downloads
        self.auto_back_to_source = auto_back_to_source
        self.node = str(peer_id) if node is None else node
        n = swarm.num_pieces
        self.have = empty(n) if have is None else check(have, n, f"initial bitmap of {peer_id!r}").copy()
        #: pieces neither held nor in flight, kept up to date so a decision need not compute it
        self._wanted = ~self.have
        self._inflight: dict[int, Member | None] = {}
        self._missing = n - int(np.count_nonzero(self.have))
        self._store: PieceStore | None = None
        self._piece_size, self._last, self._last_size = self.metainfo.piece_size, n - 1, self.metainfo.last_piece_size
        self.peer_pieces = self.peer_bytes = 0
        self.source_pieces = self.source_bytes = 0
        self.uploaded_pieces = self.uploaded_bytes = 0
        self.corrupt_pieces = self.failed_requests = 0
        swarm.join(self)

    # -- state -------------------------------------------------------------------------------

    @property
    def complete(self) -> bool:
        return self._missing == 0

    @property
    def held(self) -> int:
        """Pieces held."""
        return self._last + 1 - self._missing

    @property
    def missing(self) -> int:
        """Pieces not yet held (in-flight ones included)."""
        return self._missing

    @property
    def in_flight(self) -> dict[int, Member | None]:
        """Requested pieces and their sources (``None``: back-to-source)."""
        return dict(self._inflight)

    def bitfield(self) -> bytes:
        """The held pieces in BitTorrent wire form."""
        return pack(self.have)

    # -- deciding ----------------------------------------------------------------------------

    def next_requests(self, candidates: Iterable[Member], *, back_to_source: bool = False,
                      nothing_offered: bool = False) -> list[Request]:
        """New requests, up to the download limit; each reserves its source's upload slot.

        ``candidates`` are the members this peer may fetch from now (its tracker neighbours or
        its scheduler-assigned parents). ``back_to_source=True`` is the scheduler's verdict that
        this peer goes to the registry: every wanted piece no candidate serves goes there.
        Without it, and only if the agent was built with ``auto_back_to_source`` (a peer that
        decides for itself), pieces nobody in the swarm holds or is fetching go there.
        Cost: O(len(candidates) x pieces) numpy work, independent of the swarm's size.
        ``nothing_offered``: the caller knows that no candidate offers a piece at all now (a
        super-seeding origin with no fresh piece), so no piece can come from them; the decision
        skips matching pieces to holders but makes the same random draws, so that what follows
        is what the full decision would have led to.
        """
        budget = self.max_downloads - len(self._inflight)
        if budget <= 0 or self._missing == 0:
            return []
        out: list[Request] = []
        usable = [c for c in candidates if c.slots.used < c.slots.limit and c is not self]
        if usable:
            if nothing_offered:
                self.rng.random(len(usable))  # the holder tie-break's jitter; no piece to select
            else:
                budget = self._from_peers(usable, budget, out)
        if budget > 0 and (back_to_source or (self.auto_back_to_source and self.swarm.unavailable)):
            self._from_source(budget, out, forced=back_to_source)
        return out

    def _from_peers(self, usable: Sequence[Member], budget: int, out: list[Request]) -> int:
        if len(usable) == 1:
            return self._from_one(usable[0], budget, out)
        return self._from_many(usable, budget, out)

    def _from_many(self, usable: Sequence[Member], budget: int, out: list[Request]) -> int:
        """Pieces from any of ``usable``: rarest first, each to the holder with the most free slots."""
        wanted, inflight = self._wanted, self._inflight
        spread = self.swarm.spread
        holders = np.array([c.offer(spread) if c.is_origin and hasattr(c, "offer") else c.have for c in usable],
                           dtype=bool)
        free = [c.slots.limit - c.slots.used for c in usable]
        # most free slots first; a jitter in [0, 1) breaks ties at random without reordering counts
        jitter = self.rng.random(len(usable)).tolist()
        rows = range(len(usable))
        offer = np.logical_or.reduce(holders, axis=0)
        offer &= wanted
        requested = self.swarm.requested
        while budget > 0:
            pieces = self.selector.select(offer, spread, budget, self.rng)
            if pieces.size == 0:
                break
            exhausted = []
            # the holder choice and the bookkeeping run on small Python lists and numpy scalars:
            # cheaper than a numpy call per piece, and a decision only takes a few pieces
            for p, column in zip(pieces.tolist(), holders.T[pieces].tolist()):
                best, best_key = -1, 0.0
                for j in compress(rows, column):
                    if free[j] and free[j] + jitter[j] > best_key:
                        best, best_key = j, free[j] + jitter[j]
                if best < 0:
                    continue
                source = usable[best]
                source.slots.acquire()
                requested[p] += 1
                spread[p] += 1
                inflight[p] = source
                wanted[p] = False
                out.append(Request(p, source))
                budget -= 1
                free[best] -= 1
                if not free[best]:
                    exhausted.append(best)
            if not exhausted:
                break
            holders[exhausted] = False
            offer = np.logical_or.reduce(holders, axis=0)
            offer &= wanted
        return budget

    def _from_one(self, source: Member, budget: int, out: list[Request]) -> int:
        """:meth:`_from_peers` with a single usable candidate (a pipeline's refill, an unchoke):
        the same pieces, the same random draws -- the holder tie-break's one jitter, then the
        selector's -- without the holder matrix. With one holder, every piece selected goes to it
        until its free slots run out; the rest of the general loop's work would find nothing."""
        swarm, wanted, inflight = self.swarm, self._wanted, self._inflight
        spread = swarm.spread
        row = source.offer(spread) if source.is_origin and hasattr(source, "offer") else source.have
        free = source.slots.limit - source.slots.used
        self.rng.random(1)  # the general path's tie-break jitter: drawn so that the stream stays the same
        pieces = self.selector.select(row & wanted, spread, budget, self.rng)
        if pieces.size == 0:
            return budget
        requested = swarm.requested
        for p in pieces.tolist()[:free]:
            source.slots.acquire()
            requested[p] += 1
            inflight[p] = source
            wanted[p] = False
            out.append(Request(p, source))
            budget -= 1
        return budget

    def _from_source(self, budget: int, out: list[Request], *, forced: bool) -> None:
        swarm = self.swarm
        choice = self._wanted if forced else self._wanted & (swarm.availability == 0) & (swarm.sourcing == 0)
        for p in self.selector.select(choice, swarm.availability, budget, self.rng).tolist():
            swarm.sourcing[p] += 1
            self._inflight[p] = None
            self._wanted[p] = False
            out.append(Request(p, None))

    # -- outcomes ----------------------------------------------------------------------------

    def on_piece(self, index: int, data: bytes | bytearray | memoryview | None = None) -> bool:
        """A requested piece arrived; True when it completed the blob.

        Real bytes are verified against the metainfo (:class:`IntegrityError` if corrupt: the
        request is over, its slot freed, and the piece is wanted again) and kept for serving.
        """
        if index not in self._inflight:
            raise P2PError(f"peer {self.peer_id!r}: piece {index} arrived but was not requested")
        if data is not None and not self.metainfo.real:
            raise P2PError(
                f"peer {self.peer_id!r}: piece {index} came with bytes but the metainfo is modelled, "
                "so they cannot be verified"
            )
        source = self._release(index)
        if data is not None:
            try:
                self.metainfo.verify_piece(index, data, node=self.node)
            except IntegrityError:
                self.corrupt_pieces += 1
                self._wanted[index] = True
                raise
            self._keep(index, data)
        self.have[index] = True
        self.swarm.note_have(index)
        self._account(source, self._last_size if index == self._last else self._piece_size)
        self._missing -= 1
        if self._missing == 0:
            self.swarm.note_complete()
            return True
        return False

    def on_pieces(self, indices: Sequence[int]) -> bool:
        """Several requested pieces of the modelled data plane arrived at once (one flow).

        Same as ``on_piece`` for each, with the bitmap and availability updated in one step.
        """
        idx = np.unique(np.asarray(indices, dtype=np.intp))
        if idx.size != len(indices):
            raise P2PError(f"peer {self.peer_id!r}: on_pieces got a piece twice")
        order = idx.tolist()
        stray = [i for i in order if i not in self._inflight]
        if stray:
            raise P2PError(f"peer {self.peer_id!r}: pieces {stray[:5]} arrived but were not requested")
        # the per-piece part is plain Python on locals; bitmaps and availability move in one step
        sources = [self._inflight.pop(i) for i in order]
        sourcing, last, last_size, size = self.swarm.sourcing, self._last, self._last_size, self._piece_size
        requested = self.swarm.requested
        peer_pieces = peer_bytes = 0
        for i, source in zip(order, sources):
            length = last_size if i == last else size
            if source is None:
                sourcing[i] -= 1
                self.source_pieces += 1
                self.source_bytes += length
            else:
                source.slots.release()
                requested[i] -= 1
                source.uploaded_pieces += 1
                source.uploaded_bytes += length
                peer_pieces += 1
                peer_bytes += length
        self.peer_pieces += peer_pieces
        self.peer_bytes += peer_bytes
        self.have[idx] = True
        self.swarm.note_haves(idx)
        self._missing -= idx.size
        if idx.size and self._missing == 0:
            self.swarm.note_complete()
            return True
        return False

    def on_failed(self, index: int) -> None:
        """A request ended without the piece (source gone, transfer aborted); it is wanted again."""
        if index not in self._inflight:
            raise P2PError(f"peer {self.peer_id!r}: piece {index} failed but was not requested")
        self._release(index)
        self._wanted[index] = True
        self.failed_requests += 1

    def leave(self) -> list[int]:
        """Cancel every request in flight and leave the swarm; returns the cancelled pieces."""
        cancelled = sorted(self._inflight)
        for i in cancelled:
            self._release(i)
            self._wanted[i] = True
        self.swarm.leave(self.peer_id)
        return cancelled

    def _release(self, index: int) -> Member | None:
        """End a request: free its upload slot or its back-to-source mark."""
        source = self._inflight.pop(index)
        if source is None:
            self.swarm.sourcing[index] -= 1
        else:
            source.slots.release()
            self.swarm.requested[index] -= 1
        return source

    def _account(self, source: Member | None, length: int) -> None:
        if source is None:
            self.source_pieces += 1
            self.source_bytes += length
        else:
            self.peer_pieces += 1
            self.peer_bytes += length
            source.uploaded_pieces += 1
            source.uploaded_bytes += length

    # -- bytes -------------------------------------------------------------------------------

    def _keep(self, index: int, data: bytes | bytearray | memoryview) -> None:
        if self._store is None:
            self._store = PieceStore(self.metainfo, self.peer_id)
        self._store.put(index, data)

    def read_piece(self, index: int) -> memoryview:
        """A held piece's bytes, to serve to another peer (real data plane only)."""
        if not self.have[index]:
            raise P2PError(f"peer {self.peer_id!r} does not hold piece {index}")
        if self._store is None:
            raise P2PError(f"peer {self.peer_id!r} holds piece {index} in the modelled data plane only (no bytes)")
        return self._store.read(index)

    def data(self) -> bytes:
        """The whole blob, once every piece arrived with its bytes."""
        return self._bytes().blob()

    def verify_blob(self) -> Digest:
        """Hash the assembled blob (recorded as sha256 work) and check it is the blob asked for."""
        return self._bytes().verify(node=self.node)

    def _bytes(self) -> PieceStore:
        if not self.complete:
            raise P2PError(f"peer {self.peer_id!r} still misses {self._missing} pieces")
        if self._store is None:
            if self.metainfo.num_pieces:
                raise P2PError(f"peer {self.peer_id!r} holds the blob in the modelled data plane only (no bytes)")
            self._store = PieceStore(self.metainfo, self.peer_id)  # the empty blob
        return self._store

    def __repr__(self) -> str:
        n = self.metainfo.num_pieces
        return (f"Agent({self.peer_id!r}, {n - self._missing}/{n} pieces, {len(self._inflight)} in flight, "
                f"uploads {self.slots.used}/{self.slots.limit})")
