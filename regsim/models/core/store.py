"""The real registry a model drives, built from the scenario's ``registry`` section.

Every model that runs registry work (rollouts, the open- and closed-loop request models, trace
replay) builds its registry here, so that each storage setting reaches the real code:
``registry.storage.backend: filesystem`` puts the fragments and the metadata in files, under a
temporary folder that lives as long as the registry object and is removed with it.
"""

from __future__ import annotations

import tempfile
import weakref
from pathlib import Path

from regsim.registry.config import RegistryConfig
from regsim.registry.registry import Registry
from .spec import ModelConfig

#: the extent a model's registry stores blobs in: every model prices reads per 64 MiB extent
EXTENT = 64 << 20


def build_registry(scenario: ModelConfig, *, extent: int = EXTENT) -> Registry:
    """A registry with the scenario's codec, nodes, encryption, segments, replica reads and backend."""
    reg = scenario.registry
    storage = reg.storage
    root = None
    if storage.backend == "filesystem":
        folder = tempfile.TemporaryDirectory(prefix="regsim-store-")
        root = Path(folder.name)
    registry = Registry(RegistryConfig(
        backend=storage.backend, root=root, codec=storage.codec, nodes=storage.nodes,
        encryption=reg.encryption, segment_size=storage.segment_size, extent_size=extent,
        replica_reads=storage.replica_reads, fsync=False))
    if root is not None:
        weakref.finalize(registry, folder.cleanup)
    return registry
