"""Remote blobs read only by byte ranges, and the ranges themselves.

Every lazy-pulling reader in this package reaches a blob through a :class:`RangeSource`: one
``read_range(offset, length)`` call is one HTTP ``Range`` GET on ``/v2/<name>/blobs/<digest>``
(or one ranged read of a stored blob). The source counts requests and bytes, so a test or a model
can tell exactly what a lazy read of a file cost, and a :class:`ByteRange` names such a read
without doing it (what :meth:`~.layer.LazyLayer.byte_ranges` returns for the simulator to price).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .errors import LazyFormatError


@dataclass(frozen=True, slots=True, order=True)
class ByteRange:
    """``length`` bytes at ``offset`` of the blob ``blob`` (a digest string, or a name the
    converter gave a blob it has not stored yet)."""

    blob: str
    offset: int
    length: int

    @property
    def end(self) -> int:
        return self.offset + self.length


def coalesce(ranges: Iterable[ByteRange]) -> list[ByteRange]:
    """Sorted ranges with those that touch or overlap in the same blob merged (one request each)."""
    out: list[ByteRange] = []
    for r in sorted(ranges):
        if r.length <= 0:
            continue
        if out and out[-1].blob == r.blob and r.offset <= out[-1].end:
            last = out[-1]
            out[-1] = ByteRange(last.blob, last.offset, max(last.end, r.end) - last.offset)
        else:
            out.append(r)
    return out


@dataclass
class RangeSource:
    """A blob of ``size`` bytes readable only through ``fetch(offset, length)``; counts the reads.

    ``name`` is the blob's digest (what :class:`ByteRange` records). ``log`` keeps every
    ``(offset, length)`` asked for, in order.
    """

    fetch: Callable[[int, int], bytes]
    size: int
    name: str = "blob"
    requests: int = 0
    bytes_fetched: int = 0
    log: list[tuple[int, int]] = field(default_factory=list)

    @classmethod
    def of_bytes(cls, data: bytes | bytearray | memoryview, name: str = "blob") -> RangeSource:
        """A source over bytes in memory (what a test or the converter holds)."""
        view = memoryview(data)
        return cls(lambda off, n: bytes(view[off:off + n]), len(view), name)

    def read_range(self, offset: int, length: int) -> bytes:
        """Exactly ``length`` bytes at ``offset`` (one request); an out-of-bounds range is an error."""
        if offset < 0 or length < 0 or offset + length > self.size:
            raise LazyFormatError(f"range {offset}+{length} is outside blob {self.name} of {self.size} bytes")
        if length == 0:
            return b""
        data = self.fetch(offset, length)
        self.requests += 1
        self.bytes_fetched += len(data)
        self.log.append((offset, length))
        if len(data) != length:
            raise LazyFormatError(f"blob {self.name}: asked for {length} bytes at {offset}, got {len(data)}")
        return data

    def read(self, r: ByteRange) -> bytes:
        return self.read_range(r.offset, r.length)

    def reset_counters(self) -> None:
        self.requests = 0
        self.bytes_fetched = 0
        self.log.clear()
