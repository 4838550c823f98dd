"""Where signatures live in a registry, the way cosign and skopeo keep them, and how to find them.

cosign's tag-based discovery (``specs/SIGNATURE_SPEC.md``, "Storage"), which skopeo also writes
and reads when ``use-sigstore-attachments: true`` (containers/image,
``docker/docker_image_dest.go``): the signatures of manifest ``sha256:<hex>`` are the layers of
one OCI image manifest in the same repository, tagged ``sha256-<hex>.sig``. Each layer is a
payload blob (media type ``application/vnd.dev.cosign.simplesigning.v1+json``) whose descriptor
carries the base64 signature in the annotation ``dev.cosignproject.cosign/signature``; the config
is an OCI image config listing the payload digests as ``rootfs.diff_ids``. A new signature is
appended to that manifest (one already there is not added twice) and the tag moved to the result.

regsim also sets the manifest's ``subject`` to the signed manifest and its ``artifactType`` to
cosign's ``application/vnd.dev.cosign.artifact.sig.v1+json``, so the referrers API lists it
(OCI 1.1 discovery, as cosign's referrers mode uses); :func:`find` reads both places and drops
duplicates. A manifest rewritten by a client that does not know ``subject`` (skopeo 1.9) is still
found by its tag.

The functions take any :class:`ImageStore`: a :class:`~regsim.registry.registry.Registry`, or a
client of a registry over HTTP with the same five methods (:mod:`.remote`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..descriptors import OCI_CONFIG, OCI_MANIFEST
from ..digest import Digest
from ..errors import BlobUnknown, ManifestInvalid, ManifestUnknown, NameUnknown, RegistryError
from ..repositories import StoredManifest
from .payload import SIMPLE_SIGNING_MEDIA_TYPE
from .signature import Signature

#: the ``artifactType`` of a cosign signature manifest found through the referrers API
SIGNATURE_ARTIFACT_TYPE = "application/vnd.dev.cosign.artifact.sig.v1+json"
#: largest payload blob read back (payloads are a few hundred bytes)
MAX_PAYLOAD_BYTES = 64 * 1024

_SIG_TAG = re.compile(r"sha256-[0-9a-f]{64}\.sig|sha512-[0-9a-f]{128}\.sig")


class ImageStore(Protocol):
    """What storing and finding signatures needs of a registry (the :class:`Registry` methods)."""

    def get_manifest(self, repo: str, reference: str) -> StoredManifest: ...

    def get_blob(self, repo: str, digest: str | Digest) -> bytes: ...

    def put_blob(self, repo: str, data: bytes) -> Digest: ...

    def put_manifest(self, repo: str, reference: str, data: bytes, media_type: str | None = None) -> Digest: ...

    def referrers(self, repo: str, digest: str | Digest, artifact_type: str | None = None) -> dict: ...


def signature_tag(manifest_digest: str | Digest) -> str:
    """cosign's tag for the signatures of ``manifest_digest``: ``sha256-<hex>.sig``."""
    d = Digest.parse(manifest_digest)
    return f"{d.algorithm}-{d.hex}.sig"


def is_signature_tag(reference: str) -> bool:
    """Whether ``reference`` is a signature tag (``sha256-<64 hex>.sig``)."""
    return _SIG_TAG.fullmatch(reference) is not None


def is_signature_manifest(data: bytes) -> bool:
    """Whether ``data`` is a cosign signature manifest: an OCI image manifest whose layers are all
    simple-signing payloads (or whose artifactType says it is one)."""
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return False
    if not isinstance(doc, dict):
        return False
    if doc.get("artifactType") == SIGNATURE_ARTIFACT_TYPE:
        return True
    layers = doc.get("layers")
    return (isinstance(layers, list) and bool(layers)
            and all(isinstance(d, dict) and d.get("mediaType") == SIMPLE_SIGNING_MEDIA_TYPE for d in layers))


def manifest_info(store: ImageStore, repo: str, reference: str) -> tuple[Digest, str, int]:
    """Digest, media type and size of the manifest ``reference`` names, without its content when
    the store can (a HEAD over HTTP, a metadata read in a Registry): a registry that refuses to
    serve an unsigned manifest still says what it is, which is what signing it needs."""
    head = getattr(store, "manifest_info", None)  # RemoteRegistry
    if head is None and getattr(store, "repos", None) is not None:  # Registry
        head = store.repos.manifest_info  # type: ignore[attr-defined]
    if head is not None:
        digest, media_type, size = head(repo, reference)
        return Digest.parse(digest), media_type, size
    stored = store.get_manifest(repo, reference)
    return stored.digest, stored.media_type, len(stored.data)


def _sha256(data: bytes) -> Digest:
    return Digest("sha256", hashlib.sha256(data).hexdigest())


def _maybe_manifest(store: ImageStore, repo: str, reference: str) -> StoredManifest | None:
    try:
        return store.get_manifest(repo, reference)
    except (ManifestUnknown, NameUnknown):
        return None


def _descriptor(media_type: str, digest: Digest, size: int, annotations: dict | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"mediaType": media_type, "digest": str(digest), "size": size}
    if annotations:
        out["annotations"] = dict(annotations)
    return out


def _same_layer(layer: object, desc: dict[str, Any]) -> bool:
    """As skopeo's ``layerMatchesSigstoreSignature``: media type, digest, size and annotations."""
    return (isinstance(layer, dict) and layer.get("mediaType") == desc["mediaType"]
            and layer.get("digest") == desc["digest"] and layer.get("size") == desc["size"]
            and (layer.get("annotations") or {}) == desc.get("annotations", {}))


