"""The server configuration: validation, paths relative to the file, what gets built."""

import pytest
import yaml

from regsim.registry.auth import AnonymousAuthorizer, DatabaseAuthorizer, JwtAuthorizer
from regsim.registry.errors import ConfigError
from regsim.server import build_services, load_config, parse_config

from .conftest import FAST_HASH


def test_defaults_are_an_open_memory_registry():
    services = build_services(parse_config(None))
    assert services.config.registry.backend == "memory"
    assert isinstance(services.authorizer, AnonymousAuthorizer)
    assert services.tokens is None


@pytest.mark.parametrize("doc, message", [
    ({"registry": {"codec": "rs(4,2)", "nodes": 6, "codecc": "rs(4,2)"}},
     "registry.codecc: unknown key (did you mean 'codec'?); expected one of: backend, root, codec,"),
    ({"registry": {"codec": "rs(4,2)", "nodes": 3}},
     "registry.nodes: codec rs(4,2) writes 6 fragments, so it needs at least 6 storage nodes (got 3)"),
    ({"registry": {"codec": "rs(4)"}}, "registry.codec: codec spec 'rs(4)': rs takes two arguments"),
    ({"registry": {"backend": "filesystem"}}, "registry.root: the filesystem backend needs a root directory"),
    ({"registry": {"nodes": "six"}}, "registry.nodes: expected a whole number (got 'six')"),
    ({"auth": {"mode": "kerberos"}}, "auth.mode: expected 'none', 'jwt' or 'db' (got 'kerberos')"),
    ({"auth": {"users": [{"name": "alice"}]}}, "auth.users[0].password: required key is missing"),
    ({"auth": {"hash": {"scheme": "bcrypt", "round": 4}}}, "auth.hash.round: unknown bcrypt option (did you mean 'rounds'?)"),
    ({"auth": {"hash": {"scheme": "md5"}}}, "auth.hash.scheme: expected 'bcrypt' or 'argon2' (got 'md5')"),
    ({"http": {"hsts_max_age": -1}}, "http.hsts_max_age: expected at least 0 (got -1)"),
    ({"base_dir": "/elsewhere"}, "base_dir: unknown key; expected one of: registry, auth, http"),
    ([1, 2], "expected a mapping with the sections registry, auth and http at the top level (got a list)"),
])
def test_mistakes_name_the_key_and_what_was_expected(doc, message):
    with pytest.raises(ConfigError) as e:
        parse_config(doc)
    assert str(e.value).startswith(f"server configuration: {message}")


def test_every_mistake_is_listed_a_line_each():
    with pytest.raises(ConfigError) as e:
        parse_config({"registry": {"nodes": 0}, "auth": {"mode": "x"}}, source="s.yaml")
    assert str(e.value).splitlines() == ["s.yaml: registry.nodes: expected at least 1 (got 0)",
                                         "s.yaml: auth.mode: expected 'none', 'jwt' or 'db' (got 'x')"]


@pytest.mark.parametrize("users, message", [
    ([{"name": "a", "password": "p"}, {"name": "a", "password": "q"}],
     "auth.users[1].name: user 'a' is listed twice (also auth.users[0])"),
    ([{"name": "a", "password": "p", "access": {"team/*": "PULL"}}],
     "auth.users[0].access.team/*: permission actions must be lowercase words"),
])
def test_user_mistakes_name_the_entry(tmp_path, users, message):
    path = tmp_path / "server.yaml"
    path.write_text(yaml.safe_dump({"auth": {"mode": "database", "hash": FAST_HASH, "users": users}}))
    with pytest.raises(ConfigError) as e:
        build_services(load_config(path))
    assert str(e.value).startswith(f"{path}: {message}")


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


def test_unreadable_or_invalid_files_are_named_in_one_line(tmp_path):
    absent = tmp_path / "absent.yaml"
    with pytest.raises(ConfigError) as e:
        load_config(absent)
    assert str(e.value) == f"{absent}: cannot read the server configuration: No such file or directory"
    bad = tmp_path / "bad.yaml"
    bad.write_text("registry: [unclosed\n")
    with pytest.raises(ConfigError) as e:
        load_config(bad)
    assert str(e.value).startswith(f"{bad}: line 2, column 1: invalid YAML: ")
    assert "\n" not in str(e.value)
    twice = tmp_path / "twice.yaml"
    twice.write_text("registry: {nodes: 2}\nregistry: {nodes: 3}\n")
    with pytest.raises(ConfigError, match="the key 'registry' appears twice"):
        load_config(twice)


def test_file_mistakes_name_the_file(tmp_path):
    path = tmp_path / "server.yaml"
    path.write_text("registry:\n  codecc: rs(4,2)\n")
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert str(e.value).startswith(f"{path}: registry.codecc: unknown key (did you mean 'codec'?)")


def test_an_empty_file_is_every_default(tmp_path):
    (tmp_path / "empty.yaml").write_text("# nothing set\n")
    config = load_config(tmp_path / "empty.yaml")
    assert config.registry.backend == "memory" and config.base_dir == tmp_path and config.source.endswith("empty.yaml")


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
    path = tmp_path / "s.yaml"
    path.write_text("auth: {mode: magic}\n")
    assert main(["serve", "--config", str(path)]) == 2
    assert capsys.readouterr().err == f"regsim serve: {path}: auth.mode: expected 'none', 'jwt' or 'db' (got 'magic')\n"
