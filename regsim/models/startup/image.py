"""The image a start-up model runs: real layers converted to a format, and what each read fetches.

:func:`build_image` does the real work once per image, format and trace: it makes the layers
(generated to the scenario's sizes, :mod:`regsim.registry.lazy.generate`, or read from an OCI
layout), converts each with the real converter, opens it with the real reader, draws or loads the
start-up trace, and plans the trace over the readers (:func:`regsim.registry.lazy.replay.plan`).
What the simulation needs of all that is plain numbers, a :class:`StartupImage`:

- the blobs a node may fetch (the converted layers, SOCI's zTOCs, Nydus's bootstraps), by index;
- each blob cut into *pieces*: the format's fetch units (eStargz gzip members, SOCI spans, Nydus
  chunks, block-image segments; the gaps between them -- tar headers, the TOC -- are pieces too),
  or fixed pieces of :data:`PIECE_SIZE` for a plain layer, what a P2P agent exchanges;
- per read of the trace, its CPU before and the pieces it needs;
- per layer, what mounting it fetches (the reader's ``open_ranges``; SOCI adds the zTOC and, once
  per image, the referrers query and the SOCI index), and the layers a lazy client must pull
  whole (a SOCI layer under the minimum size);
- the pieces prefetched (``trace``: the trace's pieces in first-use order; ``landmarks``: for
  eStargz converted with the trace's files prioritised, the range before the landmark).

Pieces carry their uncompressed size, what inflating them costs the node. A piece is priced by
where it is stored: eStargz, SOCI and plain layers are gzip; Nydus chunks and block segments zstd.
"""

from __future__ import annotations

import bisect
import hashlib
import json
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from regsim.registry.lazy import nydus as nydus_mod
from regsim.registry.lazy.convert import WholeLayer, convert_layer
from regsim.registry.lazy.errors import LazyFormatError
from regsim.registry.lazy.generate import FileProfile, generate_layer
from regsim.registry.lazy.ranges import ByteRange
from regsim.registry.lazy.recorded import load_recorded
from regsim.registry.lazy.replay import plan, tar_extents
from regsim.registry.lazy.synthetic import ImageFile, merge_layers, synthesize
from regsim.registry.lazy.tarlayer import read_layer
from regsim.registry.lazy.trace import StartupTrace

from ..core.spec import ModelError

#: pieces a plain layer is cut into for P2P exchange by default (``distribution.p2p.piece_size``)
PIECE_SIZE = 4 << 20
#: formats a start-up model knows; ``plain`` is a full pull
FORMATS = ("plain", "estargz", "soci", "nydus", "block")
#: how a format's pieces are decompressed on the node
CODEC = {"plain": "gzip", "estargz": "gzip", "soci": "gzip", "nydus": "zstd", "block": "zstd"}
_CACHE: OrderedDict[str, StartupImage] = OrderedDict()
_CACHE_SIZE = 16


@dataclass(frozen=True)
class TraceSource:
    """Where the start-up trace comes from: a recorded file, or a synthetic profile."""

    file: str | None = None
    fraction: float = 0.064
    locality: float = 0.5
    cpu_between: float = 0.001
    partial: float = 1.0


@dataclass(frozen=True)
class ImageRequest:
    """Everything that decides a :class:`StartupImage` (its cache key)."""

    layer_sizes: tuple[int, ...]
    source: str | None  # an OCI layout's path, or None for generated layers
    tag: str
    fmt: str
    prefetch: str
    trace: TraceSource
    files: FileProfile
    trace_seed: int
    piece_size: int = PIECE_SIZE

    def key(self) -> str:
        # only landmarks change the conversion; the other modes share an image
        doc = json.dumps([self.layer_sizes, self.source, self.tag, self.fmt, self.prefetch == "landmarks",
                          self.trace.__dict__, self.files.__dict__, self.trace_seed, self.piece_size], sort_keys=True, default=str)
        return hashlib.sha256(doc.encode()).hexdigest()


@dataclass(frozen=True)
class LayerInfo:
    """One layer of the image as a node sees it."""

    blobs: tuple[int, ...]  # blob indices that hold its data (fetched pieces)
    open: tuple[tuple[int, int, int], ...]  # (blob, offset, length) fetched to mount it
    whole: bool  # pulled and unpacked whole (plain, or a lazy layer no index covers)
    tar_bytes: int  # the uncompressed tar (what inflating it produces)
    data_bytes: int  # its regular files' bytes (what unpacking writes)
    entries: int
    compressed_bytes: int


