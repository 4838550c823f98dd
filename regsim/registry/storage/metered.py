"""The one wrapper that adds receipts, counters and key validation to any blob backend.

Backends stay free of bookkeeping; wrapping one in :class:`MeteredBackend` makes every byte it
moves visible to the simulator:

- ``put`` and a writer's ``commit`` record :data:`Kind.DISK_WRITE` with the bytes this call wrote
  (an appending writer counts only what it added, not the object it continued);
- ``get`` and ``read_at`` record :data:`Kind.DISK_READ` with the bytes actually returned.

Items carry ``node`` (the wrapper's ``node``, else the inner backend's name) so the model can
charge the right disk. Failed operations record nothing, as :func:`receipts.metered` does; they
are counted in :attr:`MeteredBackend.errors` instead.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import TypeVar

from .. import receipts
from ..errors import ConfigError
from ..receipts import Kind
from .base import BackendWriter, BlobBackend, CommitOnExit, check_key

T = TypeVar("T")


class MeteredWriter(CommitOnExit):
    """Wraps a backend writer; its commit becomes one DISK_WRITE item covering every write."""

    def __init__(self, backend: MeteredBackend, inner: BackendWriter) -> None:
        self.key = inner.key
        self._backend = backend
        self._inner = inner
        self._start = inner.size
        self._cpu_s = 0.0
        self._wall_s = 0.0
        self._done = False

    @property
    def size(self) -> int:
        return self._inner.size

    def write(self, data: bytes | bytearray | memoryview) -> int:
        cpu0, wall0 = time.thread_time(), time.perf_counter()
        n = self._inner.write(data)
        self._cpu_s += time.thread_time() - cpu0
        self._wall_s += time.perf_counter() - wall0
        return n

    def commit(self) -> None:
        # The writes and the commit are one disk write to the model: time them together.
        written = self._inner.size - self._start
        self._done = True
        cpu0, wall0 = time.thread_time(), time.perf_counter()
        self._backend._call("commit", self._inner.commit)
        receipts.record(
            Kind.DISK_WRITE,
            written,
            node=self._backend.node,
            cpu_s=self._cpu_s + time.thread_time() - cpu0,
            wall_s=self._wall_s + time.perf_counter() - wall0,
        )
        self._backend._add_bytes(written=written)

    def cancel(self) -> None:
        self._done = True
        self._backend._call("cancel", self._inner.cancel)



class MeteredBackend:
    """A :class:`BlobBackend` that validates keys, records receipts and counts, then delegates.

    ``bytes_written`` / ``bytes_read`` total successful transfers; ``ops`` counts calls that
    reached the inner backend, by operation name; ``errors`` counts those that raised.
    """

    def __init__(self, inner: BlobBackend, *, node: str | None = None) -> None:
        if isinstance(inner, MeteredBackend):
            raise ConfigError(
                f"backend {inner.name!r} is already metered; wrapping it twice would count its work twice"
            )
        self.inner = inner
        self.node = node or inner.name
        self.bytes_written = 0
        self.bytes_read = 0
        self.ops: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.inner.name

    def __repr__(self) -> str:
        return f"MeteredBackend({self.inner!r}, node={self.node!r})"

    def _call(self, op: str, fn: Callable[..., T], *args: object) -> T:
        with self._lock:
            self.ops[op] += 1
        try:
            return fn(*args)
        except BaseException:
            with self._lock:
                self.errors[op] += 1
            raise

    def _add_bytes(self, *, written: int = 0, read: int = 0) -> None:
        with self._lock:
            self.bytes_written += written
            self.bytes_read += read

    def counters(self) -> dict[str, object]:
        """A consistent snapshot of the counters, for metrics and reports."""
        with self._lock:
            return {
                "bytes_written": self.bytes_written,
                "bytes_read": self.bytes_read,
                "ops": dict(self.ops),
                "errors": dict(self.errors),
            }

    # -- the BlobBackend protocol --------------------------------------------------------------

    def put(self, key: str, data: bytes | bytearray | memoryview) -> None:
        check_key(key)
        size = memoryview(data).nbytes
        with receipts.metered(Kind.DISK_WRITE, size, node=self.node):
            self._call("put", self.inner.put, key, data)
        self._add_bytes(written=size)

    def get(self, key: str) -> bytes:
        check_key(key)
        with receipts.metered(Kind.DISK_READ, node=self.node) as m:
            data = self._call("get", self.inner.get, key)
            m.amount = len(data)
        self._add_bytes(read=len(data))
        return data

    def read_at(self, key: str, offset: int, length: int) -> bytes:
        check_key(key)
        with receipts.metered(Kind.DISK_READ, node=self.node) as m:
            data = self._call("read_at", self.inner.read_at, key, offset, length)
            m.amount = len(data)
        self._add_bytes(read=len(data))
        return data

    def stat(self, key: str) -> int:
        return self._call("stat", self.inner.stat, check_key(key))

    def exists(self, key: str) -> bool:
        return self._call("exists", self.inner.exists, check_key(key))

    def delete(self, key: str) -> None:
        self._call("delete", self.inner.delete, check_key(key))

    def list(self, prefix: str = "") -> Iterator[str]:
        if prefix:
            check_key(prefix.rstrip("/"))
        return self._call("list", self.inner.list, prefix)

    def writer(self, key: str, *, append: bool = False) -> MeteredWriter:
        check_key(key)
        inner = self._call("writer", lambda: self.inner.writer(key, append=append))
        return MeteredWriter(self, inner)
