"""Content addressing: OCI digests, streaming hashing, verification.

A digest is ``algorithm ":" encoded`` (OCI image-spec, descriptor.md). regsim accepts the two
registered algorithms, ``sha256`` (64 lowercase hex) and ``sha512`` (128 lowercase hex), and
writes ``sha256``. Hashing is recorded on the active receipt so that the simulator can price it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from . import receipts
from .errors import DigestInvalid

_HEX_LEN = {"sha256": 64, "sha512": 128}
_GRAMMAR = re.compile(r"^([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$")


@dataclass(frozen=True, slots=True, order=True)
class Digest:
    """A parsed, validated digest. ``str(d)`` gives the canonical ``algo:hex`` form."""

    algorithm: str
    hex: str

    @classmethod
    def parse(cls, text: str | Digest) -> Digest:
        if isinstance(text, Digest):
            return text
        if not isinstance(text, str):
            raise DigestInvalid(f"digest must be a string, got {type(text).__name__}")
        m = _GRAMMAR.match(text)
        if not m:
            raise DigestInvalid(f"malformed digest {text!r}: expected 'sha256:<64 hex>'")
        algorithm, encoded = m.groups()
        if algorithm not in _HEX_LEN:
            raise DigestInvalid(f"unsupported digest algorithm {algorithm!r} in {text!r}: use sha256 or sha512")
        if len(encoded) != _HEX_LEN[algorithm] or not re.fullmatch(r"[0-9a-f]+", encoded):
            raise DigestInvalid(
                f"malformed digest {text!r}: {algorithm} needs {_HEX_LEN[algorithm]} lowercase hex characters"
            )
        return cls(algorithm, encoded)

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"

    @property
    def short(self) -> str:
        return f"{self.algorithm}:{self.hex[:12]}"


class Digester:
    """Streaming hasher that records its work on the active receipt when it finishes.

    ``update`` accepts bytes-like objects (memoryviews included) without copying them.
    """

    __slots__ = ("algorithm", "_h", "nbytes", "_node")

    def __init__(self, algorithm: str = "sha256", *, node: str | None = None) -> None:
        if algorithm not in _HEX_LEN:
            raise DigestInvalid(f"unsupported digest algorithm {algorithm!r}: use sha256 or sha512")
        self.algorithm = algorithm
        self._h = hashlib.new(algorithm)
        self.nbytes = 0
        self._node = node

    def update(self, data: bytes | bytearray | memoryview) -> None:
        with receipts.metered(self.algorithm, len(data), node=self._node):
            self._h.update(data)
        self.nbytes += len(data)

    def digest(self) -> Digest:
        return Digest(self.algorithm, self._h.hexdigest())


def compute(data: bytes | bytearray | memoryview, algorithm: str = "sha256", *, node: str | None = None) -> Digest:
    """Digest of ``data`` in one call (recorded on the active receipt)."""
    d = Digester(algorithm, node=node)
    d.update(data)
    return d.digest()


def verify(data: bytes | bytearray | memoryview, expected: str | Digest, *, node: str | None = None) -> Digest:
    """Hash ``data`` with the algorithm of ``expected`` and raise :class:`DigestInvalid` on mismatch."""
    want = Digest.parse(expected)
    got = compute(data, want.algorithm, node=node)
    if got != want:
        raise DigestInvalid(f"content does not match digest: expected {want}, computed {got}")
    return got
