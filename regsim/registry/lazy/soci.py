"""SOCI: lazy pulling of an unmodified gzip layer through a separately stored zTOC.

Seekable OCI (awslabs/soci-snapshotter, ``docs/glossary.md`` and ``ztoc/``) leaves the image
alone and adds, per large layer, a *zTOC*: the layer's file table (name, offset and size of each
file in the *uncompressed* tar, read from the tar headers) and a *zInfo*, the zlib state
("checkpoint": compressed offset, bit offset and the 32 KiB window of output before it) at deflate
block boundaries about every ``span_size`` bytes of uncompressed output (4 MiB by default). Any
file is then read by fetching only the compressed spans that cover it and inflating from the
checkpoint before it -- random access into a plain ``tar+gzip``, as zlib's ``zran.c`` does.

Checkpoints are made with ``indexed_gzip`` (``IndexedGzipFile(spacing=...)``,
``build_full_index``, ``export_index``): its exported index *is* the zInfo here, and the
checkpoint table (compressed offset, uncompressed offset, bits) is parsed out of it. To read a
file, :func:`compressed_range` gives the one compressed range it needs (from the checkpoint at or
before the file's first byte, one byte earlier when the checkpoint starts mid-byte, to the first
checkpoint at or after its last byte, or the end of the layer), :func:`read_file` fetches exactly
that range with one ``read_range(offset, length)`` call, checks each span's sha256 against the
zTOC, and hands indexed_gzip a file object that serves only those bytes (:class:`_SpanFile`); a
read outside them is fetched through ``read_range`` too and counted, so nothing is hidden.

Layers under ``min_layer_size`` (10 MiB, SOCI's default) get no zTOC: they are pulled whole.
The zTOCs of an image are stored as an OCI artifact whose ``subject`` is the image manifest
(SOCI index manifest v1, ``artifactType application/vnd.amazon.soci.index.v1+json``): each zTOC
is a ``layers`` entry of media type ``application/octet-stream`` annotated with the digest of
the layer it indexes, so a client finds it with the referrers API (:func:`push_index`,
:func:`find_index`).

Differences from the real tool: the zTOC is serialised as a magic number, a JSON document and
indexed_gzip's index (not a FlatBuffer); the window of a checkpoint is indexed_gzip's, stored
uncompressed; there is no prefetch artifact, no v2 index (image-manifest annotation instead of a
subject) and no ``disable-xattrs`` annotation.
"""

from __future__ import annotations

import bisect
import hashlib
import io
import json
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from .. import receipts
from ..descriptors import OCI_MANIFEST, Descriptor
from ..digest import Digest
from ..manifests import parse_manifest
from ..receipts import Kind
from .errors import LazyFormatError
from .layer import FileInfo, LazyLayer
from .ranges import ByteRange, RangeSource
from .tarlayer import TarLayer, clean_name, compression_of, read_layer

SPAN_SIZE = 4 << 20
MIN_LAYER_SIZE = 10 << 20
#: indexed_gzip needs the spacing of its checkpoints to exceed the 32 KiB deflate window
MIN_SPAN_SIZE = 64 << 10
WINDOW_SIZE = 32768
ZTOC_VERSION = "0.9"
BUILD_TOOL = "regsim lazy.soci"

SOCI_INDEX_ARTIFACT_TYPE = "application/vnd.amazon.soci.index.v1+json"
ZTOC_MEDIA_TYPE = "application/octet-stream"
LAYER_DIGEST_ANNOTATION = "com.amazon.soci.image-layer-digest"
LAYER_MEDIA_TYPE_ANNOTATION = "com.amazon.soci.image-layer-mediaType"
SPAN_SIZE_ANNOTATION = "com.amazon.soci.span-size"
BUILD_TOOL_ANNOTATION = "com.amazon.soci.build-tool-identifier"
#: the config of a v1 SOCI index manifest: the empty JSON object, typed as the artifact
EMPTY_CONFIG = b"{}"

_MAGIC = b"RSZTOC\x00\x01"
_IGZ_HEADER = struct.Struct("<5sBBQQIII")  # "GZIDX", version, flags, sizes, spacing, window, points
_IGZ_POINT = struct.Struct("<QQBB")        # compressed offset, uncompressed offset, bits, has window


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """Where inflating can resume: ``compressed`` (its first whole byte; with ``bits`` > 0 the
    last ``bits`` bits of the byte before belong to it too) gives output from ``uncompressed``."""

    compressed: int
    uncompressed: int
    bits: int


