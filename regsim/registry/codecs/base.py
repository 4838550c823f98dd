"""The codec protocol: how a blob becomes fragments spread over storage nodes, and back.

Replication is a codec too (``n`` copies, any one suffices), so the storage layer has a single
code path for every redundancy scheme. Codecs are pure: no receipts, no I/O;
:class:`~regsim.registry.codecs.metered.MeteredCodec` records their work.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable


@runtime_checkable
class Codec(Protocol):
    #: canonical spelling used in scenarios and results: "replicate(3)", "rs(4,2)"
    name: str
    #: fragments needed to read the data back
    k: int
    #: fragments written in total (k data + m parity; n copies for replication)
    n: int

    @property
    def m(self) -> int:
        """Fragments that may be lost: n - k."""
        ...

    @property
    def overhead(self) -> float:
        """Raw bytes stored per byte of data, ignoring headers: n / k."""
        ...

    def encode(self, data: bytes | bytearray | memoryview) -> Sequence[bytes | memoryview]:
        """The ``n`` fragments of ``data``, indexed 0..n-1."""
        ...

    def decode(self, fragments: Mapping[int, bytes | memoryview], size: int) -> bytes:
        """Rebuild the ``size`` original bytes from any ``k`` fragments (index -> bytes)."""
        ...

    def reconstruct(self, fragments: Mapping[int, bytes | memoryview], missing: Sequence[int],
                    size: int) -> dict[int, bytes]:
        """Rebuild the fragments listed in ``missing`` from any ``k`` others."""
        ...
