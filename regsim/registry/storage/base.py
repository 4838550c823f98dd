"""The blob-backend protocol: the small driver interface every storage backend implements.

Modelled on CNCF distribution's storage driver: whole-object put/get, a reader at an offset, a
writer with commit and cancel, stat, list, delete. Keys are slash-separated relative paths such as
``blobs/sha256/ab/ab12...``; :func:`check_key` rejects anything that could escape a backend's root.
Backends stay free of receipts and metrics: :class:`~regsim.registry.storage.metered.MeteredBackend`
adds both around any backend.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Protocol, runtime_checkable

from ..errors import BlobUploadInvalid, InvalidKey

_KEY_COMPONENT = re.compile(r"[A-Za-z0-9._:+=-]+")


def check_key(key: str) -> str:
    """Return ``key`` if it is a safe relative path, else raise :class:`InvalidKey`."""
    if not isinstance(key, str) or not key:
        raise InvalidKey("storage key is empty")
    if key.startswith("/") or "\\" in key or "\x00" in key:
        raise InvalidKey(f"storage key {key!r} must be a relative slash-separated path")
    for part in key.split("/"):
        if part in ("", ".", "..") or not _KEY_COMPONENT.fullmatch(part):
            raise InvalidKey(f"storage key {key!r} has an invalid component {part!r}")
    return key


class CommitOnExit:
    """Mixin for writers: ``with`` commits on normal exit and cancels on an exception.

    The writer sets ``self._done`` once it has committed or cancelled, so leaving the block after
    an explicit commit or cancel does nothing more.
    """

    _done: bool

    def __enter__(self):
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if self._done:
            return
        if exc_type is None:
            self.commit()
        else:
            self.cancel()


class BufferedWriter(CommitOnExit):
    """A writer that keeps what it is given and hands it to ``publish(key, data)`` on commit.

    For stores that can only take an object whole: memory, and a storage cluster (erasure coding
    needs the whole blob, since the chunk length depends on its size). Nothing is visible under
    the key until :meth:`commit`; :meth:`cancel` leaves the key as it was.
    """

    def __init__(self, key: str, publish: Callable[[str, bytearray], None], initial: bytes = b"") -> None:
        self.key = key
        self._publish = publish
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
        buf, self._buf = self._buf, bytearray()
        self._publish(self.key, buf)

    def cancel(self) -> None:
        self._done = True
        self._buf = bytearray()


@runtime_checkable
class BackendWriter(Protocol):
    """An in-progress write. Nothing is visible under the key until :meth:`commit`."""

    key: str

    @property
    def size(self) -> int:
        """Bytes written so far (including what an appending writer started with)."""
        ...

    def write(self, data: bytes | bytearray | memoryview) -> int: ...

    def commit(self) -> None:
        """Make the written bytes visible under the key, atomically and durably."""
        ...

    def cancel(self) -> None:
        """Discard everything written; the key keeps its previous content, if any."""
        ...

    def __enter__(self) -> BackendWriter: ...

    def __exit__(self, *exc: object) -> None:
        """Commit on normal exit, cancel on an exception."""
        ...


@runtime_checkable
class BlobBackend(Protocol):
    """Where bytes live. One instance is one storage node's disk (or a plain single store)."""

    name: str

    def put(self, key: str, data: bytes | bytearray | memoryview) -> None: ...

    def get(self, key: str) -> bytes: ...

    def read_at(self, key: str, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes from ``offset``; fewer only at the end of the object."""
        ...

    def stat(self, key: str) -> int:
        """The object's size in bytes; raises KeyNotFound."""
        ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Remove the object; raises KeyNotFound if absent."""
        ...

    def list(self, prefix: str = "") -> Iterator[str]:
        """Keys under ``prefix`` (a directory-like prefix, '' for all), in sorted order."""
        ...

    def writer(self, key: str, *, append: bool = False) -> BackendWriter:
        """A writer for ``key``; with ``append`` it continues a previous upload of that key."""
        ...
