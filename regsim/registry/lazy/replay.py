"""Replaying a start-up trace against lazy layers: which remote ranges each read fetches.

:func:`plan` walks a :class:`~.trace.StartupTrace` in order over an image's
:class:`~.layer.LazyLayer` readers (one per layer, any format) and returns a :class:`FetchPlan`:
for every read, the remote byte ranges it needs, the format's *fetch units* it touches (what a
lazy client caches: an eStargz gzip member, a SOCI span, a Nydus chunk, a block-image segment, a
whole plain layer), and which of them are new -- not fetched by an earlier read nor in the
``cached`` set given. A model turns each read into ``cpu_before_s`` of CPU followed by fetches of
its :attr:`ReadFetch.new_ranges` (one request each; none when the read is cached).

How a read maps to units, per format (what the reader would fetch for those bytes):

=========== ====================================================================================
format      a file read of ``[offset, offset+length)``; a raw read of the layer's content
=========== ====================================================================================
eStargz     the gzip members (chunks) of the file overlapping the bytes; raw: needs ``extents``
SOCI        the spans holding the file's bytes in the uncompressed tar; raw: the spans holding
            the tar bytes directly (the layer is the unmodified tar.gz)
Nydus       the chunks of the file overlapping the bytes (in whichever blob holds them);
            raw: needs ``extents``
block       the segments (zstd) or blocks (raw) holding the file's blocks; raw: the segments or
            blocks holding those bytes of the filesystem image (what overlaybd traces record)
plain       the whole blob, on the first read of the layer (nothing is readable before it)
other       :meth:`~.layer.LazyLayer.byte_ranges` of the whole file (one unit)
=========== ====================================================================================

``extents`` (layer -> :func:`tar_extents` of its original tar) lets a raw read address a
file-level format: the read's bytes of the original uncompressed tar are cut into the pieces of
the files they hold, each served as a file read (bytes of tar headers are metadata the reader
already has once the layer is open).

A whole-file read needs exactly the ranges :meth:`~.layer.LazyLayer.byte_ranges` gives (tested);
a partial read needs a subset of them. :attr:`FetchPlan.bytes_fetched_share` is the bytes
fetched over the bytes of the layers' blobs -- the lazy-pulling counterpart of Slacker's 6.4 %.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from .errors import LazyFormatError
from .layer import LazyLayer
from .ranges import ByteRange, coalesce
from .trace import Read, StartupTrace, TraceError

Extent = tuple[str, int, int]  # (file name, data offset in the uncompressed tar, size)


def tar_extents(layer: bytes | bytearray | memoryview) -> list[Extent]:
    """Where each regular file's data sits in a layer's uncompressed tar (sorted by offset):
    what a raw read of an eStargz or Nydus layer is resolved against."""
    from .tarlayer import read_layer

    return sorted(((e.name, e.data_offset, e.size) for e in read_layer(layer).regular_files().values()
                   if e.size > 0), key=lambda x: x[1])


@dataclass(frozen=True)
class ReadFetch:
    """What read ``index`` of the trace fetches: ``units`` (the format's fetch units it touches),
    ``ranges`` (those units coalesced: its remote ranges, cached or not), ``new_ranges`` (the units
    not fetched before it, coalesced: what a client requests)."""

    index: int
    read: Read
    layer: int | str
    units: tuple[ByteRange, ...]
    ranges: tuple[ByteRange, ...]
    new_ranges: tuple[ByteRange, ...]

    @property
    def bytes(self) -> int:
        """Remote bytes the read needs (its units, cached or not)."""
        return sum(r.length for r in self.ranges)

    @property
    def new_bytes(self) -> int:
        return sum(r.length for r in self.new_ranges)

    @property
    def cached(self) -> bool:
        """Every unit the read needs was fetched already (no request)."""
        return not self.new_ranges

    def remote(self) -> list[tuple[int | str, int, int]]:
        """``(layer, offset, length)`` of each new range (the blob is the layer's, or for Nydus
        chunks shared with another layer, that layer's blob: see :attr:`new_ranges`)."""
        return [(self.layer, r.offset, r.length) for r in self.new_ranges]


@dataclass(frozen=True)
class FetchPlan:
    """Per read, what it fetches; with the bytes the layers' opening cost and the blobs' sizes."""

    reads: tuple[ReadFetch, ...]
    open_ranges: Mapping[int | str, tuple[ByteRange, ...]]
    blob_sizes: Mapping[str, int]
    fetched: frozenset[ByteRange] = field(repr=False)

    @property
    def bytes_read(self) -> int:
        return sum(f.read.length for f in self.reads)

    @property
    def bytes_fetched(self) -> int:
        """Bytes the reads fetch (each unit once; opening the layers not counted)."""
        return sum(f.new_bytes for f in self.reads)

    @property
    def open_bytes(self) -> int:
        return sum(r.length for rs in self.open_ranges.values() for r in rs)

    @property
    def requests(self) -> int:
        return sum(len(f.new_ranges) for f in self.reads)

    @property
    def layer_bytes(self) -> int:
        """Bytes of every blob of the layers given (each blob once), read or not."""
        return sum(self.blob_sizes.values())

    @property
    def bytes_fetched_share(self) -> float:
        """Bytes fetched by the reads over the layers' bytes."""
        return self.bytes_fetched / self.layer_bytes if self.layer_bytes else 0.0

    @property
    def share_with_open(self) -> float:
        """As :attr:`bytes_fetched_share`, with what opening the layers fetched added."""
        return (self.bytes_fetched + self.open_bytes) / self.layer_bytes if self.layer_bytes else 0.0

    @property
    def cached_reads(self) -> int:
        return sum(1 for f in self.reads if f.cached)

    def summary(self) -> str:
        return (f"{len(self.reads)} reads ({self.cached_reads} cached), {self.bytes_read:,} bytes read, "
                f"{self.bytes_fetched:,} fetched in {self.requests} requests ({self.bytes_fetched_share:.1%} of "
                f"{self.layer_bytes:,}), {self.open_bytes:,} to open the layers")


# -- units per format --------------------------------------------------------------------------

def _overlaps(a: int, b: int, c: int, d: int) -> bool:
    return a < d and c < b


def _file_units(layer: LazyLayer, name: str, offset: int, length: int) -> list[ByteRange]:
    """The fetch units a read of ``[offset, offset+length)`` of file ``name`` needs."""
    info = layer._regular(name)
    if offset + length > info.size:
        raise TraceError(f"bytes {offset}..{offset + length} of {name!r} are past its end ({info.size} bytes)")
    if length == 0 or info.size == 0:
        return []
    fmt = layer.format
    end = offset + length
    if fmt == "estargz":
        return [ByteRange(layer.blob, c.offset, c.end - c.offset) for c in layer.chunks(info.name)
                if _overlaps(c.chunk_offset, c.chunk_offset + c.size, offset, end)]
    if fmt == "nydus":
        return [ByteRange(c.location.blob, c.location.offset, c.location.compressed_size)
                for c in layer.chunks(info.name)
                if _overlaps(c.file_offset, c.file_offset + c.location.size, offset, end)]
    if fmt == "soci":
        f = layer.ztoc.file(info.name)
        return _soci_units(layer, f.offset + offset, length)
    if fmt == "block":
        inode = layer.inode(info.name)
        return _block_units(layer, inode.first_block * layer.block_size + offset, length)
    if fmt == "plain":
        return _whole(layer)
    return list(layer.byte_ranges(info.name))


def _soci_units(layer, offset: int, length: int) -> list[ByteRange]:
    z = layer.ztoc
    return [ByteRange(layer.blob, z.span_start(s), z.span_end(s) - z.span_start(s))
            for s in z.spans_for(offset, length)]


def _block_units(layer, offset: int, length: int) -> list[ByteRange]:
    from .blockimage import HEADER_SIZE

    if offset + length > layer.image_size:
        raise TraceError(f"bytes {offset}..{offset + length} are past the end of the block image "
                         f"({layer.image_size} bytes)")
    if layer.compressed:
        unit = layer.segment_size
        first, last = offset // unit, (offset + length - 1) // unit
        return [ByteRange(layer.blob, layer.offsets[s], layer.offsets[s + 1] - layer.offsets[s])
                for s in range(first, last + 1)]
    bs = layer.block_size
    first, last = offset // bs, (offset + length - 1) // bs
    return [ByteRange(layer.blob, HEADER_SIZE + b * bs, bs) for b in range(first, last + 1)]


def _whole(layer) -> list[ByteRange]:
    src = layer.source(layer.blob)
    return [ByteRange(layer.blob, 0, src.size)]


def _raw_units(layer: LazyLayer, offset: int, length: int, extents: Sequence[Extent] | None,
               label: str) -> list[ByteRange]:
    fmt = layer.format
    if fmt == "block":
        return _block_units(layer, offset, length)
    if fmt == "soci":
        if offset + length > layer.ztoc.uncompressed_size:
            raise TraceError(f"bytes {offset}..{offset + length} are past the end of layer {label} "
                             f"({layer.ztoc.uncompressed_size} uncompressed bytes)")
        return _soci_units(layer, offset, length)
    if fmt == "plain":
        return _whole(layer)
    if extents is None:
        raise TraceError(f"layer {label} is {fmt or type(layer).__name__}, which has no block address space: a raw "
                         "read needs the layer's tar extents (replay.tar_extents)")
    out: list[ByteRange] = []
    end = offset + length
    for name, start, size in extents:
        if start >= end:
            break
        if _overlaps(start, start + size, offset, end):
            a, b = max(start, offset), min(start + size, end)
            out += _file_units(layer, name, a - start, b - a)
    return out


# -- the plan ----------------------------------------------------------------------------------

def _resolve(layers: Sequence[LazyLayer] | Mapping, digests: Sequence[str] | None,
             key: int | str, index: int) -> tuple[LazyLayer, int | str]:
    if isinstance(layers, Mapping):
        if key in layers:
            return layers[key], key
    elif isinstance(key, int):
        if key < len(layers):
            return layers[key], key
        raise TraceError(f"trace read {index}: layer {key} does not exist (the image has {len(layers)} layers)")
    else:
        if digests is not None and key in digests:
            i = list(digests).index(key)
            return layers[i], i
        for i, layer in enumerate(layers):
            if key in layer.sources:
                return layer, i
    raise TraceError(f"trace read {index}: no layer {key!r} among the layers given")


def plan(trace: StartupTrace, layers: Sequence[LazyLayer] | Mapping[int | str, LazyLayer], *,
         digests: Sequence[str] | None = None, cached: Iterable[ByteRange] = (),
         extents: Mapping[int | str, Sequence[Extent]] | None = None) -> FetchPlan:
    """The :class:`FetchPlan` of ``trace`` over ``layers`` (a list in manifest order, or a mapping
    from layer key). ``digests`` names the layers for reads that give a layer digest; ``cached``
    holds units fetched before (a warm node); ``extents`` serves raw reads of file-level formats."""
    fetched = set(cached)
    out = []
    used: dict[int | str, LazyLayer] = {}
    for i, r in enumerate(trace.reads):
        layer, key = _resolve(layers, digests, r.layer, i)
        used[key] = layer
        try:
            if r.path is not None:
                units = _file_units(layer, r.path, r.offset, r.length)
            else:
                units = _raw_units(layer, r.offset, r.length, (extents or {}).get(key)
                                   or (extents or {}).get(r.layer), repr(r.layer))
        except LazyFormatError as e:  # ours, or the reader's (no such file, not a regular file)
            raise TraceError(f"trace read {i}: {e.message}") from None
        units = list(dict.fromkeys(units))
        new = [u for u in units if u not in fetched]
        fetched.update(new)
        out.append(ReadFetch(i, r, key, tuple(units), tuple(coalesce(units)), tuple(coalesce(new))))
    blobs: dict[str, int] = {}
    for layer in (layers.values() if isinstance(layers, Mapping) else layers):  # the image's layers, all of them
        for name, src in layer.sources.items():
            blobs[name] = src.size
    # a plain layer's opening *is* its first read's whole-blob unit: not counted twice
    opens = {k: () if layer.format == "plain" else tuple(layer.open_ranges) for k, layer in used.items()}
    return FetchPlan(tuple(out), opens, blobs, frozenset(fetched))
