"""Receipts: the record of the work a registry operation really did.

The registry never knows about simulated time. Instead every operation leaves, beside its result,
a list of :class:`WorkItem` s -- "hashed 4 MiB with sha256 on node s3", "sent fragment 2 (1 MiB)
from frontend to s4" -- which the simulator prices against a cost profile. Items are gathered by a
context-local collector so that code deep in a codec or a backend wrapper can record work without
threading a receipt argument through every call::

    with collect() as receipt:
        registry.put_blob("library/alpine", data)
    receipt.total("sha256")      # bytes hashed
    receipt.by_kind()            # {"sha256": ..., "disk_write": ..., ...}

Collectors nest: items recorded inside an inner ``collect()`` also land in every enclosing one, so
a caller can take one receipt for a whole push while a lower layer looks at its own part.

Only wrapper layers record (the metered backend, the metered codec, the cipher, the digester, the
authorizers, and in ``lazy/`` the layer unpacker and the readers' decompression calls); backends
and codecs themselves stay free of bookkeeping.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import NamedTuple


class Kind:
    """The receipt kinds the registry emits; the cost profile prices each of them."""

    SHA256 = "sha256"
    SHA512 = "sha512"
    AES_GCM_ENCRYPT = "aes_gcm_encrypt"
    AES_GCM_DECRYPT = "aes_gcm_decrypt"
    KEY_WRAP = "key_wrap"
    KEY_UNWRAP = "key_unwrap"
    #: erasure coding, counted in bytes multiplied (GF(2^8) multiply-accumulates of one byte), the
    #: unit Reed-Solomon's CPU time follows whatever the shape: encode = fragment size x k x m
    #: (the padded data bytes times m); decode = data chunks not available verbatim x fragment
    #: size x k; reconstruct = (data chunks decoded + parity fragments rebuilt) x fragment size x
    #: k. See regsim.registry.codecs.metered.
    EC_ENCODE = "ec_encode"
    EC_DECODE = "ec_decode"
    EC_RECONSTRUCT = "ec_reconstruct"
    #: replication, in plain bytes: the data handed to the writers, or the bytes copied to rebuild.
    REPLICATE = "replicate"
    DISK_WRITE = "disk_write"
    DISK_READ = "disk_read"
    TRANSFER = "transfer"
    DB_QUERY = "db_query"
    JWT_SIGN = "jwt_sign"
    JWT_VERIFY = "jwt_verify"
    JWT_CACHE_HIT = "jwt_cache_hit"
    PASSWORD_HASH = "password_hash"
    PIECE_VERIFY = "piece_verify"
    MANIFEST_PARSE = "manifest_parse"
    #: the server's side of a TLS 1.3 handshake: full (certificate signature and key exchange), or
    #: resumed from a session ticket (key exchange only); counted in handshakes.
    TLS_HANDSHAKE_FULL = "tls_handshake_full"
    TLS_HANDSHAKE_RESUMED = "tls_handshake_resumed"
    #: the HTTP handling of one request of an endpoint class (routing, headers, the handler's own
    #: code, the response), beyond the work its other items already price; counted in requests.
    #: The registry library never records these (it speaks no HTTP): the calibration measures them
    #: on the server application, and request models add one per request they serve.
    HTTP_PING = "http_ping"  # GET /v2/
    HTTP_TOKEN = "http_token"  # GET /token (the token service)
    HTTP_MANIFEST_GET = "http_manifest_get"
    HTTP_MANIFEST_HEAD = "http_manifest_head"
    HTTP_MANIFEST_PUT = "http_manifest_put"
    HTTP_BLOB_HEAD = "http_blob_head"
    HTTP_BLOB_GET = "http_blob_get"  # the start of a blob GET: the bytes it streams are priced apart
    HTTP_UPLOAD_START = "http_upload_start"  # POST /v2/<name>/blobs/uploads/
    HTTP_UPLOAD_CHUNK = "http_upload_chunk"  # PATCH of one chunk
    HTTP_UPLOAD_FINISH = "http_upload_finish"  # PUT ?digest=
    #: the client side of one request of the S3 backend (regsim.registry.storage.s3): boto3's
    #: parameter checks, serialisation and SigV4 signing, the HTTP exchange's system calls, the
    #: response's parsing. A PUT (PutObject, UploadPart) and a GET count the bytes of their body,
    #: so they are priced as a per-request overhead plus a per-byte cost; HEAD, LIST (one page)
    #: and DELETE count requests. The registry library never records these (its storage wrapper
    #: records disk work whatever the backend is): the calibration measures them (the ``s3``
    #: workload, against a local S3 server), and a model of an S3-backed store adds them.
    S3_PUT_REQUEST = "s3_put_request"
    S3_GET_REQUEST = "s3_get_request"
    S3_HEAD_REQUEST = "s3_head_request"
    S3_LIST_REQUEST = "s3_list_request"
    S3_DELETE_REQUEST = "s3_delete_request"
    #: decompressing layer bytes on the node that reads them, counted in *uncompressed* bytes
    #: produced (what the CPU time follows, whatever the compression ratio): gzip inflate (zlib)
    #: and zstd decompression (zstandard). Recorded when a layer is unpacked
    #: (regsim.registry.lazy.unpack) and when a lazy reader inflates the part of a layer a file
    #: read needs (an eStargz member, a SOCI span, a Nydus chunk, a block-image segment).
    GZIP_INFLATE = "gzip_inflate"
    ZSTD_DECOMPRESS = "zstd_decompress"
    #: extracting an (uncompressed) tar onto a filesystem: ``tar_unpack`` counts the bytes of file
    #: data written; ``file_create`` counts the filesystem entries made or replaced (files,
    #: directories, links, whiteouts applied, parent directories the tar does not list), the
    #: per-entry work of parsing a header, creating the entry and setting its mode and times. CPU work only: the bytes reaching a disk are the disk
    #: model's (regsim.registry.lazy.unpack records no disk_write).
    TAR_UNPACK = "tar_unpack"
    FILE_CREATE = "file_create"

    #: kinds whose amount is a number of bytes (bytes multiplied for the ec_* kinds); every other
    #: kind counts operations.
    BYTE_KINDS = frozenset(
        {
            SHA256,
            SHA512,
            AES_GCM_ENCRYPT,
            AES_GCM_DECRYPT,
            EC_ENCODE,
            EC_DECODE,
            EC_RECONSTRUCT,
            REPLICATE,
            DISK_WRITE,
            DISK_READ,
            TRANSFER,
            PIECE_VERIFY,
            MANIFEST_PARSE,
            S3_PUT_REQUEST,
            S3_GET_REQUEST,
            GZIP_INFLATE,
            ZSTD_DECOMPRESS,
            TAR_UNPACK,
        }
    )


class WorkItem(NamedTuple):
    """One piece of work: what, how much, where, and what it cost on the machine that ran it.

    ``amount`` is bytes for the kinds in :data:`Kind.BYTE_KINDS` (for the ``ec_*`` kinds, bytes
    multiplied: the coding work, not the data size) and a count otherwise.
    ``node`` is where the work happened (a storage node, a frontend); ``dst`` is set for
    transfers only. ``cpu_s`` and ``wall_s`` are measured on the real machine; the simulator
    uses them only in its ``live`` pricing mode. A named tuple, because hot paths (a cached token
    check) create one per call and a frozen dataclass costs several times more to build.
    """

    kind: str
    amount: int
    node: str | None = None
    dst: str | None = None
    cpu_s: float = 0.0
    wall_s: float = 0.0
    detail: str | None = None

    @property
    def unit(self) -> str:
        return "bytes" if self.kind in Kind.BYTE_KINDS else "ops"


@dataclass(slots=True)
class Receipt:
    """An ordered list of work items with a few summaries."""

    items: list[WorkItem] = field(default_factory=list)

    def add(self, item: WorkItem) -> None:
        self.items.append(item)

    def extend(self, other: Receipt | list[WorkItem]) -> None:
        self.items.extend(other.items if isinstance(other, Receipt) else other)

    def __iter__(self) -> Iterator[WorkItem]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def of(self, kind: str) -> list[WorkItem]:
        return [i for i in self.items if i.kind == kind]

    def total(self, kind: str) -> int:
        """Sum of amounts (bytes or count) recorded for ``kind``."""
        return sum(i.amount for i in self.items if i.kind == kind)

    def by_kind(self) -> dict[str, int]:
        totals: Counter[str] = Counter()
        for i in self.items:
            totals[i.kind] += i.amount
        return dict(totals)

    def cpu_seconds(self) -> float:
        return sum(i.cpu_s for i in self.items)

    def summary(self) -> str:
        """A short human-readable table, one line per kind."""
        counts: Counter[str] = Counter(i.kind for i in self.items)
        lines = []
        for kind, amount in sorted(self.by_kind().items()):
            unit = "B" if kind in Kind.BYTE_KINDS else "ops"
            cpu = sum(i.cpu_s for i in self.items if i.kind == kind)
            lines.append(f"{kind:<16} {counts[kind]:>6} items {amount:>14,} {unit:<3} cpu {cpu * 1e3:9.3f} ms")
        return "\n".join(lines)


_active: ContextVar[tuple[Receipt, ...]] = ContextVar("regsim_receipts", default=())


@contextmanager
def collect() -> Iterator[Receipt]:
    """Gather every item recorded in this context (and in nested ones) into a new receipt."""
    receipt = Receipt()
    token = _active.set(_active.get() + (receipt,))
    try:
        yield receipt
    finally:
        _active.reset(token)


@contextmanager
def suspended() -> Iterator[None]:
    """Record nothing inside this block (set-up work a caller does not want priced)."""
    token = _active.set(())
    try:
        yield
    finally:
        _active.reset(token)


def recording() -> bool:
    """True when some collector is active, so callers may skip costly bookkeeping otherwise."""
    return bool(_active.get())


def record(
    kind: str,
    amount: int,
    *,
    node: str | None = None,
    dst: str | None = None,
    cpu_s: float = 0.0,
    wall_s: float = 0.0,
    detail: str | None = None,
) -> WorkItem:
    """Record one work item into every active collector and return it."""
    item = WorkItem(kind, int(amount), node, dst, cpu_s, wall_s, detail)
    for receipt in _active.get():
        receipt.add(item)
    return item


class _Meter:
    __slots__ = ("amount", "detail")

    def __init__(self, amount: int, detail: str | None) -> None:
        self.amount = amount
        self.detail = detail


@contextmanager
def metered(kind: str, amount: int = 0, *, node: str | None = None, dst: str | None = None,
            detail: str | None = None) -> Iterator[_Meter]:
    """Time the enclosed work (thread CPU and wall clock) and record it as one item.

    The amount may be set or corrected inside the block (``m.amount = n``) when it is only known
    afterwards, e.g. the bytes a read returned. Nothing is recorded if the block raises: work that
    failed is not work the simulator should price.
    """
    meter = _Meter(amount, detail)
    cpu0, wall0 = time.thread_time(), time.perf_counter()
    yield meter
    cpu, wall = time.thread_time() - cpu0, time.perf_counter() - wall0
    record(kind, meter.amount, node=node, dst=dst, cpu_s=cpu, wall_s=wall, detail=meter.detail)
