"""Real clients against ``regsim serve`` on 127.0.0.1: umoci builds an image, skopeo pushes,
inspects, pulls back, lists and deletes it (open and with token auth), oras-py pushes and pulls
an artifact. Storage runs with RS(4,2) and encryption, as in CI.

CI installs the tools with ``apt-get install -y skopeo umoci``; without them these tests skip.
"""

import json
import os
import shutil
import subprocess

import pytest

from .conftest import FAST_HASH, running_server

pytestmark = pytest.mark.slow

STORAGE = {"codec": "rs(4,2)", "nodes": 6, "encryption": "aes-256-gcm"}
USERS = [{"name": "alice", "password": "wonderland", "access": {"team/*": "*"}},
         {"name": "bob", "password": "builder", "access": {"team/*": "pull"}}]
TOKEN_AUTH = {"registry": STORAGE, "auth": {"mode": "token", "hash": FAST_HASH, "users": USERS}}
#: one layer under the server's 1 MiB send slice, one over it and not a whole number of them
#: (blobs like the second once came back cut short: skopeo said "unexpected EOF")
LAYER_PAYLOADS = (256 * 1024, 1_500_000)


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} is not installed (CI installs it with apt-get install -y {tool})")
    return path


def run(*cmd: str, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.strip()}")
    return done


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    """An OCI layout with a two-layer image built by umoci; returns (layout dir, manifest digest)."""
    umoci = need("umoci")
    work = tmp_path_factory.mktemp("umoci")
    layout = work / "layout"
    rootless = ["--rootless"] if os.geteuid() != 0 else []
    run(umoci, "init", "--layout", str(layout))
    run(umoci, "new", "--image", f"{layout}:v1")
    run(umoci, "config", *rootless, "--image", f"{layout}:v1", "--config.cmd", "/bin/app")
    for i, size in enumerate(LAYER_PAYLOADS):
        payload = work / f"payload{i}.bin"
        payload.write_bytes(os.urandom(size))
        run(umoci, "insert", *rootless, "--image", f"{layout}:v1", str(payload), f"/data/payload{i}.bin")
    index = json.loads((layout / "index.json").read_text())
    return layout, index["manifests"][0]["digest"]


