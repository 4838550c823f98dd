"""Replication as a codec: ``n`` identical copies, any one of which is the blob.

Modelling replication through the same :class:`~regsim.registry.codecs.base.Codec` protocol as
erasure coding keeps the storage cluster to one code path: a replicated blob is a stripe with
``k = 1`` whose every fragment holds the whole blob verbatim.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from ..errors import ConfigError, DataLoss, IntegrityError
from .base import Codec

#: the most fragments a stripe may have (the limit of the GF(2^8) Reed-Solomon codes, kept for
#: replication too so that fragment indices fit the same header field and placement rules).
MAX_FRAGMENTS = 256


class Replicate:
    """``n``-way replication. :meth:`encode` shares one memoryview of the data ``n`` times."""

    #: every byte position of a fragment depends only on the same position of the data, so a
    #: byte range of a stripe can be read or rebuilt from the same range of other fragments.
    bytewise = True

    def __init__(self, n: int = 3) -> None:
        if not isinstance(n, int) or isinstance(n, bool):
            raise ConfigError(f"replicate(n): n must be an integer, got {n!r}")
        if not 1 <= n <= MAX_FRAGMENTS:
            raise ConfigError(f"replicate({n}): the number of copies must be between 1 and {MAX_FRAGMENTS}")
        self.n = n
        self.k = 1
        self.name = f"replicate({n})"

    def __repr__(self) -> str:
        return f"Replicate({self.n})"

    @property
    def m(self) -> int:
        return self.n - 1

    @property
    def overhead(self) -> float:
        return float(self.n)

    def encode(self, data: bytes | bytearray | memoryview) -> list[memoryview]:
        """The same read-only view of ``data``, ``n`` times: copies are made by whoever stores them."""
        view = memoryview(data).cast("B").toreadonly()
        return [view] * self.n

    def verbatim_source(self, position: int, available: Collection[int]) -> int | None:
        """Which available fragment holds data chunk ``position`` as is: any copy holds the blob, so
        the first of ``available``, whose order is the reader's preference."""
        if position != 0:
            raise ValueError(f"{self.name} has one data chunk; position {position} does not exist")
        return next(iter(available), None)

    def decode(self, fragments: Mapping[int, bytes | memoryview], size: int) -> bytes:
        _, fragment = self._any(fragments, size)
        return fragment if isinstance(fragment, bytes) else bytes(fragment)

    def reconstruct(self, fragments: Mapping[int, bytes | memoryview], missing: Sequence[int],
                    size: int) -> dict[int, bytes]:
        check_missing(self, fragments, missing)
        if not missing:
            return {}
        copy = self.decode(fragments, size)
        return {i: copy for i in missing}

    def _any(self, fragments: Mapping[int, bytes | memoryview], size: int) -> tuple[int, bytes | memoryview]:
        if not fragments:
            raise DataLoss(f"{self.name}: no copy left to read (needs 1 of {self.n})")
        index = min(fragments)
        check_index(self, index)
        fragment = fragments[index]
        if len(fragment) != size:
            raise IntegrityError(f"{self.name}: copy {index} is {len(fragment)} bytes, expected {size}")
        return index, fragment


def check_index(codec: Codec, index: int) -> None:
    """Reject a fragment index outside ``0..n-1`` of ``codec``."""
    if not 0 <= index < codec.n:
        raise ValueError(f"{codec.name}: fragment index {index} is outside 0..{codec.n - 1}")


def check_missing(codec: Codec, fragments: Mapping[int, object], missing: Sequence[int]) -> None:
    """Reject a rebuild request for indices that do not exist, repeat, or that the caller already has."""
    for index in missing:
        check_index(codec, index)
        if index in fragments:
            raise ValueError(f"{codec.name}: fragment {index} is both given and asked to be rebuilt")
    if len(set(missing)) != len(missing):
        raise ValueError(f"{codec.name}: fragment indices to rebuild repeat: {list(missing)}")
