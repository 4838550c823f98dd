"""The Authorizer protocol: one shared suite of decisions for both implementations, then each
implementation's own credentials, refusals, challenges, receipts and audit trail."""

from __future__ import annotations

import base64

import pytest

from regsim.registry import receipts
from regsim.registry.auth import (ANONYMOUS, AnonymousAuthorizer, Authorizer, BasicCredentials, BearerToken,
                                  DatabaseAuthorizer, DatabasePolicy, JwtAuthorizer, MemoryAuditLog, Scope,
                                  StaticPolicy, TokenService, TokenStore, TokenVerifier, challenge_of,
                                  parse_authorization)
from regsim.registry.errors import Denied, Unauthorized
from regsim.registry.receipts import Kind

from .conftest import ISSUER, SERVICE

REALM = "https://auth.example.test/token"


def S(text: str) -> list[Scope]:
    return [Scope.parse(t) for t in text.split()]


class JwtSetup:
    """Token-service auth: credentials are a token the service issued for exactly the scopes."""

    def __init__(self, keys, db, audit):
        self.service = TokenService(keys, issuer=ISSUER, service=SERVICE, policy=DatabasePolicy(db),
                                    users=TokenStore(db))
        self.authorizer = JwtAuthorizer(TokenVerifier(keys, issuer=ISSUER, audience=SERVICE), realm=REALM,
                                        audit=audit)

    def credentials(self, user, password, scopes):
        return BearerToken(self.service.request(BasicCredentials(user, password), scopes).token)


class DatabaseSetup:
    """Database auth: credentials are a session token from a login."""

    def __init__(self, keys, db, audit):
        self.authorizer = DatabaseAuthorizer(db, realm=REALM, service=SERVICE, audit=audit)
        self.store = TokenStore(db)

    def credentials(self, user, password, scopes):
        return BearerToken(self.store.login(user, password).token)


@pytest.fixture(params=[JwtSetup, DatabaseSetup], ids=["jwt", "database"])
def setup(request, keys, db):
    db.add_user("alice", "pw-a")
    db.grant("alice", "team-a/*", "pull,push")
    db.grant("alice", "shared/*", "pull")
    db.add_user("bob", "pw-b")
    db.grant("bob", "team-b/*", "*")
    log = MemoryAuditLog()
    s = request.param(keys, db, log)
    s.log = log
    return s


@pytest.mark.parametrize("who, password, scopes, outcome", [
    ("alice", "pw-a", "repository:team-a/app:pull", "granted"),
    ("alice", "pw-a", "repository:team-a/app:pull,push", "granted"),
    ("alice", "pw-a", "repository:team-a/app:pull repository:shared/base:pull", "granted"),
    ("alice", "pw-a", "repository:shared/base:push", "denied"),        # a pull right used to push
    ("alice", "pw-a", "repository:team-b/app:pull", "denied"),         # a right on A used on B
    ("alice", "pw-a", "repository:team-a/app:delete", "denied"),
    ("bob", "pw-b", "repository:team-b/x/y:pull,push,delete", "granted"),
    ("bob", "pw-b", "repository:team-a/app:pull", "denied"),
])
def test_both_implementations_decide_alike(setup, who, password, scopes, outcome):
    assert isinstance(setup.authorizer, Authorizer)
    creds = setup.credentials(who, password, scopes)
    if outcome == "granted":
        grant = setup.authorizer.authorize(creds, S(scopes))
        assert grant.subject == who and list(grant.access) == S(scopes)
        assert all(grant.allows(s) for s in S(scopes))
    else:
        with pytest.raises(Denied) as info:
            setup.authorizer.authorize(creds, S(scopes))
        challenge = challenge_of(info.value)
        assert challenge.error == "insufficient_scope" and challenge.scopes == tuple(S(scopes))
        assert setup.log.where(outcome="denied", subject=who)


def test_escalation_with_a_pull_token_names_what_is_missing(setup):
    creds = setup.credentials("alice", "pw-a", "repository:shared/base:pull")
    with pytest.raises(Denied, match="alice lacks push on repository:shared/base"):
        setup.authorizer.authorize(creds, S("repository:shared/base:pull,push"))
    event = setup.log.where(outcome="partial")[0]
    assert (event.subject, event.scope, event.granted) == ("alice", "repository:shared/base:pull,push", "pull")


def test_missing_credentials_are_unauthorized_with_a_challenge(setup):
    with pytest.raises(Unauthorized) as info:
        setup.authorizer.authorize(ANONYMOUS, S("repository:team-a/app:pull"))
    challenge = challenge_of(info.value)
    assert challenge is not None and challenge.error is None and challenge.realm == REALM
    assert setup.log.where(outcome="unauthorized")


def test_garbage_bearer_token_is_unauthorized(setup):
    with pytest.raises(Unauthorized) as info:
        setup.authorizer.authorize(BearerToken("rss_not-a-token"), S("repository:team-a/app:pull"))
    assert challenge_of(info.value).error == "invalid_token"


# -- JWT ---------------------------------------------------------------------------------------

@pytest.fixture
def jwt_auth(keys, policy, clock):
    log = MemoryAuditLog()
    svc = TokenService(keys, issuer=ISSUER, service=SERVICE, policy=policy)
    return svc, JwtAuthorizer(TokenVerifier(keys, issuer=ISSUER, audience=SERVICE), realm=REALM, audit=log), log


def test_jwt_challenge_header_is_the_token_spec_s(jwt_auth):
    _, authz, _ = jwt_auth
    with pytest.raises(Unauthorized) as info:
        authz.authorize(BasicCredentials("alice", "pw"), S("repository:team-a/app:pull,push"))
    assert challenge_of(info.value).header() == (
        f'Bearer realm="{REALM}",service="{SERVICE}",scope="repository:team-a/app:pull,push"')