@dataclass(frozen=True, slots=True)
class ZtocFile:
    """A file-table row: where a tar entry's header and data sit in the uncompressed tar."""

    name: str
    type: str
    offset: int
    size: int
    header_offset: int
    mode: int
    linkname: str = ""
    uid: int = 0
    gid: int = 0


@dataclass(frozen=True)
class Ztoc:
    """The table of contents of one gzip layer: its file table and its checkpoints."""

    span_size: int
    compressed_size: int
    uncompressed_size: int
    checkpoints: tuple[Checkpoint, ...]
    span_digests: tuple[str, ...]
    files: tuple[ZtocFile, ...]
    zinfo: bytes = field(repr=False)
    version: str = ZTOC_VERSION
    build_tool: str = BUILD_TOOL

    # -- spans -------------------------------------------------------------------------------

    def span_start(self, span: int) -> int:
        """The first compressed byte span ``span`` needs (one early when it starts mid-byte)."""
        c = self.checkpoints[span]
        return c.compressed - (1 if c.bits else 0)

    def span_end(self, span: int) -> int:
        """One past the last compressed byte of span ``span`` (the layer's end for the last)."""
        return self.checkpoints[span + 1].compressed if span + 1 < len(self.checkpoints) else self.compressed_size

    @cached_property
    def _uncompressed_offsets(self) -> list[int]:
        return [c.uncompressed for c in self.checkpoints]

    @cached_property
    def _by_name(self) -> dict[str, ZtocFile]:
        return {f.name: f for f in self.files}  # a later entry of a name wins, as on extraction

    def span_of(self, uncompressed_offset: int) -> int:
        """The span holding the uncompressed byte at ``uncompressed_offset``."""
        return max(bisect.bisect_right(self._uncompressed_offsets, uncompressed_offset) - 1, 0)

    def spans_for(self, offset: int, size: int) -> range:
        """The spans inflating ``size`` bytes from uncompressed ``offset`` goes through."""
        first = self.span_of(offset)
        last = self.span_of(offset + size - 1) if size else first
        return range(first, last + 1)

    def file(self, name: str) -> ZtocFile:
        """The file-table row of ``name`` (cleaned as the tar reader does)."""
        try:
            return self._by_name[clean_name(name)]
        except KeyError:
            raise LazyFormatError(f"zTOC lists no file {name!r}") from None

    # -- serialisation -----------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        doc = {
            "version": self.version, "buildToolIdentifier": self.build_tool,
            "compressedArchiveSize": self.compressed_size, "uncompressedArchiveSize": self.uncompressed_size,
            "compressionAlgorithm": "gzip", "spanSize": self.span_size, "maxSpanId": len(self.checkpoints) - 1,
            "spanDigests": list(self.span_digests),
            "checkpoints": [[c.compressed, c.uncompressed, c.bits] for c in self.checkpoints],
            "fileMetadata": [{"name": f.name, "type": f.type, "uncompressedOffset": f.offset,
                              "uncompressedSize": f.size, "tarHeaderOffset": f.header_offset, "mode": f.mode,
                              "linkname": f.linkname, "uid": f.uid, "gid": f.gid} for f in self.files],
        }
        meta = json.dumps(doc, separators=(",", ":")).encode()
        return _MAGIC + struct.pack("<I", len(meta)) + meta + self.zinfo

    @classmethod
    def from_bytes(cls, data: bytes) -> Ztoc:
        if data[:8] != _MAGIC or len(data) < 12:
            raise LazyFormatError("not a zTOC (bad magic number)")
        (n,) = struct.unpack_from("<I", data, 8)
        try:
            doc = json.loads(data[12:12 + n])
            files = tuple(ZtocFile(f["name"], f["type"], f["uncompressedOffset"], f["uncompressedSize"],
                                   f["tarHeaderOffset"], f["mode"], f.get("linkname", ""), f.get("uid", 0),
                                   f.get("gid", 0)) for f in doc["fileMetadata"])
            return cls(doc["spanSize"], doc["compressedArchiveSize"], doc["uncompressedArchiveSize"],
                       tuple(Checkpoint(*c) for c in doc["checkpoints"]), tuple(doc["spanDigests"]), files,
                       data[12 + n:], doc["version"], doc["buildToolIdentifier"])
        except (ValueError, KeyError, TypeError) as exc:
            raise LazyFormatError(f"zTOC metadata cannot be read: {exc}") from None


# -- building --------------------------------------------------------------------------------

