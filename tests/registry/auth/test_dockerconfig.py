"""kubernetes.io/dockerconfigjson secrets: parse and emit in YAML and JSON, refuse malformed input."""

from __future__ import annotations

import base64
import json

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from regsim.registry.auth import BasicCredentials, DockerConfig, DockerConfigSecret, RegistryAuth, SecretInvalid, \
    parse_secret
from regsim.registry.errors import ConfigError


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def manifest(config: object, *, section: str = "data", **overrides) -> str:
    value = config if isinstance(config, str) else json.dumps(config)
    doc = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "regcred", "namespace": "ci"},
           "type": "kubernetes.io/dockerconfigjson",
           section: {".dockerconfigjson": b64(value) if section == "data" else value}}
    doc.update(overrides)
    return yaml.safe_dump(doc)


KUBECTL_STYLE = """\
apiVersion: v1
kind: Secret
metadata:
  name: regcred
  namespace: default
type: kubernetes.io/dockerconfigjson
data:
  .dockerconfigjson: eyJhdXRocyI6eyJyZWdpc3RyeS5leGFtcGxlLnRlc3QiOnsidXNlcm5hbWUiOiJhbGljZSIsInBhc3N3b3JkIjoicDpzcyIsImF1dGgiOiJZV3hwWTJVNmNEcHpjdz09In19fQ==
"""


def test_parses_a_kubectl_generated_secret():
    secret = parse_secret(KUBECTL_STYLE)
    assert (secret.name, secret.namespace) == ("regcred", "default")
    auth = secret.config.auths["registry.example.test"]
    assert (auth.username, auth.password, auth.auth) == ("alice", "p:ss", b64("alice:p:ss"))
    assert secret.config.credentials_for("registry.example.test/team/app:1.0") == BasicCredentials("alice", "p:ss")
    assert secret.config.credentials_for("other.test") is None


@pytest.mark.parametrize("entry", [
    {"auth": b64("alice:pw")},
    {"username": "alice", "password": "pw"},
    {"username": "alice", "password": "pw", "auth": b64("alice:pw")},
])
def test_entry_forms_are_equivalent(entry):
    secret = parse_secret(manifest({"auths": {"reg.test": entry}}))
    assert secret.config.auths["reg.test"] == RegistryAuth("alice", "pw")


def test_string_data_and_json_manifests():
    config = {"auths": {"https://index.docker.io/v1/": {"auth": b64("bob:x")}}}
    secret = parse_secret(manifest(config, section="stringData"))
    assert secret.config.credentials_for("docker.io/library/alpine") == BasicCredentials("bob", "x")
    as_json = json.dumps(yaml.safe_load(manifest(config)))
    assert parse_secret(as_json.encode()) == parse_secret(manifest(config))


def test_emits_yaml_and_json_that_parse_back():
    secret = DockerConfigSecret("pull-creds", DockerConfig({"reg.test:5000": RegistryAuth("u", "p w:x", "u@x.test")}),
                                "team-a")
    for text in (secret.to_yaml(), secret.to_json()):
        assert parse_secret(text) == secret
    doc = secret.to_manifest()
    inner = json.loads(base64.b64decode(doc["data"][".dockerconfigjson"]))
    assert inner == {"auths": {"reg.test:5000": {"username": "u", "password": "p w:x", "auth": b64("u:p w:x"),
                                                 "email": "u@x.test"}}}
    assert "p w:x" not in repr(secret)


@pytest.mark.parametrize("text, fragment", [
    ("- a\n- b\n", "must be a mapping"),
    ("a: [b\n", "not valid YAML"),
    ("a: 2001-13-01\n", "not valid YAML"),
    ("a: !!float x\n", "not valid YAML"),
    ("[" * 2000, "not valid YAML"),
    (b"\xff\xfe", "not UTF-8"),
    (manifest({"auths": {}}, kind="ConfigMap"), "kind 'Secret'"),
    (manifest({"auths": {}}, type="Opaque"), "kubernetes.io/dockerconfigjson"),
    (manifest({"auths": {}}, metadata={"namespace": "x"}), "metadata.name"),
    (manifest({"auths": {}}, metadata={"name": "Bad_Name"}), "DNS subdomain"),
    (manifest({"auths": {}}, data={}), "no '.dockerconfigjson'"),
    (manifest({"auths": {}}, data={".dockerconfigjson": "not base64!"}), "not valid base64"),
    (manifest("{not json"), "not valid JSON"),
    (manifest({"notauths": {}}), "'auths' object"),
    (manifest({"auths": {"reg.test": "alice:pw"}}), "must be an object"),
    (manifest({"auths": {"reg.test": {"username": "alice"}}}), "both 'username' and 'password'"),
    (manifest({"auths": {"reg.test": {"auth": b64("no-colon")}}}), "'username:password'"),
    (manifest({"auths": {"reg.test": {"auth": "%%%"}}}), "auth is not valid base64"),
    (manifest({"auths": {"reg.test": {"auth": b64("a:b"), "username": "c"}}}), "disagrees"),
    (manifest({"auths": {"reg.test": {"username": 1, "password": "x"}}}), "must be a string"),
    (manifest({"auths": {"": {"auth": b64("a:b")}}}), "registry key"),
])
def test_malformed_input_is_refused_clearly(text, fragment):
    with pytest.raises(SecretInvalid) as info:
        parse_secret(text)
    assert fragment in str(info.value)
    assert isinstance(info.value, ConfigError)


def test_username_with_colon_cannot_be_encoded():
    with pytest.raises(SecretInvalid, match="contains ':'"):
        RegistryAuth("a:b", "pw")


# -- properties -------------------------------------------------------------------------------

_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
_user = _text.filter(lambda u: ":" not in u)
_registry = st.from_regex(r"[a-z0-9]{1,8}(\.[a-z0-9]{1,8}){0,2}(:[0-9]{2,5})?(/v1/)?", fullmatch=True)
_name = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,10}[a-z0-9])?", fullmatch=True)


@settings(max_examples=100, deadline=None)
@given(_name, st.dictionaries(_registry, st.tuples(_user, _text), min_size=1, max_size=3), st.booleans())
def test_emit_then_parse_is_identity(name, entries, as_yaml):
    secret = DockerConfigSecret(name, DockerConfig({r: RegistryAuth(u, p) for r, (u, p) in entries.items()}))
    back = parse_secret(secret.to_yaml() if as_yaml else secret.to_json())
    assert back == secret


_json = st.recursive(st.none() | st.booleans() | st.integers() | _text,
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
                     max_leaves=10)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=200), st.binary(max_size=100)))
def test_parser_raises_only_secret_invalid_on_arbitrary_text(text):
    try:
        parse_secret(text)
    except SecretInvalid:
        pass


@settings(max_examples=200, deadline=None)
@given(st.one_of(_json, st.fixed_dictionaries({"auths": st.dictionaries(_text, _json, max_size=3)})))
def test_config_parser_raises_only_secret_invalid_on_arbitrary_json(obj):
    try:
        config = DockerConfig.parse(json.dumps(obj))
    except SecretInvalid:
        return
    assert DockerConfig.parse(config.to_json()) == config
