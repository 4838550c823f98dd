"""Password hashing for database users: bcrypt (default) or argon2id, cost configurable.

Hashing is deliberately slow, and that slowness is what the simulator must price: every hash and
every check records a ``password_hash`` item (detail: the scheme). Stored hashes name their own
scheme and cost (``$2b$12$...``, ``$argon2id$v=19$m=65536,t=3,p=4$...``), so one database may hold
both and :func:`verify_password` checks either, whatever the configured default. Tests use the
lowest costs (:meth:`BcryptHasher.fastest`, :meth:`Argon2Hasher.fastest`).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import argon2
import bcrypt

from ..errors import ConfigError
from ..receipts import Kind
from .metering import meter

BCRYPT_MAX_BYTES = 72


@runtime_checkable
class PasswordHasher(Protocol):
    scheme: str

    def hash(self, password: str) -> str: ...

    def verify(self, password: str, encoded: str) -> bool: ...

    def identifies(self, encoded: str) -> bool:
        """True if ``encoded`` is a hash of this scheme."""
        ...


class BcryptHasher:
    """bcrypt with ``rounds`` as the log2 cost (4..31; 12 is a common production choice).

    bcrypt reads at most 72 bytes of a password; longer passwords are refused when set, rather
    than silently truncated, and never match when checked.
    """

    scheme = "bcrypt"

    def __init__(self, rounds: int = 12) -> None:
        if not 4 <= rounds <= 31:
            raise ConfigError(f"bcrypt rounds must be between 4 and 31, got {rounds}")
        self.rounds = rounds

    @classmethod
    def fastest(cls) -> BcryptHasher:
        return cls(4)

    def hash(self, password: str) -> str:
        data = password.encode()
        if len(data) > BCRYPT_MAX_BYTES:
            raise ConfigError(f"bcrypt cannot hash passwords longer than {BCRYPT_MAX_BYTES} bytes (got {len(data)})")
        with meter(Kind.PASSWORD_HASH, detail=self.scheme):
            return bcrypt.hashpw(data, bcrypt.gensalt(self.rounds)).decode()

    def verify(self, password: str, encoded: str) -> bool:
        data = password.encode()
        with meter(Kind.PASSWORD_HASH, detail=self.scheme):
            if len(data) > BCRYPT_MAX_BYTES:
                return False
            try:
                return bcrypt.checkpw(data, encoded.encode())
            except ValueError:
                return False

    def identifies(self, encoded: str) -> bool:
        return encoded.startswith(("$2a$", "$2b$", "$2y$"))


class Argon2Hasher:
    """argon2id through argon2-cffi; costs are time (passes), memory (KiB) and parallelism."""

    scheme = "argon2"

    def __init__(self, time_cost: int = 3, memory_cost: int = 65536, parallelism: int = 4) -> None:
        if time_cost < 1 or parallelism < 1 or memory_cost < 8 * parallelism:
            raise ConfigError(f"invalid argon2 costs time={time_cost}, memory={memory_cost} KiB, "
                              f"parallelism={parallelism}: need time >= 1, parallelism >= 1 and "
                              "memory >= 8 KiB per lane")
        self._hasher = argon2.PasswordHasher(time_cost=time_cost, memory_cost=memory_cost,
                                             parallelism=parallelism)
        self.time_cost, self.memory_cost, self.parallelism = time_cost, memory_cost, parallelism

    @classmethod
    def fastest(cls) -> Argon2Hasher:
        return cls(time_cost=1, memory_cost=8, parallelism=1)

    def hash(self, password: str) -> str:
        with meter(Kind.PASSWORD_HASH, detail=self.scheme):
            return self._hasher.hash(password)

    def verify(self, password: str, encoded: str) -> bool:
        with meter(Kind.PASSWORD_HASH, detail=self.scheme):
            try:
                return self._hasher.verify(encoded, password)
            except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
                return False

    def identifies(self, encoded: str) -> bool:
        return encoded.startswith("$argon2")


_VERIFIERS: tuple[PasswordHasher, ...] = (BcryptHasher(), Argon2Hasher())


def verify_password(password: str, encoded: str) -> bool:
    """Check ``password`` against a stored hash of any supported scheme (its cost is in the hash)."""
    for hasher in _VERIFIERS:
        if hasher.identifies(encoded):
            return hasher.verify(password, encoded)
    raise ConfigError(f"stored password hash has an unknown scheme ({encoded[:7]!r}...)")


def make_hasher(scheme: str = "bcrypt", **cost: int) -> PasswordHasher:
    """A hasher by scheme name: ``make_hasher("argon2", time_cost=2)``."""
    if scheme == "bcrypt":
        return BcryptHasher(**cost)
    if scheme == "argon2":
        return Argon2Hasher(**cost)
    raise ConfigError(f"unknown password scheme {scheme!r}: use 'bcrypt' or 'argon2'")
