"""The server's auth modes are the scenario's names (none, jwt, db); token and database are aliases."""

from __future__ import annotations

import logging

import pytest

from regsim.registry.auth import DatabaseAuthorizer, JwtAuthorizer
from regsim.server import build_services, parse_config

from .conftest import FAST_HASH

USERS = [{"name": "alice", "password": "wonderland", "access": {"team/*": "pull,push"}}]


@pytest.mark.parametrize("written, canonical", [("token", "jwt"), ("database", "db"), ("jwt", "jwt"),
                                                ("db", "db"), ("none", "none")])
def test_the_configuration_holds_the_canonical_name(written, canonical):
    assert parse_config({"auth": {"mode": written}}).auth.mode == canonical


@pytest.mark.parametrize("alias, canonical", [("token", "jwt"), ("database", "db")])
def test_an_alias_is_noted_once_with_its_canonical_name(caplog, alias, canonical):
    with caplog.at_level(logging.INFO, logger="regsim.server"):
        parse_config({"auth": {"mode": alias}}, source="server.yaml")
    notes = [r for r in caplog.records if r.name == "regsim.server"]
    assert len(notes) == 1
    assert notes[0].getMessage() == (f"server.yaml: auth.mode: {alias!r} is an alias of {canonical!r}, the name "
                                     f"scenarios and results use; serving with auth mode {canonical!r}")


def test_canonical_names_are_not_noted(caplog):
    with caplog.at_level(logging.INFO, logger="regsim.server"):
        for mode in ("none", "jwt", "db"):
            parse_config({"auth": {"mode": mode}})
    assert not [r for r in caplog.records if r.name == "regsim.server"]


@pytest.mark.parametrize("jwt_name, db_name", [("jwt", "db"), ("token", "database")])
def test_both_spellings_build_the_same_services(jwt_name, db_name):
    jwt = build_services(parse_config({"auth": {"mode": jwt_name, "hash": FAST_HASH, "users": USERS}}))
    assert isinstance(jwt.authorizer, JwtAuthorizer) and jwt.tokens is not None and jwt.mode == "jwt"
    assert jwt.database.usernames() == ["alice"]
    db = build_services(parse_config({"auth": {"mode": db_name, "hash": FAST_HASH, "users": USERS}}))
    assert isinstance(db.authorizer, DatabaseAuthorizer) and db.tokens is None and db.mode == "db"
    jwt.close()
    db.close()


def test_the_canonical_names_serve_the_token_flow_and_basic_auth(make_client):
    jwt, _ = make_client({"auth": {"mode": "jwt", "hash": FAST_HASH, "users": USERS}})
    r = jwt.get("/v2/")
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == 'Bearer realm="http://registry.test/token",service="regsim"'
    assert jwt.get("/token", params={"service": "regsim", "scope": "repository:team/app:pull"},
                   auth=("alice", "wonderland")).status_code == 200
    db, _ = make_client({"auth": {"mode": "db", "hash": FAST_HASH, "users": USERS}})
    r = db.get("/v2/team/app/tags/list")
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == 'Basic realm="regsim"'
    assert db.get("/v2/team/app/tags/list", auth=("alice", "wonderland")).status_code == 404  # known user, no repo


def test_a_bad_hash_cost_names_the_key():
    from regsim.registry.errors import ConfigError
    with pytest.raises(ConfigError) as e:
        build_services(parse_config({"auth": {"mode": "db", "hash": {"scheme": "bcrypt", "rounds": 40}}},
                                    source="s.yaml"))
    assert str(e.value) == "s.yaml: auth.hash: bcrypt rounds must be between 4 and 31, got 40"
