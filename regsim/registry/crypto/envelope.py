"""Envelope encryption at rest: a fresh data key per blob, wrapped by the keyring's primary KEK.

The data is sealed in fixed-size AES-256-GCM segments whose nonces carry their index and a
last-segment flag (layout and rationale in :mod:`~regsim.registry.crypto.format`), which buys:

- range reads that fetch and decrypt only the header and the segments covering the range;
- key rotation that re-wraps the 32-byte data key and rewrites the header, never the data;
- detection of any altered, dropped, duplicated, reordered, truncated or appended byte, of the
  wrong associated data and of a wrong or missing KEK, always as :class:`IntegrityError`.

Speed: whole-blob calls write straight into their result (no intermediate copies), so encrypting
64 MiB costs what one AES-GCM call producing a new 64 MiB output costs; on a VM most of that is
the kernel faulting in the fresh pages. Callers that can reuse a buffer use :meth:`encrypt_into`
and :meth:`decrypt_into`, which run at the speed of AES-GCM into a reused buffer. The benchmark in
``tests/registry/test_crypto_bench.py`` measures both against the raw primitive.

Work is recorded on the active receipt: ``aes_gcm_encrypt`` / ``aes_gcm_decrypt`` (plaintext bytes
sealed or opened), ``key_wrap`` / ``key_unwrap`` (one per data key).
"""

from __future__ import annotations

import dataclasses
import io
import secrets
from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .. import receipts
from ..errors import IntegrityError
from ..receipts import Kind
from .format import (
    HEADER_SIZE,
    KEY_SIZE,
    MAX_SEGMENTS,
    NONCE_PREFIX_SIZE,
    NONCE_SIZE,
    TAG_SIZE,
    EnvelopeHeader,
    check_segment_size,
    ciphertext_size,
    kek_version,
    parse_header,
    plaintext_size,
    segment_count,
    segment_nonce,
)
from .keyring import Keyring, UnknownKeyVersion

Buffer = bytes | bytearray | memoryview


def _seal_into(aead: AESGCM, nonce: bytes, data: memoryview, aad: bytes, out: memoryview) -> None:
    aead.encrypt_into(nonce, data, aad, out)


def _open_into(aead: AESGCM, nonce: bytes, data: memoryview, aad: bytes, out: memoryview) -> None:
    aead.decrypt_into(nonce, data, aad, out)


def _seal_copy(aead: AESGCM, nonce: bytes, data: memoryview, aad: bytes, out: memoryview) -> None:
    out[:] = aead.encrypt(nonce, data, aad)


def _open_copy(aead: AESGCM, nonce: bytes, data: memoryview, aad: bytes, out: memoryview) -> None:
    out[:] = aead.decrypt(nonce, data, aad)


# cryptography gained AESGCM.encrypt_into/decrypt_into in late 2025 (release 47); older releases
# get the same result through one extra copy per segment.
_seal, _open = (_seal_into, _open_into) if hasattr(AESGCM, "encrypt_into") else (_seal_copy, _open_copy)


class _FreshBytes:
    """A new ``bytes`` object of a given size that is filled in place through ``view``.

    BytesIO over a freshly calloc'd ``bytes`` hands out its own storage when nothing else refers
    to it, and ``getvalue`` returns that same object once the view is released: the result is an
    immutable ``bytes`` without a copy (CPython; elsewhere it is merely one copy slower).
    """

    __slots__ = ("_bio", "view")

    def __init__(self, size: int) -> None:
        self._bio = io.BytesIO(bytes(size))
        self.view = self._bio.getbuffer()

    def finish(self) -> bytes:
        self.view.release()
        return self._bio.getvalue()


def _byte_view(data: Buffer) -> memoryview:
    view = memoryview(data)
    return view if view.format == "B" and view.ndim == 1 else view.cast("B")


def _check_aad(aad: Buffer) -> bytes:
    if not isinstance(aad, bytes | bytearray | memoryview):
        raise TypeError(f"aad must be bytes-like, got {type(aad).__name__}")
    return bytes(aad)


