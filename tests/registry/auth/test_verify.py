"""The registry's token check: one test per way a token must be refused, and the cache."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import jwt
import pytest

from regsim.registry import receipts
from regsim.registry.auth import KeySet, SigningKey, StaticPolicy, TokenRejected, TokenService, TokenVerifier
from regsim.registry.errors import Unauthorized
from regsim.registry.receipts import Kind

from .conftest import ISSUER, SERVICE, signing_key

POLICY = StaticPolicy.from_dict({"alice": {"team-a/*": "pull,push"}})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict, payload: dict, sign=lambda signing_input: b"") -> str:
    """A compact JWS from parts, signed by ``sign`` -- for building attacks PyJWT would refuse to."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    return f"{signing_input}.{_b64(sign(signing_input.encode()))}"


def corrupt(token: str) -> str:
    """The token with one full character of its signature changed."""
    head, sig = token.rsplit(".", 1)
    i = len(sig) // 2
    return f"{head}.{sig[:i]}{'B' if sig[i] == 'A' else 'A'}{sig[i + 1:]}"


def make(clock, algorithm="ES256", **kwargs):
    keys = KeySet([signing_key(algorithm)], clock=clock)
    svc = TokenService(keys, issuer=ISSUER, service=SERVICE, policy=POLICY)
    verifier = TokenVerifier(keys, issuer=ISSUER, audience=SERVICE, **kwargs)
    return keys, svc, verifier


def claims(clock, **overrides):
    now = int(clock())
    base = {"iss": ISSUER, "sub": "alice", "aud": SERVICE, "exp": now + 300, "nbf": now, "iat": now,
            "jti": "j1", "access": [{"type": "repository", "name": "team-a/app", "actions": ["pull", "push"]}]}
    return {**base, **overrides}


def rejected(verifier, token) -> str:
    with pytest.raises(TokenRejected) as info:
        verifier.verify(token)
    assert isinstance(info.value, Unauthorized)
    return info.value.reason


def test_valid_token_of_each_algorithm_verifies(clock, algorithm):
    _, svc, verifier = make(clock, algorithm)
    token = svc.issue("alice", "repository:team-a/app:pull").token
    v = verifier.verify(token)
    assert (v.subject, v.issuer, v.audience, v.algorithm) == ("alice", ISSUER, (SERVICE,), algorithm)
    assert [str(s) for s in v.access] == ["repository:team-a/app:pull"]
    assert v.expires_at == int(clock()) + 300


def test_alg_none_is_refused(clock):
    keys, _, verifier = make(clock)
    header = {"alg": "none", "typ": "JWT", "kid": keys.active.kid}
    assert rejected(verifier, forge(header, claims(clock))) == "algorithm"
    assert rejected(verifier, forge({"alg": "none"}, claims(clock))) == "unknown_key"


def test_hs256_signed_with_the_rsa_public_key_is_refused(clock):
    keys, _, verifier = make(clock, "RS256")
    public_pem = keys.active.public_pem()
    header = {"alg": "HS256", "typ": "JWT", "kid": keys.active.kid}
    token = forge(header, claims(clock), lambda si: hmac.new(public_pem, si, hashlib.sha256).digest())
    assert rejected(verifier, token) == "algorithm"


def test_token_of_another_algorithm_under_a_known_kid_is_refused(clock):
    keys, _, verifier = make(clock, "ES256")
    other = signing_key("EdDSA")
    token = jwt.encode(claims(clock), other.signing_key, algorithm="EdDSA", headers={"kid": keys.active.kid})
    assert rejected(verifier, token) == "algorithm"


def test_expired_token_is_refused_after_the_leeway(clock):
    _, svc, verifier = make(clock)
    token = svc.issue("alice", "repository:team-a/app:pull").token
    clock.advance(300 + 30)
    verifier.verify(token)  # inside the stated 30 s leeway
    fresh = TokenVerifier(verifier.keys, issuer=ISSUER, audience=SERVICE)
    clock.advance(1)
    assert rejected(fresh, token) == "expired"


def test_not_yet_valid_token_is_refused(clock):
    keys, _, verifier = make(clock)
    key = keys.active
    early = claims(clock, nbf=int(clock()) + 31)
    token = jwt.encode(early, key.signing_key, algorithm=key.algorithm, headers={"kid": key.kid})
    assert rejected(verifier, token) == "not_yet_valid"
    future = claims(clock, iat=int(clock()) + 120, exp=int(clock()) + 400)
    token = jwt.encode(future, key.signing_key, algorithm=key.algorithm, headers={"kid": key.kid})
    assert rejected(verifier, token) == "not_yet_valid"
    skewed = claims(clock, nbf=int(clock()) + 29)
    verifier.verify(jwt.encode(skewed, key.signing_key, algorithm=key.algorithm, headers={"kid": key.kid}))


@pytest.mark.parametrize("field, reason", [("aud", "audience"), ("iss", "issuer")])
def test_wrong_audience_or_issuer_is_refused(clock, field, reason):
    keys, _, verifier = make(clock)
    key = keys.active
    token = jwt.encode(claims(clock, **{field: "https://elsewhere.test"}), key.signing_key,
                       algorithm=key.algorithm, headers={"kid": key.kid})
    assert rejected(verifier, token) == reason


