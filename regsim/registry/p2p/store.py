"""The bytes a peer holds in the real data plane, so it can serve them onwards and rebuild the blob.

A :class:`PieceStore` is one buffer of the blob's size, filled piece by piece as verified pieces
arrive, and a bitmap of the pieces actually written. It exists only for peers that receive real
bytes: in the modelled data plane a peer holds pieces (its bitmap says so) but no bytes at all.
"""

from __future__ import annotations

from collections.abc import Hashable

from .. import digest as digests
from ..digest import Digest
from ..errors import IntegrityError
from .bitfield import empty
from .errors import P2PError
from .metainfo import MetaInfo


class PieceStore:
    """Piece bytes of one blob at one peer; reads are read-only views, never copies."""

    __slots__ = ("metainfo", "owner", "_buffer", "_filled", "filled")

    def __init__(self, metainfo: MetaInfo, owner: Hashable = None) -> None:
        self.metainfo = metainfo
        self.owner = owner
        self._buffer = bytearray(metainfo.size)
        self._filled = empty(metainfo.num_pieces)
        #: pieces written so far.
        self.filled = 0

    def put(self, index: int, data: bytes | bytearray | memoryview) -> None:
        """Write a piece (already verified by the caller) into its place in the blob."""
        offset, length = self.metainfo.piece_range(index)
        if len(data) != length:
            raise P2PError(f"peer {self.owner!r}: piece {index} has {len(data)} bytes, expected {length}")
        self._buffer[offset:offset + length] = data
        if not self._filled[index]:
            self._filled[index] = True
            self.filled += 1

    def has(self, index: int) -> bool:
        return bool(self._filled[index])

    def read(self, index: int) -> memoryview:
        if not self._filled[index]:
            raise P2PError(f"peer {self.owner!r} holds piece {index} in the modelled data plane only (no bytes)")
        offset, length = self.metainfo.piece_range(index)
        return memoryview(self._buffer)[offset:offset + length].toreadonly()

    def blob(self) -> bytes:
        """The whole blob; every piece must have been written."""
        if self.filled != self.metainfo.num_pieces:
            raise P2PError(
                f"peer {self.owner!r} has bytes for {self.filled} of {self.metainfo.num_pieces} pieces "
                "(the others are held in the modelled data plane only)"
            )
        return bytes(self._buffer)

    def verify(self, *, node: str | None = None) -> Digest:
        """Hash the whole blob (recorded as sha256 work) and check it is the blob the metainfo names."""
        got = digests.compute(self.blob(), self.metainfo.digest.algorithm, node=node)
        if got != self.metainfo.digest:
            raise IntegrityError(
                f"peer {self.owner!r} assembled {got.short}, expected {self.metainfo.digest.short}"
            )
        return got