@dataclass(frozen=True)
class StartupImage:
    """The numbers a start-up simulation needs (see the module docstring)."""

    fmt: str
    blob_names: tuple[str, ...]
    blob_sizes: tuple[int, ...]
    piece_blob: np.ndarray = field(repr=False)
    piece_offset: np.ndarray = field(repr=False)
    piece_length: np.ndarray = field(repr=False)
    piece_raw: np.ndarray = field(repr=False)
    #: per blob, its pieces' index range [first, last)
    blob_pieces: tuple[tuple[int, int], ...]
    layers: tuple[LayerInfo, ...]
    reads: tuple[tuple[float, tuple[int, ...]], ...]  # (cpu before, pieces needed)
    #: pieces ``prefetch: trace`` fetches (the trace's, in first-use order)
    trace_pieces: tuple[int, ...]
    #: pieces ``prefetch: landmarks`` fetches (eStargz built with the trace's files first)
    landmark_pieces: tuple[int, ...]
    index_requests: int  # per image, before the layers (SOCI: referrers query + index manifest)
    trace_bytes_read: int
    trace_files: int
    notes: tuple[str, ...] = ()

    @property
    def pieces(self) -> int:
        return len(self.piece_length)

    @property
    def image_bytes(self) -> int:
        """Bytes of every blob of the image (what a full pull of this format moves)."""
        return int(sum(self.blob_sizes))

    @property
    def layer_bytes(self) -> int:
        """Bytes of the layers' data blobs (the share's denominator)."""
        return int(sum(self.blob_sizes[b] for layer in self.layers for b in layer.blobs))

    def summary(self) -> str:
        return (f"{self.fmt}: {len(self.blob_sizes)} blobs, {self.image_bytes:,} bytes, {self.pieces:,} pieces; "
                f"trace of {len(self.reads)} reads, {self.trace_bytes_read:,} bytes")


# -- layers --------------------------------------------------------------------------------------

def _plain_layers(req: ImageRequest) -> list[bytes]:
    if req.source is None:
        return [generate_layer(size, req.files, seed=i).gz for i, size in enumerate(req.layer_sizes)]
    from regsim.registry.manifests import parse_manifest  # noqa: PLC0415 -- only for images read from disk
    from regsim.registry.oci_layout import OciLayout  # noqa: PLC0415

    layout = OciLayout(Path(req.source))
    desc = layout.image_manifest(layout.select(req.tag), "linux/amd64")
    manifest = parse_manifest(layout.read(desc), desc.media_type)
    return [layout.blob_path(d.digest).read_bytes() for d in manifest.layers]


def _trace(req: ImageRequest, files: list[ImageFile]) -> StartupTrace:
    t = req.trace
    if t.file is not None:
        try:
            return load_recorded(t.file)
        except (OSError, LazyFormatError) as exc:
            raise ModelError(f"workload.trace.file: {exc}") from None
    return synthesize(files,
                      fraction=t.fraction, locality=t.locality, cpu_between=t.cpu_between, partial=t.partial,
                      seed=req.trace_seed)


def _boundaries(reader, fmt: str, blobs: dict[str, int], piece_size: int) -> dict[str, set[int]]:
    """Per blob, the offsets where the format's fetch units start and end."""
    cuts: dict[str, set[int]] = {name: {0, size} for name, size in blobs.items()}
    if fmt == "estargz":
        for name in reader.files():
            for c in reader.chunks(name):
                cuts[reader.blob] |= {c.offset, c.end}
    elif fmt == "nydus":
        for name in reader.files():
            for c in reader.chunks(name):
                loc = c.location
                cuts.setdefault(loc.blob, {0, blobs.get(loc.blob, loc.offset + loc.compressed_size)})
                cuts[loc.blob] |= {loc.offset, loc.offset + loc.compressed_size}
    elif fmt == "soci":
        z = reader.ztoc
        for s in range(len(z.checkpoints)):
            cuts[reader.blob] |= {z.span_start(s), z.span_end(s)}
    elif fmt == "block":
        step = reader.segment_size if reader.compressed else max(reader.segment_size, reader.block_size)
        if reader.compressed:
            cuts[reader.blob] |= set(reader.offsets)
        else:
            cuts[reader.blob] |= set(range(reader.offsets[0], blobs[reader.blob], step))
    else:  # plain, or a layer a lazy format left whole: P2P pieces
        for name, size in blobs.items():
            cuts[name] |= set(range(0, size, piece_size))
    return cuts