@pytest.fixture
def skopeo(tmp_path):
    exe = need("skopeo")
    env = {**os.environ, "REGISTRY_AUTH_FILE": str(tmp_path / "auth.json")}

    def call(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        return run(exe, "--insecure-policy", *args, check=check, env=env)
    return call


def round_trip(skopeo, server, image, tmp_path, creds: list[str]) -> None:
    layout, digest = image
    target = f"docker://{server.address}/team/app:v1"
    skopeo("copy", "--dest-tls-verify=false", *[f"--dest-{c}" for c in creds], f"oci:{layout}:v1", target)
    info = json.loads(skopeo("inspect", "--tls-verify=false", *[f"--{c}" for c in creds], target).stdout)
    assert info["Digest"] == digest
    assert len(info["Layers"]) == 2
    back = tmp_path / "back"
    skopeo("copy", "--src-tls-verify=false", *[f"--src-{c}" for c in creds], target, f"oci:{back}:v1")
    pulled = json.loads((back / "index.json").read_text())["manifests"][0]["digest"]
    assert pulled == digest
    for layer in info["Layers"]:
        algorithm, hex_ = layer.split(":")
        assert (back / "blobs" / algorithm / hex_).read_bytes() == (layout / "blobs" / algorithm / hex_).read_bytes()
    tags = json.loads(skopeo("list-tags", "--tls-verify=false", *[f"--{c}" for c in creds],
                             f"docker://{server.address}/team/app").stdout)
    assert tags["Tags"] == ["v1"]
    skopeo("delete", "--tls-verify=false", *[f"--{c}" for c in creds], target)
    gone = skopeo("inspect", "--tls-verify=false", *[f"--{c}" for c in creds], target, check=False)
    assert gone.returncode != 0 and "manifest unknown" in gone.stderr


def test_skopeo_round_trip_over_plain_http(tmp_path, image, skopeo):
    with running_server(tmp_path, {"registry": STORAGE}) as server:
        round_trip(skopeo, server, image, tmp_path, creds=[])


def test_skopeo_round_trip_with_token_auth(tmp_path, image, skopeo):
    with running_server(tmp_path, TOKEN_AUTH) as server:
        layout, _ = image
        anonymous = skopeo("copy", "--dest-tls-verify=false", f"oci:{layout}:v1",
                           f"docker://{server.address}/team/app:v1", check=False)
        assert anonymous.returncode != 0 and "authentication required" in anonymous.stderr
        pull_only = skopeo("copy", "--dest-tls-verify=false", "--dest-creds", "bob:builder", f"oci:{layout}:v1",
                           f"docker://{server.address}/team/app:v1", check=False)
        assert pull_only.returncode != 0
        round_trip(skopeo, server, image, tmp_path, creds=["creds=alice:wonderland"])


def test_skopeo_with_database_auth_and_anonymous_pull(tmp_path, image, skopeo):
    """skopeo sends credentials only after a 401 on /v2/, and without credentials answers a Basic
    challenge with an empty user name: both must work for anonymous pull beside authenticated push."""
    config = {"registry": STORAGE, "auth": {"mode": "database", "hash": FAST_HASH, "users": USERS,
                                            "anonymous_pull": ["team/*"]}}
    with running_server(tmp_path, config) as server:
        layout, digest = image
        target = f"docker://{server.address}/team/app:v1"
        skopeo("copy", "--dest-tls-verify=false", "--dest-creds", "alice:wonderland", f"oci:{layout}:v1", target)
        info = json.loads(skopeo("inspect", "--tls-verify=false", "--creds", "bob:builder", target).stdout)
        assert info["Digest"] == digest
        anonymous = json.loads(skopeo("inspect", "--tls-verify=false", target).stdout)
        assert anonymous["Digest"] == digest
        refused = skopeo("delete", "--tls-verify=false", target, check=False)
        assert refused.returncode != 0 and "no credentials were given" in refused.stderr


def test_oras_pushes_and_pulls_an_artifact(tmp_path):
    oras_client = pytest.importorskip("oras.client")
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    (src / "model.bin").write_bytes(os.urandom(1_500_000))  # more than a 1 MiB send slice, not a multiple
    (src / "README.txt").write_text("an artifact, not an image\n")
    with running_server(tmp_path, TOKEN_AUTH) as server:
        client = oras_client.OrasClient(hostname=server.address, insecure=True)
        client.login(username="alice", password="wonderland", hostname=server.address, tls_verify=False,
                     config_path=str(tmp_path / "oras-auth.json"))
        cwd = os.getcwd()
        os.chdir(src)  # oras-py names layers by the paths it is given
        try:
            pushed = client.push(target=f"{server.address}/team/artifact:v1", files=["model.bin", "README.txt"])
            assert pushed.status_code == 201
            chunked = client.push(target=f"{server.address}/team/artifact:v2", files=["model.bin"],
                                  do_chunked=True, chunk_size=64 * 1024)
            assert chunked.status_code == 201
        finally:
            os.chdir(cwd)
        files = client.pull(target=f"{server.address}/team/artifact:v1", outdir=str(out))
        assert sorted(os.path.basename(f) for f in files) == ["README.txt", "model.bin"]
        assert (out / "model.bin").read_bytes() == (src / "model.bin").read_bytes()
        assert client.get_tags(f"{server.address}/team/artifact") == ["v1", "v2"]


def test_imported_layout_is_served_to_skopeo(tmp_path, image, skopeo):
    from regsim.cli import main

    layout, digest = image
    config = {"registry": {**STORAGE, "backend": "filesystem", "root": str(tmp_path / "store"), "fsync": False}}
    (tmp_path / "store.yaml").write_text(json.dumps(config))
    assert main(["image", "import", str(layout), "--config", str(tmp_path / "store.yaml"),
                 "--repository", "team/imported"]) == 0
    with running_server(tmp_path, config) as server:  # a fresh process reading the same store
        info = json.loads(skopeo("inspect", "--tls-verify=false",
                                 f"docker://{server.address}/team/imported:v1").stdout)
        assert info["Digest"] == digest
        skopeo("copy", "--src-tls-verify=false", f"docker://{server.address}/team/imported:v1",
               f"oci:{tmp_path / 'back'}:v1")


def test_skopeo_over_tls_with_the_self_signed_certificate(tmp_path, image, skopeo):
    layout, digest = image
    tls = tmp_path / "tls"
    with running_server(tmp_path, TOKEN_AUTH, "--self-signed", "--tls-dir", str(tls)) as server:
        target = f"docker://{server.address}/team/app:v1"
        skopeo("copy", "--dest-cert-dir", str(tls), "--dest-creds", "alice:wonderland", f"oci:{layout}:v1", target)
        info = json.loads(skopeo("inspect", "--cert-dir", str(tls), "--creds", "alice:wonderland", target).stdout)
        assert info["Digest"] == digest
        untrusted = skopeo("inspect", "--creds", "alice:wonderland", target, check=False)
        assert untrusted.returncode != 0 and "certificate" in untrusted.stderr
