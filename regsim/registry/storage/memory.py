"""An in-memory blob backend: a dict of immutable bytes, for tests and modelled storage nodes."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from ..errors import KeyNotFound
from .base import BufferedWriter, check_key


class MemoryWriter(BufferedWriter):
    """Buffers writes; :meth:`commit` publishes them under the key in one step."""

    def __init__(self, backend: MemoryBackend, key: str, initial: bytes = b"") -> None:
        super().__init__(key, lambda k, buf: backend._publish(k, bytes(buf)), initial)


class MemoryBackend:
    """Objects live in a dict; nothing survives the process."""

    def __init__(self, name: str = "memory") -> None:
        self.name = name
        self._objects: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def _publish(self, key: str, data: bytes) -> None:
        with self._lock:
            self._objects[key] = data

    def _get(self, key: str) -> bytes:
        try:
            return self._objects[check_key(key)]
        except KeyError:
            raise KeyNotFound(f"{self.name}: no object {key!r}") from None

    def put(self, key: str, data: bytes | bytearray | memoryview) -> None:
        self._publish(check_key(key), bytes(data))

    def get(self, key: str) -> bytes:
        return self._get(key)

    def read_at(self, key: str, offset: int, length: int) -> bytes:
        if offset < 0 or length < 0:
            raise ValueError("offset and length must be non-negative")
        return self._get(key)[offset : offset + length]

    def stat(self, key: str) -> int:
        return len(self._get(key))

    def exists(self, key: str) -> bool:
        return check_key(key) in self._objects

    def delete(self, key: str) -> None:
        with self._lock:
            if self._objects.pop(check_key(key), None) is None:
                raise KeyNotFound(f"{self.name}: no object {key!r}")

    def list(self, prefix: str = "") -> Iterator[str]:
        if prefix:
            check_key(prefix.rstrip("/"))
            prefix = prefix.rstrip("/") + "/"
        with self._lock:
            keys = sorted(k for k in self._objects if k.startswith(prefix))
        return iter(keys)

    def writer(self, key: str, *, append: bool = False) -> MemoryWriter:
        check_key(key)
        initial = b""
        if append:
            initial = self._objects.get(key, b"")
        return MemoryWriter(self, key, initial)
