"""Versioned key-encryption keys (KEKs): the only long-lived secrets of encryption at rest.

Each blob has its own data key; the keyring holds the AES-256 keys that wrap those data keys.
Versions only grow: :meth:`Keyring.rotate` adds a new primary, new blobs are wrapped under it, old
blobs are re-wrapped at leisure (:meth:`~regsim.registry.crypto.envelope.EnvelopeCipher.rewrap`),
and then the old version is retired -- its key removed for good. A retired version number is
remembered, never reused, so a blob still wrapped under it fails with a message that says so.

On disk a keyring is a small JSON document, written atomically with mode 0600::

    {"format": "regsim.keyring/v1", "primary": 2, "retired": [],
     "keys": {"1": "<base64 of 32 bytes>", "2": "<base64 of 32 bytes>"}}
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
import tempfile
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path

from ..errors import ConfigError, IntegrityError
from .format import KEY_SIZE

FILE_FORMAT = "regsim.keyring/v1"
MAX_VERSION = 2**32 - 1  # a blob header stores the version as a u32


class UnknownKeyVersion(IntegrityError):
    """A blob (or a caller) names a KEK version this keyring does not hold."""


def _check_version(version: object) -> int:
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= MAX_VERSION:
        raise ConfigError(f"KEK version must be an int in [1, {MAX_VERSION}], got {version!r}")
    return version


class Keyring:
    """AES-256 key-encryption keys by version, one of them primary (the one new wraps use).

    Safe to share between threads: the primary version and its key are read as one pair, so a
    concurrent :meth:`rotate` can never label a wrap with one version's number and another's key.
    ``repr`` never shows key material.
    """

    __slots__ = ("_keys", "_primary", "_retired", "_lock")

    def __init__(self, keys: Mapping[int, bytes], primary: int, *, retired: Iterable[int] = ()) -> None:
        self._keys: dict[int, bytes] = {}
        for version, key in keys.items():
            if not isinstance(key, bytes | bytearray) or len(key) != KEY_SIZE:
                raise ConfigError(f"KEK version {version} must be {KEY_SIZE} bytes (AES-256)")
            self._keys[_check_version(version)] = bytes(key)
        self._retired = {_check_version(v) for v in retired}
        if clash := self._retired & self._keys.keys():
            raise ConfigError(f"KEK versions {sorted(clash)} are both retired and present")
        if _check_version(primary) not in self._keys:
            raise ConfigError(f"primary KEK version {primary} is not among the keys {sorted(self._keys)}")
        self._primary = (primary, self._keys[primary])
        self._lock = threading.RLock()

    @classmethod
    def generate(cls) -> Keyring:
        """A new keyring holding one fresh random key, version 1."""
        return cls({1: secrets.token_bytes(KEY_SIZE)}, 1)

    @property
    def primary_version(self) -> int:
        return self._primary[0]

    def primary(self) -> tuple[int, bytes]:
        """The primary version and its key, read together."""
        return self._primary

    @property
    def versions(self) -> tuple[int, ...]:
        """Versions whose keys are held, oldest first."""
        with self._lock:
            return tuple(sorted(self._keys))

    @property
    def retired_versions(self) -> tuple[int, ...]:
        with self._lock:
            return tuple(sorted(self._retired))

    def __contains__(self, version: object) -> bool:
        return version in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return (f"Keyring(primary={self.primary_version}, versions={list(self.versions)}, "
                f"retired={list(self.retired_versions)})")

    def get(self, version: int) -> bytes:
        """The key of ``version``; UnknownKeyVersion (an IntegrityError) if it is not held."""
        try:
            return self._keys[version]
        except (KeyError, TypeError):
            pass
        if isinstance(version, int) and version in self._retired:
            raise UnknownKeyVersion(
                f"KEK version {version} was retired and its key removed; data still wrapped under it "
                f"cannot be decrypted (re-wrap blobs under the primary before retiring a version)"
            )
        raise UnknownKeyVersion(f"KEK version {version!r} is not in this keyring (held: {list(self.versions)})")

    def rotate(self) -> int:
        """Add a fresh key as the new primary and return its version."""
        with self._lock:
            version = max(self._keys.keys() | self._retired) + 1
            if version > MAX_VERSION:
                raise ConfigError(f"KEK versions exhausted (max {MAX_VERSION})")
            key = secrets.token_bytes(KEY_SIZE)
            self._keys[version] = key
            self._primary = (version, key)
        return version

    def retire(self, version: int) -> None:
        """Remove the key of ``version`` for good. Retiring a retired version is a no-op.

        The primary cannot be retired: rotate first.
        """
        with self._lock:
            if version in self._retired:
                return
            if version not in self._keys:
                raise ConfigError(
                    f"cannot retire KEK version {version!r}: not in this keyring (held: {list(self.versions)})"
                )
            if version == self.primary_version:
                raise ConfigError(f"cannot retire KEK version {version}: it is the primary; rotate first")
            del self._keys[version]
            self._retired.add(version)

    # -- persistence -------------------------------------------------------------------------

    def to_json(self) -> str:
        with self._lock:
            doc = {
                "format": FILE_FORMAT,
                "primary": self.primary_version,
                "retired": sorted(self._retired),
                "keys": {str(v): base64.b64encode(k).decode("ascii") for v, k in sorted(self._keys.items())},
            }
        return json.dumps(doc, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes, *, source: str = "keyring") -> Keyring:
        """Parse :meth:`to_json` output; ConfigError naming ``source`` and the fault otherwise."""

        def bad(reason: str) -> ConfigError:
            return ConfigError(f"malformed keyring {source}: {reason}")

        try:
            doc = json.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            raise bad(f"not valid JSON ({exc})") from None
        if not isinstance(doc, dict):
            raise bad("top level must be a JSON object")
        if doc.get("format") != FILE_FORMAT:
            raise bad(f"format is {doc.get('format')!r}, expected {FILE_FORMAT!r}")
        keys_doc, primary, retired = doc.get("keys"), doc.get("primary"), doc.get("retired", [])
        if not isinstance(keys_doc, dict) or not keys_doc:
            raise bad("'keys' must be a non-empty object of version -> base64 key")
        if not isinstance(retired, list):
            raise bad("'retired' must be a list of versions")
        keys: dict[int, bytes] = {}
        for name, encoded in keys_doc.items():
            if not (isinstance(name, str) and name.isascii() and name.isdigit()):
                raise bad(f"key version {name!r} is not a positive integer")
            try:
                keys[int(name)] = base64.b64decode(encoded, validate=True)
            except (binascii.Error, TypeError, ValueError):
                raise bad(f"key of version {name} is not valid base64") from None
        try:
            return cls(keys, primary, retired=retired)
        except ConfigError as exc:
            raise bad(exc.message) from None

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the keyring to ``path`` atomically, readable by its owner only (mode 0600)."""
        target = Path(path)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(self.to_json())
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Keyring:
        """Read a keyring written by :meth:`save`; ConfigError if it is missing or malformed."""
        try:
            text = Path(path).read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read keyring file {os.fspath(path)!r}: {exc.strerror or exc}") from None
        return cls.from_json(text, source=f"file {os.fspath(path)!r}")
