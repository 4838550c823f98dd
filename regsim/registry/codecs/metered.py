"""The one wrapper that records a codec's work on the active receipt.

Codecs stay pure; :class:`MeteredCodec` puts what they did where the simulator can price it.

Erasure coding is priced by its real work, in **bytes multiplied**: one multiply-accumulate of one
byte by a GF(2^8) coefficient. Table-based Reed-Solomon (zfec here, ISA-L alike) computes every
output byte as a sum of ``k`` input bytes times coefficients, so its CPU time follows the number
of such products, not the bytes of data: measured with zfec, RS(10,4) costs 2.5x RS(4,2) per data
byte and a decode that rebuilds two data chunks costs twice one that rebuilds one, while the time
per byte multiplied stays within ~15 % across shapes (docs/storage-comparison.md has the table).
Counting data bytes would price rs(10,4) like rs(4,2); counting bytes multiplied lets one
calibrated throughput price every shape. With ``chunk`` the fragment size (``ceil(size / k)``):

- ``encode``: :data:`Kind.EC_ENCODE`, ``chunk * k * m`` -- each of ``m`` parity fragments
  combines all ``k`` data chunks (the padded data bytes times ``m``);
- ``decode``: :data:`Kind.EC_DECODE`, ``j * chunk * k`` where ``j`` is the number of data chunks
  not available verbatim -- each is combined from ``k`` fragments. A read that has every data
  fragment (``j = 0``) is a concatenation and records nothing beyond the transfers the caller
  records. Ranged reads decode a window of every fragment, so ``chunk`` is the window's width;
- ``reconstruct``: :data:`Kind.EC_RECONSTRUCT`, ``(j + p) * chunk * k`` where ``j`` is the
  number of data chunks absent from the fragments given (decoded first, whether asked for or not:
  parity is computed from the data) and ``p`` the number of parity fragments asked for. When every
  missing data fragment is asked for, that is the bytes rebuilt times ``k``.

Replication records :data:`Kind.REPLICATE` with plain bytes: the data bytes for ``encode``
(handing the same buffer to ``n`` writers) and the bytes rebuilt for ``reconstruct`` (copying).

Items carry ``node`` (where the coding ran: a frontend, a repair worker) and ``detail``, the
codec's name, from which the shape ``k, m`` can be read back.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from .. import receipts
from ..receipts import Kind
from .base import Codec
from .replicate import Replicate

Buffer = bytes | bytearray | memoryview


def decoded_chunks(codec: Codec, available: Collection[int]) -> int:
    """How many of the ``k`` data chunks a decode from the fragments ``available`` must compute.

    Codecs that can say which fragment holds each data chunk verbatim (``verbatim_source``) are
    asked; for any other codec every data chunk is assumed to be computed.
    """
    source = getattr(codec, "verbatim_source", None)
    if source is None:
        return codec.k
    return sum(1 for p in range(codec.k) if source(p, available) is None)


def needs_decode(codec: Codec, available: Collection[int]) -> bool:
    """True when reading the blob from the fragments ``available`` takes real decoding work."""
    return decoded_chunks(codec, available) > 0


def encode_work(codec: Codec, chunk: int) -> int:
    """Bytes multiplied to compute the parity of one stripe of ``chunk``-byte fragments."""
    return chunk * codec.k * codec.m


def decode_work(codec: Codec, available: Collection[int], chunk: int) -> int:
    """Bytes multiplied to decode a stripe (or a ``chunk``-byte window of it) from ``available``."""
    return decoded_chunks(codec, available) * chunk * codec.k


def reconstruct_work(codec: Codec, available: Collection[int], missing: Collection[int], chunk: int) -> int:
    """Bytes multiplied to rebuild the fragments ``missing`` from the fragments ``available``."""
    if not missing:
        return 0
    parity = sum(1 for i in missing if i >= codec.k)
    return (decoded_chunks(codec, available) + parity) * chunk * codec.k


def _fragment_size(fragments: Mapping[int, Buffer], size: int, k: int) -> int:
    """The common length of the fragments given (a stripe's or a window's), else the stripe's."""
    for fragment in fragments.values():
        return memoryview(fragment).nbytes
    return -(-size // k)


class MeteredCodec:
    """A :class:`Codec` that delegates to ``inner`` and records each call's work."""

    def __init__(self, inner: Codec, *, node: str | None = None) -> None:
        if isinstance(inner, MeteredCodec):
            raise TypeError(f"codec {inner.name} is already metered; wrapping it twice would count its work twice")
        self.inner = inner
        self.node = node
        self._replication = isinstance(inner, Replicate)

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
        if self._replication:
            with receipts.metered(Kind.REPLICATE, memoryview(data).nbytes, node=self.node, detail=self.name):
                return self.inner.encode(data)
        with receipts.metered(Kind.EC_ENCODE, node=self.node, detail=self.name) as meter:
            fragments = self.inner.encode(data)
            meter.amount = encode_work(self.inner, memoryview(fragments[0]).nbytes if fragments else 0)
        return fragments

    def decode(self, fragments: Mapping[int, Buffer], size: int) -> bytes:
        chunks = decoded_chunks(self.inner, fragments.keys())
        if not chunks:
            return self.inner.decode(fragments, size)
        amount = decode_work(self.inner, fragments.keys(), _fragment_size(fragments, size, self.inner.k))
        with receipts.metered(Kind.EC_DECODE, amount, node=self.node, detail=self.name):
            return self.inner.decode(fragments, size)

    def reconstruct(self, fragments: Mapping[int, Buffer], missing: Sequence[int], size: int) -> dict[int, bytes]:
        if self._replication:
            with receipts.metered(Kind.REPLICATE, node=self.node, detail=self.name) as meter:
                rebuilt = self.inner.reconstruct(fragments, missing, size)
                meter.amount = sum(len(f) for f in rebuilt.values())
            return rebuilt
        chunk = _fragment_size(fragments, size, self.inner.k)
        amount = reconstruct_work(self.inner, fragments.keys(), missing, chunk)
        with receipts.metered(Kind.EC_RECONSTRUCT, amount, node=self.node, detail=self.name):
            return self.inner.reconstruct(fragments, missing, size)
