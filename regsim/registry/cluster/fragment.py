"""The on-node fragment format: a small self-describing header, then the fragment's bytes.

Every fragment carries enough to rebuild the cluster's layout index from the nodes alone
(:meth:`StorageCluster.rescan`) and to tell a damaged fragment from a good one::

    offset  size  field
    0       4     magic            b"RGSF"
    4       1     format version   1
    5       1     codec name length (c)
    6       2     blob key length   (l)
    8       2     fragment index
    10      2     k                 fragments needed to read the blob
    12      2     n                 fragments in the stripe
    14      8     blob size         original bytes, before padding
    22      4     payload crc32c    CRC-32C (Castagnoli, hardware-accelerated) of the payload
    26      c     codec name        ascii, e.g. "rs(4,2)"
    26+c    l     blob key          utf-8, e.g. "blobs/sha256/ab/ab12..."
    26+c+l  4     header crc32c     over bytes 0..26+c+l, so a damaged header is caught too
    30+c+l  ...   payload           exactly ceil(size / k) bytes

Integers are big-endian. A fragment whose magic, version, header crc, payload length or payload
crc is wrong raises :class:`IntegrityError`; the cluster treats it as a lost fragment.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import crc32c

from ..errors import IntegrityError

MAGIC = b"RGSF"
VERSION = 1
_FIXED = struct.Struct(">4sBBHHHHQI")
_CRC = struct.Struct(">I")
#: bytes of the fixed part; a header is this plus the codec name, the key and a 4-byte crc.
FIXED_SIZE = _FIXED.size
#: a read of this many bytes holds the whole header of any fragment with a key under ~220 bytes.
PROBE_SIZE = 512

Buffer = bytes | bytearray | memoryview


def header_size(codec: str, key: str) -> int:
    """Length of the header of any fragment of blob ``key`` written with ``codec``."""
    return FIXED_SIZE + len(codec.encode("ascii")) + len(key.encode("utf-8")) + _CRC.size


def payload_size(size: int, k: int) -> int:
    """Bytes of payload in every fragment of a ``size``-byte blob cut into ``k`` chunks."""
    return -(-size // k)


@dataclass(frozen=True, slots=True)
class FragmentHeader:
    """What a fragment says about itself."""

    key: str
    codec: str
    index: int
    k: int
    n: int
    size: int
    crc: int

    @classmethod
    def describe(cls, key: str, codec: str, index: int, k: int, n: int, size: int, payload: Buffer) -> FragmentHeader:
        """The header for ``payload`` as fragment ``index`` of ``key``, its crc computed."""
        return cls(key, codec, index, k, n, size, crc32c.crc32c(payload))

    @property
    def payload_size(self) -> int:
        return payload_size(self.size, self.k)

    @property
    def length(self) -> int:
        """Bytes of this header on the node."""
        return header_size(self.codec, self.key)

    def pack(self) -> bytes:
        name, key = self.codec.encode("ascii"), self.key.encode("utf-8")
        if len(name) > 0xFF or len(key) > 0xFFFF:
            raise ValueError(f"codec name or key too long for a fragment header: {self.codec!r}, {self.key[:80]!r}")
        head = _FIXED.pack(MAGIC, VERSION, len(name), len(key), self.index, self.k, self.n, self.size, self.crc)
        head += name + key
        return head + _CRC.pack(crc32c.crc32c(head))


def frame(header: FragmentHeader, payload: Buffer) -> bytes:
    """Header and payload as the one object a node stores (one copy of the payload)."""
    return b"".join((header.pack(), payload))


def declared_header_size(prefix: Buffer) -> int:
    """The header length a fragment declares in its fixed part (``prefix`` holds at least that part).

    Lets a reader that fetched only :data:`PROBE_SIZE` bytes know whether it has the whole header.
    """
    view = memoryview(prefix).cast("B")
    if len(view) < FIXED_SIZE or bytes(view[:4]) != MAGIC:
        return FIXED_SIZE + _CRC.size  # too short or not ours: parse_header will say which
    _, _, name_len, key_len, *_ = _FIXED.unpack_from(view)
    return FIXED_SIZE + name_len + key_len + _CRC.size


def parse_header(data: Buffer) -> FragmentHeader:
    """The header at the start of ``data``; the payload after it is not looked at.

    ``data`` may be the whole fragment or a prefix of it at least as long as the header.
    """
    view = memoryview(data).cast("B")
    if len(view) < FIXED_SIZE:
        raise IntegrityError(f"fragment header truncated: {len(view)} bytes, the fixed part alone is {FIXED_SIZE}")
    magic, version, name_len, key_len, index, k, n, size, crc = _FIXED.unpack_from(view)
    if magic != MAGIC:
        raise IntegrityError(f"not a regsim fragment: magic {bytes(magic)!r}, expected {MAGIC!r}")
    if version != VERSION:
        raise IntegrityError(f"fragment format version {version} is not supported (this build reads {VERSION})")
    end = FIXED_SIZE + name_len + key_len
    if len(view) < end + _CRC.size:
        raise IntegrityError(f"fragment header truncated: {len(view)} bytes, the header needs {end + _CRC.size}")
    (stored,) = _CRC.unpack_from(view, end)
    if crc32c.crc32c(view[:end]) != stored:
        raise IntegrityError("fragment header is damaged: header crc32c mismatch")
    try:
        codec = bytes(view[FIXED_SIZE : FIXED_SIZE + name_len]).decode("ascii")
        key = bytes(view[FIXED_SIZE + name_len : end]).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise IntegrityError(f"fragment header is damaged: {exc}") from None
    if k < 1 or n < k or index >= n:
        raise IntegrityError(f"fragment header is inconsistent: index {index}, k {k}, n {n}")
    return FragmentHeader(key, codec, index, k, n, size, crc)


def parse(data: Buffer) -> tuple[FragmentHeader, memoryview]:
    """Header and payload (a view into ``data``) of a whole fragment, its integrity checked."""
    header = parse_header(data)
    payload = memoryview(data).cast("B")[header.length :]
    if len(payload) != header.payload_size:
        raise IntegrityError(
            f"fragment {header.index} of {header.key!r} has {len(payload)} payload bytes, expected {header.payload_size}"
        )
    if crc32c.crc32c(payload) != header.crc:
        raise IntegrityError(f"fragment {header.index} of {header.key!r} is damaged: payload crc32c mismatch")
    return header, payload