def test_jwt_expired_token_is_unauthorized_and_audited(jwt_auth, clock):
    svc, authz, log = jwt_auth
    token = svc.issue("alice", "repository:team-a/app:pull").token
    clock.advance(400)
    with pytest.raises(Unauthorized, match="expired") as info:
        authz.authorize(BearerToken(token), S("repository:team-a/app:pull"))
    assert 'error="invalid_token"' in challenge_of(info.value).header()
    assert log.where(outcome="unauthorized")[0].reason.startswith("invalid token (expired)")


def test_anonymous_token_lacking_access_asks_to_authenticate(jwt_auth):
    svc, authz, _ = jwt_auth
    token = svc.issue(None, "repository:public/x:pull,push").token
    assert authz.authorize(BearerToken(token), S("repository:public/x:pull")).anonymous
    with pytest.raises(Unauthorized, match="authentication required"):
        authz.authorize(BearerToken(token), S("repository:public/x:push"))


def test_jwt_receipts_verify_once_then_hit_cache(jwt_auth):
    svc, authz, _ = jwt_auth
    creds = BearerToken(svc.issue("alice", "repository:team-a/app:pull").token)
    with receipts.collect() as r:
        for _ in range(3):
            authz.authorize(creds, S("repository:team-a/app:pull"))
    assert r.by_kind() == {Kind.JWT_VERIFY: 1, Kind.JWT_CACHE_HIT: 2}


# -- database ----------------------------------------------------------------------------------

def test_database_receipts_per_path(db, store):
    db.add_user("alice", "pw")
    db.grant("alice", "team-a/*", "pull")
    authz = DatabaseAuthorizer(db)
    session = store.login("alice", "pw")
    with receipts.collect() as bearer:
        authz.authorize(BearerToken(session.token), S("repository:team-a/app:pull"))
    assert [i.detail for i in bearer] == ["token_lookup", "permission_lookup"]
    with receipts.collect() as basic:
        authz.authorize(BasicCredentials("alice", "pw"), S("repository:team-a/app:pull"))
    assert [(i.kind, i.detail) for i in basic] == [
        (Kind.DB_QUERY, "user_lookup"), (Kind.PASSWORD_HASH, "bcrypt"), (Kind.DB_QUERY, "permission_lookup")]


def test_database_refuses_revoked_token_and_wrong_password(db, store, clock):
    db.add_user("alice", "pw")
    db.grant("alice", "team-a/*", "pull")
    log = MemoryAuditLog()
    authz = DatabaseAuthorizer(db, realm="regsim", audit=log)
    session = store.login("alice", "pw", ttl=60)
    authz.authorize(BearerToken(session.token), S("repository:team-a/app:pull"))
    store.revoke(session.id)
    with pytest.raises(Unauthorized, match="revoked") as info:
        authz.authorize(BearerToken(session.token), S("repository:team-a/app:pull"))
    assert challenge_of(info.value).header() == 'Basic realm="regsim"'
    with pytest.raises(Unauthorized, match="wrong password"):
        authz.authorize(BasicCredentials("alice", "nope"), S("repository:team-a/app:pull"))
    assert [e.subject for e in log.where(outcome="unauthorized")] == ["anonymous", "alice"]
    fresh = store.login("alice", "pw", ttl=60)
    clock.advance(61)
    with pytest.raises(Unauthorized, match="expired"):
        authz.authorize(BearerToken(fresh.token), S("repository:team-a/app:pull"))


def test_database_base_check_without_scopes_only_authenticates(db, store):
    db.add_user("alice", "pw")
    grant = DatabaseAuthorizer(db).authorize(BasicCredentials("alice", "pw"), [])
    assert grant.subject == "alice" and grant.access == ()


# -- anonymous ---------------------------------------------------------------------------------

def test_open_registry_grants_everything():
    grant = AnonymousAuthorizer().authorize(ANONYMOUS, S("repository:any/thing:pull,push,delete"))
    assert grant.anonymous and grant.method == "anonymous" and grant.allows(S("repository:any/thing:push")[0])


def test_anonymous_policy_grants_only_what_it_allows():
    authz = AnonymousAuthorizer(StaticPolicy.from_dict({"anonymous": {"public/*": "pull"}}), realm=REALM)
    authz.authorize(BasicCredentials("ignored", "x"), S("repository:public/tool:pull"))
    with pytest.raises(Unauthorized) as info:
        authz.authorize(ANONYMOUS, S("repository:public/tool:push"))
    assert challenge_of(info.value).scopes == tuple(S("repository:public/tool:push"))


# -- Authorization header ----------------------------------------------------------------------

def test_parse_authorization_header():
    basic = "Basic " + base64.b64encode(b"alice:pa:ss").decode()
    assert parse_authorization(basic) == BasicCredentials("alice", "pa:ss")
    assert parse_authorization("Bearer abc.def.ghi") == BearerToken("abc.def.ghi")
    assert parse_authorization(None) is ANONYMOUS and parse_authorization("  ") is ANONYMOUS
    for bad in ["Basic !!!", "Basic " + base64.b64encode(b"nocolon").decode(), "Digest x", "Bearer"]:
        with pytest.raises(Unauthorized):
            parse_authorization(bad)
    assert "pa:ss" not in repr(parse_authorization(basic)) and "abc" not in repr(BearerToken("abc"))
    for empty in ["Basic", "Bearer  "]:
        with pytest.raises(Unauthorized, match="scheme but carries no credentials"):
            parse_authorization(empty)
    with pytest.raises(Unauthorized, match="unsupported Authorization scheme 'Digest'"):
        parse_authorization("Digest x")