def _parse_zinfo(zinfo: bytes) -> tuple[Checkpoint, ...]:
    """The checkpoint table of an ``indexed_gzip`` exported index."""
    ident, _version, _flags, _csize, _usize, _spacing, _window, npoints = _IGZ_HEADER.unpack_from(zinfo, 0)
    if ident != b"GZIDX":
        raise LazyFormatError("indexed_gzip index has an unexpected header")
    pos = _IGZ_HEADER.size
    points = []
    for _ in range(npoints):
        cmp_, ucmp, bits, _has_data = _IGZ_POINT.unpack_from(zinfo, pos)
        points.append(Checkpoint(cmp_, ucmp, bits))
        pos += _IGZ_POINT.size
    return tuple(points)


def build_ztoc(layer: bytes | bytearray | memoryview, *, span_size: int = SPAN_SIZE,
               tar: TarLayer | None = None) -> Ztoc:
    """The zTOC of a ``tar+gzip`` layer, checkpoints about every ``span_size`` uncompressed bytes."""
    import indexed_gzip

    if span_size < MIN_SPAN_SIZE:
        raise LazyFormatError(f"span size must be at least {MIN_SPAN_SIZE} bytes (indexed_gzip spaces "
                              f"checkpoints wider than the {WINDOW_SIZE}-byte window), got {span_size}")
    if compression_of(layer) != "gzip":
        raise LazyFormatError("SOCI indexes gzip layers only; this layer is not gzip")
    data = bytes(layer)
    tar = tar or read_layer(data)
    try:
        with indexed_gzip.IndexedGzipFile(fileobj=io.BytesIO(data), spacing=span_size,
                                          window_size=WINDOW_SIZE) as f:
            f.build_full_index()
            out = io.BytesIO()
            f.export_index(fileobj=out)
    except Exception as exc:  # indexed_gzip.ZranError and friends
        raise LazyFormatError(f"cannot index the gzip layer: {exc}") from None
    zinfo = out.getvalue()
    checkpoints = _parse_zinfo(zinfo)
    files = tuple(ZtocFile(e.name, e.type, e.data_offset, e.size, e.header_offset, e.mode, e.linkname, e.uid, e.gid)
                  for e in tar.entries if e.name)
    ztoc = Ztoc(span_size, len(data), len(tar.tar), checkpoints, (), files, zinfo)
    digests = tuple("sha256:" + hashlib.sha256(data[ztoc.span_start(i):ztoc.span_end(i)]).hexdigest()
                    for i in range(len(checkpoints)))
    return Ztoc(span_size, len(data), len(tar.tar), checkpoints, digests, files, zinfo)


# -- reading by ranges -----------------------------------------------------------------------

def compressed_range(ztoc: Ztoc, name: str) -> tuple[int, int]:
    """``(start, end)``: the compressed bytes of the layer reading file ``name`` needs; a
    ``(0, 0)`` range for an empty file."""
    f = ztoc.file(name)
    if f.size == 0:
        return 0, 0
    spans = ztoc.spans_for(f.offset, f.size)
    return ztoc.span_start(spans.start), ztoc.span_end(spans[-1])


class _SpanFile(io.RawIOBase):
    """What indexed_gzip reads the layer through: the bytes ``[start, start + len(data))``
    already fetched, served from memory; any other read goes through ``read_range`` and counts
    in :attr:`extra_bytes`. Reads at or past the end of the fetched window answer end-of-file,
    which is what indexed_gzip sees once it has inflated what was asked."""

    def __init__(self, data: bytes, start: int, size: int, read_range: Callable[[int, int], bytes]) -> None:
        super().__init__()
        self.data, self.start, self.size, self.read_range = data, start, size, read_range
        self.pos = 0
        self.extra_bytes = 0
        self.strict = True

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.size}[whence]
        self.pos = base + offset
        return self.pos

    def readinto(self, buf) -> int:
        end = self.start + len(self.data)
        n = min(len(buf), self.size - self.pos)
        if n <= 0:
            return 0
        if self.start <= self.pos < end:
            n = min(n, end - self.pos)
            buf[:n] = self.data[self.pos - self.start:self.pos - self.start + n]
        elif self.pos >= end and self.strict:
            return 0
        else:
            chunk = self.read_range(self.pos, n)
            self.extra_bytes += len(chunk)
            n = len(chunk)
            buf[:n] = chunk
        self.pos += n
        return n


def _inflate(ztoc: Ztoc, window: _SpanFile, offset: int, size: int) -> bytes:
    """``size`` bytes from uncompressed ``offset``, inflated from the checkpoint before it; one
    ``gzip_inflate`` item counts every byte inflated, the ones before ``offset`` too (inflating
    resumes at the checkpoint and throws them away)."""
    import indexed_gzip

    with receipts.metered(Kind.GZIP_INFLATE, detail="soci") as m:
        with indexed_gzip.IndexedGzipFile(fileobj=window, auto_build=False, skip_crc_check=True,
                                          spacing=ztoc.span_size, window_size=WINDOW_SIZE,
                                          readbuf_size=64 << 10) as g:
            g.import_index(fileobj=io.BytesIO(ztoc.zinfo))
            g.seek(offset)
            out = g.read(size)
        m.amount = offset - ztoc.checkpoints[ztoc.span_of(offset)].uncompressed + len(out) if out else 0
    return out


