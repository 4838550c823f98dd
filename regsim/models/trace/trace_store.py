"""The real registry behind a replayed trace: the trace's blobs and images, stored and served for real.

A trace names blobs by digests of bytes nobody has, and its repositories hold images it never
shows being pushed. :class:`TraceRegistry` gives every trace digest a real blob of random bytes
(the same bytes for the same digest, whatever the seed) and prices every request through the real
registry, as :mod:`regsim.models.core.work` does for a scenario's image:

- ``real`` data plane: each blob has its full size; every read is verified;
- ``modelled``: each blob is a *sample* of at most :data:`SAMPLE_BYTES`; a receipt is the real
  receipt of the sample scaled to the trace's size (:func:`regsim.models.core.work.scale`), which is exact
  because every byte-priced stage is linear in the bytes; a blob is read for real once and the
  receipt reused;
- ``sampled``: as ``modelled``, and the first :data:`SAMPLED_NODES` reads of each blob are
  real reads, verified.

Before the replay starts the registry holds, as unpriced set-up, what the trace shows existed
before it: every blob fetched or found by a HEAD before any upload of it (linked into each
repository that asks for it), and every image whose manifest is fetched before it is pushed, with the layers clients
fetched after fetching that manifest (learnt as :class:`~regsim.registry.cache.ImageIndex` learns
them). A blob's size is the largest a successful GET or upload of it reported
(:func:`regsim.traces.blob_sizes`). During the replay, an upload stores the blob for real; a
manifest PUT stores a real manifest listing the layers that client uploaded (or found by HEAD)
in that repository since its last manifest PUT. Manifests are real JSON, read for real on
every GET: the control plane always runs for real.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from regsim.registry import receipts
from regsim.registry.cache import ImageIndex
from regsim.registry.descriptors import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST
from regsim.registry.digest import Digest
from regsim.registry.errors import BlobUnknown, RegistryError
from regsim.registry.receipts import Receipt
from .config import TraceConfig
from regsim.sim.rng import derive_seed
from regsim.traces import Request, blob_sizes

from regsim.models.core.store import build_registry
from regsim.models.core.work import (REAL_LIMIT_BYTES, SAMPLE_BYTES, SAMPLED_NODES, DataPlaneTooLarge, check_bytes, merged,
                            scale)

__all__ = ["MIN_SAMPLE", "StoredBlob", "TraceRegistry", "ok", "registry_tag"]

#: bytes a blob holds at least, so that blobs the trace lists as empty stay distinct objects.
MIN_SAMPLE = 32
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")


def ok(request: Request) -> bool:
    """The registry answered the recorded request with success (2xx or a redirect)."""
    return 200 <= request.status < 400


def registry_tag(reference: str) -> str:
    """The tag a trace's manifest reference is stored under: itself if it is a valid tag.

    A trace's manifest digests are of manifests we do not have, so a reference by digest
    (``sha256:ab…``) is stored under the tag ``sha256-ab…`` instead.
    """
    if _TAG.match(reference):
        return reference
    return (re.sub(r"[^A-Za-z0-9._-]", "-", reference).lstrip(".-") or "empty")[:128]


@dataclass(slots=True)
class StoredBlob:
    """A trace digest's real blob: its real digest, modelled size and bytes really stored."""

    real: Digest
    size: int
    sample: int
    #: real reads verified so far (``sampled`` data plane)
    verified: int = 0