def _raw_per_piece(reader, fmt: str, blob: str, starts: list[int], ends: list[int], ratio: float) -> list[int]:
    """Uncompressed bytes of each piece: exact for the units a format records, else by ``ratio``."""
    known: dict[int, int] = {}
    if fmt == "estargz":
        for name in reader.files():
            for c in reader.chunks(name):
                known[c.offset] = c.size
    elif fmt == "nydus":
        for name in reader.files():
            for c in reader.chunks(name):
                if c.location.blob == blob:
                    known[c.location.offset] = c.location.size
    elif fmt == "soci":
        z = reader.ztoc
        ups = [c.uncompressed for c in z.checkpoints] + [z.uncompressed_size]
        for s in range(len(z.checkpoints)):
            known[z.span_start(s)] = ups[s + 1] - ups[s]
    elif fmt == "block" and reader.compressed:
        for i, off in enumerate(reader.offsets[:-1]):
            known[off] = reader.segment_size
    return [known.get(a, int((b - a) / ratio) if fmt != "block" or reader.compressed else b - a)
            for a, b in zip(starts, ends)]


# -- the image -----------------------------------------------------------------------------------

def build_image(req: ImageRequest) -> StartupImage:
    """The :class:`StartupImage` of ``req`` (cached per process: a sweep converts each image once)."""
    key = req.key()
    hit = _CACHE.get(key)
    if hit is not None:
        _CACHE.move_to_end(key)
        return hit
    image = _build(req)
    _CACHE[key] = image
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return image


