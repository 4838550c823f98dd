"""Nydus-style layers: content-addressed 1 MiB chunks, a bootstrap, and a chunk dictionary.

Nydus (dragonflyoss/nydus, ``docs/nydus-design.md`` and ``docs/data-deduplication.md``) splits
an image into *metadata* -- the RAFS ``bootstrap``: the file tree and, per file, the chunks that
hold its data -- and *data blobs* of chunks. Files are cut into fixed-size chunks (1 MiB by
default), each named by its digest and compressed on its own, so a chunk already stored (in this
layer, another layer or another image) is not stored again: the *chunk dictionary*
(``nydus-image create --chunk-dict``) maps a chunk digest to where it already lives, and a new
bootstrap simply points there.

Here:

- :func:`build` converts one plain layer: every file into ``chunk_size`` chunks, each hashed
  (sha256 of the uncompressed bytes) and, when the :class:`ChunkDict` does not know it yet,
  compressed with zstd and appended to this layer's blob;
- the *blob* is those zstd frames back to back, followed by a chunk table (digest, compressed
  offset, compressed size, size per chunk) and a 32-byte trailer locating it, so the blob
  describes itself; a chunk is one Range read of ``[offset, offset + compressed size)``;
- the :class:`Bootstrap` (per layer, JSON) lists every entry with, for a regular file, its chunks:
  digest, blob, compressed offset and size, size -- everything a reader needs, so opening a layer
  costs the bootstrap only;
- a :class:`ChunkDict` is shared across layers and images: pass the same one to every
  :func:`build`, and :meth:`ChunkDict.report` gives the dedup ratio (bytes referenced by
  bootstraps / bytes stored).

Differences from the real tool: the bootstrap is JSON (compressed with zstd), not RAFS v5/v6
(EROFS) on-disk metadata, and there is one per layer rather than one merged bootstrap for the
image; chunk digests are sha256 (Nydus defaults to blake3); there is no batch/compacting of small
chunks, no prefetch table, no chunk-dict *image* (the dictionary is an object you keep, and can
save with :meth:`ChunkDict.to_json`).
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field

from .. import receipts
from ..receipts import Kind
from .errors import LazyFormatError
from .layer import FileInfo, LazyLayer
from .ranges import ByteRange, RangeSource
from .tarlayer import TarLayer, read_layer

CHUNK_SIZE = 1 << 20
BLOB_MEDIA_TYPE = "application/vnd.oci.image.layer.nydus.blob.v1"
BOOTSTRAP_MEDIA_TYPE = "application/vnd.regsim.nydus.bootstrap.v1+json+zstd"
BLOB_ANNOTATION = "containerd.io/snapshot/nydus-blob"
BOOTSTRAP_ANNOTATION = "containerd.io/snapshot/nydus-bootstrap"

_TABLE_ROW = struct.Struct("<32sQII")      # digest, compressed offset, compressed size, size
_TRAILER = struct.Struct("<8sQII8x")       # magic, table offset, chunk count, chunk size
_MAGIC = b"RSNYDUS1"


@dataclass(frozen=True, slots=True)
class ChunkLocation:
    """Where a chunk is stored: ``compressed_size`` bytes at ``offset`` of blob ``blob``."""

    blob: str
    offset: int
    compressed_size: int
    size: int


@dataclass(frozen=True, slots=True)
class ChunkRef:
    """A chunk of a file: bytes ``[file_offset, file_offset + size)`` are chunk ``digest``,
    stored at ``location``."""

    digest: str
    file_offset: int
    location: ChunkLocation


@dataclass(frozen=True, slots=True)
class DedupReport:
    """What a chunk dictionary saved: chunks and bytes the bootstraps refer to, against those stored."""

    chunks_referenced: int
    chunks_stored: int
    bytes_referenced: int
    bytes_stored: int
    compressed_bytes_stored: int

    @property
    def ratio(self) -> float:
        """Bytes referenced per byte stored (1.0: nothing shared; 2.0: half the data was a repeat)."""
        return self.bytes_referenced / self.bytes_stored if self.bytes_stored else 1.0

    @property
    def saved_fraction(self) -> float:
        """The share of referenced bytes that did not need storing."""
        return 1 - self.bytes_stored / self.bytes_referenced if self.bytes_referenced else 0.0


@dataclass
class ChunkDict:
    """Chunk digest -> where that chunk is stored, shared by every layer built with it."""

    chunks: dict[str, ChunkLocation] = field(default_factory=dict)
    chunks_referenced: int = 0
    bytes_referenced: int = 0

    def lookup(self, digest: str) -> ChunkLocation | None:
        return self.chunks.get(digest)

    def add(self, digest: str, location: ChunkLocation) -> None:
        self.chunks.setdefault(digest, location)

    def referenced(self, size: int) -> None:
        self.chunks_referenced += 1
        self.bytes_referenced += size

    def report(self) -> DedupReport:
        return DedupReport(self.chunks_referenced, len(self.chunks), self.bytes_referenced,
                           sum(c.size for c in self.chunks.values()),
                           sum(c.compressed_size for c in self.chunks.values()))

    def to_json(self) -> dict:
        return {"chunks": {d: [c.blob, c.offset, c.compressed_size, c.size] for d, c in self.chunks.items()},
                "chunksReferenced": self.chunks_referenced, "bytesReferenced": self.bytes_referenced}

    @classmethod
    def from_json(cls, doc: dict) -> ChunkDict:
        return cls({d: ChunkLocation(*v) for d, v in doc["chunks"].items()}, doc.get("chunksReferenced", 0),
                   doc.get("bytesReferenced", 0))


@dataclass(frozen=True)
class BootstrapEntry:
    info: FileInfo
    chunks: tuple[ChunkRef, ...] = ()


@dataclass(frozen=True)
class Bootstrap:
    """A layer's metadata: every entry, and each regular file's chunks (which may live in blobs
    of other layers or images, through the chunk dictionary)."""

    entries: tuple[BootstrapEntry, ...]
    chunk_size: int

    def blobs(self) -> list[str]:
        """The blobs the layer's files read from, in first-use order."""
        return list(dict.fromkeys(c.location.blob for e in self.entries for c in e.chunks))

    def to_bytes(self) -> bytes:
        import zstandard
        doc = {"version": 1, "chunkSize": self.chunk_size, "blobs": self.blobs(), "entries": []}
        index = {b: i for i, b in enumerate(doc["blobs"])}
        for e in self.entries:
            row = {"name": e.info.name, "type": e.info.type, "size": e.info.size, "mode": e.info.mode}
            if e.info.linkname:
                row["linkName"] = e.info.linkname
            if e.chunks:
                row["chunks"] = [[c.digest, c.file_offset, index[c.location.blob], c.location.offset,
                                  c.location.compressed_size, c.location.size] for c in e.chunks]
            doc["entries"].append(row)
        return zstandard.ZstdCompressor(level=10).compress(json.dumps(doc, separators=(",", ":")).encode())

    @classmethod
    def from_bytes(cls, data: bytes) -> Bootstrap:
        import zstandard
        try:
            with receipts.metered(Kind.ZSTD_DECOMPRESS, detail="nydus") as m:
                raw = zstandard.ZstdDecompressor().decompressobj().decompress(data)
                m.amount = len(raw)
            doc = json.loads(raw)
            blobs = doc["blobs"]
            entries = tuple(BootstrapEntry(
                FileInfo(r["name"], r["type"], r["size"], r["mode"], r.get("linkName", "")),
                tuple(ChunkRef(d, fo, ChunkLocation(blobs[b], off, cs, s)) for d, fo, b, off, cs, s in r.get("chunks", ())))
                for r in doc["entries"])
            return cls(entries, doc["chunkSize"])
        except Exception as exc:
            raise LazyFormatError(f"Nydus bootstrap cannot be read: {exc}") from None


