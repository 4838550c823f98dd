"""OCI image layouts (what ``skopeo copy ... oci:DIR:tag`` and ``umoci`` write), read and imported.

A layout is a folder holding ``oci-layout`` (``{"imageLayoutVersion": "1.0.0"}``), ``index.json``
(an image index whose entries name images by the ``org.opencontainers.image.ref.name``
annotation) and ``blobs/<alg>/<hex>``. Two uses:

- :func:`import_image` pushes one image -- its layers, config and manifest, or for a
  multi-platform index every child manifest first -- into a :class:`Registry`, streaming each
  blob from disk so a large layer is never whole in memory;
- :func:`layer_sizes` and :func:`write_scenario_image` put an image's layer sizes into a
  scenario's ``image`` section, so users simulate their own images.

Every blob read is checked against its digest, and paths are built from parsed digests only, so
a hostile ``index.json`` cannot point outside the layout.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .descriptors import IMAGE_MANIFESTS, INDEX_MANIFESTS, Descriptor
from .digest import Digest, verify
from .errors import ConfigError, ManifestInvalid
from .manifests import parse_manifest
from .registry import Registry

REF_NAME = "org.opencontainers.image.ref.name"
CHUNK = 1 << 20


class LayoutError(ConfigError):
    """The folder is not a usable OCI image layout, or does not hold the image asked for."""


@dataclass(frozen=True)
class ImportReport:
    repository: str
    tag: str
    manifest: Digest
    blobs: int
    bytes: int
    skipped: int


class OciLayout:
    """An OCI image layout folder, validated on open."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        marker = self.root / "oci-layout"
        if not (self.root / "index.json").is_file():
            raise LayoutError(f"{self.root} is not an OCI image layout: it has no index.json")
        if marker.is_file():
            version = self._json(marker).get("imageLayoutVersion")
            if not isinstance(version, str) or not version.startswith("1."):
                raise LayoutError(f"{marker}: unsupported imageLayoutVersion {version!r} (expected 1.x)")
        index = self._json(self.root / "index.json")
        entries = index.get("manifests")
        if not isinstance(entries, list) or not entries:
            raise LayoutError(f"{self.root}/index.json lists no manifests")
        try:
            self.entries = [Descriptor.from_json(e, f"index.json manifests[{i}]") for i, e in enumerate(entries)]
        except ManifestInvalid as e:
            raise LayoutError(f"{self.root}/index.json: {e.message}") from None

    @staticmethod
    def _json(path: Path) -> dict[str, Any]:
        try:
            doc = json.loads(path.read_bytes())
        except (OSError, ValueError) as e:
            raise LayoutError(f"cannot read {path} as JSON: {e}") from None
        if not isinstance(doc, dict):
            raise LayoutError(f"{path} must hold a JSON object")
        return doc

    def refs(self) -> list[str]:
        """The image names (ref.name annotations) the layout's index gives."""
        return [e.annotations[REF_NAME] for e in self.entries if e.annotations and REF_NAME in e.annotations]

    def select(self, ref: str | None = None) -> Descriptor:
        """The index entry named ``ref``; without ``ref``, the only entry (else an error listing refs)."""
        if ref is None:
            if len(self.entries) == 1:
                return self.entries[0]
            raise LayoutError(f"{self.root} holds {len(self.entries)} images; choose one with a ref "
                              f"({', '.join(self.refs()) or 'none are named'})")
        for entry in self.entries:
            if entry.annotations and entry.annotations.get(REF_NAME) == ref:
                return entry
        raise LayoutError(f"{self.root} has no image named {ref!r}; it has: {', '.join(self.refs()) or 'none'}")

    def has_blob(self, digest: Digest) -> bool:
        return (self.root / "blobs" / digest.algorithm / digest.hex).is_file()

    def blob_path(self, digest: Digest) -> Path:
        path = self.root / "blobs" / digest.algorithm / digest.hex
        if not path.is_file():
            raise LayoutError(f"{self.root} lacks blob {digest} (expected at {path})")
        return path

    def read(self, desc: Descriptor) -> bytes:
        """A small blob (manifest, config), verified against its descriptor."""
        data = self.blob_path(desc.digest).read_bytes()
        if len(data) != desc.size:
            raise LayoutError(f"blob {desc.digest} is {len(data)} bytes; its descriptor says {desc.size}")
        verify(data, desc.digest)
        return data

    def stream(self, digest: Digest) -> Iterator[bytes]:
        """A blob's bytes from disk in chunks (the registry verifies the digest as it stores them)."""
        with self.blob_path(digest).open("rb") as f:
            while chunk := f.read(CHUNK):
                yield chunk

    def image_manifest(self, desc: Descriptor, platform: str = "linux/amd64") -> Descriptor:
        """The image manifest of an entry; for an index, the one for ``platform`` (else the first)."""
        if desc.media_type in IMAGE_MANIFESTS:
            return desc
        children = list(parse_manifest(self.read(desc), desc.media_type).manifests)
        if not children:
            raise LayoutError(f"index {desc.digest} lists no manifests")
        os_, _, arch = platform.partition("/")
        for child in children:
            p = child.platform or {}
            if p.get("os") == os_ and p.get("architecture") == arch:
                return self.image_manifest(child, platform)
        return self.image_manifest(children[0], platform)


def layer_sizes(layout: OciLayout, ref: str | None = None, *, platform: str = "linux/amd64") -> list[int]:
    """The sizes in bytes of an image's layers, in order (compressed, as they are pulled)."""
    desc = layout.image_manifest(layout.select(ref), platform)
    manifest = parse_manifest(layout.read(desc), desc.media_type)
    return [layer.size for layer in manifest.layers]


def import_image(registry: Registry, layout: OciLayout, repository: str, tag: str, ref: str | None = None) -> ImportReport:
    """Push the image ``ref`` of ``layout`` into ``registry`` as ``repository:tag``."""
    top = layout.select(ref)
    counts = {"blobs": 0, "bytes": 0, "skipped": 0}
    _push(registry, layout, repository, top, counts, tag=tag)
    return ImportReport(repository, tag, top.digest, counts["blobs"], counts["bytes"], counts["skipped"])


def _push(reg: Registry, layout: OciLayout, repo: str, desc: Descriptor, counts: dict, *, tag: str | None) -> None:
    data = layout.read(desc)
    manifest = parse_manifest(data, desc.media_type)
    for child in manifest.manifests:  # an index: its manifests go first, by digest
        _push(reg, layout, repo, child, counts, tag=None)
    for blob in manifest.blob_references():
        if reg.has_blob(repo, blob.digest):
            counts["skipped"] += 1
            continue
        if blob.urls and not layout.has_blob(blob.digest):
            continue  # a non-distributable layer the layout does not carry: clients fetch it from its urls
        reg.put_blob_stream(repo, layout.stream(blob.digest), blob.digest)
        counts["blobs"] += 1
        counts["bytes"] += blob.size
    media_type = desc.media_type if desc.media_type in IMAGE_MANIFESTS | INDEX_MANIFESTS else None
    stored = reg.put_manifest(repo, tag or str(desc.digest), data, media_type)
    if stored != desc.digest:
        raise LayoutError(f"manifest stored as {stored} but the layout names it {desc.digest}")
