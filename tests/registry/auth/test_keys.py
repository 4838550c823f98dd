"""Signing keys: generation per algorithm, key ids, rotation with a grace period, revocation."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from regsim.registry.auth import KeySet, SigningKey
from regsim.registry.auth.keys import libtrust_key_id
from regsim.registry.errors import ConfigError, Unauthorized

from .conftest import signing_key


def test_each_algorithm_yields_a_bound_key(algorithm):
    key = signing_key(algorithm)
    assert key.algorithm == algorithm
    assert key.kid
    jwk = key.public_jwk()
    if algorithm == "HS256":
        assert jwk is None and key.public_pem() is None and key.symmetric
    else:
        assert jwk["kid"] == key.kid and jwk["alg"] == algorithm and "d" not in jwk
        assert key.public_pem().startswith(b"-----BEGIN PUBLIC KEY-----")


def test_asymmetric_kid_is_the_libtrust_fingerprint_of_the_public_key():
    key = signing_key("ES256")
    assert key.kid == libtrust_key_id(key.verify_key)
    groups = key.kid.split(":")
    assert len(groups) == 12 and all(len(g) == 4 for g in groups)
    assert SigningKey.from_private_key(key.signing_key).kid == key.kid  # stable for the same key


def test_pem_round_trip_keeps_algorithm_and_kid():
    from cryptography.hazmat.primitives import serialization

    key = signing_key("EdDSA")
    pem = key.signing_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption())
    loaded = SigningKey.from_pem(pem)
    assert (loaded.algorithm, loaded.kid) == ("EdDSA", key.kid)
    with pytest.raises(ConfigError, match="cannot load PEM"):
        SigningKey.from_pem(b"not a key")


def test_weak_or_unsupported_keys_are_refused():
    with pytest.raises(ConfigError, match="at least 32 bytes"):
        SigningKey.hmac(b"short")
    with pytest.raises(ConfigError, match="P-256"):
        SigningKey.from_private_key(ec.generate_private_key(ec.SECP384R1()))
    with pytest.raises(ConfigError, match="too short"):
        SigningKey.from_private_key(rsa.generate_private_key(public_exponent=65537, key_size=1024))
    with pytest.raises(ConfigError, match="unsupported JWT algorithm"):
        SigningKey.generate("none")


def test_rotation_retires_old_key_until_its_tokens_expire(clock):
    old = signing_key("ES256")
    keys = KeySet([old], max_token_ttl=600, clock=clock)
    new = keys.rotate(signing_key("EdDSA"))
    assert keys.active is new
    assert keys.get(old.kid) is old and keys.retired() == [old.kid]
    clock.advance(600)
    assert keys.get(old.kid) is old          # a token signed just before rotation may still be live
    clock.advance(20)
    assert keys.get(old.kid, leeway=30) is old
    with pytest.raises(Unauthorized, match="retired"):
        keys.get(old.kid)
    assert keys.prune(leeway=30) == []
    clock.advance(11)
    assert keys.prune(leeway=30) == [old.kid] and old.kid not in keys


def test_rotate_without_a_key_generates_one_of_the_same_algorithm(clock):
    keys = KeySet([signing_key("HS256")], clock=clock)
    fresh = keys.rotate()
    assert fresh.algorithm == "HS256" and fresh.kid != signing_key("HS256").kid and len(keys) == 2


def test_revocation_is_immediate_and_bumps_the_revision(clock):
    keys = KeySet([signing_key("ES256"), signing_key("RS256")], clock=clock)
    assert keys.active.algorithm == "ES256"
    assert keys.revoke(signing_key("RS256").kid) and keys.revision == 1
    with pytest.raises(Unauthorized, match="unknown key id"):
        keys.get(signing_key("RS256").kid)
    assert not keys.revoke("nope")
    keys.revoke(keys.active.kid)
    with pytest.raises(ConfigError, match="no signing key"):
        keys.active


def test_duplicate_kid_and_bad_ttl_are_configuration_errors(clock):
    with pytest.raises(ConfigError, match="already holds"):
        KeySet([signing_key("ES256"), signing_key("ES256")])
    with pytest.raises(ConfigError, match="positive"):
        KeySet(max_token_ttl=0)


def test_jwks_publishes_public_keys_only(clock):
    keys = KeySet([signing_key(a) for a in ("RS256", "ES256", "EdDSA", "HS256")], clock=clock)
    published = {k["kid"]: k["kty"] for k in keys.jwks()["keys"]}
    assert published == {signing_key("RS256").kid: "RSA", signing_key("ES256").kid: "EC",
                         signing_key("EdDSA").kid: "OKP"}
