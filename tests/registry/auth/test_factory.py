"""The auth factory: every mode builds a working stack from one spec; bad specs name the field."""

from __future__ import annotations

import pytest

from regsim.registry.auth import (ANONYMOUS, AUTH_MODE_ALIASES, AUTH_MODES, AnonymousAuthorizer, AuthSpec,
                                  BasicCredentials, BearerToken, DatabaseAuthorizer, JwtAuthorizer, Scope,
                                  TokenRejected, canonical_auth_mode, make_auth)
from regsim.registry.errors import ConfigError, Denied, Unauthorized

from .conftest import signing_key

PULL = [Scope.parse("repository:team/app:pull")]
PUSH = [Scope.parse("repository:team/app:pull,push")]


def test_none_lets_anyone_do_anything():
    stack = make_auth(AuthSpec())
    assert stack.mode == "none" and isinstance(stack.authorizer, AnonymousAuthorizer)
    assert stack.authorizer.authorize(ANONYMOUS, PUSH).subject == ""
    assert (stack.tokens, stack.verifier, stack.database, stack.keys) == (None, None, None, None)
    assert stack.new_authorizer() is stack.authorizer


def test_jwt_tokens_issued_verify_and_grant_what_the_policy_allows(algorithm):
    stack = make_auth(AuthSpec(mode="jwt", signing_key=signing_key(algorithm), grants={"alice": {"team/*": "pull"}}))
    assert isinstance(stack.authorizer, JwtAuthorizer) and stack.database is None
    token = stack.tokens.issue("alice", PUSH).token  # push is asked, pull is granted
    assert stack.verifier.verify(token).subject == "alice"
    assert stack.authorizer.authorize(BearerToken(token), PULL).subject == "alice"
    with pytest.raises(Denied):
        stack.authorizer.authorize(BearerToken(token), PUSH)
    with pytest.raises(Unauthorized):
        stack.authorizer.authorize(ANONYMOUS, PULL)


def test_jwt_defaults_and_the_key_set_limit():
    stack = make_auth(AuthSpec(mode="jwt", token_ttl=7200, cache_size=0))
    assert stack.keys.active.algorithm == "ES256"
    assert stack.tokens.ttl == 7200 and stack.keys.max_token_ttl == 7200  # never shorter than the TTL
    assert stack.verifier.cache is None
    assert make_auth(AuthSpec(mode="jwt")).keys.max_token_ttl == 3600  # at least an hour
    assert make_auth(AuthSpec(mode="jwt", algorithm="EdDSA")).keys.active.algorithm == "EdDSA"
    given = signing_key("HS256")
    assert make_auth(AuthSpec(mode="jwt", algorithm="ES256", signing_key=given)).keys.active is given


def test_each_frontend_gets_a_verifier_and_cache_of_its_own():
    stack = make_auth(AuthSpec(mode="jwt", grants={"*": {"*": "pull"}}, cache_size=8))
    one, two = stack.new_authorizer(), stack.new_authorizer()
    assert one.verifier is not two.verifier and one.verifier.cache is not two.verifier.cache
    token = stack.tokens.issue("alice", PULL).token
    one.authorize(BearerToken(token), PULL)
    assert len(one.verifier.cache) == 1 and len(two.verifier.cache) == 0


def test_jwt_with_users_logs_in_against_the_database(clock):
    stack = make_auth(AuthSpec(mode="jwt", users=True, database_grants=True, anonymous_pull=("public/*",),
                               hash_cost="fastest", token_ttl=60, clock=clock))
    stack.database.add_user("alice", "wonderland")
    stack.database.grant("alice", "team/*", "pull")
    token = stack.tokens.request(BasicCredentials("alice", "wonderland"), PUSH).token
    assert [str(s) for s in stack.verifier.verify(token).access] == ["repository:team/app:pull"]
    with pytest.raises(Unauthorized):
        stack.tokens.request(BasicCredentials("alice", "wrong"), PULL)
    anonymous = stack.tokens.request(ANONYMOUS, ["repository:public/base:pull", "repository:team/app:pull"])
    assert [str(s) for s in anonymous.access] == ["repository:public/base:pull"]
    clock.advance(60 + 31)  # past the TTL and the verifier's leeway: the simulated clock rules
    with pytest.raises(TokenRejected, match="expired"):
        stack.new_verifier().verify(token)
    stack.close()


