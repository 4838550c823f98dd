"""Building, parsing and validating image manifests and indexes.

Validation here is structural (schema version, media types, well-formed descriptors); whether the
referenced content exists is the repository's check, since it depends on what was pushed there.
Layers that carry ``urls`` (non-distributable, "foreign" layers) are named by a manifest but need
not be in the registry: :meth:`Manifest.required_blobs` leaves them out, and
:func:`validate_urls` is the policy their URLs must meet when a manifest is pushed.
:func:`image_documents` builds the config and manifest of a plain image, for every caller that
pushes one (the registry's ``push_image``, the simulator's models), so their bytes agree.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from . import receipts
from .descriptors import (
    IMAGE_MANIFESTS,
    INDEX_MANIFESTS,
    MANIFEST_MEDIA_TYPES,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_MANIFEST,
    Descriptor,
)
from .digest import Digest, compute
from .errors import ManifestInvalid, Unsupported
from .receipts import Kind

MAX_MANIFEST_BYTES = 4 * 1024 * 1024  # the OCI distribution spec's suggested minimum limit


@dataclass(frozen=True, slots=True)
class Manifest:
    media_type: str
    config: Descriptor | None
    layers: tuple[Descriptor, ...]
    manifests: tuple[Descriptor, ...]
    subject: Descriptor | None
    artifact_type: str | None
    annotations: dict[str, str] | None

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_MANIFESTS

    def blob_references(self) -> tuple[Descriptor, ...]:
        """Every blob this manifest names: config and layers, foreign layers (with ``urls``)
        included. Garbage collection marks all of them: a foreign layer the repository happens
        to hold is kept while a manifest names it, one it does not hold marks nothing stored."""
        return ((self.config,) if self.config else ()) + self.layers

    def required_blobs(self) -> tuple[Descriptor, ...]:
        """The blobs that must be in the repository for the manifest to be accepted: the config
        and every layer except those with ``urls``, which clients fetch from those URLs (the OCI
        image spec's non-distributable layers; the distribution spec lets a registry accept a
        manifest naming them unpushed)."""
        return ((self.config,) if self.config else ()) + tuple(d for d in self.layers if not d.urls)

    def foreign_layers(self) -> tuple[Descriptor, ...]:
        """The layers that carry ``urls``."""
        return tuple(d for d in self.layers if d.urls)

    def descriptors(self) -> Iterator[tuple[str, Descriptor]]:
        """Every descriptor of the manifest with where it sits (``config``, ``layers[0]``, ...)."""
        if self.config is not None:
            yield "config", self.config
        for i, d in enumerate(self.layers):
            yield f"layers[{i}]", d
        for i, d in enumerate(self.manifests):
            yield f"manifests[{i}]", d
        if self.subject is not None:
            yield "subject", self.subject

    @property
    def effective_artifact_type(self) -> str | None:
        """What the referrers API reports: artifactType, else the config's media type."""
        if self.artifact_type:
            return self.artifact_type
        return self.config.media_type if self.config else None


@dataclass(frozen=True, slots=True)
class ImageDocuments:
    """An image's config blob and the OCI image manifest naming it and the layers."""

    config: bytes
    config_digest: Digest
    manifest: bytes


def image_documents(layers: Sequence[Descriptor], *, config: bytes | None = None) -> ImageDocuments:
    """The config JSON (``config``, else a minimal linux/amd64 one whose ``rootfs`` lists the layer
    digests) and the OCI image manifest JSON for ``layers``, in the order given.

    Keys are written in the order the image spec lists them (not sorted) and the bytes depend on
    nothing but the arguments, so a model that pushes the same layers gets the same digests run
    after run. Hashing the config here is the pusher's work, not the registry's: it is kept off
    the receipts (storing the blob hashes it again, for the registry).
    """
    if config is None:
        config = json.dumps({"architecture": "amd64", "os": "linux",
                             "rootfs": {"type": "layers", "diff_ids": [str(d.digest) for d in layers]}}).encode()
    with receipts.suspended():
        config_digest = compute(config)
    manifest = {
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": Descriptor(OCI_CONFIG, config_digest, len(config)).to_json(),
        "layers": [d.to_json() for d in layers],
    }
    return ImageDocuments(config, config_digest, json.dumps(manifest).encode())


