"""How a registry is put together: backend, storage nodes, codec, encryption."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError


@dataclass(frozen=True)
class RegistryConfig:
    """Everything :class:`~regsim.registry.registry.Registry` needs to wire itself.

    ``backend`` is the kind of every storage node and of the metadata store (``memory`` or
    ``filesystem``; the latter needs ``root``). ``codec`` is ``replicate(n)`` or ``rs(k,m)``, spread
    over ``nodes`` storage nodes (at least the codec's ``n``). ``encryption`` is ``none`` or
    ``aes-256-gcm`` (envelope encryption with a keyring; ``keyring`` is a keyring file to load or
    create, generated in memory when absent). Blobs are stored in extents of ``extent_size`` bytes,
    each encrypted (in ``segment_size`` segments) and erasure-coded on its own, so they stream.
    ``replica_reads`` (``spread`` or ``primary``) says which copy of a replicated blob a read
    fetches (see :class:`~regsim.registry.cluster.cluster.StorageCluster`). ``upload_grace_s`` is
    how long an upload session, or a temporary part a killed writer left, may stay untouched before
    :meth:`~regsim.registry.registry.Registry.sweep_uploads` and GC remove it (None: GC uses its
    own grace period, a sweep an hour).
    """

    backend: str = "memory"
    root: Path | None = None
    codec: str = "replicate(1)"
    nodes: int = 1
    encryption: str = "none"
    keyring: Path | None = None
    segment_size: int = 1 << 20
    extent_size: int = 64 << 20
    replica_reads: str = "spread"
    frontend: str = "frontend"
    verify_reads: bool = False
    fsync: bool = True
    upload_grace_s: float | None = None

    def __post_init__(self) -> None:
        if self.backend not in ("memory", "filesystem"):
            raise ConfigError(f"registry.backend: expected 'memory' or 'filesystem', got {self.backend!r}")
        if self.backend == "filesystem" and self.root is None:
            raise ConfigError("registry.root: the filesystem backend needs a root directory")
        if self.encryption not in ("none", "aes-256-gcm"):
            raise ConfigError(f"registry.encryption: expected 'none' or 'aes-256-gcm', got {self.encryption!r}")
        if self.nodes < 1:
            raise ConfigError(f"registry.nodes: expected at least 1, got {self.nodes}")
        if self.replica_reads not in ("spread", "primary"):
            raise ConfigError(f"registry.storage.replica_reads: expected 'spread' or 'primary', got {self.replica_reads!r}")
        if self.extent_size < 1:
            raise ConfigError(f"registry.extent_size: expected a positive number of bytes, got {self.extent_size}")
        if self.upload_grace_s is not None and not self.upload_grace_s >= 0:
            raise ConfigError(f"registry.upload_grace_s: expected a non-negative number of seconds, "
                              f"got {self.upload_grace_s}")
        if self.segment_size < 1024:
            raise ConfigError(f"registry.segment_size: expected at least 1024 bytes, got {self.segment_size}")

    def node_names(self) -> list[str]:
        return [f"s{i}" for i in range(self.nodes)]

    def node_root(self, name: str) -> Path | None:
        return None if self.root is None else Path(self.root) / "nodes" / name

    def meta_root(self) -> Path | None:
        return None if self.root is None else Path(self.root) / "meta"