def attach(store: ImageStore, repo: str, manifest_digest: str | Digest, signature: Signature) -> Digest:
    """Store ``signature`` of ``manifest_digest`` (a manifest of ``repo``) the cosign way and
    return the digest of the signature manifest now tagged ``sha256-<hex>.sig``."""
    signed = Digest.parse(manifest_digest)
    _, subject_type, subject_size = manifest_info(store, repo, str(signed))  # ManifestUnknown: nothing to sign
    tag = signature_tag(signed)
    existing = _maybe_manifest(store, repo, tag)
    doc: dict[str, Any] = {}
    if existing is not None:
        try:
            doc = json.loads(existing.data)
        except (UnicodeDecodeError, json.JSONDecodeError):
            doc = {}
        if not isinstance(doc, dict) or existing.media_type != OCI_MANIFEST:
            raise ManifestInvalid(f"{repo}:{tag} exists but is not an OCI image manifest "
                                  f"({existing.media_type or 'unknown media type'}); not appending to it")
    raw_layers = doc.get("layers")
    layers = [d for d in raw_layers if isinstance(d, dict)] if isinstance(raw_layers, list) else []
    desc = _descriptor(signature.media_type, _sha256(signature.payload), len(signature.payload),
                       dict(signature.annotations))
    subject_desc = _descriptor(subject_type or OCI_MANIFEST, signed, subject_size)
    already = any(_same_layer(layer, desc) for layer in layers)
    subject = doc.get("subject")
    if already and existing is not None and isinstance(subject, dict) and subject.get("digest") == str(signed):
        return existing.digest
    if not already:
        store.put_blob(repo, signature.payload)
        layers.append(desc)
    config = json.dumps({"architecture": "", "os": "", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": [d.get("digest") for d in layers]}},
                        separators=(",", ":")).encode()
    config_digest = store.put_blob(repo, config)
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": SIGNATURE_ARTIFACT_TYPE,
                "config": _descriptor(OCI_CONFIG, Digest.parse(config_digest), len(config)),
                "layers": layers, "subject": subject_desc}
    if isinstance(doc.get("annotations"), dict):
        manifest["annotations"] = doc["annotations"]
    return store.put_manifest(repo, tag, json.dumps(manifest, separators=(",", ":")).encode(), OCI_MANIFEST)


@dataclass
class Found:
    """The signatures of one manifest: each readable one, what could not be read (``problems``),
    and the digests of the signature manifests they came from (``sources``)."""

    signatures: list[Signature] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    sources: list[Digest] = field(default_factory=list)


def signature_manifests(store: ImageStore, repo: str,
                        manifest_digest: str | Digest) -> Iterator[tuple[str, StoredManifest]]:
    """The signature manifests of ``manifest_digest``, each with how it was found: the one tagged
    ``sha256-<hex>.sig``, then the cosign signatures among its referrers."""
    signed = Digest.parse(manifest_digest)
    tag = signature_tag(signed)
    tagged = _maybe_manifest(store, repo, tag)
    if tagged is not None:
        yield f"tag {tag}", tagged
    try:
        index = store.referrers(repo, signed, SIGNATURE_ARTIFACT_TYPE)
    except (ManifestUnknown, NameUnknown):
        return
    for entry in index.get("manifests", []):
        if not isinstance(entry, dict) or entry.get("artifactType") != SIGNATURE_ARTIFACT_TYPE:
            continue
        digest = entry.get("digest")
        if not isinstance(digest, str) or (tagged is not None and digest == str(tagged.digest)):
            continue
        stored = _maybe_manifest(store, repo, digest)
        if stored is not None:
            yield f"referrer {Digest.parse(digest).short}", stored


def find(store: ImageStore, repo: str, manifest_digest: str | Digest) -> Found:
    """Every signature of ``manifest_digest`` in ``repo``, by tag and by referrers, without
    duplicates; each payload is read back and checked against its descriptor's digest."""
    found = Found()
    seen: set = set()
    for how, stored in signature_manifests(store, repo, manifest_digest):
        found.sources.append(stored.digest)
        try:
            doc = json.loads(stored.data)
            layers = doc.get("layers") if isinstance(doc, dict) else None
        except (UnicodeDecodeError, json.JSONDecodeError):
            layers = None
        if not isinstance(layers, list):
            found.problems.append(f"signature manifest {stored.digest.short} ({how}) is not an image manifest")
            continue
        for i, layer in enumerate(layers):
            if not isinstance(layer, dict) or layer.get("mediaType") != SIMPLE_SIGNING_MEDIA_TYPE:
                continue  # another kind of attachment
            where = f"{how}, layer {i}"
            annotations = layer.get("annotations") or {}
            try:
                want = Digest.parse(layer.get("digest"))
                if not isinstance(layer.get("size"), int) or layer["size"] > MAX_PAYLOAD_BYTES:
                    raise ValueError(f"size {layer.get('size')!r} is not a payload's")
                payload = store.get_blob(repo, want)
                if want.algorithm != "sha256" or _sha256(payload) != want:
                    raise ValueError(f"payload blob does not hash to {want}")
            except (BlobUnknown, ValueError, RegistryError) as e:
                found.problems.append(f"signature ({where}) cannot be read: {getattr(e, 'message', e)}")
                continue
            if not isinstance(annotations, dict):
                annotations = {}
            sig = Signature(payload, {str(k): str(v) for k, v in annotations.items()}, SIMPLE_SIGNING_MEDIA_TYPE,
                            source=where)
            if sig.key not in seen:
                seen.add(sig.key)
                found.signatures.append(sig)
    return found
