"""The auth database: users and password hashes, permissions, opaque tokens."""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor

import pytest

from regsim.registry import receipts
from regsim.registry.auth import Argon2Hasher, BcryptHasher, Database, Scope, ScopeInvalid, TokenStore, make_hasher, verify_password
from regsim.registry.errors import ConfigError, Unauthorized
from regsim.registry.receipts import Kind


@pytest.mark.parametrize("hasher", [BcryptHasher.fastest(), Argon2Hasher.fastest()], ids=["bcrypt", "argon2"])
def test_passwords_are_hashed_and_checked(clock, hasher):
    with Database(hasher=hasher, clock=clock) as db:
        db.add_user("alice", "correct horse")
        stored = db.execute("t", "SELECT password_hash FROM users", fetch="one")[0]
        assert "correct horse" not in stored and hasher.identifies(stored)
        with receipts.collect() as r:
            assert db.check_password("alice", "correct horse").username == "alice"
        assert [(i.kind, i.detail) for i in r] == [(Kind.DB_QUERY, "user_lookup"), (Kind.PASSWORD_HASH, hasher.scheme)]
        with pytest.raises(Unauthorized, match="wrong password"):
            db.check_password("alice", "Correct horse")


def test_unknown_user_costs_a_hash_check_too(db):
    db.add_user("alice", "pw")
    db.check_password("alice", "pw")
    with receipts.collect() as r, pytest.raises(Unauthorized, match="unknown user or wrong password"):
        db.check_password("mallory", "pw")
    assert r.total(Kind.PASSWORD_HASH) >= 1


def test_either_scheme_verifies_whatever_the_default(db):
    encoded = Argon2Hasher.fastest().hash("pw")
    db.add_user("alice", "old")
    db.execute("t", "UPDATE users SET password_hash = ? WHERE username = 'alice'", (encoded,))
    assert db.check_password("alice", "pw").username == "alice"
    with pytest.raises(ConfigError, match="unknown scheme"):
        verify_password("pw", "$1$md5crypt")
    assert make_hasher("argon2", time_cost=1, memory_cost=8, parallelism=1).scheme == "argon2"
    with pytest.raises(ConfigError):
        make_hasher("md5")
    with pytest.raises(ConfigError):
        BcryptHasher(3)
    with pytest.raises(ConfigError, match="72 bytes"):
        BcryptHasher.fastest().hash("x" * 73)
    assert not BcryptHasher.fastest().verify("x" * 73, BcryptHasher.fastest().hash("x" * 72))


def test_user_management_errors_are_clear(db):
    db.add_user("alice", "pw")
    with pytest.raises(ConfigError, match="already exists"):
        db.add_user("alice", "pw2")
    for bad in ["", "a:b", "with space", "anonymous", "-dash"]:
        with pytest.raises(ConfigError):
            db.add_user(bad, "pw")
    db.set_password("alice", "new")
    db.check_password("alice", "new")
    with pytest.raises(ConfigError, match="no user"):
        db.set_password("ghost", "x")
    assert db.usernames() == ["alice"]
    assert db.remove_user("alice") and not db.remove_user("alice")


def test_permissions_are_per_repository_globs(db):
    db.add_user("alice", "pw")
    db.grant("alice", "team-a/*", "pull,push")
    db.grant("alice", "shared/base", ["pull"])
    db.grant("alice", "catalog", "*", resource_type="registry")
    scopes = [Scope.parse(s) for s in ("repository:team-a/app:push", "repository:shared/base:push",
                                        "repository:team-b/app:pull", "registry:catalog:*")]
    alice = db.user("alice")
    with receipts.collect() as r:
        allowed = db.allowed(alice, scopes)
    assert [allowed[s.resource] for s in scopes] == [{"pull", "push"}, {"pull"}, set(), {"*"}]
    assert [(i.kind, i.detail) for i in r] == [(Kind.DB_QUERY, "permission_lookup")]  # one statement
    assert db.allowed("alice", scopes[:1])[scopes[0].resource] == {"pull", "push"}
    db.grant("alice", "team-a/*", "pull")  # replaces
    assert db.allowed("alice", scopes[:1])[scopes[0].resource] == {"pull"}
    assert db.revoke_permission("alice", "team-a/*")
    assert [(p.resource_type, p.pattern) for p in db.permissions("alice")] == \
        [("registry", "catalog"), ("repository", "shared/base")]
    for bad in ["", "Pull", []]:
        with pytest.raises(ScopeInvalid):
            db.grant("alice", "x/*", bad)
    with pytest.raises(ScopeInvalid):
        db.grant("alice", "has space", "pull")