@dataclass(frozen=True)
class NydusLayer:
    """One converted layer: its data blob (``None`` when every chunk was already stored), the
    blob's name in the bootstrap (its digest), the bootstrap, and the chunks new and reused."""

    blob: bytes | None
    blob_id: str | None
    bootstrap: Bootstrap
    new_chunks: int
    reused_chunks: int


def _blob_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def build(layer: bytes | bytearray | memoryview | TarLayer, chunk_dict: ChunkDict | None = None, *,
          chunk_size: int = CHUNK_SIZE, level: int = 3) -> NydusLayer:
    """Convert a plain layer; chunks ``chunk_dict`` knows are referenced, not stored again, and
    the new ones are added to it (a fresh dictionary when none is given)."""
    import zstandard

    if chunk_size <= 0:
        raise LazyFormatError(f"chunk size must be positive, got {chunk_size}")
    src = layer if isinstance(layer, TarLayer) else read_layer(layer)
    chunk_dict = chunk_dict if chunk_dict is not None else ChunkDict()
    cctx = zstandard.ZstdCompressor(level=level)
    body = bytearray()
    table: list[tuple[str, int, int, int]] = []
    pending = "pending"  # the blob's digest is known once all its chunks are in
    local: dict[str, ChunkLocation] = {}
    files: list[tuple[FileInfo, list[tuple[str, int, ChunkLocation]]]] = []
    new = reused = 0
    for e in src.entries:
        if not e.name:
            continue
        refs: list[tuple[str, int, ChunkLocation]] = []
        for start in range(0, e.size if e.type == "reg" else 0, chunk_size):
            chunk = e.data[start:start + chunk_size]
            digest = "sha256:" + hashlib.sha256(chunk).hexdigest()
            where = local.get(digest) or chunk_dict.lookup(digest)
            if where is None:
                frame = cctx.compress(chunk)
                where = ChunkLocation(pending, len(body), len(frame), len(chunk))
                local[digest] = where
                table.append((digest, len(body), len(frame), len(chunk)))
                body += frame
                new += 1
            else:
                reused += 1
            refs.append((digest, start, where))
        files.append((FileInfo(e.name, e.type, e.size, e.mode, e.linkname), refs))
    blob = blob_id = None
    if table:
        table_offset = len(body)
        for digest, off, csize, size in table:
            body += _TABLE_ROW.pack(bytes.fromhex(digest.split(":", 1)[1]), off, csize, size)
        body += _TRAILER.pack(_MAGIC, table_offset, len(table), chunk_size)
        blob = bytes(body)
        blob_id = _blob_digest(blob)
    entries = []
    for info, refs in files:
        chunks = []
        for digest, start, where in refs:
            if where.blob == pending:
                where = ChunkLocation(blob_id, where.offset, where.compressed_size, where.size)
                chunk_dict.add(digest, where)
            chunk_dict.referenced(where.size)
            chunks.append(ChunkRef(digest, start, where))
        entries.append(BootstrapEntry(info, tuple(chunks)))
    return NydusLayer(blob, blob_id, Bootstrap(tuple(entries), chunk_size), new, reused)


