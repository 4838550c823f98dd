"""Content-addressed blob store: verify, (optionally) encrypt, then spread over storage nodes.

The write pipeline is hash -> encrypt -> encode -> write fragments, each stage recorded on the
active receipt by its own layer. A blob is stored once whatever the number of repositories that
link it; the plaintext digest is the address, and it is bound into the ciphertext as associated
data so a ciphertext moved under another digest fails to decrypt.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from . import digest as digests
from . import metadata as paths
from .cluster.cluster import StorageCluster
from .crypto.envelope import EnvelopeCipher
from .digest import Digest
from .errors import BlobUnknown, DataLoss, KeyNotFound
from .metadata import MetadataStore


def content_key(d: Digest) -> str:
    """The storage-cluster key of a blob's content: ``blobs/<alg>/<hex[:2]>/<hex>``."""
    return f"blobs/{d.algorithm}/{d.hex[:2]}/{d.hex}"


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
    ) -> None:
        self.cluster = cluster
        self.meta = meta
        self.cipher = cipher
        self.node = node
        self.clock = clock
        self.verify_reads = verify_reads

    def put(self, data: bytes | bytearray | memoryview, expected: str | Digest | None = None) -> Digest:
        """Store ``data``; if ``expected`` is given the content must hash to it (DigestInvalid otherwise)."""
        if expected is not None:
            d = digests.verify(data, expected, node=self.node)
        else:
            d = digests.compute(data, node=self.node)
        if self.exists(d):
            return d
        payload = self.cipher.encrypt(data, aad=str(d).encode()) if self.cipher else data
        self.cluster.put(content_key(d), payload)
        # The info record is written last: a blob is visible only once its content is complete.
        self.meta.write(paths.blob_info(d), {"size": len(data), "created": self.clock()})
        return d

    def exists(self, d: Digest) -> bool:
        return self.meta.exists(paths.blob_info(d))

    def info(self, d: Digest) -> dict:
        doc = self.meta.read(paths.blob_info(d))
        if doc is None:
            raise BlobUnknown(f"blob {d} is not stored")
        return doc

    def size(self, d: Digest) -> int:
        return int(self.info(d)["size"])

    def get(self, d: Digest) -> bytes:
        self.info(d)
        payload = self._read_content(d)
        data = self.cipher.decrypt(payload, aad=str(d).encode()) if self.cipher else payload
        if self.verify_reads:
            digests.verify(data, d, node=self.node)
        return data

    def read_range(self, d: Digest, offset: int, length: int) -> bytes:
        """``length`` bytes of the blob from ``offset`` (fewer at its end), reading only what is needed."""
        size = self.size(d)
        if offset < 0 or length < 0:
            raise ValueError("offset and length must be non-negative")
        length = max(0, min(length, size - offset))
        if length == 0:
            return b""
        key = content_key(d)
        if self.cipher is None:
            return self.cluster.read_at(key, offset, length)
        return self.cipher.decrypt_range(
            lambda off, n: self.cluster.read_at(key, off, n), offset, length, aad=str(d).encode()
        )

    def delete(self, d: Digest) -> int:
        """Remove the blob's content and record; returns its size."""
        size = self.size(d)
        self.meta.delete(paths.blob_info(d))
        try:
            self.cluster.delete(content_key(d))
        except KeyNotFound:
            pass
        return size

    def digests(self) -> Iterator[Digest]:
        for key in self.meta.keys("blobs"):
            parts = key.split("/")
            if len(parts) == 4 and parts[3] == "info":
                yield Digest(parts[1], parts[2])

    def _read_content(self, d: Digest) -> bytes:
        try:
            return self.cluster.get(content_key(d))
        except KeyNotFound:
            raise BlobUnknown(f"blob {d} has a record but no content") from None
        except DataLoss:
            raise
