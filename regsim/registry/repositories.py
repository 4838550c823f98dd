"""Repositories: blobs linked into named repositories, manifests, tags, referrers, mounts, deletes.

This is the OCI distribution spec's data model, transport-free. A blob is served by a repository
only if it was pushed or mounted there; a manifest is accepted only if every blob (or, for an
index, every manifest) it references is in the repository -- except layers that carry ``urls``
(non-distributable layers), which clients fetch from those URLs and which the repository need
not hold. A manifest pushed by digest may be tagged in the same call (the spec's ``?tag=``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from . import metadata as paths
from .blobstore import BlobStore
from .descriptors import OCI_INDEX, Descriptor
from .digest import Digest
from .errors import (
    BlobUnknown,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestUnknown,
    NameUnknown,
    TagInvalid,
)
from .manifests import Manifest, parse_manifest, validate_urls
from .metadata import MetadataStore
from .names import is_digest_reference, validate_name, validate_tag


@dataclass(frozen=True, slots=True)
class StoredManifest:
    digest: Digest
    media_type: str
    data: bytes


class Repositories:
    def __init__(self, blobs: BlobStore, meta: MetadataStore, *, clock: Callable[[], float] = time.time) -> None:
        self.blobs = blobs
        self.meta = meta
        self.clock = clock

    # -- blobs -----------------------------------------------------------------------------

    def link_blob(self, repo: str, d: Digest) -> None:
        validate_name(repo)
        if not self.meta.exists(paths.layer_link(repo, d)):
            self.meta.write(paths.layer_link(repo, d), {"created": self.clock()})

    def has_blob(self, repo: str, d: Digest) -> bool:
        return self.meta.exists(paths.layer_link(validate_name(repo), d)) and self.blobs.exists(d)

    def require_blob(self, repo: str, digest: str | Digest) -> Digest:
        d = Digest.parse(digest)
        if not self.has_blob(repo, d):
            raise BlobUnknown(f"blob {d} is unknown to repository {repo!r}")
        return d

    def mount(self, repo: str, from_repo: str, digest: str | Digest) -> Digest:
        """Make a blob of ``from_repo`` available in ``repo`` without moving its bytes."""
        d = self.require_blob(from_repo, digest)
        self.link_blob(repo, d)
        return d

    def unlink_blob(self, repo: str, digest: str | Digest) -> None:
        d = self.require_blob(repo, digest)
        self.meta.delete(paths.layer_link(repo, d))

    def blob_links(self, repo: str) -> list[Digest]:
        return self.meta.digests_under(f"{paths.repo_root(repo)}/_layers")

    # -- manifests -------------------------------------------------------------------------

    def put_manifest(self, repo: str, reference: str, data: bytes, content_type: str | None = None, *,
                     tags: Sequence[str] = ()) -> Digest:
        """Store a manifest under ``reference`` (a tag, or the digest it must hash to, in that
        digest's algorithm). ``tags`` (only with a digest reference) are tags to point at it as
        well; each is checked against the tag grammar before anything is stored."""
        validate_name(repo)
        if isinstance(tags, str):
            tags = (tags,)
        manifest = parse_manifest(data, content_type)
        if is_digest_reference(reference):
            expected = Digest.parse(reference)
        else:
            validate_tag(reference)
            if tags:
                raise TagInvalid(f"tag parameters go with a push by digest; this push is to tag {reference!r}",
                                 detail={"tags": list(tags)})
            expected = None
        for tag in tags:
            validate_tag(tag)
        validate_urls(manifest)
        self._check_references(repo, manifest)
        d = self.blobs.put(data, expected)
        self.meta.write(
            paths.revision_link(repo, d),
            {"media_type": manifest.media_type, "size": len(data), "created": self.clock()},
        )
        for tag in [reference] if expected is None else dict.fromkeys(tags):
            self.meta.write(paths.tag_link(repo, tag), {"digest": str(d)})
        if manifest.subject is not None:
            desc = Descriptor(manifest.media_type, d, len(data), manifest.annotations,
                              manifest.effective_artifact_type)
            self.meta.write(paths.referrer_link(repo, manifest.subject.digest, d), desc.to_json())
        return d

    def _check_references(self, repo: str, manifest: Manifest) -> None:
        missing = [str(b.digest) for b in manifest.required_blobs() if not self.has_blob(repo, b.digest)]
        if missing:
            raise ManifestBlobUnknown(
                f"manifest references blobs unknown to repository {repo!r}: {', '.join(missing)}",
                detail={"missing": missing},
            )
        absent = [str(m.digest) for m in manifest.manifests if not self.has_manifest(repo, m.digest)]
        if absent:
            raise ManifestBlobUnknown(
                f"index references manifests unknown to repository {repo!r}: {', '.join(absent)}",
                detail={"missing": absent},
            )

    def resolve(self, repo: str, reference: str) -> Digest:
        validate_name(repo)
        if is_digest_reference(reference):
            d = Digest.parse(reference)
            if not self.has_manifest(repo, d):
                raise ManifestUnknown(f"manifest {d} is unknown to repository {repo!r}")
            return d
        validate_tag(reference)
        link = self.meta.read(paths.tag_link(repo, reference))
        if link is None:
            if not self.exists(repo):
                raise NameUnknown(f"repository {repo!r} is not known to the registry")
            raise ManifestUnknown(f"tag {reference!r} is unknown to repository {repo!r}")
        return Digest.parse(link["digest"])

    def has_manifest(self, repo: str, d: Digest) -> bool:
        return self.meta.exists(paths.revision_link(repo, d))

    def get_manifest(self, repo: str, reference: str) -> StoredManifest:
        d = self.resolve(repo, reference)
        info = self.meta.read(paths.revision_link(repo, d)) or {}
        return StoredManifest(d, info.get("media_type", ""), self.blobs.get(d))

    def manifest_info(self, repo: str, reference: str) -> tuple[Digest, str, int]:
        """Digest, media type and size of a manifest, without reading its content (for HEAD)."""
        d = self.resolve(repo, reference)
        info = self.meta.read(paths.revision_link(repo, d)) or {}
        return d, info.get("media_type", ""), int(info.get("size", 0))

    def delete_manifest(self, repo: str, reference: str) -> Digest:
        """Delete by digest: the revision, every tag pointing at it, and its referrer entry."""
        if not is_digest_reference(reference):
            raise ManifestInvalid("delete a manifest by digest; delete a tag with delete_tag")
        d = self.resolve(repo, reference)
        for tag in self.tags(repo):
            link = self.meta.read(paths.tag_link(repo, tag))
            if link and link["digest"] == str(d):
                self.meta.delete(paths.tag_link(repo, tag))
        data = self.blobs.get(d)
        manifest = parse_manifest(data)
        if manifest.subject is not None:
            self.meta.delete(paths.referrer_link(repo, manifest.subject.digest, d))
        self.meta.delete(paths.revision_link(repo, d))
        return d

    def delete_tag(self, repo: str, tag: str) -> None:
        validate_tag(tag)
        if not self.meta.delete(paths.tag_link(validate_name(repo), tag)):
            raise ManifestUnknown(f"tag {tag!r} is unknown to repository {repo!r}")

    def manifests(self, repo: str) -> list[Digest]:
        return self.meta.digests_under(f"{paths.repo_root(repo)}/_manifests/revisions")

    # -- listings --------------------------------------------------------------------------

    def tags(self, repo: str, n: int | None = None, last: str | None = None) -> list[str]:
        """Tags in lexical order, after ``last``, at most ``n`` (the spec's pagination)."""
        validate_name(repo)
        prefix = f"{paths.repo_root(repo)}/_manifests/tags/"
        names = sorted(k[len(prefix):] for k in self.meta.keys(prefix.rstrip("/")))
        if last is not None:
            names = [t for t in names if t > last]
        return names if n is None else names[: max(n, 0)]

    def exists(self, repo: str) -> bool:
        return any(True for _ in self.meta.keys(paths.repo_root(validate_name(repo))))

    def catalog(self, n: int | None = None, last: str | None = None) -> list[str]:
        names = self.meta.repositories()
        if last is not None:
            names = [r for r in names if r > last]
        return names if n is None else names[: max(n, 0)]

    def referrers(self, repo: str, digest: str | Digest, artifact_type: str | None = None) -> dict:
        """An OCI image index listing the manifests whose subject is ``digest``."""
        validate_name(repo)
        subject = Digest.parse(digest)
        prefix = f"{paths.repo_root(repo)}/_referrers/{subject.algorithm}/{subject.hex}"
        entries = []
        for key in self.meta.keys(prefix):
            desc = self.meta.read(key)
            if desc and (artifact_type is None or desc.get("artifactType") == artifact_type):
                entries.append(desc)
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
        return index