class EnvelopeCipher:
    """Seals blobs for storage under ``keyring``; opens any blob whose KEK version it still holds.

    ``segment_size`` applies to blobs this cipher encrypts; decryption reads it from each header.
    ``node`` names where the work happens, for receipts.
    """

    HEADER_SIZE = HEADER_SIZE
    parse_header = staticmethod(parse_header)
    plaintext_size = staticmethod(plaintext_size)
    kek_version = staticmethod(kek_version)

    def __init__(self, keyring: Keyring, *, segment_size: int = 1 << 20, node: str | None = None) -> None:
        self.keyring = keyring
        self.segment_size = check_segment_size(segment_size)
        self.node = node

    def __repr__(self) -> str:
        return f"EnvelopeCipher({self.keyring!r}, segment_size={self.segment_size}, node={self.node!r})"

    def ciphertext_size(self, plaintext_size: int) -> int:
        """Stored size of a ``plaintext_size``-byte blob encrypted by this cipher."""
        return ciphertext_size(plaintext_size, self.segment_size)  # the format's function, not this method

    # -- encryption --------------------------------------------------------------------------

    def encrypt(self, plaintext: Buffer, *, aad: Buffer = b"") -> bytes:
        """The stored form of ``plaintext``: header and sealed segments, as a new ``bytes``."""
        src = _byte_view(plaintext)
        out = _FreshBytes(self.ciphertext_size(len(src)))
        self._seal_blob(src, out.view, _check_aad(aad))
        return out.finish()

    def encrypt_into(self, plaintext: Buffer, out: bytearray | memoryview, *, aad: Buffer = b"") -> int:
        """Write the stored form of ``plaintext`` at the start of ``out``; return its length."""
        src, dst = _byte_view(plaintext), _byte_view(out)
        need = self.ciphertext_size(len(src))
        if dst.readonly or len(dst) < need:
            raise ValueError(f"out must be a writable buffer of at least {need} bytes, got "
                             f"{'a read-only one' if dst.readonly else f'{len(dst)} bytes'}")
        return self._seal_blob(src, dst[:need], _check_aad(aad))

    def _seal_blob(self, src: memoryview, dst: memoryview, aad: bytes) -> int:
        seg = self.segment_size
        if segment_count(len(src), seg) > MAX_SEGMENTS:
            raise ValueError(f"{len(src)} bytes need more than {MAX_SEGMENTS} segments of {seg} bytes: "
                             f"use larger segments")
        data_key = secrets.token_bytes(KEY_SIZE)
        header = self._wrap(EnvelopeHeader(seg, len(src), secrets.token_bytes(NONCE_PREFIX_SIZE), 0, b"", b""),
                            data_key)
        aead, seg_aad, n = AESGCM(data_key), header.stable + aad, header.segment_count
        with receipts.metered(Kind.AES_GCM_ENCRYPT, len(src), node=self.node):
            pos = HEADER_SIZE
            for i in range(n):
                chunk = src[i * seg : (i + 1) * seg]
                end = pos + len(chunk) + TAG_SIZE
                _seal(aead, segment_nonce(header.nonce_prefix, i, i == n - 1), chunk, seg_aad, dst[pos:end])
                pos = end
        dst[:HEADER_SIZE] = header.pack()
        return pos

    # -- decryption --------------------------------------------------------------------------

    def decrypt(self, blob: Buffer, *, aad: Buffer = b"") -> bytes:
        """The plaintext of a whole stored blob, as a new ``bytes``."""
        src = _byte_view(blob)
        header = self._whole_blob_header(src)
        out = _FreshBytes(header.plaintext_size)
        self._open_segments(header, 0, src[HEADER_SIZE:], out.view, _check_aad(aad))
        return out.finish()

    def decrypt_into(self, blob: Buffer, out: bytearray | memoryview, *, aad: Buffer = b"") -> int:
        """Write the plaintext of a stored blob at the start of ``out``; return its length.

        On failure the part of ``out`` written so far is zeroed: no unauthenticated byte remains.
        """
        src, dst = _byte_view(blob), _byte_view(out)
        header = self._whole_blob_header(src)
        need = header.plaintext_size
        if dst.readonly or len(dst) < need:
            raise ValueError(f"out must be a writable buffer of at least {need} bytes, got "
                             f"{'a read-only one' if dst.readonly else f'{len(dst)} bytes'}")
        try:
            self._open_segments(header, 0, src[HEADER_SIZE:], dst[:need], _check_aad(aad))
        except IntegrityError:
            dst[:need] = bytes(need)
            raise
        return need

    def decrypt_range(self, read_at: Callable[[int, int], Buffer], offset: int, length: int, *,
                      aad: Buffer = b"") -> bytes:
        """Plaintext bytes ``[offset, offset + length)`` (fewer only at the end), reading only what they need.

        ``read_at(pos, n)`` returns ``n`` stored bytes from ``pos`` (e.g. a backend's ``read_at``
        bound to one key). Only the header and the segments covering the range are read and
        authenticated; an empty range still authenticates the header.
        """
        if offset < 0 or length < 0:
            raise ValueError(f"offset and length must be non-negative, got offset={offset} length={length}")
        header = parse_header(self._read_exact(read_at, 0, HEADER_SIZE, "header"))
        aad_bytes = _check_aad(aad)
        end = min(offset + length, header.plaintext_size)
        if end <= offset:
            self._unwrap(header)
            return b""
        seg = header.segment_size
        first, last = offset // seg, (end - 1) // seg
        start = header.segment_offset(first)
        stop = header.segment_offset(last) + header.segment_plaintext_size(last) + TAG_SIZE
        stored = self._read_exact(read_at, start, stop - start, f"segments {first}..{last}")
        covered = _FreshBytes(min(header.plaintext_size, (last + 1) * seg) - first * seg)
        self._open_segments(header, first, stored, covered.view, aad_bytes, last - first + 1)
        lo = offset - first * seg
        if lo == 0 and end - offset == len(covered.view):
            return covered.finish()
        return bytes(covered.view[lo : lo + end - offset])

    def _whole_blob_header(self, src: memoryview) -> EnvelopeHeader:
        header = parse_header(src)
        if len(src) != header.ciphertext_size:
            raise IntegrityError(
                f"envelope blob is {len(src)} bytes but its header declares {header.plaintext_size} plaintext "
                f"bytes in {header.segment_count} segments ({header.ciphertext_size} bytes): truncated or extended"
            )
        return header

    @staticmethod
    def _read_exact(read_at: Callable[[int, int], Buffer], pos: int, n: int, what: str) -> memoryview:
        data = _byte_view(read_at(pos, n))
        if len(data) != n:
            raise IntegrityError(f"envelope blob truncated: reading {what} at {pos} returned {len(data)} of {n} bytes")
        return data

    def _open_segments(self, header: EnvelopeHeader, first: int, stored: memoryview, dst: memoryview,
                       aad: bytes, count: int | None = None) -> None:
        """Authenticate and decrypt ``count`` segments from index ``first``, stored back to back in ``stored``."""
        aead = AESGCM(self._unwrap(header))
        total, seg_aad = header.segment_count, header.stable + aad
        count = total - first if count is None else count
        with receipts.metered(Kind.AES_GCM_DECRYPT, len(dst), node=self.node):
            src_pos = dst_pos = 0
            for i in range(first, first + count):
                size = header.segment_plaintext_size(i)
                nonce = segment_nonce(header.nonce_prefix, i, i == total - 1)
                try:
                    _open(aead, nonce, stored[src_pos : src_pos + size + TAG_SIZE], seg_aad,
                          dst[dst_pos : dst_pos + size])
                except InvalidTag:
                    raise IntegrityError(
                        f"envelope segment {i} of {total} failed authentication: the data was altered, "
                        f"segments were dropped, duplicated or reordered, or the associated data differs"
                    ) from None
                src_pos += size + TAG_SIZE
                dst_pos += size

    # -- keys --------------------------------------------------------------------------------

    def rewrap(self, blob_or_header: Buffer) -> bytes:
        """Re-wrap a blob's data key under the keyring's primary KEK, leaving its segments as they are.

        Given a whole blob, returns the whole blob with the new header; given only the first
        ``HEADER_SIZE`` bytes, returns only the new header, to write over the old one in place.
        """
        src = _byte_view(blob_or_header)
        header = parse_header(src)
        new = self._wrap(header, self._unwrap(header))
        return new.pack() + src[HEADER_SIZE:]

    def _wrap(self, header: EnvelopeHeader, data_key: bytes) -> EnvelopeHeader:
        (version, kek), nonce = self.keyring.primary(), secrets.token_bytes(NONCE_SIZE)
        with receipts.metered(Kind.KEY_WRAP, 1, node=self.node):
            wrapped = AESGCM(kek).encrypt(nonce, data_key, header.wrap_aad(version))
        return dataclasses.replace(header, kek_version=version, wrap_nonce=nonce, wrapped_key=wrapped)

    def _unwrap(self, header: EnvelopeHeader) -> bytes:
        try:
            kek = self.keyring.get(header.kek_version)
        except UnknownKeyVersion as exc:
            raise UnknownKeyVersion(f"cannot unwrap the blob's data key: {exc.message}") from None
        with receipts.metered(Kind.KEY_UNWRAP, 1, node=self.node):
            try:
                return AESGCM(kek).decrypt(header.wrap_nonce, header.wrapped_key, header.wrap_aad())
            except InvalidTag:
                raise IntegrityError(
                    f"cannot unwrap the blob's data key with KEK version {header.kek_version}: the header was "
                    f"altered or this keyring holds a different key under that version"
                ) from None
