"""Signing keys in cosign's file formats: ECDSA P-256 pairs, the private key encrypted with a password.

cosign (``cosign generate-key-pair``) and containers/image (``skopeo generate-sigstore-key``,
``signature/sigstore/copied.go``) write the same two files, and this module reads and writes them
so that a key made here signs with skopeo and one made there signs here:

- the public key: PEM ``PUBLIC KEY`` (DER SubjectPublicKeyInfo), as every sigstore verifier reads;
- the private key: PEM ``ENCRYPTED COSIGN PRIVATE KEY`` (cosign releases after 2.0 write
  ``ENCRYPTED SIGSTORE PRIVATE KEY``; both are read) whose body is the JSON envelope of
  go-tuf's / go-securesystemslib's ``encrypted`` package::

      {"kdf": {"name": "scrypt", "params": {"N": 32768, "r": 8, "p": 1}, "salt": "<base64 32 bytes>"},
       "cipher": {"name": "nacl/secretbox", "nonce": "<base64 24 bytes>"},
       "ciphertext": "<base64 secretbox(PKCS#8 DER private key)>"}

  The 32-byte key is scrypt(password, salt); nacl/secretbox is XSalsa20-Poly1305 (PyNaCl). We
  write the older ``COSIGN`` PEM type and N = 2^15: skopeo 1.9's containers/image accepts only
  that type and exactly those scrypt parameters. We read N = 2^15, 2^16 and 2^17 with r = 8,
  p = 1 -- what the current package writes and accepts -- and refuse anything else before
  deriving, as it does, so a tampered file cannot make us spend unbounded memory.

Signing supports ECDSA keys (SHA-256, DER signatures, as cosign); verification also takes RSA
(PKCS#1 v1.5, SHA-256) and Ed25519 public keys, as containers/image does.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Union

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from .errors import KeyInvalid, WrongPassword

#: the PEM type cosign and skopeo 1.9 write (and every version reads)
COSIGN_PEM_TYPE = "ENCRYPTED COSIGN PRIVATE KEY"
#: the PEM type cosign 2.x writes; containers/image reads it since 2023
SIGSTORE_PEM_TYPE = "ENCRYPTED SIGSTORE PRIVATE KEY"
PRIVATE_PEM_TYPES = (COSIGN_PEM_TYPE, SIGSTORE_PEM_TYPE)

#: scrypt parameters as (N, r, p): the first is written; all are read (go-securesystemslib's
#: legacy, standard and OWASP levels)
SCRYPT_WRITTEN = (32768, 8, 1)
SCRYPT_ACCEPTED = frozenset({(32768, 8, 1), (65536, 8, 1), (131072, 8, 1)})
SALT_BYTES = 32
NONCE_BYTES = 24
KEY_BYTES = 32

PrivateKey = Union[ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey]
PublicKey = Union[ec.EllipticCurvePublicKey, rsa.RSAPublicKey, ed25519.Ed25519PublicKey]


def generate() -> ec.EllipticCurvePrivateKey:
    """A new ECDSA P-256 private key (the one scheme the cosign spec requires of verifiers)."""
    return ec.generate_private_key(ec.SECP256R1())


# -- public keys ---------------------------------------------------------------------------

def public_pem(key: PrivateKey | PublicKey) -> bytes:
    """The public key (of a private key, or itself) as PEM ``PUBLIC KEY``."""
    public = key.public_key() if hasattr(key, "private_bytes") else key
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def fingerprint(key: PrivateKey | PublicKey) -> str:
    """``sha256:<first 16 hex>`` of the DER public key: names a key in messages."""
    public = key.public_key() if hasattr(key, "private_bytes") else key
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(der).hexdigest()[:16]


def load_public_key(pem: bytes, *, source: str = "public key") -> PublicKey:
    """A PEM ``PUBLIC KEY`` (ECDSA, RSA or Ed25519); :class:`KeyInvalid` naming ``source``."""
    if b"PRIVATE KEY" in pem:
        raise KeyInvalid(f"{source}: this is a private key; give the public key (the .pub file)")
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, UnsupportedAlgorithm) as e:
        raise KeyInvalid(f"{source}: not a PEM public key ({_reason(e)})") from None
    if not isinstance(key, (ec.EllipticCurvePublicKey, rsa.RSAPublicKey, ed25519.Ed25519PublicKey)):
        raise KeyInvalid(f"{source}: unsupported key type {type(key).__name__}; expected ECDSA, RSA or Ed25519")
    return key


def read_public_key(path: str | Path) -> PublicKey:
    """The public key in the file at ``path``."""
    return load_public_key(Path(path).read_bytes(), source=str(path))


def read_public_keys(paths: Iterable[str | Path]) -> list[PublicKey]:
    return [read_public_key(p) for p in paths]


# -- encrypted private keys ----------------------------------------------------------------

def encrypt_private_key(key: PrivateKey, password: bytes, *, pem_type: str = COSIGN_PEM_TYPE) -> bytes:
    """``key`` as a cosign encrypted private key file (PEM), locked with ``password``."""
    if pem_type not in PRIVATE_PEM_TYPES:
        raise ValueError(f"pem_type must be one of {PRIVATE_PEM_TYPES}")
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    n, r, p = SCRYPT_WRITTEN
    salt = secrets.token_bytes(SALT_BYTES)
    nonce = secrets.token_bytes(NONCE_BYTES)
    box = _secret_box(_derive(password, salt, n, r, p))
    ciphertext = box.encrypt(der, nonce).ciphertext  # Poly1305 tag then XSalsa20 ciphertext, as Go's Seal
    envelope = {
        "kdf": {"name": "scrypt", "params": {"N": n, "r": r, "p": p}, "salt": _b64(salt)},
        "cipher": {"name": "nacl/secretbox", "nonce": _b64(nonce)},
        "ciphertext": _b64(ciphertext),
    }
    return _pem(pem_type, json.dumps(envelope, separators=(",", ":")).encode())


def decrypt_private_key(pem: bytes, password: bytes, *, source: str = "private key") -> PrivateKey:
    """The private key of a cosign encrypted key file; :class:`WrongPassword` if ``password``
    does not open it, :class:`KeyInvalid` for anything else wrong with the file."""
    pem_type, body = _unpem(pem, source)
    if pem_type not in PRIVATE_PEM_TYPES:
        raise KeyInvalid(f"{source}: PEM type {pem_type!r} is not a cosign private key; expected "
                         f"{' or '.join(map(repr, PRIVATE_PEM_TYPES))}")
    try:
        envelope = json.loads(body)
        kdf, cipher = envelope["kdf"], envelope["cipher"]
        name, params = kdf["name"], kdf["params"]
        salt = _unb64(kdf["salt"])
        nonce = _unb64(cipher["nonce"])
        ciphertext = _unb64(envelope["ciphertext"])
        n, r, p = params["N"], params["r"], params["p"]
    except (ValueError, KeyError, TypeError) as e:
        raise KeyInvalid(f"{source}: malformed encrypted key envelope ({_reason(e)})") from None
    if name != "scrypt":
        raise KeyInvalid(f"{source}: unknown key derivation {name!r}; expected 'scrypt'")
    if cipher.get("name") != "nacl/secretbox":
        raise KeyInvalid(f"{source}: unknown cipher {cipher.get('name')!r}; expected 'nacl/secretbox'")
    if (n, r, p) not in SCRYPT_ACCEPTED:
        raise KeyInvalid(f"{source}: unsupported scrypt parameters N={n}, r={r}, p={p}; expected r=8, p=1 "
                         "and N of 32768, 65536 or 131072")
    if len(nonce) != NONCE_BYTES:
        raise KeyInvalid(f"{source}: the nonce is {len(nonce)} bytes, expected {NONCE_BYTES}")
    from nacl.exceptions import CryptoError

    try:
        der = _secret_box(_derive(password, salt, n, r, p)).decrypt(ciphertext, nonce)
    except CryptoError:
        raise WrongPassword(f"{source}: wrong password (the key does not decrypt with it)") from None
    try:
        key = serialization.load_der_private_key(der, password=None)
    except (ValueError, UnsupportedAlgorithm) as e:
        raise KeyInvalid(f"{source}: the decrypted key is not a PKCS#8 private key ({_reason(e)})") from None
    if not isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey)):
        raise KeyInvalid(f"{source}: unsupported key type {type(key).__name__}")
    return key


def read_private_key(path: str | Path, password: bytes) -> PrivateKey:
    """The private key in the cosign key file at ``path``."""
    return decrypt_private_key(Path(path).read_bytes(), password, source=str(path))


def write_key_pair(private_path: str | Path, password: bytes, *, key: PrivateKey | None = None) -> tuple[Path, Path]:
    """Write ``key`` (default: a new P-256 key) to ``private_path`` (encrypted, owner-only) and
    its public key beside it with the suffix ``.pub`` (``cosign.key`` -> ``cosign.pub``).
    Refuses to overwrite either file. Returns both paths."""
    private_path = Path(private_path)
    public_path = private_path.with_suffix(".pub")
    for p in (private_path, public_path):
        if p.exists():
            raise KeyInvalid(f"{p} already exists; remove it or choose another name")
    key = key or generate()
    data = encrypt_private_key(key, password)
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    public_path.write_bytes(public_pem(key))
    return private_path, public_path


# -- helpers -------------------------------------------------------------------------------

def _derive(password: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    # scrypt needs 128 * r * N bytes (32 MiB at N = 2^15); OpenSSL's default cap is 32 MiB
    return hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, maxmem=256 << 20, dklen=KEY_BYTES)


def _secret_box(key: bytes):
    try:
        from nacl.secret import SecretBox
    except ImportError:  # pragma: no cover - a dependency of regsim
        raise KeyInvalid("cosign key files need PyNaCl (nacl/secretbox): pip install pynacl") from None
    return SecretBox(key)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: object) -> bytes:
    if not isinstance(text, str):
        raise TypeError(f"expected a base64 string, got {type(text).__name__}")
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as e:
        raise ValueError(f"bad base64: {e}") from None


def _pem(pem_type: str, body: bytes) -> bytes:
    """PEM as Go's ``pem.EncodeToMemory`` writes it: 64-column base64, no headers."""
    text = _b64(body)
    lines = [text[i:i + 64] for i in range(0, len(text), 64)]
    return (f"-----BEGIN {pem_type}-----\n" + "\n".join(lines) + f"\n-----END {pem_type}-----\n").encode()


def _unpem(pem: bytes, source: str) -> tuple[str, bytes]:
    """The type and decoded body of the first PEM block in ``pem``."""
    try:
        text = pem.decode("ascii")
    except UnicodeDecodeError:
        raise KeyInvalid(f"{source}: not a PEM file (it is binary)") from None
    begin = text.find("-----BEGIN ")
    if begin < 0:
        raise KeyInvalid(f"{source}: not a PEM file (no -----BEGIN line)")
    head_end = text.find("-----", begin + 11)
    if head_end < 0:
        raise KeyInvalid(f"{source}: malformed PEM header")
    pem_type = text[begin + 11:head_end]
    end_marker = f"-----END {pem_type}-----"
    end = text.find(end_marker, head_end)
    if end < 0:
        raise KeyInvalid(f"{source}: PEM block {pem_type!r} has no {end_marker} line")
    body = "".join(text[head_end + 5:end].split())
    try:
        return pem_type, base64.b64decode(body, validate=True)
    except binascii.Error:
        raise KeyInvalid(f"{source}: the PEM block is not valid base64") from None


def _reason(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
