"""Signing a manifest digest and verifying signatures against a set of trusted public keys.

A cosign signature is three things (cosign's ``specs/SIGNATURE_SPEC.md``): the payload bytes
(:mod:`.payload`), their media type ``application/vnd.dev.cosign.simplesigning.v1+json``, and the
base64 of an ECDSA signature (ASN.1 DER) over the SHA-256 of those bytes, which a registry keeps
in the payload layer's annotation ``dev.cosignproject.cosign/signature``. :func:`sign` makes one;
:func:`verify_signature` checks one, in the order containers/image does
(``VerifySigstorePayload``): the cryptographic signature over the payload bytes first -- so a
tampered payload is refused before any of it is believed -- then the payload's form and
``type``, then that it names the manifest digest being verified (and, if asked, the identity).
:func:`verify` accepts a manifest when at least one of its signatures passes with one of the
trusted keys, and otherwise says, per signature, why not.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from ..digest import Digest
from .errors import NoTrustedSignature, PayloadMismatch, SignatureError, SignatureInvalid
from .keys import PrivateKey, PublicKey, fingerprint
from .payload import SIMPLE_SIGNING_MEDIA_TYPE, SimpleSigningPayload, parse, repository_of

#: the layer annotation holding the base64 signature
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
#: what regsim writes in ``optional.creator``
CREATOR = "regsim"


@dataclass(frozen=True, slots=True)
class Signature:
    """One signature as stored: the payload bytes, their media type, and the layer's annotations
    (the signature among them). ``source`` says where it was found, for messages."""

    payload: bytes
    annotations: Mapping[str, str] = field(default_factory=dict)
    media_type: str = SIMPLE_SIGNING_MEDIA_TYPE
    source: str = ""

    @property
    def signature_b64(self) -> str | None:
        return self.annotations.get(SIGNATURE_ANNOTATION)

    @property
    def payload_digest(self) -> Digest:
        return Digest("sha256", hashlib.sha256(self.payload).hexdigest())

    @property
    def key(self) -> tuple[str, bytes, str | None]:
        """What makes two stored signatures the same one (to drop duplicates)."""
        return self.media_type, self.payload, self.signature_b64


@dataclass(frozen=True, slots=True)
class Verified:
    """A signature that passed: its payload and the fingerprint of the key it verified with."""

    signature: Signature
    payload: SimpleSigningPayload
    key: str


def sign(key: PrivateKey, manifest_digest: str | Digest, docker_reference: str, *,
         optional: Mapping[str, object] | None = None, timestamp: int | None = None) -> Signature:
    """A signature by ``key`` claiming ``docker_reference`` is the image ``manifest_digest``.

    ``optional`` defaults to ``{"creator": "regsim", "timestamp": <now>}``, as containers/image
    fills it; pass ``{}`` for cosign's ``"optional": null``."""
    if optional is None:
        optional = {"creator": CREATOR, "timestamp": int(time.time()) if timestamp is None else timestamp}
    payload = SimpleSigningPayload(docker_reference, Digest.parse(manifest_digest), dict(optional) or None)
    data = payload.to_bytes()
    raw = _sign_bytes(key, data)
    return Signature(data, {SIGNATURE_ANNOTATION: base64.b64encode(raw).decode("ascii")})


def _sign_bytes(key: PrivateKey, data: bytes) -> bytes:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(hashes.SHA256()))
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(data)
    raise TypeError(f"cannot sign with a {type(key).__name__}")


def _verifies(key: PublicKey, signature: bytes, data: bytes) -> bool:
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, data)
        else:
            return False
    except (InvalidSignature, ValueError):
        return False
    return True


def verify_signature(sig: Signature, manifest_digest: str | Digest, keys: Sequence[PublicKey], *,
                     repository: str | None = None) -> Verified:
    """Check one signature of ``manifest_digest`` against ``keys``.

    :class:`SignatureInvalid` when it is not a simple-signing signature, has no or malformed
    base64 signature, or verifies with none of ``keys`` (a tampered payload, an untrusted key);
    :class:`~.errors.PayloadInvalid` when the verified payload is malformed or not cosign's type;
    :class:`PayloadMismatch` when it signs another digest, or (with ``repository``) names another
    repository than ``repository`` (compared without tag or digest, as skopeo's
    ``matchRepository``)."""
    want = Digest.parse(manifest_digest)
    where = f" ({sig.source})" if sig.source else ""
    if sig.media_type != SIMPLE_SIGNING_MEDIA_TYPE:
        raise SignatureInvalid(f"signature{where} for {want}: media type {sig.media_type!r} is not "
                               f"{SIMPLE_SIGNING_MEDIA_TYPE!r}")
    encoded = sig.signature_b64
    if not encoded:
        raise SignatureInvalid(f"signature{where} for {want}: the layer has no {SIGNATURE_ANNOTATION} annotation")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise SignatureInvalid(f"signature{where} for {want}: {SIGNATURE_ANNOTATION} is not valid base64") from None
    if not keys:
        raise SignatureInvalid(f"signature{where} for {want}: no trusted public key was given to verify it with")
    key = next((k for k in keys if _verifies(k, raw, sig.payload)), None)
    if key is None:
        names = ", ".join(fingerprint(k) for k in keys)
        raise SignatureInvalid(f"signature{where} for {want}: does not verify over payload {sig.payload_digest.short} "
                               f"with any of the {len(keys)} trusted key(s) ({names}): the payload was altered "
                               "or it was signed with another key")
    payload = parse(sig.payload)
    if payload.manifest_digest != want:
        raise PayloadMismatch(f"signature{where} for {want}: its payload signs manifest {payload.manifest_digest}, "
                              f"not {want}")
    if repository is not None and repository_of(payload.docker_reference) != repository:
        raise PayloadMismatch(f"signature{where} for {want}: it names {payload.docker_reference!r}, not an image of "
                              f"{repository!r}")
    return Verified(sig, payload, fingerprint(key))


def verify(signatures: Iterable[Signature], manifest_digest: str | Digest, keys: Sequence[PublicKey], *,
           repository: str | None = None, problems: Sequence[str] = ()) -> list[Verified]:
    """Every signature of ``signatures`` that passes :func:`verify_signature`; at least one, or
    :class:`NoTrustedSignature` naming the digest and, per signature (and per ``problems``, what
    could not even be read), why it was refused."""
    want = Digest.parse(manifest_digest)
    accepted: list[Verified] = []
    reasons = list(problems)
    seen: set = set()
    count = 0
    for sig in signatures:
        if sig.key in seen:
            continue
        seen.add(sig.key)
        count += 1
        try:
            accepted.append(verify_signature(sig, want, keys, repository=repository))
        except SignatureError as e:
            reasons.append(e.message)
    if accepted:
        return accepted
    if count == 0 and not reasons:
        message = f"no trusted signature for {want}: the image is not signed"
    else:
        message = (f"no trusted signature for {want}: {count} signature(s) found, none accepted: "
                   + "; ".join(reasons))
    raise NoTrustedSignature(message, detail={"digest": str(want), "signatures": count, "reasons": reasons})