def read_file(ztoc: Ztoc, name: str, read_range: Callable[[int, int], bytes], *, verify: bool = True) -> bytes:
    """File ``name`` of the layer ``ztoc`` indexes, reading the layer only through
    ``read_range(offset, length)``: one call for :func:`compressed_range`, then inflation from
    the checkpoint before the file. Each span fetched is checked against the zTOC's digest."""
    f = ztoc.file(name)
    if f.type == "hardlink":
        return read_file(ztoc, f.linkname, read_range, verify=verify)
    if f.type != "reg":
        raise LazyFormatError(f"{name!r} is a {f.type}, not a regular file")
    if f.size == 0:
        return b""
    start, end = compressed_range(ztoc, name)
    data = read_range(start, end - start)
    if verify and ztoc.span_digests:
        for span in ztoc.spans_for(f.offset, f.size):
            a, b = ztoc.span_start(span), ztoc.span_end(span)
            if "sha256:" + hashlib.sha256(data[a - start:b - start]).hexdigest() != ztoc.span_digests[span]:
                raise LazyFormatError(f"span {span} of the layer does not match its zTOC digest")
    window = _SpanFile(data, start, ztoc.compressed_size, read_range)
    try:
        out = _inflate(ztoc, window, f.offset, f.size)
    except Exception:  # indexed_gzip stopped at the window's end: let it fetch what it asks for
        out = b""
    if len(out) != f.size:  # (never seen: the range ends at a checkpoint; this keeps a mistake from losing data)
        window.strict = False
        window.pos = 0
        try:
            out = _inflate(ztoc, window, f.offset, f.size)
        except Exception as exc:
            raise LazyFormatError(f"{name!r}: cannot inflate from the zTOC checkpoint: {exc}") from None
    if len(out) != f.size:
        raise LazyFormatError(f"{name!r}: inflated {len(out)} bytes from the zTOC checkpoint, expected {f.size}")
    return out


class SociReader(LazyLayer):
    """An unmodified gzip layer read by Range requests through its zTOC (fetched beforehand,
    from the SOCI index, so opening costs the layer nothing)."""

    format = "soci"

    def __init__(self, ztoc: Ztoc, source: RangeSource, *, verify: bool = True) -> None:
        super().__init__({source.name: source})
        if source.size != ztoc.compressed_size:
            raise LazyFormatError(f"the zTOC indexes a layer of {ztoc.compressed_size} bytes; "
                                  f"blob {source.name} has {source.size}")
        self.ztoc = ztoc
        self.blob = source.name
        self.verify = verify

    def entries(self) -> list[FileInfo]:
        return [FileInfo(f.name, f.type, f.size, f.mode, f.linkname) for f in self.ztoc.files]

    def _ranges(self, info: FileInfo) -> list[ByteRange]:
        start, end = compressed_range(self.ztoc, info.name)
        return [ByteRange(self.blob, start, end - start)] if end > start else []

    def _read(self, info: FileInfo) -> bytes:
        return read_file(self.ztoc, info.name, self.source(self.blob).read_range, verify=self.verify)


# -- the SOCI index ----------------------------------------------------------------------------

@dataclass(frozen=True)
class SociIndex:
    """The zTOCs of an image's layers (digest -> zTOC and the layer's descriptor), and the
    layers left out with why."""

    ztocs: dict[str, tuple[Ztoc, Descriptor]]
    skipped: list[tuple[str, int, str]]
    span_size: int = SPAN_SIZE

    def blobs(self) -> list[tuple[Descriptor, bytes]]:
        """Each zTOC as the blob stored and its descriptor in the index manifest."""
        out = []
        for layer_digest, (ztoc, layer) in self.ztocs.items():
            data = ztoc.to_bytes()
            desc = Descriptor(ZTOC_MEDIA_TYPE, Digest("sha256", hashlib.sha256(data).hexdigest()), len(data),
                              {LAYER_MEDIA_TYPE_ANNOTATION: layer.media_type, LAYER_DIGEST_ANNOTATION: layer_digest,
                               SPAN_SIZE_ANNOTATION: str(self.span_size)})
            out.append((desc, data))
        return out

    def manifest(self, subject: Descriptor) -> bytes:
        """The SOCI index manifest (v1: an OCI image manifest with ``subject``) naming the zTOCs."""
        config = Descriptor(SOCI_INDEX_ARTIFACT_TYPE, Digest("sha256", hashlib.sha256(EMPTY_CONFIG).hexdigest()),
                            len(EMPTY_CONFIG))
        doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": SOCI_INDEX_ARTIFACT_TYPE,
               "config": config.to_json(), "layers": [d.to_json() for d, _ in self.blobs()],
               "subject": Descriptor(subject.media_type, subject.digest, subject.size).to_json(),
               "annotations": {BUILD_TOOL_ANNOTATION: BUILD_TOOL}}
        return json.dumps(doc).encode()