def read_chunk_table(source: RangeSource) -> list[tuple[str, ChunkLocation]]:
    """The chunk table a blob carries at its end (two Range reads: trailer, then table)."""
    tail = source.read_range(source.size - _TRAILER.size, _TRAILER.size)
    magic, table_offset, count, _chunk_size = _TRAILER.unpack(tail)
    if magic != _MAGIC or table_offset + count * _TABLE_ROW.size + _TRAILER.size != source.size:
        raise LazyFormatError(f"blob {source.name} is not a Nydus-style chunk blob")
    raw = source.read_range(table_offset, count * _TABLE_ROW.size)
    out = []
    for i in range(count):
        digest, off, csize, size = _TABLE_ROW.unpack_from(raw, i * _TABLE_ROW.size)
        out.append(("sha256:" + digest.hex(), ChunkLocation(source.name, off, csize, size)))
    return out


class NydusReader(LazyLayer):
    """A layer read through its bootstrap: each chunk one Range read of the blob holding it.

    ``sources`` maps blob digest -> :class:`RangeSource`: the layer's own blob and, for chunks
    the dictionary found elsewhere, the blobs of other layers or images.
    """

    format = "nydus"

    def __init__(self, bootstrap: Bootstrap, sources: Mapping[str, RangeSource], *, verify: bool = True) -> None:
        super().__init__(sources)
        self.bootstrap = bootstrap
        self.verify = verify
        self._chunks = {e.info.name: e.chunks for e in bootstrap.entries}

    @classmethod
    def open(cls, bootstrap: RangeSource, sources: Mapping[str, RangeSource], **kw) -> NydusReader:
        """Open through the bootstrap blob (one Range read of all of it)."""
        reader = cls(Bootstrap.from_bytes(bootstrap.read_range(0, bootstrap.size)),
                     {bootstrap.name: bootstrap, **sources}, **kw)
        reader.open_ranges = [ByteRange(bootstrap.name, 0, bootstrap.size)]
        return reader

    def entries(self) -> list[FileInfo]:
        return [e.info for e in self.bootstrap.entries]

    def chunks(self, name: str) -> tuple[ChunkRef, ...]:
        return self._chunks[self._regular(name).name]

    def _ranges(self, info: FileInfo) -> list[ByteRange]:
        return [ByteRange(c.location.blob, c.location.offset, c.location.compressed_size)
                for c in self._chunks.get(info.name, ())]

    def read_chunk(self, ref: ChunkRef, frame: bytes | None = None) -> bytes:
        """One chunk's bytes (its zstd frame fetched unless given), verified against its digest."""
        import zstandard
        loc = ref.location
        if frame is None:
            frame = self.fetch(ByteRange(loc.blob, loc.offset, loc.compressed_size))
        try:
            with receipts.metered(Kind.ZSTD_DECOMPRESS, detail="nydus") as m:
                data = zstandard.ZstdDecompressor().decompress(frame, max_output_size=loc.size)
                m.amount = len(data)
        except zstandard.ZstdError as exc:
            raise LazyFormatError(f"chunk {ref.digest} in {loc.blob} does not decompress: {exc}") from None
        if self.verify and "sha256:" + hashlib.sha256(data).hexdigest() != ref.digest:
            raise LazyFormatError(f"chunk at {loc.offset} of {loc.blob} does not match its digest {ref.digest}")
        return data

    def _read(self, info: FileInfo) -> bytes:
        # one request per run of neighbouring chunks of a blob (what byte_ranges reports)
        fetched = [(r, self.fetch(r)) for r in self.byte_ranges(info.name)]
        out = bytearray()
        for c in self._chunks.get(info.name, ()):
            loc = c.location
            r, data = next((r, d) for r, d in fetched if r.blob == loc.blob and r.offset <= loc.offset < r.end)
            out += self.read_chunk(c, data[loc.offset - r.offset:loc.offset - r.offset + loc.compressed_size])
        return bytes(out)


__all__ = ["CHUNK_SIZE", "ChunkDict", "ChunkLocation", "ChunkRef", "Bootstrap", "BootstrapEntry", "NydusLayer",
           "DedupReport", "build", "read_chunk_table", "NydusReader"]
