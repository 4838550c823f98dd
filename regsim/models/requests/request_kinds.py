"""The four request kinds of the ``poisson`` and ``closed`` models, through the real registry.

:class:`RegistryRequests` runs one request past the access layer: its auth check
(:mod:`.auth_path`), then a layer pull, a layer push, a manifest GET, or nothing more (a token
request), each with the real registry's receipt replayed on the platform (the docstring of
:mod:`.run` says what each one does) and the HTTP handling of the requests it makes
(:data:`HTTP_REQUESTS`, priced by endpoint class on the frontend's cores). It keeps what the registry path needs between requests:
the receipts it may reuse, the sizes of every blob (:class:`BlobSizes`) and the repositories
pushes go to (:class:`Repositories`, which tells the monitor how full the storage is).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Generator
from typing import TYPE_CHECKING

import numpy as np
import simpy

from regsim.registry import receipts
from regsim.registry.blobstore import extent_key
from regsim.registry.digest import Digest
from regsim.registry.receipts import Kind, Receipt

from regsim.models.core.work import SAMPLE_BYTES, SAMPLED_NODES, RegistryWork, check_bytes, merged, on_frontend, scale

from .monitoring import STORAGE, Monitor
from .request import AUTH, MANIFEST, PULL, PUSH, Request
from .storage_failures import StorageFailures, readable

if TYPE_CHECKING:
    from regsim.models.core.replay import Replay
    from regsim.registry.registry import Registry

    from .auth_path import AuthPath

__all__ = ["HTTP_REQUESTS", "MAX_RETRIES", "BlobSizes", "RegistryRequests", "Repositories"]

#: reads of one pull that a failing disk may cut short before the pull gives up
MAX_RETRIES = 3

#: a pushed sample at least this long (random bytes) is unique in a run, so it may be retired
RETIRE_MIN_BYTES = 32

#: the HTTP requests each request kind makes of a frontend, by endpoint class (``http_*`` kinds,
#: priced on the frontend's cores): a token request is followed by the client's ``GET /v2/`` with
#: the new token; a pull starts one blob GET; a push is an upload in three steps (POST, one PATCH
#: with the layer, PUT with the digest), as Docker and containerd stream a layer; a manifest
#: request is one manifest GET.
HTTP_REQUESTS: dict[str, tuple[str, ...]] = {
    AUTH: (Kind.HTTP_PING,),
    PULL: (Kind.HTTP_BLOB_GET,),
    PUSH: (Kind.HTTP_UPLOAD_START, Kind.HTTP_UPLOAD_CHUNK, Kind.HTTP_UPLOAD_FINISH),
    MANIFEST: (Kind.HTTP_MANIFEST_GET,),
}

Steps = Generator[simpy.Event, object, None]


class BlobSizes:
    """Blob digest -> (modelled size, bytes really stored), for every layer the registry holds: the
    image's, and each one pushed. Receipts of work on a sample are priced at the modelled size.

    A pushed blob that nothing will read again is *retired* (:meth:`retire`): deleted from the real
    registry and from this map, its stored, real and modelled bytes kept as three running totals,
    so that a long run holds O(1) per push and :meth:`storage_overhead` still counts every push.
    """

    def __init__(self, work: RegistryWork) -> None:
        self._sizes = {str(d): (size, sample) for d, size, sample in
                       zip(work.layers, work.sizes, work.sample_sizes)}
        #: bytes on the storage nodes (fragments and headers), real bytes and modelled bytes of
        #: the blobs retired so far
        self.retired_stored = self.retired_real = self.retired_logical = 0
        self.retired = 0

    def add(self, digest: str, size: int, sample: int) -> None:
        self._sizes[digest] = (size, sample)

    def __contains__(self, digest: str) -> bool:
        return digest in self._sizes

    def get(self, digest: str, default: tuple[int, int]) -> tuple[int, int]:
        return self._sizes.get(digest, default)

    def retire(self, registry: Registry, repo: str, digest: Digest) -> None:
        """Delete ``digest`` (pushed into ``repo``, added here) from ``registry``; keep its sizes
        in the running totals. The deletion is bookkeeping of the simulator, not priced."""
        size, real = self._sizes.pop(str(digest))
        with receipts.suspended():
            before = registry.stored_bytes()  # cheap: retiring keeps few blobs stored
            registry.delete_blob(repo, digest)  # the repository's link
            registry.blobs.delete(digest)  # its record and fragments, as GC would sweep it
            self.retired_stored += before - registry.stored_bytes()
        self.retired_real += real
        self.retired_logical += size
        self.retired += 1

    def storage_overhead(self, registry: Registry) -> tuple[float, int, int]:
        """(stored bytes per plaintext byte, stored bytes and plaintext bytes at modelled sizes) of
        ``registry`` and the blobs retired from it: :func:`.report.storage_overhead` of the
        registry had nothing been retired (the same integer sums, the same one division)."""
        blobs = registry.blobs
        real, logical = self.retired_real, self.retired_logical
        for digest in blobs.digests():
            size = blobs.size(digest)
            real += size
            logical += self.get(str(digest), (size, size))[0]
        overhead = (registry.stored_bytes() + self.retired_stored) / real if real else float("nan")
        return overhead, int(round(overhead * logical)) if real else 0, logical

    def of_key(self, key: str) -> tuple[int, int]:
        """(modelled size, real size) of the blob owning cluster key ``blobs/<alg>/<xx>/<hex>/<i>``."""
        parts = key.split("/")
        digest = f"{parts[1]}:{parts[3]}" if len(parts) == 5 else ""
        return self._sizes.get(digest, (1, 1))


class Repositories:
    """The repositories pushes go to, in turn, and the bytes each holds (modelled sizes; stored
    bytes are these times the registry's storage overhead, measured on the image at set-up).

    With a storage ``capacity`` (bytes over every storage node), each change is reported to the
    monitor as the registry's storage utilisation.
    """

    def __init__(self, work: RegistryWork, count: int, *, capacity: float | None, monitor: Monitor,
                 env: simpy.Environment) -> None:
        self.names = [work.repo] + [f"{work.repo}-{i}" for i in range(1, count)]
        #: repository -> bytes pushed into it (modelled sizes)
        self.bytes = Counter({repo: 0 for repo in self.names})
        self.bytes[work.repo] = sum(work.sizes)
        self.overhead = work.registry.stored_bytes() / max(1, sum(work.sample_sizes))
        self.capacity, self.monitor, self.env = capacity, monitor, env
        self._pushes = 0

    def next(self) -> str:
        """The repository the next push goes to."""
        repo = self.names[self._pushes % len(self.names)]
        self._pushes += 1
        return repo

    def add(self, repo: str, size: int) -> None:
        """``size`` bytes landed in ``repo``."""
        self.bytes[repo] += size
        self.observe()

    def observe(self) -> None:
        """Tell the monitor the registry's storage utilisation (after set-up and every push)."""
        if self.capacity is not None:
            stored = self.overhead * sum(self.bytes.values())
            self.monitor.observe(self.env.now, STORAGE, "registry", stored / self.capacity)


class RegistryRequests:
    """Pull, push, manifest GET and token request, through ``auth`` and the real registry of ``work``.

    ``layers`` draws the layer a pull reads, ``sizes`` a push's size among the image's layers and
    ``data`` its bytes; ``storage`` says which nodes are down; ``k`` is the codec's data fragments.
    """

    def __init__(self, work: RegistryWork, auth: AuthPath, replay: Replay, storage: StorageFailures, *,
                 blobs: BlobSizes, repositories: Repositories, k: int, layers: np.random.Generator,
                 sizes: np.random.Generator, data: np.random.Generator) -> None:
        self.work, self.registry, self.auth, self.replay, self.storage = work, work.registry, auth, replay, storage
        self.blobs, self.repositories, self.k = blobs, repositories, k
        self.layers, self.sizes, self.data = layers, sizes, data
        self._memo: dict[tuple, Receipt] = {}
        self._verified: Counter[int] = Counter()
        self._manifest: Receipt | None = None
        self._manifest_down: tuple[str, ...] = ()
        self._handlers = {PULL: self._pull, PUSH: self._push, AUTH: self._auth, MANIFEST: self._manifest_get}

    def serve(self, req: Request, host: str, frontend: str) -> Steps:
        """Run ``req`` (from a client on ``host``) on ``frontend``; it notes on ``req`` what happened."""
        yield from self._handlers[req.kind](req, host, frontend)

    def _auth(self, req: Request, host: str, frontend: str) -> Steps:
        yield from self.auth.check(req.client, host, frontend, self.replay, fresh=True, http=HTTP_REQUESTS[AUTH])

    def _manifest_get(self, req: Request, host: str, frontend: str) -> Steps:
        """A real manifest read; its receipt is reused while the same storage nodes are down."""
        down = self.storage.down
        if self._manifest is None or self.work.mode == "real" or down != self._manifest_down:
            self._manifest, self._manifest_down = self.work.manifest_get(), down
        yield from self.auth.check(req.client, host, frontend, self.replay, then=self._manifest,
                                   http=HTTP_REQUESTS[MANIFEST])

    def _pull(self, req: Request, host: str, frontend: str) -> Steps:
        yield from self.auth.check(req.client, host, frontend, self.replay, http=HTTP_REQUESTS[PULL])
        req.layer = index = int(self.layers.integers(len(self.work.layers)))
        req.size = self.work.sizes[index]
        for _ in range(MAX_RETRIES + 1):
            state = self._state(self.work.layers[index])
            req.lost = max(s.count(False) for s in state)
            req.degraded = any(not all(s[: self.k]) for s in state)
            receipt = self._read(index, state)
            req.decoded = any(item.kind == Kind.EC_DECODE for item in receipt)
            failed = yield from self.replay.stream(on_frontend(receipt, frontend), frontend, host, req.size,
                                                   tag="egress")
            if not failed:
                return
            req.retries += 1
        req.failure, req.error = "registry", f"gave up after {MAX_RETRIES + 1} reads cut short by failing disks"

    def _push(self, req: Request, host: str, frontend: str) -> Steps:
        yield from self.auth.check(req.client, host, frontend, self.replay, http=HTTP_REQUESTS[PUSH])
        req.size = size = int(self.sizes.choice(self.work.sizes))
        sample = size if self.work.mode == "real" else min(size, SAMPLE_BYTES)
        data = self.data.bytes(sample)
        repo = self.repositories.next()
        with receipts.collect() as work:
            digest = self.registry.put_blob(repo, data)
        del data  # not held while the push streams: an overloaded run has many pushes in flight
        retire = self._retirable(str(digest), sample)
        self.blobs.add(str(digest), size, sample)
        receipt = merged(scale(work, size, sample, self.work.extent))
        if retire:  # priced: no request reads it again, and no repair will rebuild it
            self.blobs.retire(self.registry, repo, digest)
        failed = yield from self.replay.stream(on_frontend(receipt, frontend), host, frontend, size, tag="ingress")
        req.lost_writes = sum(1 for item in failed if item.kind == Kind.DISK_WRITE)
        self.repositories.add(repo, size)

    def _retirable(self, digest: str, sample: int) -> bool:
        """A push of ``sample`` random bytes hashing to ``digest`` may be deleted once priced.

        No request reads a pushed blob (pulls, manifest GETs and scans read the image), so what
        keeps it is only the repair, which rebuilds every blob stored when a node is replaced: a
        run that may replace one (:attr:`.storage_failures.StorageFailures.replaces`) keeps every
        push. A blob the registry held already (the push was a no-op) is kept, and so is a sample
        too short to be unique: a later push of the same bytes must find it, as it would have.
        """
        return not self.storage.replaces and sample >= RETIRE_MIN_BYTES and digest not in self.blobs

    # -- the real registry ---------------------------------------------------------------------------

    def _state(self, digest: Digest) -> tuple[tuple[bool, ...], ...]:
        """Which fragments of each extent of the blob a read can fetch now."""
        extents = int(self.registry.blobs.info(digest)["extents"])
        return tuple(readable(self.registry, extent_key(digest, i)) for i in range(extents))

    def _read(self, index: int, state: tuple) -> Receipt:
        """The receipt of reading layer ``index`` for real, priced at its modelled size.

        A real data plane verifies every read; a sampled one verifies the first few reads of each
        layer and then reuses the receipt of a read made in the same fragment state.
        """
        mode, digest = self.work.mode, self.work.layers[index]
        memo = (index, state)
        if mode == "sampled" and memo in self._memo and self._verified[index] >= SAMPLED_NODES:
            return self._memo[memo]
        with receipts.collect() as work:
            data = self.registry.get_blob(self.work.repo, digest)
            if mode != "modelled":
                check_bytes(data, digest)
        receipt = merged(scale(work, self.work.sizes[index], self.work.sample_sizes[index], self.work.extent))
        if mode == "sampled":
            self._verified[index] += 1
            self._memo[memo] = receipt
        return receipt
