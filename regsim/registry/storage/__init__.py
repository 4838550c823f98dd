"""Storage backends: where a registry's bytes live.

One protocol (:class:`BlobBackend`), backends that implement it (:class:`MemoryBackend`,
:class:`FilesystemBackend`, :class:`S3Backend`), one wrapper that adds receipts and counters to
any of them (:class:`MeteredBackend`), and a factory that builds them from configuration
(:func:`make_backend`).

:class:`S3Backend` and :class:`S3Writer` are imported on first use (``from
regsim.registry.storage import S3Backend`` works as usual): they need boto3, whose import costs
more than the rest of the registry's, and only an S3 store needs it.
"""

from .base import BackendWriter, BlobBackend, check_key
from .factory import BackendFactory, backend_kinds, check_options, make_backend, register_backend
from .filesystem import FilesystemBackend, FilesystemWriter
from .memory import MemoryBackend, MemoryWriter
from .metered import MeteredBackend, MeteredWriter

_LAZY = {"S3Backend": ".s3", "S3Writer": ".s3_writer"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BackendFactory",
    "BackendWriter",
    "BlobBackend",
    "FilesystemBackend",
    "FilesystemWriter",
    "MemoryBackend",
    "MemoryWriter",
    "MeteredBackend",
    "MeteredWriter",
    "S3Backend",
    "S3Writer",
    "backend_kinds",
    "check_key",
    "check_options",
    "make_backend",
    "register_backend",
]
