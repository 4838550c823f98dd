"""Origins: seeders that pull blobs from the registry and serve their pieces to the swarm.

Kraken's origin cluster (and Dragonfly's seed peers) sit between the registry and the peers: an
origin fetches a blob once -- whole, or piece by piece with ranged reads -- builds its metainfo
(piece digests from the real bytes) and then serves pieces to any number of swarms under one
host-wide upload limit. In the modelled data plane it only asks the registry for the blob's size
and serves pieces nobody materialises.

An :class:`Origin` is a host; :meth:`Origin.join` puts its :class:`Seed` for one blob (the
:class:`~regsim.registry.p2p.peer.Member` that holds every piece) into that blob's swarm.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Literal, Protocol

import numpy as np

from ..digest import Digest
from ..errors import BlobUnknown
from .bitfield import full
from .errors import P2PError
from .metainfo import MetaInfo
from .peer import UploadSlots
from .swarm import Swarm

PullMode = Literal["whole", "ranged", "modelled"]


class BlobSource(Protocol):
    """The part of :class:`~regsim.registry.registry.Registry`'s public API an origin uses."""

    def get_blob(self, repo: str, digest: str | Digest) -> bytes: ...

    def read_blob(self, repo: str, digest: str | Digest, offset: int, length: int) -> bytes: ...

    def stat_blob(self, repo: str, digest: str | Digest) -> int: ...


class Seed:
    """An origin's member in one blob's swarm: every piece, the origin's shared upload slots."""

    is_origin = True

    def __init__(self, origin: Origin, metainfo: MetaInfo, data: bytes | None) -> None:
        self.origin = origin
        self.peer_id = origin.peer_id
        self.metainfo = metainfo
        self.have = full(metainfo.num_pieces)
        self.held = metainfo.num_pieces
        self.slots = origin.slots
        self._data = data
        self.uploaded_pieces = 0
        self.uploaded_bytes = 0
        #: the swarm it seeds, once joined
        self.swarm: Swarm | None = None
        self._done = False

    def out(self) -> bool:
        """True once a peer of its swarm holds every piece (each has arrived somewhere)."""
        swarm = self.swarm
        return swarm is not None and swarm.unreached == 0

    def offer(self, spread: np.ndarray | None = None) -> np.ndarray:
        """The pieces it serves now. A super-seeding origin (BitTorrent's BEP 16) serves only
        pieces no peer holds or is fetching until every piece of every swarm its host seeds has
        reached a peer; then it serves any. ``spread``: the swarm's
        :attr:`~regsim.registry.p2p.swarm.Swarm.spread`, if the caller has it already."""
        origin, swarm = self.origin, self.swarm
        if not origin.super_seeding or swarm is None:
            return self.have
        if self._done or all(s.out() for s in origin.host_seeds):
            self._done = True
            return self.have
        return (swarm.spread if spread is None else spread) <= swarm.seed_copies
        fresh = (swarm.spread if spread is None else spread) <= swarm.seed_copies
        if fresh.any() or any(s is not self and bool(s.fresh().any()) for s in origin.host_seeds
                              if s.swarm is not None):
            return fresh
        return self.have

    def read_piece(self, index: int) -> memoryview:
        if self._data is None:
            raise P2PError(
                f"origin {self.peer_id!r} seeds {self.metainfo.digest.short} in the modelled data plane only (no bytes)"
            )
        offset, length = self.metainfo.piece_range(index)
        return memoryview(self._data)[offset:offset + length]

    def __repr__(self) -> str:
        return f"Seed({self.peer_id!r}, {self.metainfo.digest.short}, uploads {self.slots.used}/{self.slots.limit})"