#: the URL schemes a pushed descriptor's ``urls`` may use (the image spec: entries SHOULD use
#: http and https); anything else (``file:``, ``ftp:``, a relative path) is refused on push
URL_SCHEMES = frozenset({"http", "https"})


def validate_urls(manifest: Manifest) -> None:
    """Refuse (``MANIFEST_INVALID``) a manifest whose descriptors give a URL that is not an
    absolute http(s) URL with a host. Checked when a manifest is pushed, not when a stored one is
    parsed again, so a policy change never makes stored manifests unreadable."""
    for where, desc in manifest.descriptors():
        for i, url in enumerate(desc.urls or ()):
            try:
                parts = urlsplit(url)
                ok = parts.scheme in URL_SCHEMES and bool(parts.hostname)
            except ValueError:
                ok = False
            if not ok:
                raise ManifestInvalid(f"{where}.urls[{i}]: {url!r} is not an absolute http or https URL")


def parse_manifest(data: bytes, content_type: str | None = None) -> Manifest:
    """Parse ``data`` as a manifest; ``content_type`` (from a PUT) must agree with mediaType if both exist."""
    if len(data) > MAX_MANIFEST_BYTES:
        raise ManifestInvalid(f"manifest is {len(data):,} bytes; the limit is {MAX_MANIFEST_BYTES:,}")
    with receipts.metered(Kind.MANIFEST_PARSE, len(data)):
        try:
            doc = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ManifestInvalid(f"manifest is not valid JSON: {exc}") from None
        return _from_document(doc, content_type)


def _from_document(doc: object, content_type: str | None) -> Manifest:
    if not isinstance(doc, dict):
        raise ManifestInvalid("manifest must be a JSON object")
    if doc.get("schemaVersion") != 2:
        raise ManifestInvalid(f"schemaVersion: expected 2, got {doc.get('schemaVersion')!r}")
    media_type = doc.get("mediaType") or content_type
    if doc.get("mediaType") and content_type and content_type not in (doc["mediaType"], "application/json"):
        raise ManifestInvalid(f"Content-Type {content_type!r} disagrees with mediaType {doc['mediaType']!r}")
    if media_type is None:
        media_type = _guess_media_type(doc)
    if media_type not in MANIFEST_MEDIA_TYPES:
        raise Unsupported(f"unsupported manifest media type {media_type!r}")

    config = None
    layers: tuple[Descriptor, ...] = ()
    manifests: tuple[Descriptor, ...] = ()
    if media_type in IMAGE_MANIFESTS:
        if "config" not in doc:
            raise ManifestInvalid("config: required in an image manifest")
        config = Descriptor.from_json(doc["config"], "config")
        raw_layers = doc.get("layers", [])
        if not isinstance(raw_layers, list):
            raise ManifestInvalid("layers: expected a list")
        layers = tuple(Descriptor.from_json(d, f"layers[{i}]") for i, d in enumerate(raw_layers))
    else:
        raw = doc.get("manifests")
        if not isinstance(raw, list):
            raise ManifestInvalid("manifests: expected a list in an index")
        manifests = tuple(Descriptor.from_json(d, f"manifests[{i}]") for i, d in enumerate(raw))
    subject = Descriptor.from_json(doc["subject"], "subject") if doc.get("subject") is not None else None
    artifact_type = doc.get("artifactType")
    if artifact_type is not None and not isinstance(artifact_type, str):
        raise ManifestInvalid("artifactType: expected a string")
    annotations = doc.get("annotations")
    if annotations is not None and not isinstance(annotations, dict):
        raise ManifestInvalid("annotations: expected a map of strings")
    return Manifest(media_type, config, layers, manifests, subject, artifact_type, annotations)


def _guess_media_type(doc: dict) -> str:
    if "manifests" in doc:
        return OCI_INDEX
    return OCI_MANIFEST
