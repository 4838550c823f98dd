"""Converting the images of an OCI image layout to a lazy-pulling format.

:func:`convert_layout` reads one or every image of a layout (:class:`~..oci_layout.OciLayout`),
converts each layer with :func:`~.convert.convert_layer` and writes the result:

- ``estargz``, ``nydus``, ``block``: a *new* layout holding, per image, a new config (its
  ``rootfs.diff_ids`` replaced by those of the converted layers), the converted layers and a new
  OCI image manifest (an index for a multi-platform image), named by the same ref names;
- ``soci``: the image is left as it is, and a SOCI index artifact (zTOC blobs, the empty config
  and the index manifest whose ``subject`` is the image manifest) is added to the layout -- in
  place, or in a copy when an output folder is given -- and listed in ``index.json`` so tools that
  store referrers in a layout (oras) find it.

A :class:`LayoutReport` lists every layer's size before and after and the time its conversion
took. Layers are read whole into memory (the converters work on bytes); a foreign layer the
layout does not carry is kept as it is.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..descriptors import IMAGE_MANIFESTS, OCI_INDEX, OCI_MANIFEST, Descriptor
from ..digest import Digest, verify
from ..manifests import parse_manifest
from ..oci_layout import LayoutError, OciLayout
from . import nydus, soci
from .convert import FORMATS, ConvertedLayer, convert_layer, sha256
from .errors import LazyFormatError

#: the annotation SOCI puts on an index's entry in an OCI index (here: the layout's index.json)
IMAGE_MANIFEST_ANNOTATION = "com.amazon.soci.image-manifest-digest"


@dataclass(frozen=True)
class LayerReport:
    """One layer of one image: its digest, sizes before and after, seconds, and a note."""

    image: str
    index: int
    digest: str
    before: int
    after: int
    seconds: float
    note: str = ""


@dataclass
class LayoutReport:
    format: str
    out: Path
    layers: list[LayerReport] = field(default_factory=list)
    images: list[tuple[str, str]] = field(default_factory=list)  # (source manifest, what was written for it)
    seconds: float = 0.0
    dedup: nydus.DedupReport | None = None

    @property
    def before(self) -> int:
        return sum(r.before for r in self.layers)

    @property
    def after(self) -> int:
        return sum(r.after for r in self.layers)


class _Writer:
    """Blobs into ``root/blobs/sha256``; index.json written at the end."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        marker = root / "oci-layout"
        if not marker.exists():
            marker.write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))

    def blob(self, data: bytes) -> Digest:
        d = sha256(data)
        path = self.root / "blobs" / d.algorithm / d.hex
        if not path.exists():
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
        return d

    def index(self, entries: list[dict]) -> None:
        doc = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
        tmp = self.root / "index.json.tmp"
        tmp.write_text(json.dumps(doc, indent=2))
        tmp.replace(self.root / "index.json")


def _read_layer(layout: OciLayout, desc: Descriptor) -> bytes:
    data = layout.blob_path(desc.digest).read_bytes()
    if len(data) != desc.size:
        raise LayoutError(f"layer {desc.digest} is {len(data)} bytes; its descriptor says {desc.size}")
    verify(data, desc.digest)
    return data


def _check_output(src: Path, out: Path | None, fmt: str) -> Path:
    if out is None:
        if fmt != "soci":
            raise LazyFormatError(f"converting to {fmt} writes a new layout: give an output folder")
        return src
    if out.resolve() == src.resolve():
        if fmt != "soci":
            raise LazyFormatError(f"the output folder must differ from the layout converted ({src})")
        return src
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise LazyFormatError(f"output folder {out} exists and is not empty")
    return out


def convert_layout(src: str | Path, out: str | Path | None, fmt: str, *, ref: str | None = None,
                   chunk_dict: nydus.ChunkDict | None = None, **options) -> LayoutReport:
    """Convert image ``ref`` of layout ``src`` (every image when ``ref`` is None) to ``fmt``,
    writing to ``out`` (for SOCI, ``out`` None adds the index to ``src`` itself)."""
    if fmt not in FORMATS:
        raise LazyFormatError(f"unknown lazy format {fmt!r}; choose one of {', '.join(FORMATS)}")
    started = time.perf_counter()
    layout = OciLayout(src)
    tops = [layout.select(ref)] if ref is not None else list(layout.entries)
    dst = _check_output(layout.root, Path(out) if out is not None else None, fmt)
    if fmt == "soci" and dst != layout.root:
        shutil.copytree(layout.root, dst, dirs_exist_ok=True)
    writer = _Writer(dst)
    report = LayoutReport(fmt, dst)
    if fmt == "nydus":
        chunk_dict = chunk_dict if chunk_dict is not None else nydus.ChunkDict()
    conv = _Converter(layout, writer, fmt, report, chunk_dict, options)
    entries = []
    for top in tops:
        new = conv.manifest(top)
        entries.append({**new.to_json(), **({"annotations": dict(top.annotations)} if top.annotations else {})})
    if fmt == "soci":
        index = json.loads((layout.root / "index.json").read_text())
        known = {m.get("digest") for m in index.get("manifests", [])}
        extra = [e for e in conv.soci_entries if e["digest"] not in known]
        writer.index(index.get("manifests", []) + extra)
    else:
        writer.index(entries)
    report.seconds = time.perf_counter() - started
    report.dedup = chunk_dict.report() if fmt == "nydus" else None
    return report