def test_deleting_a_user_deletes_their_permissions_and_tokens(db, store):
    db.add_user("alice", "pw")
    db.grant("alice", "x/*", "pull")
    session = store.issue("alice", 60)
    db.remove_user("alice")
    assert db.execute("t", "SELECT COUNT(*) FROM permissions", fetch="one")[0] == 0
    with pytest.raises(Unauthorized, match="unknown token"):
        store.lookup(session.token)


def test_tokens_are_stored_hashed_and_expire(db, store, clock):
    db.add_user("alice", "pw")
    issued = store.login("alice", "pw", ttl=60)
    assert issued.token.startswith("rss_") and len(issued.token) > 40
    stored = db.execute("t", "SELECT token_hash FROM tokens", fetch="all")
    assert issued.token not in str(stored)
    with receipts.collect() as r:
        record = store.lookup(issued.token)
    assert record.user.username == "alice" and [i.detail for i in r] == ["token_lookup"]
    clock.advance(60)
    with pytest.raises(Unauthorized, match="expired"):
        store.lookup(issued.token)
    assert store.purge() == 1


def test_revoked_tokens_are_refused(db, store):
    db.add_user("alice", "pw")
    a, b, c = (store.issue("alice", 600) for _ in range(3))
    assert store.revoke(a.id) and not store.revoke(a.id)
    with pytest.raises(Unauthorized, match="revoked"):
        store.lookup(a.token)
    assert store.revoke_token(b.token)
    with pytest.raises(Unauthorized, match="revoked"):
        store.lookup(b.token)
    assert [t.id for t in store.active("alice")] == [c.id]
    assert store.revoke_user("alice") == 1
    with pytest.raises(Unauthorized, match="unknown token"):
        store.lookup("rss_made-up")
    with pytest.raises(ConfigError):
        store.issue("alice", 0)


def test_file_database_persists_and_reuses_one_connection(tmp_path, clock, monkeypatch):
    path = tmp_path / "auth.db"
    opened = []
    real_connect = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: opened.append(a) or real_connect(*a, **k))
    with Database(path, hasher=BcryptHasher.fastest(), clock=clock) as db:
        db.add_user("alice", "pw")
        token = TokenStore(db).issue("alice", 600)
        for _ in range(20):
            TokenStore(db).lookup(token.token)
        assert db.execute("t", "PRAGMA journal_mode", fetch="one")[0] == "wal"
    assert len(opened) == 1
    with Database(path, clock=clock) as again:
        assert again.usernames() == ["alice"] and TokenStore(again).lookup(token.token).user.username == "alice"


def test_schema_has_indices_on_looked_up_columns(db):
    plans = {
        "token": "SELECT id FROM tokens WHERE token_hash = 'x'",
        "user": "SELECT id FROM users WHERE username = 'x'",
        "perm": "SELECT pattern FROM permissions WHERE user_id = 1",
    }
    for name, sql in plans.items():
        plan = " ".join(str(r) for r in db.execute("t", "EXPLAIN QUERY PLAN " + sql, fetch="all"))
        assert "USING" in plan and "INDEX" in plan, (name, plan)


def test_one_connection_serves_many_threads(db, store):
    db.add_user("alice", "pw")
    db.grant("alice", "team-a/*", "pull")
    tokens = [store.issue("alice", 600).token for _ in range(8)]
    scope = [Scope.parse("repository:team-a/app:pull")]

    def check(token):
        for _ in range(25):
            assert store.lookup(token).user.username == "alice"
            assert db.allowed(db.user("alice"), scope)[scope[0].resource] == {"pull"}
        return True

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(check, tokens))
