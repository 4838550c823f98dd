"""The token service: grants from a policy, the response and claims of the spec, authentication."""

from __future__ import annotations

import jwt
import pytest

from regsim.registry import receipts
from regsim.registry.auth import (ANONYMOUS, BasicCredentials, BearerToken, DatabasePolicy, KeySet, MemoryAuditLog,
                                  Scope, ScopeInvalid, StaticPolicy, TokenService, UnionPolicy)
from regsim.registry.errors import ConfigError, Denied, Unauthorized
from regsim.registry.receipts import Kind

from .conftest import ISSUER, SERVICE, signing_key


def decoded(token: str, key) -> dict:
    return jwt.decode(token, key.verify_key, algorithms=[key.algorithm], audience=SERVICE,
                      options={"verify_exp": False, "verify_iat": False, "verify_nbf": False})


def test_response_and_claims_follow_the_spec(service, keys, clock):
    resp = service.issue("alice", "repository:team-a/app:pull,push")
    body = resp.to_json()
    assert set(body) == {"token", "access_token", "expires_in", "issued_at"}
    assert body["token"] == body["access_token"] and body["expires_in"] == 300
    assert body["issued_at"] == "2023-11-14T22:13:20Z"
    assert jwt.get_unverified_header(resp.token) == {"alg": "ES256", "kid": keys.active.kid, "typ": "JWT"}
    c = decoded(resp.token, keys.active)
    assert set(c) == {"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "access"}
    now = int(clock())
    assert (c["iss"], c["sub"], c["aud"], c["iat"], c["nbf"], c["exp"]) == (ISSUER, "alice", SERVICE, now, now, now + 300)
    assert c["access"] == [{"type": "repository", "name": "team-a/app", "actions": ["pull", "push"]}]
    assert c["jti"] == resp.jti and service.issue("alice").jti != resp.jti


def test_grant_is_the_intersection_and_partial_is_not_an_error(service, keys):
    resp = service.issue("alice", ["repository:team-a/app:pull,push,delete", "repository:team-b/app:pull",
                                   "repository:library/alpine:pull", "registry:catalog:*"])
    assert [str(s) for s in resp.access] == ["repository:team-a/app:pull,push", "repository:library/alpine:pull"]
    assert service.issue("alice", "repository:team-b/app:push").access == ()


def test_policy_wildcards_and_anonymous(service):
    assert [str(s) for s in service.issue("admin", "registry:catalog:*").access] == ["registry:catalog:*"]
    assert [str(s) for s in service.issue("bob", "repository:team-b/x/y:pull,delete").access] == \
        ["repository:team-b/x/y:delete,pull"]
    anon = service.issue(None, "repository:public/tool:pull,push repository:library/alpine:pull")
    assert anon.subject == "" and [str(s) for s in anon.access] == ["repository:public/tool:pull"]


def test_every_decision_is_audited(keys, policy, clock):
    log = MemoryAuditLog()
    svc = TokenService(keys, issuer=ISSUER, service=SERVICE, policy=policy, audit=log)
    svc.issue("alice", "repository:team-a/app:pull,delete repository:team-b/app:pull repository:team-a/x:pull")
    assert [(e.subject, e.scope, e.outcome, e.granted) for e in log] == [
        ("alice", "repository:team-a/app:delete,pull", "partial", "pull"),
        ("alice", "repository:team-b/app:pull", "denied", ""),
        ("alice", "repository:team-a/x:pull", "granted", "pull"),
    ]
    assert all(e.source == "token_service" and e.time == clock() for e in log)


def test_signing_is_on_the_receipt(service):
    with receipts.collect() as r:
        service.issue("alice", "repository:team-a/app:pull")
    assert [(i.kind, i.amount, i.detail) for i in r] == [(Kind.JWT_SIGN, 1, "ES256")]


def test_unknown_service_and_bad_configuration(keys, policy):
    svc = TokenService(keys, issuer=ISSUER, service=[SERVICE, "mirror.test"], policy=policy)
    assert jwt.decode(svc.issue("alice", service="mirror.test").token, options={"verify_signature": False})["aud"] \
        == "mirror.test"
    with pytest.raises(Denied, match="not for service"):
        svc.issue("alice", service="evil.test")
    with pytest.raises(ConfigError, match="max_token_ttl"):
        TokenService(KeySet([signing_key("ES256")], max_token_ttl=60), issuer=ISSUER, service=SERVICE,
                     policy=policy, ttl=300)


def test_request_authenticates_basic_and_session_credentials(keys, db, store, clock):
    db.add_user("carol", "s3cret")
    db.grant("carol", "team-c/*", "pull,push")
    log = MemoryAuditLog()
    svc = TokenService(keys, issuer=ISSUER, service=SERVICE, policy=DatabasePolicy(db), users=store, audit=log)
    resp = svc.request(BasicCredentials("carol", "s3cret"), ["repository:team-c/app:push"])
    assert resp.subject == "carol" and [str(s) for s in resp.access] == ["repository:team-c/app:push"]
    session = store.login("carol", "s3cret")
    assert svc.request(BearerToken(session.token), "repository:team-c/app:pull").subject == "carol"
    with pytest.raises(Unauthorized, match="wrong password"):
        svc.request(BasicCredentials("carol", "guess"), "repository:team-c/app:pull")
    assert log.where(outcome="unauthorized")[0].subject == "carol"
    assert svc.request(ANONYMOUS, "repository:team-c/app:pull").access == ()


def test_request_without_user_database_serves_anonymous_only(service):
    with pytest.raises(Unauthorized, match="no user database"):
        service.request(BasicCredentials("alice", "pw"), "repository:team-a/app:pull")
    assert service.request(ANONYMOUS, "repository:public/x:pull").access[0] == Scope.parse("repository:public/x:pull")


def test_union_of_database_and_static_policy(keys, db, store):
    db.add_user("dave", "pw")
    db.grant("dave", "team-d/*", "push")
    policy = UnionPolicy(DatabasePolicy(db), StaticPolicy.from_dict({"*": {"team-d/*": "pull"}}))
    svc = TokenService(keys, issuer=ISSUER, service=SERVICE, policy=policy, users=store)
    assert svc.issue("dave", "repository:team-d/app:pull,push").access[0].actions == {"pull", "push"}


def test_empty_subject_is_anonymous_not_everyone(service):
    assert service.issue("", "repository:library/alpine:pull").access == ()
    assert [str(s) for s in service.issue("", "repository:public/x:pull").access] == ["repository:public/x:pull"]


def test_mixed_scope_strings_and_objects_are_merged(service):
    resp = service.issue("alice", ["repository:team-a/app:pull", Scope.parse("repository:team-a/app:push")])
    assert [str(s) for s in resp.access] == ["repository:team-a/app:pull,push"]


def test_malformed_static_policy_is_refused():
    for bad in [{"a": {"Repo:x": "pull"}}, {"a": {"x/*": "PULL"}}, {"a": {"x/*": ""}}, {"a": "x/*"}]:
        with pytest.raises(ScopeInvalid):
            StaticPolicy.from_dict(bad)
