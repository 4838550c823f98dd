"""How a registry is put together: backend, storage nodes, codec, encryption."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError

#: the backends a registry's storage nodes and metadata store can be built on
BACKENDS = ("memory", "filesystem", "s3")


@dataclass(frozen=True)
class S3Settings:
    """Where an ``s3`` registry keeps its objects: a bucket, a key prefix inside it (the storage
    nodes go under ``<prefix>/nodes/<node>/``, the metadata under ``<prefix>/meta/``, as under a
    filesystem root), the endpoint (None: AWS) and region, the multipart part size and the
    attempts per request. Credentials are not configured here: boto3 finds them in the
    environment or in ``~/.aws`` (see :mod:`regsim.registry.storage.s3`), so a configuration can
    be printed, logged and committed without leaking them."""

    bucket: str
    prefix: str = ""
    endpoint_url: str | None = None
    region: str | None = None
    part_size: int = 8 << 20
    max_attempts: int = 5

    def backend_options(self, under: str) -> dict[str, Any]:
        """The s3 backend options for the part of the store at ``<prefix>/<under>``."""
        prefix = "/".join(p for p in (self.prefix.strip("/"), under) if p)
        options: dict[str, Any] = {"bucket": self.bucket, "prefix": prefix, "part_size": self.part_size,
                                   "max_attempts": self.max_attempts}
        if self.endpoint_url is not None:
            options["endpoint_url"] = self.endpoint_url
        if self.region is not None:
            options["region"] = self.region
        return options


@dataclass(frozen=True)
class RegistryConfig:
    """Everything :class:`~regsim.registry.registry.Registry` needs to wire itself.

    ``backend`` is the kind of every storage node and of the metadata store (``memory``,
    ``filesystem``, which needs ``root``, or ``s3``, which needs ``s3``: :class:`S3Settings`; with
    encryption, give it a ``keyring`` file too, or its keyring dies with the process). ``codec`` is
    ``replicate(n)`` or ``rs(k,m)``, spread over ``nodes`` storage nodes (at least the codec's
    ``n``). ``encryption`` is ``none`` or ``aes-256-gcm`` (envelope encryption with a keyring;
    ``keyring`` is a keyring file to load or create, generated in memory when absent). Blobs are stored in extents of ``extent_size`` bytes,
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
    s3: S3Settings | None = None

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ConfigError(f"registry.backend: expected 'memory', 'filesystem' or 's3', got {self.backend!r}")
        if self.backend == "filesystem" and self.root is None:
            raise ConfigError("registry.root: the filesystem backend needs a root directory")
        if self.backend == "s3" and self.s3 is None:
            raise ConfigError("registry.s3: the s3 backend needs its settings (at least a bucket)")
        if self.backend != "s3" and self.s3 is not None:
            raise ConfigError(f"registry.s3: S3 settings are only used with the s3 backend (backend is {self.backend!r})")
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

    @property
    def persistent(self) -> bool:
        """Whether the store outlives the process (so a registry opening it rebuilds its index)."""
        return self.backend in ("filesystem", "s3")

    def backend_spec(self, name: str) -> dict[str, Any]:
        """The :func:`~regsim.registry.storage.factory.make_backend` spec of storage node ``name``,
        or of the metadata store when ``name`` is ``meta``."""
        spec: dict[str, Any] = {"kind": self.backend}
        if self.backend == "filesystem":
            spec["fsync"] = self.fsync
        elif self.backend == "s3" and self.s3 is not None:
            spec.update(self.s3.backend_options("meta" if name == "meta" else f"nodes/{name}"))
        return spec
