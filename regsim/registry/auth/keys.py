"""Token-signing keys and the key set that rotates them.

Each key is bound to exactly one JWT algorithm (RS256, ES256, EdDSA or HS256) and named by a
``kid``. The verifier chooses the key by ``kid`` and takes the allowed algorithm from the key,
never from the token header: that binding is what defeats ``alg: none`` and RS/HS key confusion.

Asymmetric keys are named as Docker's libtrust names them (base32 of the first 240 bits of the
SHA-256 of the DER public key, in colon-separated groups of four), so a kid identifies the public
key it verifies with; HMAC keys get a random kid, since a secret must not leak through its name.

Rotation: :meth:`KeySet.rotate` makes a new key the signing key and *retires* the old one, which
keeps verifying until every token it could have signed has expired (``max_token_ttl`` after
retirement, plus the verifier's leeway). :meth:`KeySet.revoke` drops a compromised key at once.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from ..errors import ConfigError, Unauthorized

ALGORITHMS = ("RS256", "ES256", "EdDSA", "HS256")
MIN_RSA_BITS = 2048
MIN_HMAC_BYTES = 32


def libtrust_key_id(public_key: object) -> str:
    """The libtrust key ID of a public key, as Docker's token servers write it in ``kid``."""
    der = public_key.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    b32 = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
    return ":".join(b32[i : i + 4] for i in range(0, len(b32), 4))


