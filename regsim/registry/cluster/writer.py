"""A buffered writer onto a storage cluster, so the cluster can stand in for any BlobBackend.

Erasure coding needs the whole blob (the chunk length depends on its size), so the writer keeps
what it is given and encodes it once, on commit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..storage.base import BufferedWriter

if TYPE_CHECKING:
    from .cluster import StorageCluster


class ClusterWriter(BufferedWriter):
    """Nothing is visible under ``key`` until :meth:`commit`; :meth:`cancel` leaves the key as it was."""

    def __init__(self, cluster: StorageCluster, key: str, initial: bytes = b"") -> None:
        super().__init__(key, cluster.put, initial)
