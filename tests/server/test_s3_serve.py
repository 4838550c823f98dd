"""``regsim serve`` on the S3 backend: the configuration's ``s3`` section, a registry served from a
bucket on moto's S3 server (in process through the ASGI app, and as a real server that skopeo
pushes to and pulls from), and a restart that finds everything again in the bucket.

The moto server runs in the test process (tests/registry/s3_server.py); a ``regsim serve``
subprocess reaches it over HTTP with the fake credentials the fixture puts in the environment.
"""

from __future__ import annotations

import json

import pytest

from regsim.registry.errors import ConfigError
from regsim.server import build_services, load_config, parse_config

from ..registry.s3_server import FAKE_SECRET_KEY, moto_endpoint, s3_bucket, s3_credentials  # noqa: F401
from .conftest import digest_of, running_server
from .test_clients import image, skopeo  # noqa: F401  (fixtures: umoci's two-layer image, skopeo; skipped without them)

#: the client tests' storage: RS(4,2) over six nodes, encrypted
STORAGE = {"codec": "rs(4,2)", "nodes": 6, "encryption": "aes-256-gcm", "segment_size": 4096}


def s3_config(bucket, tmp_path, **storage) -> dict:
    """A server configuration on ``bucket`` under the prefix ``reg``; the keyring under tmp_path."""
    return {"registry": {**STORAGE, "backend": "s3", "root": str(tmp_path / "keys"),
                         "s3": {"bucket": bucket.name, "endpoint": bucket.endpoint, "prefix": "reg",
                                "region": "us-east-1", "part_size": 5 << 20}, **storage}}


# -- the configuration -------------------------------------------------------------------------


@pytest.mark.parametrize("registry, message", [
    ({"backend": "s3"}, "registry.s3: the s3 backend needs an s3 section with at least a bucket"),
    ({"backend": "s3", "s3": {"endpoint": "http://127.0.0.1:9000"}}, "registry.s3.bucket: required key is missing"),
    ({"backend": "s3", "s3": {"bucket": "registry", "endpoint": "127.0.0.1:9000"}},
     "registry.s3.endpoint: expected an http:// or https:// URL (got '127.0.0.1:9000')"),
    ({"backend": "s3", "s3": {"bucket": "registry", "part_size": 1 << 20}},
     "registry.s3.part_size: expected at least 5242880 (got 1048576)"),
    ({"backend": "s3", "s3": {"bucket": "registry", "prefix": "a/../b"}},
     "registry.s3.prefix: expected slash-separated names of letters, digits and . _ : + = - (got 'a/../b')"),
    ({"backend": "s3", "s3": {"bucket": "registry", "max_attempts": 0}},
     "registry.s3.max_attempts: expected at least 1 (got 0)"),
    ({"backend": "s3", "s3": {"bucket": "registry", "endpont": "http://x"}},
     "registry.s3.endpont: unknown key (did you mean 'endpoint'?)"),
    ({"backend": "filesystem", "root": "data", "s3": {"bucket": "registry"}},
     "registry.s3: only used with backend: s3 (backend is filesystem)"),
    ({"backend": "s3", "s3": {"bucket": "registry"}, "encryption": "aes-256-gcm"},
     "registry.keyring: the s3 backend with encryption needs a keyring file, or a root directory"),
    ({"backend": "gcs"}, "registry.backend: expected 'memory', 'filesystem' or 's3' (got 'gcs')"),
])
def test_s3_mistakes_name_the_key(registry, message):
    with pytest.raises(ConfigError) as e:
        parse_config({"registry": registry})
    assert str(e.value).startswith(f"server configuration: {message}")


def test_the_s3_section_reaches_the_registry_config(tmp_path):
    path = tmp_path / "server.yaml"
    path.write_text("registry:\n  backend: s3\n  encryption: aes-256-gcm\n  keyring: keys/ring.json\n"
                    "  s3: {bucket: registry, prefix: /prod/eu/, endpoint: 'http://127.0.0.1:9000', part_size: 16777216}\n")
    rc = load_config(path).registry_config()
    assert rc.backend == "s3" and rc.keyring == tmp_path / "keys" / "ring.json"
    assert (rc.s3.bucket, rc.s3.prefix, rc.s3.endpoint_url, rc.s3.part_size) == (
        "registry", "prod/eu", "http://127.0.0.1:9000", 16 << 20)
    assert rc.backend_spec("s2")["prefix"] == "prod/eu/nodes/s2" and rc.backend_spec("meta")["prefix"] == "prod/eu/meta"


