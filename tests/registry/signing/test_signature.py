"""Signing a manifest digest and verifying: the signature first, then the payload, then the digest."""

import base64
import json

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from regsim.registry.digest import Digest
from regsim.registry.signing.errors import NoTrustedSignature, PayloadInvalid, PayloadMismatch, SignatureInvalid
from regsim.registry.signing.payload import SIGNATURE_TYPE, parse
from regsim.registry.signing.signature import SIGNATURE_ANNOTATION, Signature, sign, verify, verify_signature

DIGEST = Digest.parse("sha256:" + "12" * 32)
OTHER = Digest.parse("sha256:" + "34" * 32)


def test_a_signature_is_ecdsa_der_over_the_payload(key):
    sig = sign(key, DIGEST, "registry.test/team/app:v1", timestamp=1700000000)
    raw = base64.b64decode(sig.annotations[SIGNATURE_ANNOTATION])
    key.public_key().verify(raw, sig.payload, ec.ECDSA(hashes.SHA256()))  # what cosign checks
    payload = parse(sig.payload)
    assert payload.manifest_digest == DIGEST and payload.docker_reference == "registry.test/team/app:v1"
    assert payload.optional == {"creator": "regsim", "timestamp": 1700000000}
    assert json.loads(sig.payload)["critical"]["type"] == SIGNATURE_TYPE


def test_verify_accepts_with_any_trusted_key(key, other_key):
    sig = sign(key, DIGEST, "team/app:v1")
    verified = verify_signature(sig, DIGEST, [other_key.public_key(), key.public_key()])
    assert verified.payload.manifest_digest == DIGEST
    assert verify([sig], DIGEST, [key.public_key()])[0].signature is sig


def test_wrong_key_is_refused(key, other_key):
    sig = sign(key, DIGEST, "team/app:v1")
    with pytest.raises(SignatureInvalid) as e:
        verify_signature(sig, DIGEST, [other_key.public_key()])
    assert f"for {DIGEST}" in e.value.message and "does not verify" in e.value.message
    assert "1 trusted key(s)" in e.value.message and e.value.status == 403


def test_a_tampered_payload_is_refused_before_it_is_read(key):
    """The payload is changed to name another image: the signature no longer holds."""
    sig = sign(key, DIGEST, "team/app:v1", optional={})
    forged = Signature(sig.payload.replace(DIGEST.hex.encode(), OTHER.hex.encode()), sig.annotations)
    with pytest.raises(SignatureInvalid, match="does not verify over payload"):
        verify_signature(forged, OTHER, [key.public_key()])
    flipped = Signature(sig.payload.replace(b"team/app", b"evil/app"), sig.annotations)
    with pytest.raises(SignatureInvalid):
        verify_signature(flipped, DIGEST, [key.public_key()])


def test_a_signature_of_another_digest_is_a_mismatch(key):
    sig = sign(key, OTHER, "team/app:v1")
    with pytest.raises(PayloadMismatch) as e:
        verify_signature(sig, DIGEST, [key.public_key()])
    assert e.value.message.endswith(f"its payload signs manifest {OTHER}, not {DIGEST}")


def test_identity_is_checked_when_asked(key):
    sig = sign(key, DIGEST, "registry.test/team/app:v1")
    verify_signature(sig, DIGEST, [key.public_key()], repository="registry.test/team/app")
    with pytest.raises(PayloadMismatch, match="not an image of 'registry.test/other'"):
        verify_signature(sig, DIGEST, [key.public_key()], repository="registry.test/other")


def test_a_validly_signed_payload_of_another_type_is_refused(key):
    doc = {"critical": {"identity": {"docker-reference": "a"}, "image": {"docker-manifest-digest": str(DIGEST)},
                        "type": "atomic container signature"}, "optional": None}
    data = json.dumps(doc).encode()
    raw = key.sign(data, ec.ECDSA(hashes.SHA256()))
    sig = Signature(data, {SIGNATURE_ANNOTATION: base64.b64encode(raw).decode()})
    with pytest.raises(PayloadInvalid, match="critical.type"):
        verify_signature(sig, DIGEST, [key.public_key()])


@pytest.mark.parametrize("annotations, media_type, message", [
    ({}, None, "has no dev.cosignproject.cosign/signature annotation"),
    ({SIGNATURE_ANNOTATION: "***"}, None, "is not valid base64"),
    (None, "application/json", "is not 'application/vnd.dev.cosign.simplesigning.v1+json'"),
])
def test_malformed_signatures(key, annotations, media_type, message):
    sig = sign(key, DIGEST, "a")
    bad = Signature(sig.payload, sig.annotations if annotations is None else annotations,
                    media_type or sig.media_type, source="tag x")
    with pytest.raises(SignatureInvalid) as e:
        verify_signature(bad, DIGEST, [key.public_key()])
    assert message in e.value.message and "(tag x)" in e.value.message


def test_no_trusted_signature_names_the_digest_and_each_reason(key, other_key):
    good_elsewhere = sign(key, OTHER, "a")
    untrusted = sign(other_key, DIGEST, "a")
    with pytest.raises(NoTrustedSignature) as e:
        verify([good_elsewhere, untrusted, untrusted], DIGEST, [key.public_key()], problems=["layer 3 unreadable"])
    msg = e.value.message
    assert msg.startswith(f"no trusted signature for {DIGEST}: 2 signature(s) found, none accepted: layer 3 unreadable")
    assert "signs manifest" in msg and "does not verify" in msg
    assert e.value.detail["digest"] == str(DIGEST) and len(e.value.detail["reasons"]) == 3
    assert e.value.code == "DENIED" and e.value.status == 403
    with pytest.raises(NoTrustedSignature, match=f"no trusted signature for {DIGEST}: the image is not signed"):
        verify([], DIGEST, [key.public_key()])


def test_rsa_and_ed25519_keys_sign_and_verify():
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

    for private in (rsa.generate_private_key(65537, 2048), ed25519.Ed25519PrivateKey.generate()):
        sig = sign(private, DIGEST, "a")
        assert verify([sig], DIGEST, [private.public_key()])
