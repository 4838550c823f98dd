"""Short-lived credentials: issue with a TTL, rotate with an overlap, revoke; usable through a
dockerconfigjson secret at the database authorizer and the token service alike."""

from __future__ import annotations

import logging

import pytest

from regsim.registry import receipts
from regsim.registry.auth import (BasicCredentials, BearerToken, CredentialIssuer, DatabaseAuthorizer, DatabasePolicy, LoggingAuditLog,
                                  MemoryAuditLog, Scope, TokenService, TokenStore, parse_secret)
from regsim.registry.errors import ConfigError, Unauthorized
from regsim.registry.receipts import Kind

from .conftest import ISSUER, SERVICE

PULL = [Scope.parse("repository:team-a/app:pull")]


@pytest.fixture
def issuer(db):
    db.add_user("robot", "long-lived-password")
    db.grant("robot", "team-a/*", "pull")
    issuer = CredentialIssuer(db, default_ttl=600, max_ttl=3600, audit=MemoryAuditLog())
    return issuer


def test_issued_credential_works_as_basic_password_without_a_password_hash(issuer, db):
    cred = issuer.issue("robot")
    assert cred.secret.startswith("rsc_") and cred.expires_at - cred.issued_at == 600
    authz = DatabaseAuthorizer(db)
    with receipts.collect() as r:
        assert authz.authorize(cred.basic(), PULL).subject == "robot"
    assert r.total(Kind.PASSWORD_HASH) == 0 and [i.detail for i in r] == ["token_lookup", "permission_lookup"]


def test_credential_expires_with_its_ttl(issuer, db, clock):
    cred = issuer.issue("robot", ttl=60)
    clock.advance(59)
    DatabaseAuthorizer(db).authorize(cred.basic(), PULL)
    clock.advance(1)
    with pytest.raises(Unauthorized, match="expired"):
        DatabaseAuthorizer(db).authorize(cred.basic(), PULL)
    with pytest.raises(ConfigError, match="at most 3600"):
        issuer.issue("robot", ttl=7200)


def test_credential_is_bound_to_its_user(issuer, db):
    db.add_user("other", "pw")
    cred = issuer.issue("robot")
    with pytest.raises(Unauthorized, match="does not belong"):
        DatabaseAuthorizer(db).authorize(BasicCredentials("other", cred.secret), PULL)


def test_credential_cannot_open_a_session(issuer, db):
    cred = issuer.issue("robot")
    with pytest.raises(Unauthorized, match="cannot be used as a session"):
        DatabaseAuthorizer(db).authorize(BearerToken(cred.secret), PULL)


def test_rotation_with_and_without_overlap(issuer, db, clock):
    authz = DatabaseAuthorizer(db)
    first = issuer.issue("robot")
    second = issuer.rotate(first, overlap=30)
    authz.authorize(first.basic(), PULL)       # still valid during the overlap
    authz.authorize(second.basic(), PULL)
    clock.advance(30)
    with pytest.raises(Unauthorized, match="expired"):
        authz.authorize(first.basic(), PULL)
    third = issuer.rotate(second)              # no overlap: the old one ends now
    with pytest.raises(Unauthorized, match="revoked"):
        authz.authorize(second.basic(), PULL)
    assert [r.id for r in issuer.active("robot")] == [third.id]
    assert [e.outcome for e in issuer.audit.log] == ["issued", "issued", "rotated", "issued", "rotated"]
    with pytest.raises(ConfigError):
        issuer.rotate(first, overlap=-1)


def test_revocation(issuer, db):
    a, b = issuer.issue("robot"), issuer.issue("robot")
    assert issuer.revoke(a.id) and not issuer.revoke(a.id) and not issuer.revoke("nope")
    with pytest.raises(Unauthorized, match="revoked"):
        DatabaseAuthorizer(db).authorize(a.basic(), PULL)
    assert issuer.revoke_all("robot") == 1
    with pytest.raises(Unauthorized, match="revoked"):
        DatabaseAuthorizer(db).authorize(b.basic(), PULL)
    assert issuer.audit.log.where(outcome="revoked")[0].reason == f"credential {a.id} revoked"


def test_credential_through_a_secret_to_the_token_service(issuer, db, keys):
    cred = issuer.issue("robot")
    secret = parse_secret(cred.to_secret("robot-pull", "registry.example.test", namespace="ci").to_yaml())
    creds = secret.config.credentials_for("registry.example.test/team-a/app:latest")
    svc = TokenService(keys, issuer=ISSUER, service=SERVICE, policy=DatabasePolicy(db), users=TokenStore(db))
    resp = svc.request(creds, "repository:team-a/app:pull,push")
    assert resp.subject == "robot" and [str(s) for s in resp.access] == ["repository:team-a/app:pull"]


def test_logging_audit_log_writes_json_lines(issuer, db, caplog):
    authz = DatabaseAuthorizer(db, audit=LoggingAuditLog("regsim.audit.test"))
    with caplog.at_level(logging.INFO, logger="regsim.audit.test"):
        authz.authorize(issuer.issue("robot").basic(), PULL)
        with pytest.raises(Unauthorized):
            authz.authorize(BasicCredentials("robot", "wrong"), PULL)
    levels = [r.levelno for r in caplog.records]
    assert levels == [logging.INFO, logging.WARNING]
    assert '"outcome": "granted"' in caplog.records[0].getMessage()
    assert '"subject": "robot"' in caplog.records[1].getMessage()
