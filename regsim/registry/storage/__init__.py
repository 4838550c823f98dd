"""Storage backends: where a registry's bytes live.

One protocol (:class:`BlobBackend`), backends that implement it (:class:`MemoryBackend`,
:class:`FilesystemBackend`), one wrapper that adds receipts and counters to any of them
(:class:`MeteredBackend`), and a factory that builds them from configuration
(:func:`make_backend`).
"""

from .base import BackendWriter, BlobBackend, check_key
from .factory import BackendFactory, backend_kinds, check_options, make_backend, register_backend
from .filesystem import FilesystemBackend, FilesystemWriter
from .memory import MemoryBackend, MemoryWriter
from .metered import MeteredBackend, MeteredWriter

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
    "backend_kinds",
    "check_key",
    "check_options",
    "make_backend",
    "register_backend",
]