def build_index(layers: Sequence[tuple[Descriptor, bytes]], *, span_size: int = SPAN_SIZE,
                min_layer_size: int = MIN_LAYER_SIZE) -> SociIndex:
    """zTOCs for the gzip layers of an image that are at least ``min_layer_size`` bytes."""
    ztocs: dict[str, tuple[Ztoc, Descriptor]] = {}
    skipped: list[tuple[str, int, str]] = []
    for desc, data in layers:
        if desc.size < min_layer_size:
            skipped.append((str(desc.digest), desc.size, f"smaller than {min_layer_size} bytes"))
        elif compression_of(data) != "gzip":
            skipped.append((str(desc.digest), desc.size, "not gzip"))
        else:
            ztocs[str(desc.digest)] = (build_ztoc(data, span_size=span_size), desc)
    return SociIndex(ztocs, skipped, span_size)


def push_index(registry, repo: str, image: str | Digest, index: SociIndex) -> Digest:
    """Store ``index`` in ``registry`` as an artifact referring to image manifest ``image`` of
    ``repo``: the zTOC blobs, the empty config and the index manifest (by digest, untagged);
    returns the index manifest's digest. Raises :class:`LazyFormatError` for an empty index,
    as SOCI refuses one."""
    if not index.ztocs:
        raise LazyFormatError("no layer was indexed (all smaller than the minimum or not gzip): no SOCI index")
    stored = registry.get_manifest(repo, str(image))
    subject = Descriptor(stored.media_type or OCI_MANIFEST, stored.digest, len(stored.data))
    for desc, data in index.blobs():
        registry.put_blob(repo, data, desc.digest)
    registry.put_blob(repo, EMPTY_CONFIG)
    manifest = index.manifest(subject)
    digest = Digest("sha256", hashlib.sha256(manifest).hexdigest())
    return registry.put_manifest(repo, str(digest), manifest, OCI_MANIFEST)


@dataclass(frozen=True)
class FoundIndex:
    """A SOCI index found through the referrers API: its digest and, per layer digest, the
    descriptor of that layer's zTOC."""

    manifest: Digest
    ztocs: dict[str, Descriptor]


def parse_index(data: bytes, digest: Digest) -> FoundIndex:
    manifest = parse_manifest(data)
    ztocs = {}
    for d in manifest.layers:
        layer = (d.annotations or {}).get(LAYER_DIGEST_ANNOTATION)
        if d.media_type == ZTOC_MEDIA_TYPE and layer:
            ztocs[layer] = d
    return FoundIndex(digest, ztocs)


def find_index(registry, repo: str, image: str | Digest) -> FoundIndex | None:
    """The SOCI index referring to image manifest ``image`` (the last listed when several do),
    through ``registry.referrers`` filtered by the SOCI artifact type; ``None`` when none does."""
    listing = registry.referrers(repo, image, SOCI_INDEX_ARTIFACT_TYPE)
    entries = [m for m in listing.get("manifests", []) if m.get("artifactType") == SOCI_INDEX_ARTIFACT_TYPE]
    if not entries:
        return None
    digest = Digest.parse(entries[-1]["digest"])
    return parse_index(registry.get_manifest(repo, str(digest)).data, digest)


def load_ztoc(registry, repo: str, desc: Descriptor) -> Ztoc:
    """A zTOC blob named by a SOCI index, fetched and parsed."""
    return Ztoc.from_bytes(registry.get_blob(repo, desc.digest))


__all__ = ["SPAN_SIZE", "MIN_LAYER_SIZE", "SOCI_INDEX_ARTIFACT_TYPE", "Ztoc", "ZtocFile", "Checkpoint", "build_ztoc",
           "compressed_range", "read_file", "SociReader", "SociIndex", "build_index", "push_index", "find_index",
           "load_ztoc", "parse_index", "FoundIndex", "OCI_LAYER"]
