"""The on-disk layout of an envelope-encrypted blob.

A blob is a fixed-size header followed by the plaintext cut into segments of ``segment_size``
bytes, each sealed with AES-256-GCM under the blob's own data key and stored with its 16-byte tag::

    offset  size  field
    0       4     magic  b"RSEV"
    4       1     format version (1)
    5       1     suite (1: AES-256-GCM segments, AES-256-GCM key wrap)
    6       2     header size (91)
    8       4     segment size (plaintext bytes per segment; the last one may be shorter)
    12      8     plaintext size
    20      7     nonce prefix (random per blob)
    --- the first 27 bytes are the *stable* header: set once, never changed ---
    27      4     KEK version the data key is wrapped under
    31      12    wrap nonce
    43      48    wrapped data key (32 bytes AES-GCM-sealed, with its tag)
    91            segment 0: ciphertext || tag, segment 1: ..., segment n-1 (shorter or empty)

Segment ``i`` uses the 12-byte nonce ``prefix || i (u32 BE) || last`` where ``last`` is 1 for the
final segment and 0 otherwise (the layout of Tink's AES-GCM streaming AEAD and of the STREAM
construction of Hoang, Reyhanitabar, Rogaway and Vizar). Dropping, duplicating, reordering or
truncating segments therefore changes some segment's nonce and its tag fails. Every segment
authenticates the stable header and the caller's associated data, never the KEK version or the
wrapped key: rotating the KEK rewrites 64 header bytes and leaves every segment untouched. The
key wrap itself authenticates the stable header and the KEK version, so the whole header is
covered. An empty plaintext still has one (empty, last) segment, so even it carries a tag.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ..errors import IntegrityError

MAGIC = b"RSEV"
FORMAT_VERSION = 1
SUITE_AES256_GCM = 1
KEY_SIZE = 32
TAG_SIZE = 16
NONCE_SIZE = 12
NONCE_PREFIX_SIZE = 7
WRAPPED_KEY_SIZE = KEY_SIZE + TAG_SIZE

_STABLE = struct.Struct(">4sBBHIQ7s")
_WRAP = struct.Struct(f">I{NONCE_SIZE}s{WRAPPED_KEY_SIZE}s")
_NONCE_TAIL = struct.Struct(">IB")

STABLE_SIZE = _STABLE.size  # 27
HEADER_SIZE = _STABLE.size + _WRAP.size  # 91
MAX_SEGMENT_SIZE = 1 << 30
MAX_SEGMENTS = 1 << 32  # the segment index is a 32-bit counter


def check_segment_size(segment_size: int) -> int:
    """Return ``segment_size`` if a header can carry it, else raise ValueError."""
    if not isinstance(segment_size, int) or not 1 <= segment_size <= MAX_SEGMENT_SIZE:
        raise ValueError(f"segment size must be an int in [1, {MAX_SEGMENT_SIZE}], got {segment_size!r}")
    return segment_size


def segment_count(plaintext_size: int, segment_size: int) -> int:
    """Segments holding ``plaintext_size`` bytes: at least one, so an empty blob still has a tag."""
    return max(1, -(-plaintext_size // segment_size))


def ciphertext_size(plaintext_size: int, segment_size: int) -> int:
    """Stored size of a blob: header, plaintext, and one tag per segment."""
    if plaintext_size < 0:
        raise ValueError(f"plaintext size must be non-negative, got {plaintext_size}")
    return HEADER_SIZE + plaintext_size + TAG_SIZE * segment_count(plaintext_size, segment_size)


def segment_nonce(prefix: bytes, index: int, last: bool) -> bytes:
    """The nonce of segment ``index``: it binds the segment's position and whether it ends the blob."""
    return prefix + _NONCE_TAIL.pack(index, 1 if last else 0)


@dataclass(frozen=True, slots=True)
class EnvelopeHeader:
    """A parsed header. ``stable`` (the first 27 bytes) never changes over the blob's life."""

    segment_size: int
    plaintext_size: int
    nonce_prefix: bytes
    kek_version: int
    wrap_nonce: bytes
    wrapped_key: bytes

    @property
    def stable(self) -> bytes:
        """The bytes every segment and the key wrap authenticate."""
        return _STABLE.pack(MAGIC, FORMAT_VERSION, SUITE_AES256_GCM, HEADER_SIZE, self.segment_size,
                            self.plaintext_size, self.nonce_prefix)

    @property
    def segment_count(self) -> int:
        return segment_count(self.plaintext_size, self.segment_size)

    @property
    def ciphertext_size(self) -> int:
        return ciphertext_size(self.plaintext_size, self.segment_size)

    def wrap_aad(self, kek_version: int | None = None) -> bytes:
        """What the key wrap authenticates: the stable header and the KEK version."""
        return self.stable + struct.pack(">I", self.kek_version if kek_version is None else kek_version)

    def segment_offset(self, index: int) -> int:
        """Where segment ``index`` starts in the blob."""
        return HEADER_SIZE + index * (self.segment_size + TAG_SIZE)

    def segment_plaintext_size(self, index: int) -> int:
        """Plaintext bytes in segment ``index`` (the last may be short, or empty)."""
        return max(0, min(self.segment_size, self.plaintext_size - index * self.segment_size))

    def pack(self) -> bytes:
        return self.stable + _WRAP.pack(self.kek_version, self.wrap_nonce, self.wrapped_key)


def parse_header(data: bytes | bytearray | memoryview) -> EnvelopeHeader:
    """Parse the header at the start of ``data`` (a blob or just its first HEADER_SIZE bytes).

    Raises IntegrityError when the bytes are too short, are not an envelope blob, or use a format
    this code does not read. Authenticity is checked later, when the data key is unwrapped.
    """
    view = memoryview(data)
    if len(view) < HEADER_SIZE:
        raise IntegrityError(f"envelope header truncated: {len(view)} bytes, need {HEADER_SIZE}")
    magic, fmt, suite, size, seg, plain, prefix = _STABLE.unpack_from(view, 0)
    if magic != MAGIC:
        raise IntegrityError(f"not an envelope-encrypted blob: magic {bytes(magic)!r}, expected {MAGIC!r}")
    if fmt != FORMAT_VERSION or suite != SUITE_AES256_GCM or size != HEADER_SIZE:
        raise IntegrityError(
            f"unsupported envelope format (version {fmt}, suite {suite}, header {size} bytes); "
            f"this code reads version {FORMAT_VERSION}, suite {SUITE_AES256_GCM}, header {HEADER_SIZE} bytes"
        )
    if not 1 <= seg <= MAX_SEGMENT_SIZE:
        raise IntegrityError(f"envelope header has an invalid segment size {seg}")
    if segment_count(plain, seg) > MAX_SEGMENTS:
        raise IntegrityError(f"envelope header claims {plain} bytes in more than {MAX_SEGMENTS} segments")
    kek_version, wrap_nonce, wrapped_key = _WRAP.unpack_from(view, STABLE_SIZE)
    return EnvelopeHeader(seg, plain, prefix, kek_version, wrap_nonce, wrapped_key)


def plaintext_size(header: bytes | bytearray | memoryview | EnvelopeHeader) -> int:
    """The plaintext size a blob's header declares (not yet authenticated)."""
    return (header if isinstance(header, EnvelopeHeader) else parse_header(header)).plaintext_size


def kek_version(header: bytes | bytearray | memoryview | EnvelopeHeader) -> int:
    """The KEK version a blob's data key is wrapped under: what a rotation job filters on."""
    return (header if isinstance(header, EnvelopeHeader) else parse_header(header)).kek_version