class TraceRegistry:
    """A real registry stocked for ``requests`` (time order), and the receipts of serving them."""

    def __init__(self, config: TraceConfig, requests: Sequence[Request]) -> None:
        self.mode = config.data_plane
        self.extent = 64 << 20
        self.registry = build_registry(config, extent=self.extent)
        self.sizes = blob_sizes(requests)
        self.blobs: dict[str, StoredBlob] = {}
        #: real digest -> trace digest, to read a real manifest's layers back as trace digests
        self.trace_digest: dict[str, str] = {}
        #: blobs and images stored before the replay (set-up, unpriced)
        self.stocked_blobs = 0
        self.stocked_images = 0
        #: requests the set-up could not stock (names the registry refuses), with why
        self.stock_errors: dict[str, str] = {}
        self._home: dict[str, str] = {}
        self._pushing: dict[tuple[str, str], dict[str, int]] = {}
        self._memo: dict[str, Receipt] = {}
        self._check_budget(requests)
        self._stock(requests)

    # -- set-up ------------------------------------------------------------------------------

    def _check_budget(self, requests: Sequence[Request]) -> None:
        if self.mode != "real":
            return
        moved = sum(self.sizes.get(r.reference, r.size) for r in requests
                    if ok(r) and r.reference and (r.kind, r.method) in (("blob", "GET"), ("upload", "PUT")))
        if moved > REAL_LIMIT_BYTES:
            raise DataPlaneTooLarge(f"data_plane: real would move {moved / 1e9:.1f} GB of real bytes for this trace; "
                                    "use 'modelled' or 'sampled' for traces this large")

    def _stock(self, requests: Sequence[Request]) -> None:
        """Store what the trace shows existed before it started (unpriced set-up)."""
        index = ImageIndex()
        uploaded: set[str] = set()
        pushed_images: set[tuple[str, str]] = set()
        before: dict[str, dict[str, None]] = {}  # digest -> repositories, in first-seen order
        images: dict[tuple[str, str], str] = {}  # (repository, tag) -> trace reference
        for r in requests:
            if not ok(r):
                continue
            if r.kind == "blob" and r.method == "GET" and r.reference:
                index.blob_pulled(r.client, r.repository, r.reference, self.sizes.get(r.reference, r.size), r.time)
                if r.reference not in uploaded:
                    before.setdefault(r.reference, {})[r.repository] = None
            elif r.kind == "blob" and r.method == "HEAD" and r.reference:
                index.blob_checked(r.client, r.repository, r.reference)
                if r.reference not in uploaded:
                    before.setdefault(r.reference, {})[r.repository] = None
            elif r.kind == "upload" and r.method == "PUT" and r.reference:
                index.blob_pushed(r.client, r.repository, r.reference, self.sizes.get(r.reference, r.size))
                uploaded.add(r.reference)
            elif r.kind == "manifest" and r.method == "PUT":
                index.manifest_pushed(r.client, r.repository, r.reference)
                pushed_images.add((r.repository, registry_tag(r.reference)))
            elif r.kind == "manifest" and r.method == "GET":
                index.manifest_pulled(r.client, r.repository, r.reference, r.time)
                image = (r.repository, registry_tag(r.reference))
                if image not in pushed_images:
                    images.setdefault(image, r.reference)
        with receipts.suspended():
            for digest, repos in before.items():
                for repo in repos:
                    self._settle(self._link, repo, digest, what=f"blob {digest} in {repo}")
            for (repo, tag), reference in images.items():
                layers = {d: s for d, s in index.layers(repo, reference).items() if d in self.blobs}
                for digest in layers:
                    self._settle(self._link, repo, digest, what=f"blob {digest} in {repo}")
                self.stocked_images += self._settle(self._put_image, repo, tag, layers, what=f"image {repo}:{tag}")
        self.stocked_blobs = len(self.blobs)

    def _settle(self, fn: Callable[..., object], *args: object, what: str) -> bool:
        """Run one set-up step; a name the registry refuses is remembered, not raised."""
        try:
            fn(*args)
        except RegistryError as exc:
            self.stock_errors[what] = f"{type(exc).__name__}: {exc}"
            return False
        return True

    def _bytes(self, digest: str) -> bytes:
        """The bytes standing for ``digest``: they depend on the digest alone, not on the run's seed.

        So every variant of a sweep stores the same blobs on the same storage nodes, and a
        comparison of caches is not blurred by blobs landing elsewhere (common random numbers).
        """
        size = self.sizes.get(digest, 0)
        n = max(MIN_SAMPLE, size if self.mode == "real" else min(size, SAMPLE_BYTES))
        rng = np.random.default_rng(derive_seed(0, "trace-blob", digest))
        return rng.integers(0, 256, n, dtype=np.uint8).tobytes()

    def _store(self, repo: str, digest: str) -> StoredBlob:
        data = self._bytes(digest)
        real = self.registry.put_blob(repo, data)
        blob = self.blobs.get(digest)
        if blob is None:
            blob = self.blobs[digest] = StoredBlob(real, self.sizes.get(digest, 0), len(data))
            self.trace_digest[str(real)] = digest
            self._home[digest] = repo
        return blob

    def _link(self, repo: str, digest: str) -> StoredBlob:
        """``digest`` linked into ``repo``: mounted from where it is stored, else stored there."""
        blob = self.blobs.get(digest)
        if blob is None:
            return self._store(repo, digest)
        if not self.registry.has_blob(repo, blob.real):
            self.registry.mount_blob(repo, self._home[digest], blob.real)
        return blob

    def _put_image(self, repo: str, tag: str, layers: dict[str, int]) -> bytes:
        """Store a real manifest (and its image config, unpriced) listing ``layers`` at their modelled sizes."""
        with receipts.suspended():
            config = json.dumps({"architecture": "amd64", "os": "linux", "image": f"{repo}:{tag}",
                                 "rootfs": {"type": "layers",
                                            "diff_ids": [str(self.blobs[d].real) for d in layers]}}).encode()
            config_digest = self.registry.put_blob(repo, config)
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": str(config_digest), "size": len(config)},
            "layers": [{"mediaType": OCI_LAYER, "digest": str(self.blobs[d].real), "size": size}
                       for d, size in layers.items()],
        }).encode()
        self.registry.put_manifest(repo, tag, manifest, OCI_MANIFEST)
        return manifest

    # -- requests: each returns the receipt of the real work, at modelled sizes ---------------------

    def size(self, digest: str, default: int = 0) -> int:
        """The modelled size of the blob ``digest`` (the trace's)."""
        return self.sizes.get(digest, default)

    def read(self, repo: str, digest: str) -> Receipt:
        """A blob GET: the real read of ``digest`` in ``repo``; :class:`BlobUnknown` if it was never stored."""
        blob = self.blobs.get(digest)
        if blob is None:
            raise BlobUnknown(f"blob {digest} is unknown to the registry (never fetched nor pushed before)")
        with receipts.suspended():
            self._link(repo, digest)  # a layer of a cross-repository mount the trace does not show
        real_read = self.mode == "real" or (self.mode == "sampled" and blob.verified < SAMPLED_NODES)
        if not real_read and digest in self._memo:
            return self._memo[digest]
        with receipts.collect() as work:
            data = self.registry.get_blob(repo, blob.real)
            if self.mode != "modelled":
                check_bytes(data, blob.real)
        if self.mode == "sampled":
            blob.verified += 1
        receipt = merged(scale(work, blob.size, blob.sample, self.extent))
        if self.mode != "real":
            self._memo[digest] = receipt
        return receipt

    def head(self, client: str, repo: str, digest: str) -> Receipt:
        """A blob HEAD during a push: a blob the registry holds anywhere is mounted, and the push reuses it."""
        blob = self.blobs.get(digest)
        if blob is None:
            raise BlobUnknown(f"blob {digest} is unknown to the registry")
        with receipts.suspended():
            self._link(repo, digest)
        with receipts.collect() as work:
            self.registry.stat_blob(repo, blob.real)
        self._pushing.setdefault((client, repo), {})[digest] = blob.size
        return work

    def push(self, client: str, repo: str, digest: str) -> Receipt:
        """A finished upload: the real ``put_blob`` of ``digest``'s bytes, scaled to its modelled size."""
        with receipts.collect() as work:
            blob = self._store(repo, digest)
        self._pushing.setdefault((client, repo), {})[digest] = blob.size
        self._memo.pop(digest, None)
        return merged(scale(work, blob.size, blob.sample, self.extent))

    def manifest_put(self, client: str, repo: str, reference: str) -> tuple[Receipt, int]:
        """A manifest PUT: a real manifest of the layers ``client`` pushed or reused in ``repo``; (receipt, bytes)."""
        layers = self._pushing.pop((client, repo), {})
        with receipts.collect() as work:
            manifest = self._put_image(repo, registry_tag(reference), layers)
        return work, len(manifest)

    def manifest_get(self, repo: str, reference: str) -> tuple[Receipt, int, dict[str, int]]:
        """A manifest GET: (receipt, bytes of the manifest, its layers as trace digest -> modelled size)."""
        with receipts.collect() as work:
            stored = self.registry.get_manifest(repo, registry_tag(reference))
        layers = {}
        for layer in json.loads(stored.data).get("layers", []):
            digest = self.trace_digest.get(layer["digest"])
            if digest is not None:
                layers[digest] = int(layer["size"])
        return work, len(stored.data), layers