def test_unknown_or_missing_kid_is_refused(clock):
    _, _, verifier = make(clock)
    stranger = SigningKey.generate("ES256")
    token = jwt.encode(claims(clock), stranger.signing_key, algorithm="ES256", headers={"kid": stranger.kid})
    assert rejected(verifier, token) == "unknown_key"
    token = jwt.encode(claims(clock), stranger.signing_key, algorithm="ES256")
    assert rejected(verifier, token) == "unknown_key"


def test_tampered_payload_is_refused(clock, algorithm):
    _, svc, verifier = make(clock, algorithm)
    header, _, signature = svc.issue("alice", "repository:team-a/app:pull").token.split(".")
    escalated = claims(clock, access=[{"type": "repository", "name": "team-b/app", "actions": ["push"]}])
    token = f"{header}.{_b64(json.dumps(escalated).encode())}.{signature}"
    assert rejected(verifier, token) == "signature"


def test_overlong_lifetime_missing_claims_and_garbage_are_refused(clock):
    keys, _, verifier = make(clock)
    key = keys.active

    def signed(payload):
        return jwt.encode(payload, key.signing_key, algorithm=key.algorithm, headers={"kid": key.kid})

    assert rejected(verifier, signed(claims(clock, exp=int(clock()) + 7200))) == "lifetime"
    no_jti = claims(clock)
    del no_jti["jti"]
    assert rejected(verifier, signed(no_jti)) == "malformed"
    assert rejected(verifier, signed(claims(clock, access=[{"type": "repository"}]))) == "malformed"
    assert rejected(verifier, signed(claims(clock, exp="soon"))) == "malformed"
    for garbage in ["", "abc", "a.b.c", "a.b", None, 42]:
        assert rejected(verifier, garbage) == "malformed"


def test_single_use_tokens_are_refused_the_second_time(clock):
    _, svc, verifier = make(clock, single_use=True)
    token = svc.issue("alice", "repository:team-a/app:pull").token
    verifier.verify(token)
    assert rejected(verifier, token) == "replayed"
    other = svc.issue("alice", "repository:team-a/app:pull").token
    verifier.verify(other)
    clock.advance(400)  # expired jtis are forgotten, so the ledger does not grow without bound
    verifier.ledger.consume("x", clock() + 1, clock())
    assert len(verifier.ledger) == 1


def test_retired_key_tokens_verify_until_they_expire(clock):
    keys, svc, verifier = make(clock)
    old_token = svc.issue("alice", "repository:team-a/app:pull").token
    keys.rotate(signing_key("EdDSA"))
    new_token = svc.issue("alice", "repository:team-a/app:pull").token
    assert jwt.get_unverified_header(new_token)["kid"] == signing_key("EdDSA").kid
    nocache = TokenVerifier(keys, issuer=ISSUER, audience=SERVICE, cache_size=0)
    assert nocache.verify(old_token).kid == signing_key("ES256").kid
    clock.advance(301)
    assert nocache.verify(new_token).algorithm == "EdDSA"


# -- the cache ---------------------------------------------------------------------------------

def test_repeated_token_skips_pyjwt_and_records_a_cache_hit(clock, monkeypatch):
    _, svc, verifier = make(clock)
    token = svc.issue("alice", "repository:team-a/app:pull").token
    with receipts.collect() as first:
        v1 = verifier.verify(token)
    calls = []
    monkeypatch.setattr(jwt, "decode", lambda *a, **k: calls.append(1))
    with receipts.collect() as second:
        v2 = verifier.verify(token)
    assert v2 is v1 and calls == []
    assert [(i.kind, i.detail) for i in first] == [(Kind.JWT_VERIFY, "ES256")]
    assert [(i.kind, i.detail) for i in second] == [(Kind.JWT_CACHE_HIT, "ES256")]
    stats = verifier.cache.stats
    assert (stats.hits, stats.misses, stats.size) == (1, 1, 1) and stats.hit_rate == 0.5


def test_cache_entry_expires_with_its_token(clock):
    _, svc, verifier = make(clock)
    token = svc.issue("alice", "repository:team-a/app:pull").token
    verifier.verify(token)
    clock.advance(331)
    assert rejected(verifier, token) == "expired"
    assert verifier.cache.stats.expirations == 1 and token not in verifier.cache


def test_tampered_token_never_hits_the_cache(clock):
    _, svc, verifier = make(clock)
    token = svc.issue("alice", "repository:team-a/app:pull").token
    verifier.verify(token)
    assert rejected(verifier, corrupt(token)) == "signature"


def test_revoking_a_key_empties_the_cache(clock):
    keys, svc, verifier = make(clock)
    token = svc.issue("alice", "repository:team-a/app:pull").token
    verifier.verify(token)
    keys.revoke(keys.active.kid)
    assert rejected(verifier, token) == "unknown_key"


def test_cache_is_a_bounded_lru(clock):
    _, svc, verifier = make(clock, cache_size=2)
    a, b, c = (svc.issue("alice", "repository:team-a/app:pull").token for _ in range(3))
    verifier.verify(a)
    verifier.verify(b)
    verifier.verify(a)          # a is now most recent
    verifier.verify(c)          # evicts b
    assert a in verifier.cache and c in verifier.cache and b not in verifier.cache
    assert verifier.cache.stats.evictions == 1


def test_failed_checks_are_priced_too(clock):
    _, svc, verifier = make(clock, cache_size=0)
    token = svc.issue("alice", "repository:team-a/app:pull").token
    with receipts.collect() as r:
        rejected(verifier, corrupt(token))
        verifier.verify(token)
    assert r.total(Kind.JWT_VERIFY) == 2 and r.total(Kind.JWT_CACHE_HIT) == 0
