"""The server configuration: validation, paths relative to the file, what gets built."""

import pytest

from regsim.registry.auth import AnonymousAuthorizer, DatabaseAuthorizer, JwtAuthorizer
from regsim.registry.errors import ConfigError
from regsim.server import build_services, load_config, parse_config

from .conftest import FAST_HASH


def test_defaults_are_an_open_memory_registry():
    services = build_services(parse_config(None))
    assert services.config.registry.backend == "memory"
    assert isinstance(services.authorizer, AnonymousAuthorizer)
    assert services.tokens is None


@pytest.mark.parametrize("doc, where", [
    ({"registry": {"codec": "rs(4,2)", "nodez": 6}}, "registry.nodez"),
    ({"auth": {"mode": "kerberos"}}, "auth.mode"),
    ({"auth": {"users": [{"name": "alice"}]}}, "auth.users.0.password"),
    ({"http": {"hsts_max_age": -1}}, "http.hsts_max_age"),
    ([1, 2], "mapping"),
])
def test_mistakes_name_the_key(doc, where):
    with pytest.raises(ConfigError) as e:
        parse_config(doc)
    assert where in str(e.value)


def test_registry_mistakes_surface_when_building():
    with pytest.raises(ConfigError, match="at least 6 storage nodes"):
        build_services(parse_config({"registry": {"codec": "rs(4,2)", "nodes": 3}}))


def test_paths_are_relative_to_the_file_and_the_store_persists(tmp_path):
    cfg = tmp_path / "conf" / "server.yaml"
    cfg.parent.mkdir()
    cfg.write_text("registry: {backend: filesystem, root: data, codec: 'rs(4,2)', nodes: 6, "
                   "encryption: aes-256-gcm, fsync: false}\n")
    config = load_config(cfg)
    rc = config.registry_config()
    assert rc.root == tmp_path / "conf" / "data"
    assert rc.keyring == tmp_path / "conf" / "data" / "keyring.json"
    first = build_services(config)
    d = first.registry.put_blob("team/app", b"kept across restarts")
    second = build_services(load_config(cfg))  # a restart: same root, same keyring
    assert second.registry.get_blob("team/app", d) == b"kept across restarts"


def test_unreadable_or_invalid_files(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("registry: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_auth_modes_build_their_authorizers(tmp_path):
    users = [{"name": "alice", "password": "pw", "access": {"team/*": "pull"}}]
    token = build_services(parse_config({"auth": {"mode": "token", "hash": FAST_HASH, "users": users}}))
    assert isinstance(token.authorizer, JwtAuthorizer) and token.tokens is not None
    db_path = tmp_path / "auth.db"
    db = build_services(parse_config({"auth": {"mode": "database", "hash": FAST_HASH, "users": users,
                                               "database": str(db_path)}}))
    assert isinstance(db.authorizer, DatabaseAuthorizer) and db.anonymous is None
    assert db.database.usernames() == ["alice"]
    db.close()
    # users in the file are upserted: a second start with a new password keeps one user
    users[0]["password"] = "new"
    again = build_services(parse_config({"auth": {"mode": "database", "hash": FAST_HASH, "users": users,
                                                  "database": str(db_path)}}))
    assert again.database.usernames() == ["alice"]
    assert again.database.check_password("alice", "new").username == "alice"
    again.close()


def test_signing_key_from_a_pem_file(tmp_path):
    from regsim.registry.auth import SigningKey
    from cryptography.hazmat.primitives import serialization
    key = SigningKey.generate("EdDSA")
    pem = key.signing_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption())
    (tmp_path / "signing.pem").write_bytes(pem)
    (tmp_path / "s.yaml").write_text("auth: {mode: token, signing_key: signing.pem, hash: {scheme: bcrypt, rounds: 4}}")
    services = build_services(load_config(tmp_path / "s.yaml"))
    assert services.tokens.keys.active.kid == key.kid
    assert services.tokens.keys.active.algorithm == "EdDSA"


def test_rate_limit_answers_toomanyrequests(make_client):
    client, _ = make_client({"http": {"rate_limit": {"rate": 0.001, "burst": 2}}})
    assert [client.get("/v2/").status_code for _ in range(2)] == [200, 200]
    r = client.get("/v2/")
    assert r.status_code == 429
    assert r.json()["errors"][0]["code"] == "TOOMANYREQUESTS"
    assert int(r.headers["Retry-After"]) >= 1
    assert r.headers["Docker-Distribution-API-Version"] == "registry/2.0"
    assert client.get("/metrics").status_code == 200  # scrapes are never limited


def test_token_buckets_refill_at_the_rate():
    from regsim.server.ratelimit import TokenBuckets
    now = [0.0]
    buckets = TokenBuckets(rate=2.0, burst=3, clock=lambda: now[0])
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.5)
    assert buckets.take("b") == 0.0  # buckets are per client
    now[0] = 0.5
    assert buckets.take("a") == 0.0
    now[0] = 100.0  # refills up to the burst, not beyond
    assert [buckets.take("a") for _ in range(4)] == [0.0, 0.0, 0.0, pytest.approx(0.5)]


@pytest.mark.parametrize("args, message", [
    (["--self-signed", "--tls-cert", "c.pem", "--tls-key", "k.pem"], "not both"),
    (["--tls-cert", "c.pem"], "go together"),
    (["--tls-cert", "absent.pem", "--tls-key", "absent.key"], "no such file"),
    (["--port", "70000"], "0-65535"),
])
def test_serve_refuses_bad_arguments(capsys, args, message):
    from regsim.cli import main
    assert main(["serve", *args]) == 2
    assert message in capsys.readouterr().err


def test_serve_reports_a_bad_config_file(tmp_path, capsys):
    from regsim.cli import main
    (tmp_path / "s.yaml").write_text("auth: {mode: magic}\n")
    assert main(["serve", "--config", str(tmp_path / "s.yaml")]) == 2
    assert "auth.mode" in capsys.readouterr().err