def _algorithm_of(private_key: object) -> str:
    if isinstance(private_key, rsa.RSAPrivateKey):
        if private_key.key_size < MIN_RSA_BITS:
            raise ConfigError(f"RSA key of {private_key.key_size} bits is too short; use at least {MIN_RSA_BITS}")
        return "RS256"
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        if not isinstance(private_key.curve, ec.SECP256R1):
            raise ConfigError(f"ES256 needs a P-256 key, got curve {private_key.curve.name}")
        return "ES256"
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        return "EdDSA"
    raise ConfigError(f"unsupported signing key type {type(private_key).__name__}: use RSA, EC P-256 or Ed25519")


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One key: what signs (private key or HMAC secret) and what verifies (public key or secret)."""

    kid: str
    algorithm: str
    signing_key: object = field(repr=False)
    verify_key: object = field(repr=False)

    @classmethod
    def generate(cls, algorithm: str = "ES256", *, kid: str | None = None, rsa_bits: int = 2048) -> SigningKey:
        """A fresh key for ``algorithm`` (RSA 2048 by default, P-256, Ed25519, or a 32-byte secret)."""
        if algorithm == "HS256":
            return cls.hmac(secrets.token_bytes(MIN_HMAC_BYTES), kid=kid)
        if algorithm == "RS256":
            private: object = rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
        elif algorithm == "ES256":
            private = ec.generate_private_key(ec.SECP256R1())
        elif algorithm == "EdDSA":
            private = ed25519.Ed25519PrivateKey.generate()
        else:
            raise ConfigError(f"unsupported JWT algorithm {algorithm!r}: choose one of {', '.join(ALGORITHMS)}")
        return cls.from_private_key(private, kid=kid)

    @classmethod
    def from_private_key(cls, private_key: object, *, kid: str | None = None) -> SigningKey:
        algorithm = _algorithm_of(private_key)
        public = private_key.public_key()  # type: ignore[attr-defined]
        return cls(kid or libtrust_key_id(public), algorithm, private_key, public)

    @classmethod
    def from_pem(cls, pem: bytes, *, password: bytes | None = None, kid: str | None = None) -> SigningKey:
        """Load a PEM private key; the algorithm follows from the key type."""
        try:
            private = serialization.load_pem_private_key(pem, password=password)
        except (ValueError, TypeError) as e:
            raise ConfigError(f"cannot load PEM signing key: {e}") from e
        return cls.from_private_key(private, kid=kid)

    @classmethod
    def hmac(cls, secret: bytes, *, kid: str | None = None) -> SigningKey:
        """An HS256 key; the secret must be at least 32 bytes (the SHA-256 block strength)."""
        if not isinstance(secret, bytes) or len(secret) < MIN_HMAC_BYTES:
            raise ConfigError(f"HS256 secret must be at least {MIN_HMAC_BYTES} bytes")
        return cls(kid or f"hs256-{secrets.token_hex(8)}", "HS256", secret, secret)

    @property
    def symmetric(self) -> bool:
        return self.algorithm == "HS256"

    def public_jwk(self) -> dict[str, object] | None:
        """The verification key as a JWK (None for HMAC keys, which have no public half)."""
        if self.symmetric:
            return None
        codec = {"RS256": RSAAlgorithm, "ES256": ECAlgorithm, "EdDSA": OKPAlgorithm}[self.algorithm]
        jwk = codec.to_jwk(self.verify_key, as_dict=True)  # type: ignore[attr-defined]
        return {**jwk, "kid": self.kid, "alg": self.algorithm, "use": "sig"}

    def public_pem(self) -> bytes | None:
        if self.symmetric:
            return None
        return self.verify_key.public_bytes(  # type: ignore[attr-defined]
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


@dataclass(slots=True)
class _Entry:
    key: SigningKey
    retired_at: float | None = None


class KeySet:
    """The signing key plus every key still trusted for verification, by ``kid``.

    ``max_token_ttl`` bounds the lifetime of tokens signed with these keys; a retired key stays
    trusted for that long after retirement. ``revision`` changes whenever a key loses trust early
    (revocation), so caches of verified tokens know to drop what they hold.
    """

    def __init__(self, keys: Iterable[SigningKey] = (), *, max_token_ttl: float = 3600.0,
                 clock: Callable[[], float] = time.time) -> None:
        if max_token_ttl <= 0:
            raise ConfigError(f"max_token_ttl must be positive, got {max_token_ttl}")
        self.max_token_ttl = float(max_token_ttl)
        self.clock = clock
        self.revision = 0
        self._entries: dict[str, _Entry] = {}
        self._active: str | None = None
        for key in keys:
            self.add(key, activate=self._active is None)

    @classmethod
    def generate(cls, algorithm: str = "ES256", **kwargs: object) -> KeySet:
        """A key set holding one fresh key of ``algorithm``."""
        return cls([SigningKey.generate(algorithm)], **kwargs)  # type: ignore[arg-type]

    @property
    def active(self) -> SigningKey:
        """The key new tokens are signed with."""
        if self._active is None:
            raise ConfigError("the key set holds no signing key: add or rotate one in")
        return self._entries[self._active].key

    def add(self, key: SigningKey, *, activate: bool = False) -> SigningKey:
        """Trust ``key`` for verification, and sign with it too if ``activate``."""
        if key.algorithm not in ALGORITHMS:
            raise ConfigError(f"unsupported JWT algorithm {key.algorithm!r}")
        if key.kid in self._entries:
            raise ConfigError(f"the key set already holds a key with kid {key.kid!r}")
        self._entries[key.kid] = _Entry(key)
        if activate:
            self._retire_active()
            self._active = key.kid
        return key

    def rotate(self, new: SigningKey | None = None, *, algorithm: str | None = None) -> SigningKey:
        """Sign with ``new`` (or a fresh key of ``algorithm``, default: the current one's) from now
        on; the previous signing key is retired and verifies until its tokens have expired."""
        if new is None:
            new = SigningKey.generate(algorithm or (self.active.algorithm if self._active else "ES256"))
        return self.add(new, activate=True)

    def _retire_active(self) -> None:
        if self._active is not None:
            self._entries[self._active].retired_at = self.clock()
            self._active = None

    def revoke(self, kid: str) -> bool:
        """Stop trusting ``kid`` at once (a leaked key). True if the set held it."""
        entry = self._entries.pop(kid, None)
        if entry is None:
            return False
        if self._active == kid:
            self._active = None
        self.revision += 1
        return True

    def get(self, kid: object, *, leeway: float = 0.0) -> SigningKey:
        """The trusted key named ``kid``, or :class:`Unauthorized` saying why there is none."""
        entry = self._entries.get(kid) if isinstance(kid, str) else None
        if entry is None:
            raise Unauthorized(f"token signed with unknown key id {kid!r}")
        if entry.retired_at is not None and self.clock() > entry.retired_at + self.max_token_ttl + leeway:
            raise Unauthorized(f"token signed with key {kid!r}, retired and no longer trusted")
        return entry.key

    def prune(self, *, leeway: float = 0.0) -> list[str]:
        """Forget retired keys whose tokens have all expired (give the verifiers' leeway, so no
        key goes before :meth:`get` would stop trusting it); returns their kids."""
        now = self.clock()
        gone = [kid for kid, e in self._entries.items()
                if e.retired_at is not None and now > e.retired_at + self.max_token_ttl + leeway]
        for kid in gone:
            del self._entries[kid]
        return gone

    def kids(self) -> list[str]:
        return list(self._entries)

    def retired(self) -> list[str]:
        return [kid for kid, e in self._entries.items() if e.retired_at is not None]

    def __contains__(self, kid: object) -> bool:
        return kid in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def jwks(self) -> dict[str, list[dict[str, object]]]:
        """The public keys as a JWK set, for verifiers elsewhere (HMAC keys are never published)."""
        return {"keys": [jwk for e in self._entries.values() if (jwk := e.key.public_jwk()) is not None]}