@pytest.mark.parametrize("scheme", ["bcrypt", "argon2id"])
def test_db_users_log_in_and_are_checked_per_request(scheme):
    stack = make_auth(AuthSpec(mode="db", password_hash=scheme, hash_cost="fastest"))
    assert isinstance(stack.authorizer, DatabaseAuthorizer) and stack.tokens is None and stack.anonymous is None
    assert stack.database.hasher.scheme == scheme.removesuffix("id")
    stack.database.add_user("bob", "builder")
    stack.database.grant("bob", "team/*", "pull")
    session = stack.sessions.login("bob", "builder", ttl=300)
    assert stack.authorizer.authorize(BearerToken(session.token), PULL).subject == "bob"
    assert stack.authorizer.authorize(BasicCredentials("bob", "builder"), PULL).subject == "bob"
    with pytest.raises(Unauthorized):
        stack.authorizer.authorize(BasicCredentials("bob", "wrong"), PULL)
    with pytest.raises(Denied):
        stack.authorizer.authorize(BasicCredentials("bob", "builder"), PUSH)
    assert stack.new_authorizer() is stack.authorizer  # a database check keeps no per-frontend state
    stack.close()


def test_db_anonymous_pull_has_an_authorizer_of_its_own():
    stack = make_auth(AuthSpec(mode="db", anonymous_pull=["public/*"], hash_cost="fastest"))
    assert stack.anonymous.authorize(ANONYMOUS, [Scope.parse("repository:public/app:pull")]).subject == ""
    with pytest.raises(Unauthorized):
        stack.anonymous.authorize(ANONYMOUS, PULL)
    stack.close()


def test_hash_costs():
    assert make_auth(AuthSpec(mode="db")).database.hasher.rounds == 12
    assert make_auth(AuthSpec(mode="db", hash_cost="fastest")).database.hasher.rounds == 4
    assert make_auth(AuthSpec(mode="db", hash_cost={"rounds": 5})).database.hasher.rounds == 5
    argon = make_auth(AuthSpec(mode="db", password_hash="argon2", hash_cost={"time_cost": 2, "memory_cost": 64,
                                                                               "parallelism": 1})).database.hasher
    assert (argon.time_cost, argon.memory_cost) == (2, 64)


def test_mode_aliases_are_the_canonical_names():
    assert AUTH_MODES == ("none", "jwt", "db") and AUTH_MODE_ALIASES == {"token": "jwt", "database": "db"}
    assert AuthSpec(mode="token").mode == "jwt" and AuthSpec(mode="database").mode == "db"
    assert [canonical_auth_mode(m) for m in ("none", "jwt", "db", "token", "database", "x", 3)] == \
        ["none", "jwt", "db", "jwt", "db", "x", 3]


@pytest.mark.parametrize("spec, field, message", [
    ({"mode": "kerberos"}, "mode", "unknown auth mode 'kerberos'; known modes: 'none', 'jwt', 'db'; "
                                   "aliases 'token' (jwt) and 'database' (db)"),
    ({"mode": "jwt", "algorithm": "HS512"}, "algorithm",
     "unknown JWT algorithm 'HS512'; known algorithms: RS256, ES256, EdDSA, HS256"),
    ({"token_ttl": 0}, "token_ttl", "token_ttl must be a positive number of seconds, got 0"),
    ({"token_ttl": 600, "max_token_ttl": 300}, "max_token_ttl", "max_token_ttl must be at least token_ttl"),
    ({"cache_size": -1}, "cache_size", "cache_size must be a whole number >= 0"),
    ({"anonymous_pull": "public/*"}, "anonymous_pull", "anonymous_pull must be a sequence of repository patterns"),
    ({"database_grants": True}, "database_grants", "database_grants needs users=True"),
    ({"password_hash": "md5"}, "password_hash", "unknown password hashing scheme 'md5'; known schemes: bcrypt"),
    ({"hash_cost": "slow"}, "hash_cost", "hash_cost must be 'default', 'fastest' or a mapping"),
    ({"signing_key": "secret"}, "signing_key", "signing_key must be a SigningKey, got str"),
])
def test_a_bad_spec_names_its_field(spec, field, message):
    with pytest.raises(ConfigError) as e:
        AuthSpec(**spec)
    assert e.value.detail == field and str(e.value).startswith(message)


@pytest.mark.parametrize("spec, field, message", [
    ({"mode": "db", "hash_cost": {"rounds": 40}}, "hash_cost", "bcrypt rounds must be between 4 and 31, got 40"),
    ({"mode": "db", "hash_cost": {"round": 4}}, "hash_cost", "BcryptHasher.__init__() got an unexpected keyword"),
    ({"mode": "jwt", "grants": {"alice": {"team/*": "PULL"}}}, "grants", "grants: policy rule 'alice'"),
])
def test_what_only_building_finds_names_its_field_too(spec, field, message):
    with pytest.raises(ConfigError) as e:
        make_auth(AuthSpec(**spec))
    assert e.value.detail == field and str(e.value).startswith(message)


def test_modes_without_a_database_open_none():
    # a cost no scheme accepts is not looked at where no database is opened
    assert make_auth(AuthSpec(mode="none", hash_cost={"rounds": 40})).database is None
    assert make_auth(AuthSpec(mode="jwt", hash_cost={"rounds": 40})).database is None
    with pytest.raises(ConfigError, match="no token verifier"):
        make_auth(AuthSpec(mode="db", hash_cost="fastest")).new_verifier()
