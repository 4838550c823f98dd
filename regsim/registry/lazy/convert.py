"""Converting a plain OCI layer to each lazy-pulling format, and opening the result lazily.

:func:`convert_layer` takes a layer's bytes (``tar``, ``tar+gzip`` or ``tar+zstd``) and a format
name -- ``estargz``, ``soci``, ``nydus`` or ``block`` -- and returns a :class:`ConvertedLayer`:
the blobs that stand for the layer in a converted image (with media types and annotations), the
format's own result (TOC, zTOC, bootstrap, image), the diff ID a converted image's config lists,
and the time the conversion took. :meth:`ConvertedLayer.open` gives the format's
:class:`~.layer.LazyLayer` reader over those blobs -- in memory by default, or over any
:class:`~.ranges.RangeSource` (HTTP Range GETs to a registry, a stored blob): the common
interface a test or a model uses whatever the format (``files()``, ``read_file(name)``,
``byte_ranges(name)``, bytes fetched).

A SOCI layer smaller than the minimum gets no zTOC and opens as a :class:`WholeLayer`: a layer
that is pulled whole before any file can be read, which is also what a plain layer costs.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..descriptors import DOCKER_LAYER, OCI_LAYER, Descriptor
from ..digest import Digest
from . import blockimage, estargz, nydus, soci
from .errors import LazyFormatError
from .layer import FileInfo, LazyLayer
from .ranges import ByteRange, RangeSource
from .tarlayer import compression_of, read_layer

FORMATS = ("estargz", "soci", "nydus", "block")
#: layer media types that are gzip tars (what eStargz keeps and SOCI indexes)
GZIP_LAYERS = frozenset({OCI_LAYER, DOCKER_LAYER})
#: annotations of a converted block layer
BLOCK_SIZE_ANNOTATION = "io.regsim.blockimage.block-size"
SEGMENT_SIZE_ANNOTATION = "io.regsim.blockimage.segment-size"
SOURCE_ANNOTATION = "io.regsim.lazy.source-layer"


def sha256(data: bytes) -> Digest:
    return Digest("sha256", hashlib.sha256(data).hexdigest())


@dataclass(frozen=True)
class Blob:
    """A blob a conversion produced, with the media type and annotations of its descriptor."""

    role: str
    media_type: str
    data: bytes = field(repr=False)
    annotations: dict[str, str] | None = None
    digest: Digest = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "digest", sha256(self.data))

    @property
    def size(self) -> int:
        return len(self.data)

    def descriptor(self) -> Descriptor:
        return Descriptor(self.media_type, self.digest, len(self.data), dict(self.annotations or {}) or None)

    def source(self) -> RangeSource:
        """The blob in memory, read by ranges (counted)."""
        return RangeSource.of_bytes(self.data, str(self.digest))


@dataclass(frozen=True)
class ConvertedLayer:
    """One layer in a lazy format.

    ``layers`` are the blobs that take the layer's place in a converted image manifest, in order
    (SOCI: the unchanged layer; Nydus: its data blob, if it stored any chunk, and its bootstrap);
    ``artifacts`` are blobs stored beside the image (SOCI's zTOC); ``diff_ids`` the config's
    ``rootfs.diff_ids`` for ``layers``.
    """

    format: str
    source: Descriptor
    layers: tuple[Blob, ...]
    artifacts: tuple[Blob, ...]
    diff_ids: tuple[str, ...]
    seconds: float
    result: object = field(repr=False)
    note: str = ""

    @property
    def size_before(self) -> int:
        return self.source.size

    @property
    def size_after(self) -> int:
        """Bytes the layer takes once converted (the zTOC included for SOCI; for Nydus, only the
        chunks this layer stored -- the ones it shares live in other layers' blobs)."""
        return sum(b.size for b in self.layers) + sum(b.size for b in self.artifacts)

    def blob(self, role: str) -> Blob | None:
        return next((b for b in (*self.layers, *self.artifacts) if b.role == role), None)

    def open(self, sources: Mapping[str, RangeSource] | None = None) -> LazyLayer:
        """The format's lazy reader. ``sources`` (blob digest -> source) replaces the in-memory
        blobs; for Nydus it must also hold the blobs of other layers the bootstrap points at."""
        given = dict(sources or {})

        def src(b: Blob) -> RangeSource:
            return given.get(str(b.digest)) or b.source()

        if self.format == "estargz":
            return estargz.EStargzReader(src(self.layers[0]), toc_digest=self.result.toc_digest)
        if self.format == "soci":
            if self.result is None:
                return WholeLayer(src(self.layers[0]))
            return soci.SociReader(self.result, src(self.layers[0]))
        if self.format == "nydus":
            data = self.blob("blob")
            own = {str(data.digest): src(data)} if data else {}
            return nydus.NydusReader.open(src(self.blob("bootstrap")), {**given, **own})
        if self.format == "block":
            return blockimage.BlockReader(src(self.layers[0]))
        raise LazyFormatError(f"unknown format {self.format!r}")  # pragma: no cover


class WholeLayer(LazyLayer):
    """A plain layer: nothing can be read before all of it is fetched (one Range read of the
    whole blob, on first use), as a runtime pulls a layer no lazy format covers."""

    format = "plain"

    def __init__(self, source: RangeSource) -> None:
        super().__init__({source.name: source})
        self.blob = source.name
        self._layer = None

    def _load(self):
        if self._layer is None:
            data = self.source(self.blob).read_range(0, self.source(self.blob).size)
            self._layer = read_layer(data)
            self.open_ranges = [ByteRange(self.blob, 0, len(data))]
        return self._layer

    def entries(self) -> list[FileInfo]:
        return [FileInfo(e.name, e.type, e.size, e.mode, e.linkname) for e in self._load().entries if e.name]

    def _ranges(self, info: FileInfo) -> list[ByteRange]:
        return []  # the whole blob was fetched when the layer was opened

    def _read(self, info: FileInfo) -> bytes:
        return bytes(self._load().regular_files()[info.name].data)


def convert_layer(data: bytes | bytearray | memoryview, fmt: str, *, media_type: str = OCI_LAYER,
                  chunk_dict: nydus.ChunkDict | None = None, **options) -> ConvertedLayer:
    """Convert one plain layer to ``fmt``; ``options`` go to the format's builder
    (:func:`.estargz.build`: ``chunk_size``, ``prioritized``, ``level``; :func:`.soci.build_ztoc`:
    ``span_size``, and ``min_layer_size`` here; :func:`.nydus.build`: ``chunk_size``, ``level``,
    with ``chunk_dict`` shared across calls; :func:`.blockimage.build`: ``block_size``,
    ``segment_size``, ``compression``, ``level``)."""
    if fmt not in FORMATS:
        raise LazyFormatError(f"unknown lazy format {fmt!r}; choose one of {', '.join(FORMATS)}")
    unknown = sorted(set(options) - OPTIONS[fmt])
    if unknown:
        raise LazyFormatError(f"{fmt} takes no option {', '.join(unknown)} (it takes {', '.join(sorted(OPTIONS[fmt]))})")
    data = bytes(data)
    source = Descriptor(media_type, sha256(data), len(data))
    started = time.perf_counter()
    converted = _CONVERTERS[fmt](data, source, chunk_dict=chunk_dict, **options)
    layers, artifacts, diff_ids, result, note = converted
    return ConvertedLayer(fmt, source, layers, artifacts, diff_ids, time.perf_counter() - started, result, note)


def _estargz(data: bytes, source: Descriptor, *, chunk_dict=None, **options):
    es = estargz.build(data, **options)
    media_type = source.media_type if source.media_type in GZIP_LAYERS else OCI_LAYER
    blob = Blob("layer", media_type, es.blob, es.annotations())
    note = f"missing prioritized: {', '.join(es.missing_prioritized)}" if es.missing_prioritized else ""
    return (blob,), (), (es.diff_id,), es, note


def _soci(data: bytes, source: Descriptor, *, chunk_dict=None, span_size: int = soci.SPAN_SIZE,
          min_layer_size: int = soci.MIN_LAYER_SIZE):
    layer = Blob("layer", source.media_type, data)
    if len(data) < min_layer_size:
        return (layer,), (), (), None, f"not indexed: smaller than {min_layer_size:,} bytes"
    if compression_of(data) != "gzip":
        return (layer,), (), (), None, "not indexed: not gzip"
    ztoc = soci.build_ztoc(data, span_size=span_size)
    annotations = {soci.LAYER_MEDIA_TYPE_ANNOTATION: source.media_type,
                   soci.LAYER_DIGEST_ANNOTATION: str(source.digest), soci.SPAN_SIZE_ANNOTATION: str(span_size)}
    ztoc_blob = Blob("ztoc", soci.ZTOC_MEDIA_TYPE, ztoc.to_bytes(), annotations)
    return (layer,), (ztoc_blob,), (), ztoc, f"{len(ztoc.checkpoints)} checkpoints"


def _nydus(data: bytes, source: Descriptor, *, chunk_dict=None, **options):
    built = nydus.build(data, chunk_dict, **options)
    layers = []
    if built.blob is not None:
        layers.append(Blob("blob", nydus.BLOB_MEDIA_TYPE, built.blob, {nydus.BLOB_ANNOTATION: "true"}))
    layers.append(Blob("bootstrap", nydus.BOOTSTRAP_MEDIA_TYPE, built.bootstrap.to_bytes(),
                       {nydus.BOOTSTRAP_ANNOTATION: "true", SOURCE_ANNOTATION: str(source.digest)}))
    note = f"{built.new_chunks} chunks stored, {built.reused_chunks} reused"
    return tuple(layers), (), tuple(str(b.digest) for b in layers), built, note


def _block(data: bytes, source: Descriptor, *, chunk_dict=None, **options):
    built = blockimage.build(data, **options)
    blob = Blob("layer", blockimage.MEDIA_TYPE, built.blob,
                {BLOCK_SIZE_ANNOTATION: str(built.image.block_size), SEGMENT_SIZE_ANNOTATION: str(built.segment_size),
                 SOURCE_ANNOTATION: str(source.digest)})
    note = f"{len(built.image.data) // built.image.block_size} blocks, {len(built.segment_sizes)} segments"
    return (blob,), (), (blockimage.image_digest(built.image),), built, note


#: the options each format's builder takes
OPTIONS = {
    "estargz": frozenset({"chunk_size", "prioritized", "allow_missing", "level"}),
    "soci": frozenset({"span_size", "min_layer_size"}),
    "nydus": frozenset({"chunk_size", "level"}),
    "block": frozenset({"block_size", "segment_size", "compression", "level"}),
}
_CONVERTERS = {"estargz": _estargz, "soci": _soci, "nydus": _nydus, "block": _block}

__all__ = ["FORMATS", "LazyLayer", "FileInfo", "ByteRange", "RangeSource", "Blob", "ConvertedLayer", "WholeLayer",
           "convert_layer"]