def test_a_missing_bucket_is_reported_in_one_line(s3_bucket, tmp_path):
    config = s3_config(s3_bucket, tmp_path)
    config["registry"]["s3"]["bucket"] = "no-such-bucket"
    with pytest.raises(ConfigError) as e:
        build_services(parse_config(config, source="server.yaml"))
    assert str(e.value).startswith("server.yaml: s3 backend ")
    assert "bucket 'no-such-bucket' does not exist" in str(e.value) and "\n" not in str(e.value)
    assert FAKE_SECRET_KEY not in str(e.value)


# -- serving from a bucket -----------------------------------------------------------------------


def test_push_and_pull_through_the_api_on_s3(s3_bucket, tmp_path, make_client):
    client, services = make_client(s3_config(s3_bucket, tmp_path))
    layers = [bytes(range(256)) * 20_000, b"a small layer"]  # 5 MB: several extents and fragments
    digest, manifest = client.push_image("team/app", "v1", layers)
    keys = s3_bucket.keys()
    assert {k.split("/")[2] for k in keys if k.startswith("reg/nodes/")} == {f"s{i}" for i in range(6)}
    assert any(k.startswith("reg/meta/repositories/team/app/") for k in keys)
    assert (tmp_path / "keys" / "keyring.json").is_file()  # the keyring stays off the bucket
    got = client.get("/v2/team/app/manifests/v1")
    assert got.status_code == 200 and got.content == manifest
    for layer in layers:
        r = client.get(f"/v2/team/app/blobs/{digest_of(layer)}")
        assert r.status_code == 200 and r.content == layer
    ranged = client.get(f"/v2/team/app/blobs/{digest_of(layers[0])}", headers={"Range": "bytes=1000-1999"})
    assert ranged.status_code == 206 and ranged.content == layers[0][1000:2000]
    # a restart: a new registry on the same bucket and keyring serves the same image
    again, _ = make_client(s3_config(s3_bucket, tmp_path))
    r = again.get(f"/v2/team/app/blobs/{digest_of(layers[0])}")
    assert r.status_code == 200 and r.content == layers[0]
    assert again.get("/v2/team/app/manifests/v1").headers["Docker-Content-Digest"] == digest


@pytest.mark.slow
def test_skopeo_copies_an_image_into_regsim_serve_on_s3_and_back(s3_bucket, tmp_path, image, skopeo):
    """skopeo pushes an OCI image into ``regsim serve`` storing in the moto bucket, inspects it and
    copies it back (digests and layer bytes equal); a second server on the same bucket serves it."""
    config = s3_config(s3_bucket, tmp_path)
    layout, digest = image
    target_repo = "team/app"
    with running_server(tmp_path, config) as server:
        target = f"docker://{server.address}/{target_repo}:v1"
        skopeo("copy", "--dest-tls-verify=false", f"oci:{layout}:v1", target)
        info = json.loads(skopeo("inspect", "--tls-verify=false", target).stdout)
        assert info["Digest"] == digest and len(info["Layers"]) == 2
    assert any(k.startswith("reg/nodes/") for k in s3_bucket.keys())
    with running_server(tmp_path, config) as server:  # a restart: everything comes from the bucket
        back = tmp_path / "back"
        skopeo("copy", "--src-tls-verify=false", f"docker://{server.address}/{target_repo}:v1", f"oci:{back}:v1")
    pulled = json.loads((back / "index.json").read_text())["manifests"][0]["digest"]
    assert pulled == digest
    for layer in info["Layers"]:
        algorithm, hex_ = layer.split(":")
        assert (back / "blobs" / algorithm / hex_).read_bytes() == (layout / "blobs" / algorithm / hex_).read_bytes()
