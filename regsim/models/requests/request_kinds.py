"""The four request kinds of the ``poisson`` and ``closed`` models, through the real registry.

:class:`RegistryRequests` is the part of :class:`~regsim.models.requests.run.PoissonRun` that runs
one request past the access layer: its auth check (:mod:`.auth_path`), then a layer pull, a
layer push, a manifest GET, or nothing more (a token request), each with the real registry's
receipt replayed on the platform. The docstring of :mod:`.poisson` says what each one does.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Generator
from typing import TYPE_CHECKING

import simpy

from regsim.registry import receipts
from regsim.registry.blobstore import extent_key
from regsim.registry.digest import Digest
from regsim.registry.receipts import Kind, Receipt

from .monitoring import STORAGE, Monitor
from regsim.models.core.work import SAMPLE_BYTES, SAMPLED_NODES, RegistryWork, check_bytes, merged, on_frontend, scale
from .storage_failures import StorageFailures, readable

if TYPE_CHECKING:
    from regsim.registry.registry import Registry

    from .auth_path import AuthPath
    from .run import Request
    from regsim.models.core.replay import Replay

#: reads of one pull that a failing disk may cut short before the pull gives up
MAX_RETRIES = 3

Steps = Generator[simpy.Event, object, None]


class RegistryRequests:
    """Pull, push, manifest GET and token request of a run (a mix-in of ``PoissonRun``)."""

    work: RegistryWork
    registry: Registry
    auth: AuthPath
    replay: Replay
    k: int
    blob_sizes: dict[str, tuple[int, int]]
    repositories: list[str]
    repo_bytes: Counter[str]
    _rng: dict
    _memo: dict[tuple, Receipt]
    _manifest: Receipt | None
    _manifest_down: tuple[str, ...] = ()
    storage: StorageFailures
    _verified: Counter[int]
    _pushes: int

    env: simpy.Environment
    monitor: Monitor
    capacity: float | None
    overhead: float

    def _observe_storage(self) -> None:
        """Tell the monitor the registry's storage utilisation (after set-up and every push)."""
        if self.capacity is not None:
            stored = self.overhead * sum(self.repo_bytes.values())
            self.monitor.observe(self.env.now, STORAGE, "registry", stored / self.capacity)

    def _auth(self, req: Request, host: str, frontend: str) -> Steps:
        yield from self.auth.check(req.client, host, frontend, self.replay, fresh=True)

    def _manifest_get(self, req: Request, host: str, frontend: str) -> Steps:
        """A real manifest read; its receipt is reused while the same storage nodes are down."""
        down = self.storage.down
        if self._manifest is None or self.work.mode == "real" or down != self._manifest_down:
            self._manifest, self._manifest_down = self.work.manifest_get(), down
        yield from self.auth.check(req.client, host, frontend, self.replay, then=self._manifest)

    def _pull(self, req: Request, host: str, frontend: str) -> Steps:
        yield from self.auth.check(req.client, host, frontend, self.replay)
        req.layer = index = int(self._rng["layers"].integers(len(self.work.layers)))
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
        yield from self.auth.check(req.client, host, frontend, self.replay)
        req.size = size = int(self._rng["sizes"].choice(self.work.sizes))
        sample = size if self.work.mode == "real" else min(size, SAMPLE_BYTES)
        data = self._rng["bytes"].bytes(sample)
        repo = self.repositories[self._pushes % len(self.repositories)]
        self._pushes += 1
        with receipts.collect() as work:
            digest = self.registry.put_blob(repo, data)
        self.blob_sizes[str(digest)] = (size, sample)
        receipt = merged(scale(work, size, sample, self.work.extent))
        failed = yield from self.replay.stream(on_frontend(receipt, frontend), host, frontend, size, tag="ingress")
        req.lost_writes = sum(1 for item in failed if item.kind == Kind.DISK_WRITE)
        self.repo_bytes[repo] += size
        self._observe_storage()

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

    def _scale_of(self, key: str) -> tuple[int, int]:
        """(modelled size, real size) of the blob owning cluster key ``blobs/<alg>/<xx>/<hex>/<i>``."""
        parts = key.split("/")
        digest = f"{parts[1]}:{parts[3]}" if len(parts) == 5 else ""
        return self.blob_sizes.get(digest, (1, 1))
