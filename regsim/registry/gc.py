"""Garbage collection: mark what tags and manifests reach, sweep the rest.

Mark: every manifest revision of every repository (or, with ``delete_untagged``, only those reached
from tags, plus the children of reached indexes and the referrers of reached manifests), the
manifest's own blob, and the config and layers it names. Sweep: every stored blob not marked whose
record is older than the grace period. The grace period is what keeps a push in flight safe: its
layers are uploaded before the manifest that will reference them exists.

Uploads (:func:`sweep_uploads`, also run by ``regsim serve`` at start): a session that received
nothing for longer than the upload grace period is discarded with every part it stored, unless an
append to it is in progress; and the storage backends' temporary files untouched for that long --
what a writer killed mid-write leaves behind (a part being received, a fragment being written) --
are removed, as are the stored extents of a push killed before its blob's record was written
(orphans: fragments no record claims, judged by their newest fragment's time). A part being
written is touched by every write, a writer open in this process is never removed, and a push in
flight here keeps its extents, so a live upload is safe whatever its age.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from . import metadata as paths
from .blobstore import BlobStore
from .digest import Digest
from .errors import BlobUploadUnknown
from .manifests import parse_manifest
from .metadata import MetadataStore
from .repositories import Repositories
from .uploads import Uploads


@dataclass
class GcReport:
    dry_run: bool
    marked: int = 0
    swept: list[str] = field(default_factory=list)
    reclaimed_bytes: int = 0
    kept_in_grace: int = 0
    manifests_deleted: list[str] = field(default_factory=list)
    uploads_discarded: int = 0
    #: what sweep_uploads removed: stale sessions ("repo/id") and their parts' bytes, temp files
    uploads: UploadSweep | None = None

    def summary(self) -> str:
        verb = "would reclaim" if self.dry_run else "reclaimed"
        text = (
            f"gc: {self.marked} blobs marked, {len(self.swept)} swept, {verb} {self.reclaimed_bytes:,} bytes, "
            f"{self.kept_in_grace} kept in grace period, {len(self.manifests_deleted)} untagged manifests, "
            f"{self.uploads_discarded} stale uploads"
        )
        if self.uploads is not None and self.uploads.removed_anything:
            text += f" ({self.uploads.summary()})"
        return text


@dataclass
class UploadSweep:
    """What :func:`sweep_uploads` removed (or, in a dry run, would remove)."""

    dry_run: bool
    grace_s: float
    #: stale sessions, as "repo/upload id", and the bytes of the parts they had stored
    sessions: list[str] = field(default_factory=list)
    session_bytes: int = 0
    #: temporary files left by writers that died, as "backend/file name", and their bytes
    temp_files: list[str] = field(default_factory=list)
    temp_bytes: int = 0
    #: blobs whose push died after storing some extents and before the blob's record, and the
    #: bytes their fragments took on the nodes
    orphan_blobs: list[str] = field(default_factory=list)
    orphan_bytes: int = 0

    @property
    def reclaimed_bytes(self) -> int:
        return self.session_bytes + self.temp_bytes + self.orphan_bytes

    @property
    def removed_anything(self) -> bool:
        return bool(self.sessions or self.temp_files or self.orphan_blobs)

    def summary(self) -> str:
        verb = "would remove" if self.dry_run else "removed"
        return (f"{verb} {len(self.sessions)} stale upload sessions ({self.session_bytes:,} bytes), "
                f"{len(self.temp_files)} temporary parts ({self.temp_bytes:,} bytes) and the stored extents "
                f"of {len(self.orphan_blobs)} unfinished pushes ({self.orphan_bytes:,} bytes), idle for more "
                f"than {self.grace_s:g} s")


def sweep_uploads(uploads: Uploads, backends: Iterable[object], *, grace_s: float, dry_run: bool = False,
                  clock: Callable[[], float] = time.time, blobs: BlobStore | None = None) -> UploadSweep:
    """Discard upload sessions idle for ``grace_s`` seconds or more (none receiving bytes), remove
    temporary files untouched as long from ``backends`` (those that keep any: a backend, or a
    wrapper with ``inner``, that has ``stale_temps``) and, given ``blobs``, the orphan extents of
    pushes that died before their blob's record was written (:meth:`BlobStore.sweep_orphans`).
    Temp-file and fragment ages are file times, on the wall clock; session ages are on ``clock``."""
    if grace_s < 0:
        raise ValueError(f"the upload grace period must be non-negative, got {grace_s}")
    report = UploadSweep(dry_run=dry_run, grace_s=grace_s)
    cutoff = clock() - grace_s
    for repo, upload_id in uploads.sessions():
        if dry_run:
            try:
                stale = uploads.last_active(repo, upload_id) <= cutoff and not uploads.receiving(repo, upload_id)
                size = uploads.stored_bytes(repo, upload_id) if stale else None
            except BlobUploadUnknown:
                continue
        else:
            size = uploads.discard_if_idle(repo, upload_id, cutoff)
        if size is not None:
            report.sessions.append(f"{repo}/{upload_id}")
            report.session_bytes += size
    for backend in backends:
        inner = getattr(backend, "inner", backend)
        stale_temps = getattr(inner, "stale_temps", None)
        if stale_temps is None:
            continue
        for name, size in stale_temps(grace_s, remove=not dry_run):
            report.temp_files.append(f"{inner.name}/{name}")
            report.temp_bytes += size
    if blobs is not None:
        for d, size in blobs.sweep_orphans(grace_s, dry_run=dry_run):
            report.orphan_blobs.append(str(d))
            report.orphan_bytes += size
    return report


def collect_garbage(
    repos: Repositories,
    blobs: BlobStore,
    meta: MetadataStore,
    uploads: Uploads,
    *,
    grace_s: float = 3600.0,
    dry_run: bool = False,
    delete_untagged: bool = False,
    clock: Callable[[], float] = time.time,
    upload_grace_s: float | None = None,
    temp_backends: Iterable[object] = (),
) -> GcReport:
    """Mark and sweep blobs (module docstring), then :func:`sweep_uploads` with ``upload_grace_s``
    (default: ``grace_s``) over ``temp_backends``."""
    report = GcReport(dry_run=dry_run)
    now = clock()
    marked: set[Digest] = set()
    for repo in repos.catalog():
        roots = [repos.resolve(repo, t) for t in repos.tags(repo)] if delete_untagged else repos.manifests(repo)
        reached = _mark_repo(repos, blobs, repo, roots, marked)
        if delete_untagged:
            for d in repos.manifests(repo):
                if d not in reached:
                    report.manifests_deleted.append(f"{repo}@{d}")
                    if not dry_run:
                        repos.delete_manifest(repo, str(d))
    stored = set(blobs.digests())
    report.marked = len(marked & stored)  # a layer with urls that was never pushed is named, not stored

    for d in sorted(stored):
        if d in marked:
            continue
        info = blobs.info(d)
        if now - float(info.get("created", 0)) < grace_s:
            report.kept_in_grace += 1
            continue
        report.swept.append(str(d))
        report.reclaimed_bytes += int(info["size"])
        if not dry_run:
            blobs.delete(d)
            for repo in repos.catalog():
                meta.delete(paths.layer_link(repo, d))

    upload_grace = grace_s if upload_grace_s is None else upload_grace_s
    report.uploads = sweep_uploads(uploads, temp_backends, grace_s=upload_grace, dry_run=dry_run, clock=clock,
                                   blobs=blobs)
    report.uploads_discarded = len(report.uploads.sessions)
    return report


def _mark_repo(repos: Repositories, blobs: BlobStore, repo: str, roots: list[Digest],
               marked: set[Digest]) -> set[Digest]:
    """Mark manifests reachable from ``roots`` (children and referrers included) and their blobs."""
    reached: set[Digest] = set()
    stack = list(roots)
    while stack:
        d = stack.pop()
        if d in reached or not repos.has_manifest(repo, d):
            continue
        reached.add(d)
        marked.add(d)
        manifest = parse_manifest(blobs.get(d))
        marked.update(b.digest for b in manifest.blob_references())
        stack.extend(m.digest for m in manifest.manifests)
        stack.extend(Digest.parse(r["digest"]) for r in repos.referrers(repo, d)["manifests"])
    return reached