def _build(req: ImageRequest) -> StartupImage:
    if req.fmt not in FORMATS:
        raise ModelError(f"workload.format: unknown format {req.fmt!r}; choose one of {', '.join(FORMATS)}")
    plain = _plain_layers(req)
    tars = [read_layer(data) for data in plain]
    files = merge_layers([[(e.name, e.type, e.size) for e in t.entries if e.name] for t in tars])
    trace = _trace(req, files)
    options: dict = {}
    if req.fmt == "estargz" and req.prefetch == "landmarks":
        wanted = [r.path for r in trace.reads if r.path is not None]
        options = {"prioritized": list(dict.fromkeys(wanted)), "allow_missing": True}
    readers, extra_blobs, notes = [], {}, []
    chunk_dict = nydus_mod.ChunkDict() if req.fmt == "nydus" else None
    index_requests = 0
    for i, data in enumerate(plain):
        if req.fmt == "plain":
            from regsim.registry.lazy.convert import Blob  # noqa: PLC0415

            blob = Blob("layer", "application/vnd.oci.image.layer.v1.tar+gzip", data)
            readers.append(WholeLayer(blob.source()))
            continue
        opts = dict(options)
        if req.fmt == "estargz" and "prioritized" in opts:
            names = {e.name for e in tars[i].regular_files().values()}
            opts["prioritized"] = [p for p in opts["prioritized"] if p in names]
        try:
            converted = convert_layer(data, req.fmt, chunk_dict=chunk_dict, **opts)
        except LazyFormatError as exc:
            raise ModelError(f"image layer {i}: {exc}") from None
        for b in converted.artifacts:
            extra_blobs[str(b.digest)] = b
        if converted.note:
            notes.append(f"layer {i}: {converted.note}")
        readers.append(converted)
    # a Nydus layer reads chunks from earlier layers' blobs: every reader gets every blob
    all_blobs = {str(b.digest): b for c in readers if not isinstance(c, WholeLayer)
                 for b in (*c.layers, *c.artifacts)}
    sources = {name: b.source() for name, b in all_blobs.items()}
    opened = [c if isinstance(c, WholeLayer) else c.open(sources) for c in readers]
    if req.fmt == "soci" and any(not isinstance(r, WholeLayer) for r in opened):
        index_requests = 2  # the referrers query, then the SOCI index manifest
    try:
        fetch_plan = plan(trace, opened, extents={i: tar_extents(plain[i]) for i in range(len(plain))}
                          if any(r.path is None for r in trace.reads) else None)
    except LazyFormatError as exc:
        raise ModelError(f"workload.trace: {exc}") from None

    # blobs, in a stable order: each layer's data blobs, then its mount-time blobs
    names: list[str] = []
    sizes: list[int] = []

    def index_of(name: str, size: int) -> int:
        if name not in names:
            names.append(name)
            sizes.append(size)
        return names.index(name)

    layer_blob_names: list[list[str]] = []
    for i, (r, c) in enumerate(zip(opened, readers)):
        if isinstance(r, WholeLayer):
            layer_blob_names.append([r.blob])
            index_of(r.blob, r.source(r.blob).size)
        else:
            data_blobs = [str(b.digest) for b in c.layers if b.role in ("layer", "blob")]
            layer_blob_names.append(data_blobs)
            for n in data_blobs:
                index_of(n, all_blobs[n].size)
    piece_blob, piece_off, piece_len, piece_raw, blob_pieces = [], [], [], [], []
    cuts: dict[str, set[int]] = {}
    for r in opened:
        fmt = "plain" if isinstance(r, WholeLayer) else req.fmt
        blobs = {n: r.source(n).size for n in r.sources}
        for n, c in _boundaries(r, fmt, blobs, req.piece_size).items():
            cuts.setdefault(n, set()).update(c)
    raw_ratio = sum(len(t.tar) for t in tars) / max(1, sum(len(d) for d in plain))
    owner = {}
    for r in opened:
        for n in r.sources:
            owner.setdefault(n, r)
    starts_by_blob: dict[str, list[int]] = {}
    for n in list(names):
        b = names.index(n)
        offs = sorted(x for x in cuts.get(n, {0, sizes[b]}) if 0 <= x <= sizes[b])
        starts, ends = offs[:-1], offs[1:]
        r = owner[n]
        fmt = "plain" if isinstance(r, WholeLayer) else req.fmt
        first = len(piece_len)
        piece_blob += [b] * len(starts)
        piece_off += starts
        piece_len += [e - s for s, e in zip(starts, ends)]
        piece_raw += _raw_per_piece(r, fmt, n, starts, ends, raw_ratio)
        blob_pieces.append((first, len(piece_len)))
        starts_by_blob[n] = starts

    def pieces_of(r: ByteRange) -> list[int]:
        if r.blob not in starts_by_blob:
            return []  # a mount-time blob (bootstrap): fetched when the layer is mounted
        b = names.index(r.blob)
        starts = starts_by_blob[r.blob]
        lo = bisect.bisect_right(starts, r.offset) - 1
        hi = bisect.bisect_left(starts, r.offset + r.length)
        return [blob_pieces[b][0] + k for k in range(max(lo, 0), hi)]

    layers = []
    for i, (r, c) in enumerate(zip(opened, readers)):
        whole = isinstance(r, WholeLayer)
        opens: list[tuple[int, int, int]] = []
        if not whole:
            for o in r.open_ranges:
                opens.append((index_of(o.blob, all_blobs[o.blob].size), o.offset, o.length))
            for b in c.artifacts:  # SOCI's zTOC, fetched whole to mount the layer
                opens.append((index_of(str(b.digest), b.size), 0, b.size))
        layers.append(LayerInfo(tuple(names.index(n) for n in layer_blob_names[i]), tuple(opens), whole,
                                len(tars[i].tar), sum(e.size for e in tars[i].regular_files().values()),
                                len(tars[i].entries), len(plain[i])))
    whole_layers = {i for i, layer in enumerate(layers) if layer.whole}
    reads = []
    for f in fetch_plan.reads:
        layer_index = f.layer if isinstance(f.layer, int) else 0
        need: list[int] = []
        if layer_index not in whole_layers:
            for u in f.units:
                need += pieces_of(u)
        reads.append((float(f.read.cpu_before_s), tuple(dict.fromkeys(need))))
    trace_pieces: list[int] = []
    for _, need in reads:
        trace_pieces += need
    landmarks: list[int] = []
    if req.prefetch == "landmarks":
        if req.fmt != "estargz":
            raise ModelError(f"workload.prefetch: landmarks are eStargz's; {req.fmt} prefetches by `trace`")
        for r in opened:
            if not isinstance(r, WholeLayer):
                for pr in r.prefetch_ranges():
                    landmarks += pieces_of(pr)
    return StartupImage(
        fmt=req.fmt, blob_names=tuple(names), blob_sizes=tuple(sizes),
        piece_blob=np.asarray(piece_blob, dtype=np.int32), piece_offset=np.asarray(piece_off, dtype=np.int64),
        piece_length=np.asarray(piece_len, dtype=np.int64), piece_raw=np.asarray(piece_raw, dtype=np.int64),
        blob_pieces=tuple(blob_pieces), layers=tuple(layers), reads=tuple(reads),
        trace_pieces=tuple(dict.fromkeys(trace_pieces)), landmark_pieces=tuple(dict.fromkeys(landmarks)),
        index_requests=index_requests,
        trace_bytes_read=trace.bytes_read, trace_files=trace.files_touched, notes=tuple(notes))
