"""Content-addressed blob store: verify, (optionally) encrypt, then spread over storage nodes.

The write pipeline is hash -> encrypt -> encode -> write fragments, each stage recorded on the
active receipt by its own layer. A blob is stored once whatever the number of repositories that
link it; the plaintext digest is its address.

Blobs are cut into **extents** of ``extent_size`` plaintext bytes (64 MiB by default), each
encrypted and erasure-coded on its own, so that a blob of any size streams in and out without ever
being whole in memory, and a range read touches only the extents it covers. Each extent is bound to
its blob, its position and whether it is the last one (as associated data of its encryption), so
extents cannot be swapped between blobs, reordered, or dropped from the end undetected. Storage
cluster keys::

    blobs/<alg>/<hex[:2]>/<hex>/<extent index>

A blob becomes visible only when its info record is written, after every extent is stored and
the digest of the whole stream has been checked; a failed or interrupted write leaves no record
(and removes the extents it wrote). A process killed mid-write cannot remove them: such extents,
stored but without a record, are *orphans*, which :meth:`BlobStore.sweep_orphans` removes once
their newest fragment is older than a grace period (never those of a write in flight here).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator

from . import digest as digests
from . import metadata as paths
from .cluster.cluster import StorageCluster
from .crypto.envelope import EnvelopeCipher
from .digest import Digest, Digester
from .errors import BlobLost, BlobUnknown, DataLoss, DigestInvalid, KeyNotFound
from .metadata import MetadataStore

DEFAULT_EXTENT_SIZE = 64 << 20

Buffer = bytes | bytearray | memoryview


def extent_key(d: Digest, index: int) -> str:
    return f"blobs/{d.algorithm}/{d.hex[:2]}/{d.hex}/{index}"


class BlobStore:
    def __init__(
        self,
        cluster: StorageCluster,
        meta: MetadataStore,
        *,
        cipher: EnvelopeCipher | None = None,
        node: str = "frontend",
        clock: Callable[[], float] = time.time,
        verify_reads: bool = False,
        extent_size: int = DEFAULT_EXTENT_SIZE,
    ) -> None:
        if extent_size < 1:
            raise ValueError("extent_size must be positive")
        self.cluster = cluster
        self.meta = meta
        self.cipher = cipher
        self.node = node
        self.clock = clock
        self.verify_reads = verify_reads
        self.extent_size = extent_size
        #: blob -> its last BlobLost: blobs whose latest check or read found an extent unrecoverable
        self._lost: dict[Digest, BlobLost] = {}
        self._lost_lock = threading.Lock()
        #: blobs whose extents are being written here, and orphans being removed (never both)
        self._writes = threading.Condition()
        self._writing: Counter[Digest] = Counter()
        self._collecting: set[Digest] = set()

    # -- writing -----------------------------------------------------------------------------

    def put(self, data: Buffer, expected: str | Digest | None = None) -> Digest:
        """Store ``data``; if ``expected`` is given the content must hash to it (DigestInvalid otherwise)."""
        if expected is not None:
            d = digests.verify(data, expected, node=self.node)
        else:
            d = digests.compute(data, node=self.node)
        if self.exists(d):
            return d
        view, size, step = memoryview(data).cast("B"), len(data), self.extent_size
        starts = range(0, max(size, 1), step)
        self._commit(d, size, self._write_all(
            d, ((i, view[s : s + step], s + step >= size) for i, s in enumerate(starts))))
        return d

    def put_stream(self, chunks: Iterable[Buffer], expected: str | Digest) -> Digest:
        """Store a stream of chunks that must hash to ``expected``, holding at most ~one extent in memory."""
        want = Digest.parse(expected)
        hasher = Digester(want.algorithm, node=self.node)
        if self.exists(want):
            for chunk in chunks:
                hasher.update(chunk)
            self._check(hasher, want)
            return want
        count = self._write_all(want, self._cut(chunks, hasher), check=lambda: self._check(hasher, want))
        self._commit(want, hasher.nbytes, count)
        return want

    def _cut(self, chunks: Iterable[Buffer], hasher: Digester) -> Iterator[tuple[int, Buffer, bool]]:
        """Hash the stream and cut it into extents; an extent is known to be last only at the end."""
        buf, index, step = bytearray(), 0, self.extent_size
        for chunk in chunks:
            hasher.update(chunk)
            buf += chunk
            while len(buf) > step:  # strictly more: data follows this extent, so it is not the last
                with memoryview(buf) as view, view[:step] as extent:
                    yield index, extent, False
                del buf[:step]
                index += 1
        yield index, buf, True

    def _write_all(self, d: Digest, extents: Iterable[tuple[int, Buffer, bool]],
                   check: Callable[[], None] | None = None) -> int:
        with self._writes:
            while d in self._collecting:  # an orphan sweep is removing this blob's old extents
                self._writes.wait()
            self._writing[d] += 1
        try:
            return self._write_extents(d, extents, check)
        finally:
            with self._writes:
                self._writing[d] -= 1
                if self._writing[d] <= 0:
                    del self._writing[d]

    def _write_extents(self, d: Digest, extents: Iterable[tuple[int, Buffer, bool]],
                       check: Callable[[], None] | None) -> int:
        written: list[int] = []
        try:
            for index, data, last in extents:
                payload = self.cipher.encrypt(data, aad=self._aad(d, index, last)) if self.cipher else data
                self.cluster.put(extent_key(d, index), payload)
                written.append(index)
            if check is not None:
                check()
        except BaseException:
            self._remove_extents(d, written)
            raise
        return len(written)

    def _commit(self, d: Digest, size: int, extents: int) -> None:
        # The info record is written last: a blob is visible only once its content is complete.
        self.meta.write(paths.blob_info(d), {"size": size, "created": self.clock(), "extents": extents,
                                             "extent_size": self.extent_size})

    @staticmethod
    def _check(hasher: Digester, want: Digest) -> None:
        got = hasher.digest()
        if got != want:
            raise DigestInvalid(f"content does not match digest: expected {want}, computed {got}")

    @staticmethod
    def _aad(d: Digest, index: int, last: bool) -> bytes:
        return f"{d}|{index}|{'last' if last else 'more'}".encode()

    # -- reading -----------------------------------------------------------------------------

    def exists(self, d: Digest) -> bool:
        return self.meta.exists(paths.blob_info(d))

    def info(self, d: Digest) -> dict:
        doc = self.meta.read(paths.blob_info(d))
        if doc is None:
            raise BlobUnknown(f"blob {d} is not stored")
        return doc

    def size(self, d: Digest) -> int:
        return int(self.info(d)["size"])

    def iter_range(self, d: Digest, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        """The blob's bytes from ``offset`` (``length`` of them, or to the end), one extent at a time."""
        info = self.info(d)
        size, step, count = int(info["size"]), int(info["extent_size"]), int(info["extents"])
        if offset < 0 or (length is not None and length < 0):
            raise ValueError("offset and length must be non-negative")
        end = size if length is None else min(size, offset + length)
        for index in range(offset // step, (end - 1) // step + 1 if end > offset else offset // step):
            base = index * step
            lo, hi = max(offset, base) - base, min(end, base + step) - base
            yield self._read_extent(d, index, index == count - 1, lo, hi, min(step, size - base))

    def _read_extent(self, d: Digest, index: int, last: bool, lo: int, hi: int, extent_len: int) -> bytes:
        key, aad = extent_key(d, index), self._aad(d, index, last)
        try:
            if lo == 0 and hi == extent_len:
                payload = self.cluster.get(key)
                return self.cipher.decrypt(payload, aad=aad) if self.cipher else payload
            if self.cipher is None:
                return self.cluster.read_at(key, lo, hi - lo)
            return self.cipher.decrypt_range(lambda off, n: self.cluster.read_at(key, off, n), lo, hi - lo, aad=aad)
        except KeyNotFound:
            raise BlobUnknown(f"blob {d} has a record but extent {index} is missing") from None
        except DataLoss as exc:
            raise self._lost_extent(d, index, exc) from None

    def _lost_extent(self, d: Digest, index: int, exc: DataLoss) -> BlobLost:
        """The BlobLost for extent ``index`` of ``d`` (from the cluster's DataLoss), remembered."""
        detail = exc.detail if isinstance(exc.detail, dict) else {}
        nodes = list(detail.get("nodes", ()))
        unplaced = sum(node is None for node in detail.get("lost", {}).values())
        where = ", ".join(nodes) or "none"
        if unplaced:
            where += f" (and {unplaced} fragment{'s' if unplaced > 1 else ''} no node holds)"
        if "needed" in detail:
            need = (f"{detail['codec']} needs {detail['needed']} fragments, "
                    f"{detail['readable']} are readable")
        else:
            need = exc.message
        lost = BlobLost(f"blob {d} is unrecoverable: extent {index}: {need}; missing on nodes: {where}",
                        detail={"digest": str(d), "extent": index, "nodes": nodes})
        with self._lost_lock:
            self._lost[d] = lost
        return lost

    def check_readable(self, d: Digest, offset: int = 0, length: int | None = None) -> None:
        """Raise :class:`BlobLost` now, before any byte is read, if an extent the range covers has
        more fragments lost than the codec tolerates -- nodes down, or fragment objects gone (see
        :meth:`StorageCluster.probe`; no payload is read). A check of the whole blob that passes
        clears it from :meth:`lost_blobs`."""
        info = self.info(d)
        size, step = int(info["size"]), int(info["extent_size"])
        end = size if length is None else min(size, offset + length)
        first = offset // step
        for index in range(first, (end - 1) // step + 1 if end > offset else first):
            try:
                self.cluster.probe(extent_key(d, index))
            except KeyNotFound:
                raise BlobUnknown(f"blob {d} has a record but extent {index} is missing") from None
            except DataLoss as exc:
                raise self._lost_extent(d, index, exc) from None
        if offset == 0 and end >= size:
            with self._lost_lock:
                self._lost.pop(d, None)

    def lost_blobs(self) -> dict[Digest, BlobLost]:
        """Blobs whose latest check or read found an extent unrecoverable, with what was found."""
        with self._lost_lock:
            return dict(self._lost)

    def get(self, d: Digest) -> bytes:
        data = b"".join(self.iter_range(d))
        if self.verify_reads:
            digests.verify(data, d, node=self.node)
        return data

    def read_range(self, d: Digest, offset: int, length: int) -> bytes:
        """``length`` bytes of the blob from ``offset`` (fewer at its end), reading only what is needed."""
        return b"".join(self.iter_range(d, offset, length))

    # -- removal and listing -----------------------------------------------------------------

    def delete(self, d: Digest) -> int:
        """Remove the blob's record, then its content; returns its size."""
        info = self.info(d)
        self.meta.delete(paths.blob_info(d))
        with self._lost_lock:
            self._lost.pop(d, None)
        self._remove_extents(d, range(int(info["extents"])))
        return int(info["size"])

    def _remove_extents(self, d: Digest, indices: Iterable[int]) -> None:
        for index in indices:
            try:
                self.cluster.delete(extent_key(d, index))
            except KeyNotFound:
                pass

    def orphans(self) -> dict[Digest, list[str]]:
        """Extent keys stored in the cluster for blobs that have no record: what a write killed
        before its record was written left (or, meanwhile, a write in flight)."""
        found: dict[Digest, list[str]] = {}
        for key in self.cluster.keys():
            parts = key.split("/")
            if len(parts) == 5 and parts[0] == "blobs":
                found.setdefault(Digest(parts[1], parts[3]), []).append(key)
        return {d: keys for d, keys in found.items() if not self.exists(d)}

    def sweep_orphans(self, older_than_s: float, *, dry_run: bool = False) -> list[tuple[Digest, int]]:
        """Remove orphan extents (:meth:`orphans`) whose newest fragment was written ``older_than_s``
        seconds ago or more (on the wall clock: fragment times), unless a write of that blob is in
        flight here; returns each blob swept with the bytes its fragments took. Orphans whose age
        cannot be told (backends that keep no times) are kept."""
        cutoff, swept = time.time() - older_than_s, []
        for d, keys in sorted(self.orphans().items(), key=lambda item: str(item[0])):
            with self._writes:
                if d in self._writing or d in self._collecting:
                    continue
                try:
                    ages = [self.cluster.modified(k) for k in keys]
                    size = sum(self.cluster.stored_size(k) for k in keys)
                except KeyNotFound:
                    continue
                if any(a is None or a > cutoff for a in ages) or self.exists(d):
                    continue
                if not dry_run:
                    self._collecting.add(d)
            swept.append((d, size))
            if dry_run:
                continue
            try:
                self._remove_extents(d, (int(k.rsplit("/", 1)[1]) for k in keys))
            finally:
                with self._writes:
                    self._collecting.discard(d)
                    self._writes.notify_all()
        return swept

    def digests(self) -> Iterator[Digest]:
        for key in self.meta.keys("blobs"):
            parts = key.split("/")
            if len(parts) == 4 and parts[3] == "info":
                yield Digest(parts[1], parts[2])
