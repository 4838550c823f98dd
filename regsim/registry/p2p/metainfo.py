"""Metainfo: what a peer must know about a blob before it can fetch it in pieces.

Like a torrent's info dictionary (Kraken's ``MetaInfo``): the blob's digest and size, the piece
size, and one digest per piece so that every piece can be checked on arrival, long before the
whole blob could be. Two flavours share one type:

- **real** (:meth:`MetaInfo.from_bytes`): piece digests computed from the bytes (sha256, recorded
  on the active receipt as :data:`Kind.SHA256` work);
- **modelled** (:meth:`MetaInfo.modelled`): sizes only, no piece digests -- the modelled data
  plane of a large run, where bytes move as flows and are never materialised.

The JSON form (:meth:`to_json` / :meth:`from_json`) is what an origin or tracker hands out.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

import numpy as np

from .. import digest as digests
from .. import receipts
from ..digest import Digest
from ..errors import DigestInvalid, IntegrityError
from ..receipts import Kind
from .errors import MetaInfoInvalid, P2PError

#: version of the JSON form; bumped when a field changes meaning.
FORMAT_VERSION = 1
PIECE_ALGORITHM = "sha256"
_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class MetaInfo:
    """A blob cut into fixed-size pieces (the last may be shorter), with optional piece digests.

    ``piece_digests`` holds the raw 32-byte sha256 of each piece, or ``None`` when the metainfo is
    modelled. A blob of size 0 has no pieces.
    """

    digest: Digest
    size: int
    piece_size: int
    piece_digests: tuple[bytes, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "digest", Digest.parse(self.digest))
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 0:
            raise MetaInfoInvalid(f"metainfo of {self.digest.short}: size must be an integer >= 0, got {self.size!r}")
        if isinstance(self.piece_size, bool) or not isinstance(self.piece_size, int) or self.piece_size < 1:
            raise MetaInfoInvalid(
                f"metainfo of {self.digest.short}: piece_size must be an integer >= 1, got {self.piece_size!r}"
            )
        if self.piece_digests is not None:
            sums = tuple(self.piece_digests)
            if len(sums) != self.num_pieces:
                raise MetaInfoInvalid(
                    f"metainfo of {self.digest.short}: {len(sums)} piece digests for {self.num_pieces} pieces "
                    f"({self.size} bytes in pieces of {self.piece_size})"
                )
            if any(not isinstance(s, bytes) or len(s) != 32 for s in sums):
                raise MetaInfoInvalid(f"metainfo of {self.digest.short}: piece digests must be 32-byte sha256 values")
            object.__setattr__(self, "piece_digests", sums)

    # -- construction ------------------------------------------------------------------------

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview, piece_size: int, *,
                   digest: str | Digest | None = None, node: str | None = None) -> MetaInfo:
        """Metainfo of real bytes: hash every piece, and the whole blob.

        When ``digest`` is given the bytes must hash to it (:class:`IntegrityError` otherwise):
        an origin must not hand out piece digests of a blob that is not the one it was asked for.
        """
        view = memoryview(data).cast("B")
        whole = digests.compute(view, node=node)
        if digest is not None and whole != Digest.parse(digest):
            raise IntegrityError(
                f"blob bytes hash to {whole.short}, not to {Digest.parse(digest).short}: refusing to build its metainfo"
            )
        probe = cls(whole, len(view), piece_size)
        sums = tuple(
            bytes.fromhex(digests.compute(view[off:off + piece_size], node=node).hex)
            for off in range(0, probe.size, piece_size)
        )
        return cls(whole, probe.size, piece_size, sums)

    @classmethod
    def modelled(cls, blob_digest: str | Digest, size: int, piece_size: int) -> MetaInfo:
        """Metainfo of the modelled data plane: sizes and the blob digest, no piece digests."""
        return cls(Digest.parse(blob_digest), size, piece_size, None)

    # -- geometry ----------------------------------------------------------------------------

    @property
    def real(self) -> bool:
        """True when piece digests are present, so pieces can be verified."""
        return self.piece_digests is not None

    @property
    def num_pieces(self) -> int:
        return -(-self.size // self.piece_size)

    @property
    def last_piece_size(self) -> int:
        """Size of the final piece (``piece_size`` when the blob divides evenly; 0 for an empty blob)."""
        if self.size == 0:
            return 0
        return self.size - (self.num_pieces - 1) * self.piece_size

    def piece_length(self, index: int) -> int:
        self._check_index(index)
        return self.last_piece_size if index == self.num_pieces - 1 else self.piece_size

    def piece_range(self, index: int) -> tuple[int, int]:
        """``(offset, length)`` of a piece in the blob: the arguments of a ranged read."""
        return index * self.piece_size, self.piece_length(index)

    def piece_lengths(self) -> np.ndarray:
        """Every piece's length as an int64 array, for vectorised byte accounting."""
        lengths = np.full(self.num_pieces, self.piece_size, dtype=np.int64)
        if self.num_pieces:
            lengths[-1] = self.last_piece_size
        return lengths

    def _check_index(self, index: int) -> None:
        if not 0 <= index < self.num_pieces:
            raise P2PError(f"piece {index} out of range: {self.digest.short} has {self.num_pieces} pieces")

    # -- verification ------------------------------------------------------------------------

    def verify_piece(self, index: int, data: bytes | bytearray | memoryview, *, node: str | None = None) -> None:
        """Check one piece's bytes against its digest; raise :class:`IntegrityError` on mismatch.

        The hashing is recorded as :data:`Kind.PIECE_VERIFY` work on ``node`` (even when the piece
        turns out corrupt: the work was done).
        """
        if self.piece_digests is None:
            raise P2PError(
                f"cannot verify piece {index} of {self.digest.short}: the metainfo is modelled (no piece digests)"
            )
        expected = self.piece_length(index)
        if len(data) != expected:
            raise IntegrityError(
                f"piece {index} of {self.digest.short} has {len(data)} bytes, expected {expected}",
                detail={"piece": index},
            )
        with receipts.metered(Kind.PIECE_VERIFY, len(data), node=node):
            got = hashlib.sha256(data).digest()
        if got != self.piece_digests[index]:
            raise IntegrityError(
                f"piece {index} of {self.digest.short} is corrupt: sha256 {got.hex()[:12]}, "
                f"expected {self.piece_digests[index].hex()[:12]}",
                detail={"piece": index},
            )

    # -- serialisation -----------------------------------------------------------------------

    def to_dict(self) -> dict:
        return {
            "version": FORMAT_VERSION,
            "digest": str(self.digest),
            "size": self.size,
            "piece_size": self.piece_size,
            "piece_algorithm": PIECE_ALGORITHM,
            "piece_digests": None if self.piece_digests is None else [s.hex() for s in self.piece_digests],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_dict(cls, doc: object) -> MetaInfo:
        if not isinstance(doc, dict):
            raise MetaInfoInvalid(f"metainfo must be a JSON object, got {type(doc).__name__}")
        if doc.get("version") != FORMAT_VERSION:
            raise MetaInfoInvalid(
                f"metainfo version {doc.get('version')!r} is not supported (expected {FORMAT_VERSION})"
            )
        missing = [k for k in ("digest", "size", "piece_size") if k not in doc]
        if missing:
            raise MetaInfoInvalid(f"metainfo lacks {', '.join(missing)}")
        try:
            blob = Digest.parse(doc["digest"])
        except DigestInvalid as e:
            raise MetaInfoInvalid(f"metainfo digest: {e.message}") from e
        sums = doc.get("piece_digests")
        if sums is not None:
            if doc.get("piece_algorithm", PIECE_ALGORITHM) != PIECE_ALGORITHM:
                raise MetaInfoInvalid(
                    f"metainfo piece_algorithm {doc.get('piece_algorithm')!r} is not supported (expected sha256)"
                )
            if not isinstance(sums, list) or not all(isinstance(s, str) and _HEX64.fullmatch(s) for s in sums):
                raise MetaInfoInvalid("metainfo piece_digests must be a list of 64-character lowercase hex strings")
            sums = tuple(bytes.fromhex(s) for s in sums)
        return cls(blob, doc["size"], doc["piece_size"], sums)

    @classmethod
    def from_json(cls, text: str | bytes) -> MetaInfo:
        try:
            doc = json.loads(text)
        except (ValueError, UnicodeDecodeError) as e:
            raise MetaInfoInvalid(f"metainfo is not valid JSON: {e}") from e
        return cls.from_dict(doc)
