"""The one wrapper that records a codec's work on the active receipt.

Codecs stay pure; :class:`MeteredCodec` puts what they did where the simulator can price it:

- ``encode``: :data:`Kind.EC_ENCODE` with the bytes encoded, or :data:`Kind.REPLICATE` for
  replication (whose "encoding" is handing the same buffer to ``n`` writers);
- ``decode``: :data:`Kind.EC_DECODE` with the bytes produced, only when the fragments at hand
  force a real decode -- a read that has every data fragment is a concatenation and costs nothing
  beyond the transfers the caller records;
- ``reconstruct``: :data:`Kind.EC_RECONSTRUCT` with the bytes rebuilt (:data:`Kind.REPLICATE` for
  replication, where rebuilding is copying).

Items carry ``node``: where the coding ran (a frontend, a repair worker).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from .. import receipts
from ..receipts import Kind
from .base import Codec
from .replicate import Replicate

Buffer = bytes | bytearray | memoryview


def needs_decode(codec: Codec, available: Collection[int]) -> bool:
    """True when reading the blob from the fragments ``available`` takes real decoding work.

    Codecs that can say which fragment holds each data chunk verbatim (``verbatim_source``) are
    asked; for any other codec every decode is assumed to be real.
    """
    source = getattr(codec, "verbatim_source", None)
    if source is None:
        return True
    return any(source(p, available) is None for p in range(codec.k))


class MeteredCodec:
    """A :class:`Codec` that delegates to ``inner`` and records each call's work."""

    def __init__(self, inner: Codec, *, node: str | None = None) -> None:
        if isinstance(inner, MeteredCodec):
            raise TypeError(f"codec {inner.name} is already metered; wrapping it twice would count its work twice")
        self.inner = inner
        self.node = node
        replication = isinstance(inner, Replicate)
        self._encode_kind = Kind.REPLICATE if replication else Kind.EC_ENCODE
        self._rebuild_kind = Kind.REPLICATE if replication else Kind.EC_RECONSTRUCT

    def __repr__(self) -> str:
        return f"MeteredCodec({self.inner!r}, node={self.node!r})"

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def k(self) -> int:
        return self.inner.k

    @property
    def n(self) -> int:
        return self.inner.n

    @property
    def m(self) -> int:
        return self.inner.m

    @property
    def overhead(self) -> float:
        return self.inner.overhead

    @property
    def bytewise(self) -> bool:
        return bool(getattr(self.inner, "bytewise", False))

    def verbatim_source(self, position: int, available: Collection[int]) -> int | None:
        source = getattr(self.inner, "verbatim_source", None)
        return None if source is None else source(position, available)

    def encode(self, data: Buffer) -> Sequence[bytes | memoryview]:
        size = memoryview(data).nbytes
        with receipts.metered(self._encode_kind, size, node=self.node, detail=self.name):
            return self.inner.encode(data)

    def decode(self, fragments: Mapping[int, Buffer], size: int) -> bytes:
        if not needs_decode(self.inner, fragments.keys()):
            return self.inner.decode(fragments, size)
        with receipts.metered(Kind.EC_DECODE, size, node=self.node, detail=self.name):
            return self.inner.decode(fragments, size)

    def reconstruct(self, fragments: Mapping[int, Buffer], missing: Sequence[int], size: int) -> dict[int, bytes]:
        with receipts.metered(self._rebuild_kind, node=self.node, detail=self.name) as meter:
            rebuilt = self.inner.reconstruct(fragments, missing, size)
            meter.amount = sum(len(f) for f in rebuilt.values())
        return rebuilt