class _Converter:
    def __init__(self, layout: OciLayout, writer: _Writer, fmt: str, report: LayoutReport,
                 chunk_dict: nydus.ChunkDict | None, options: dict) -> None:
        self.layout, self.writer, self.fmt, self.report = layout, writer, fmt, report
        self.chunk_dict, self.options = chunk_dict, options
        self.soci_entries: list[dict] = []

    def manifest(self, desc: Descriptor) -> Descriptor:
        """Convert the manifest ``desc`` names (an index: each child) and return the new descriptor."""
        data = self.layout.read(desc)
        manifest = parse_manifest(data, desc.media_type)
        if desc.media_type not in IMAGE_MANIFESTS and manifest.is_index:
            children = [self.manifest(child) for child in manifest.manifests]
            if self.fmt == "soci":
                return desc
            doc = json.loads(data)
            doc["mediaType"] = OCI_INDEX
            doc["manifests"] = [{**c.to_json(), **({"platform": o.platform} if o.platform else {}),
                                 **({"annotations": o.annotations} if o.annotations else {})}
                                for c, o in zip(children, manifest.manifests)]
            raw = json.dumps(doc).encode()
            return Descriptor(OCI_INDEX, self.writer.blob(raw), len(raw))
        return self.image(desc, data, manifest)

    def image(self, desc: Descriptor, data: bytes, manifest) -> Descriptor:
        converted: list[tuple[Descriptor, ConvertedLayer | None]] = []
        for i, layer in enumerate(manifest.layers):
            if layer.urls and not self.layout.has_blob(layer.digest):
                converted.append((layer, None))
                self.report.layers.append(LayerReport(str(desc.digest), i, str(layer.digest), layer.size,
                                                      layer.size, 0.0, "foreign layer, kept"))
                continue
            try:
                c = convert_layer(_read_layer(self.layout, layer), self.fmt, media_type=layer.media_type,
                                  chunk_dict=self.chunk_dict, **self.options)
            except LazyFormatError as exc:
                raise LazyFormatError(f"layer {i} ({layer.digest}) of image {desc.digest}: {exc.message}") from None
            converted.append((layer, c))
            self.report.layers.append(LayerReport(str(desc.digest), i, str(layer.digest), c.size_before,
                                                  c.size_after, c.seconds, c.note))
        if self.fmt == "soci":
            return self._soci(desc, converted)
        layers: list[Descriptor] = []
        diff_ids: list[str | None] = []
        for layer, c in converted:
            if c is None:
                layers.append(layer)
                diff_ids.append(None)
                continue
            for blob, diff_id in zip(c.layers, c.diff_ids):
                self.writer.blob(blob.data)
                layers.append(blob.descriptor())
                diff_ids.append(diff_id)
        config_desc = manifest.config
        config = self.layout.read(config_desc)
        try:
            doc = json.loads(config)
        except ValueError:
            doc = None
        if isinstance(doc, dict) and isinstance(doc.get("rootfs"), dict):
            old = doc["rootfs"].get("diff_ids") or []
            doc["rootfs"]["diff_ids"] = [d if d is not None else (old[i] if i < len(old) else str(layers[i].digest))
                                         for i, d in enumerate(diff_ids)]
            config = json.dumps(doc).encode()
        config_digest = self.writer.blob(config)
        new = json.loads(data)
        new["mediaType"] = OCI_MANIFEST
        new["config"] = Descriptor(config_desc.media_type, config_digest, len(config)).to_json()
        new["layers"] = [d.to_json() for d in layers]
        raw = json.dumps(new).encode()
        digest = self.writer.blob(raw)
        self.report.images.append((str(desc.digest), str(digest)))
        return Descriptor(OCI_MANIFEST, digest, len(raw))

    def _soci(self, desc: Descriptor, converted: list[tuple[Descriptor, ConvertedLayer | None]]) -> Descriptor:
        ztocs = {str(layer.digest): (c.result, layer) for layer, c in converted if c is not None and c.result is not None}
        skipped = [(str(layer.digest), layer.size, c.note if c else "foreign") for layer, c in converted
                   if c is None or c.result is None]
        span = self.options.get("span_size", soci.SPAN_SIZE)
        index = soci.SociIndex(ztocs, skipped, span)
        if not ztocs:
            self.report.images.append((str(desc.digest), "no SOCI index: no layer was indexed"))
            return desc
        for _, data in index.blobs():
            self.writer.blob(data)
        self.writer.blob(soci.EMPTY_CONFIG)
        raw = index.manifest(Descriptor(desc.media_type, desc.digest, desc.size))
        digest = self.writer.blob(raw)
        self.soci_entries.append({"mediaType": OCI_MANIFEST, "artifactType": soci.SOCI_INDEX_ARTIFACT_TYPE,
                                  "digest": str(digest), "size": len(raw),
                                  "annotations": {IMAGE_MANIFEST_ANNOTATION: str(desc.digest)}})
        self.report.images.append((str(desc.digest), str(digest)))
        return desc


__all__ = ["convert_layout", "LayoutReport", "LayerReport"]