class Origin:
    """A seeder host: complete blobs fetched from a registry, served under one upload limit."""

    def __init__(self, peer_id: Hashable, registry: BlobSource | None = None, *, upload_slots: int = 4,
                 node: str | None = None, super_seeding: bool = False, host_seeds: list[Seed] | None = None) -> None:
        """``super_seeding``: serve only pieces no peer holds or is fetching while any swarm of the
        host has one (see :meth:`Seed.offer`); ``host_seeds``: a list shared by the origins that run
        on one host (one per blob, each with its own per-torrent upload slots), so that the rule
        looks at every blob the host seeds."""
        self.peer_id = peer_id
        self.super_seeding = super_seeding
        self.host_seeds: list[Seed] = [] if host_seeds is None else host_seeds
        self.registry = registry
        self.node = str(peer_id) if node is None else node
        self.slots = UploadSlots(upload_slots, peer_id)
        self._seeds: dict[Digest, Seed] = {}

    def pull(self, repo: str, digest: str | Digest, piece_size: int, *, mode: PullMode = "whole") -> MetaInfo:
        """Fetch a blob from the registry and start seeding it; returns its metainfo.

        ``whole`` reads the blob in one ``get_blob``; ``ranged`` reads it piece by piece with
        ``read_blob(repo, digest, offset, length)``, as an origin streaming a large layer does;
        both hash the bytes (blob and pieces) and refuse bytes that are not the blob asked for.
        ``modelled`` only asks for the size (``stat_blob``) and seeds a modelled metainfo.
        """
        if self.registry is None:
            raise P2PError(f"origin {self.peer_id!r} has no registry to pull {digest} from")
        want = Digest.parse(digest)
        if mode == "modelled":
            info = MetaInfo.modelled(want, self.registry.stat_blob(repo, want), piece_size)
            return self.seed(info)
        if mode == "whole":
            data = self.registry.get_blob(repo, want)
        elif mode == "ranged":
            size = self.registry.stat_blob(repo, want)
            data = b"".join(
                self.registry.read_blob(repo, want, off, min(piece_size, size - off))
                for off in range(0, size, piece_size)
            )
        else:
            raise P2PError(f"origin pull mode {mode!r} is unknown: expected 'whole', 'ranged' or 'modelled'")
        info = MetaInfo.from_bytes(data, piece_size, digest=want, node=self.node)
        return self.seed(info, data)

    def seed(self, metainfo: MetaInfo, data: bytes | None = None) -> MetaInfo:
        """Seed a blob known by its metainfo (modelled), or with its bytes (checked against it)."""
        if data is not None:
            if not metainfo.real:
                raise P2PError(f"origin {self.peer_id!r}: bytes for {metainfo.digest.short} need a real metainfo")
            if len(data) != metainfo.size:
                raise P2PError(
                    f"origin {self.peer_id!r}: {len(data)} bytes for {metainfo.digest.short} of {metainfo.size}"
                )
            data = bytes(data)
        self._seeds[metainfo.digest] = Seed(self, metainfo, data)
        return metainfo

    def seed_of(self, digest: str | Digest) -> Seed:
        try:
            return self._seeds[Digest.parse(digest)]
        except KeyError:
            raise BlobUnknown(f"origin {self.peer_id!r} does not seed {digest}") from None

    def metainfo(self, digest: str | Digest) -> MetaInfo:
        """What a peer asks an origin for before joining a swarm."""
        return self.seed_of(digest).metainfo

    def read_piece(self, digest: str | Digest, index: int) -> memoryview:
        return self.seed_of(digest).read_piece(index)

    def join(self, swarm: Swarm) -> Seed:
        """Put this origin's seed of the swarm's blob into the swarm."""
        seed = self.seed_of(swarm.metainfo.digest)
        if seed.metainfo.num_pieces != swarm.num_pieces or seed.metainfo.piece_size != swarm.metainfo.piece_size:
            raise P2PError(
                f"origin {self.peer_id!r} seeds {seed.metainfo.digest.short} in pieces of {seed.metainfo.piece_size}, "
                f"the swarm uses {swarm.metainfo.piece_size}"
            )
        swarm.join(seed)
        seed.swarm = swarm
        if seed not in self.host_seeds:
            self.host_seeds.append(seed)
        return seed

    @property
    def blobs(self) -> list[Digest]:
        return list(self._seeds)

    @property
    def uploaded_bytes(self) -> int:
        return sum(s.uploaded_bytes for s in self._seeds.values())

    @property
    def uploaded_pieces(self) -> int:
        return sum(s.uploaded_pieces for s in self._seeds.values())

    def __repr__(self) -> str:
        return f"Origin({self.peer_id!r}, {len(self._seeds)} blobs, uploads {self.slots.used}/{self.slots.limit})"
