"""A buffered writer onto a storage cluster, so the cluster can stand in for any BlobBackend.

Erasure coding needs the whole blob (the chunk length depends on its size), so the writer keeps
what it is given and encodes it once, on :meth:`ClusterWriter.commit`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import BlobUploadInvalid
from ..storage.base import CommitOnExit

if TYPE_CHECKING:
    from .cluster import StorageCluster


class ClusterWriter(CommitOnExit):
    """Nothing is visible under ``key`` until :meth:`commit`; :meth:`cancel` leaves the key as it was."""

    def __init__(self, cluster: StorageCluster, key: str, initial: bytes = b"") -> None:
        self.key = key
        self._cluster = cluster
        self._buf = bytearray(initial)
        self._done = False

    @property
    def size(self) -> int:
        return len(self._buf)

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._done:
            raise BlobUploadInvalid(f"write to {self.key!r} after commit or cancel")
        self._buf += data
        return memoryview(data).nbytes

    def commit(self) -> None:
        if self._done:
            raise BlobUploadInvalid(f"{self.key!r} was already committed or cancelled")
        self._done = True
        self._cluster.put(self.key, self._buf)
        self._buf = bytearray()

    def cancel(self) -> None:
        self._done = True
        self._buf = bytearray()

