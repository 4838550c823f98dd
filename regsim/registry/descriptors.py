"""OCI descriptors and the media types the registry understands.

A descriptor names content by digest and size (OCI image-spec, descriptor.md). The registry accepts
OCI image manifests and indexes, and Docker's v2 schema 2 manifest and manifest list, which share
the same shape.

A descriptor may also carry ``urls``: places the content can be downloaded from other than the
registry. Layers that do (non-distributable or "foreign" layers, e.g. media type
``application/vnd.oci.image.layer.nondistributable.v1.tar+gzip``) are usually never pushed, and
the registry accepts a manifest naming them without holding them (see
:meth:`.manifests.Manifest.required_blobs`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .digest import Digest
from .errors import ManifestInvalid

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"

#: manifests whose descriptors point at blobs (config and layers)
IMAGE_MANIFESTS = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
#: manifests whose descriptors point at other manifests
INDEX_MANIFESTS = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
MANIFEST_MEDIA_TYPES = IMAGE_MANIFESTS | INDEX_MANIFESTS


@dataclass(frozen=True, slots=True)
class Descriptor:
    media_type: str
    digest: Digest
    size: int
    annotations: dict[str, str] | None = field(default=None, compare=False)
    artifact_type: str | None = None
    platform: dict[str, Any] | None = field(default=None, compare=False)
    #: where else the content can be fetched from; ``None`` when the descriptor gives no ``urls``
    urls: tuple[str, ...] | None = field(default=None, compare=False)

    @classmethod
    def from_json(cls, obj: object, where: str) -> Descriptor:
        """Parse a descriptor object; errors name where in the manifest it sits."""
        if not isinstance(obj, dict):
            raise ManifestInvalid(f"{where}: expected a descriptor object, got {type(obj).__name__}")
        media_type = obj.get("mediaType")
        if not isinstance(media_type, str) or not media_type:
            raise ManifestInvalid(f"{where}.mediaType: expected a non-empty string")
        try:
            digest = Digest.parse(obj.get("digest"))
        except Exception as exc:
            raise ManifestInvalid(f"{where}.digest: {exc}") from None
        size = obj.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ManifestInvalid(f"{where}.size: expected a non-negative integer, got {size!r}")
        annotations = obj.get("annotations")
        if annotations is not None and not (
            isinstance(annotations, dict) and all(isinstance(v, str) for v in annotations.values())
        ):
            raise ManifestInvalid(f"{where}.annotations: expected a map of strings")
        artifact_type = obj.get("artifactType")
        if artifact_type is not None and not isinstance(artifact_type, str):
            raise ManifestInvalid(f"{where}.artifactType: expected a string")
        platform = obj.get("platform")
        urls = obj.get("urls")
        if urls is not None:
            if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
                raise ManifestInvalid(f"{where}.urls: expected a list of strings")
            urls = tuple(urls)
        return cls(media_type, digest, size, annotations, artifact_type, platform, urls)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": str(self.digest), "size": self.size}
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.platform:
            out["platform"] = dict(self.platform)
        if self.urls:
            out["urls"] = list(self.urls)
        return out
