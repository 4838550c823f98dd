"""Garbage collection: mark what tags and manifests reach, sweep the rest.

Mark: every manifest revision of every repository (or, with ``delete_untagged``, only those reached
from tags, plus the children of reached indexes and the referrers of reached manifests), the
manifest's own blob, and the config and layers it names. Sweep: every stored blob not marked whose
record is older than the grace period. The grace period is what keeps a push in flight safe: its
layers are uploaded before the manifest that will reference them exists. Upload sessions left
open longer than the grace period are discarded too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from . import metadata as paths
from .blobstore import BlobStore
from .digest import Digest
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

    def summary(self) -> str:
        verb = "would reclaim" if self.dry_run else "reclaimed"
        return (
            f"gc: {self.marked} blobs marked, {len(self.swept)} swept, {verb} {self.reclaimed_bytes:,} bytes, "
            f"{self.kept_in_grace} kept in grace period, {len(self.manifests_deleted)} untagged manifests, "
            f"{self.uploads_discarded} stale uploads"
        )


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
) -> GcReport:
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
    report.marked = len(marked)

    for d in sorted(blobs.digests()):
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

    for repo, upload_id in uploads.sessions():
        if now - uploads.started(repo, upload_id) >= grace_s:
            report.uploads_discarded += 1
            if not dry_run:
                uploads.discard(repo, upload_id)
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
