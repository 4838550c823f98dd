"""Signed images end to end: the server's ``signatures.require`` policy, ``regsim image
keygen|sign|verify``, and skopeo as the real client.

In-process (fast): the configuration's checks, the policy on manifest GETs (403 ``DENIED`` for
an unsigned or badly signed image; signature manifests, HEAD and blobs never blocked), and the
command line on a local store.

With ``regsim serve`` and skopeo (``slow``; skipped without skopeo, which CI installs): skopeo
copies an image with its signatures using ``use-sigstore-attachments`` -- reading the ``.sig``
manifest regsim wrote and writing its own -- and regsim verifies what skopeo wrote; the
``require`` policy refuses skopeo the unsigned image and serves it the signed one, through token
auth. Signing and verifying *by skopeo* (``--sign-by-sigstore-private-key``, a ``sigstoreSigned``
policy) need a skopeo built with sigstore: Debian's skopeo 1.9.3 is built without it ("Debian-local
change: sigstore disabled"), so those two tests skip there, saying so, and run where skopeo has it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from regsim.registry.errors import ConfigError
from regsim.registry.signing.keys import encrypt_private_key, generate, public_pem, write_key_pair
from regsim.registry.signing.signature import sign
from regsim.registry.signing.store import attach, signature_tag
from regsim.server import parse_config

from .conftest import FAST_HASH, digest_of, error_codes, running_server
from .test_image_import import make_layout

PASSWORD = "correct horse"
STORAGE = {"codec": "rs(4,2)", "nodes": 6, "encryption": "aes-256-gcm"}
USERS = [{"name": "alice", "password": "wonderland", "access": {"team/*": "*", "mirror/*": "*"}}]
SIGSTORE_DISABLED = "sigstore disabled"


@pytest.fixture(scope="module")
def keypair(tmp_path_factory) -> tuple[Path, Path]:
    """(cosign.key, cosign.pub), the private key encrypted with PASSWORD."""
    folder = tmp_path_factory.mktemp("keys")
    return write_key_pair(folder / "cosign.key", PASSWORD.encode())


@pytest.fixture(scope="module")
def wrong_pub(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("wrong") / "wrong.pub"
    path.write_bytes(public_pem(generate()))
    return path


@pytest.fixture
def regsim(monkeypatch, capsys):
    """``regsim(*argv) -> (exit code, stdout, stderr)``, in-process; adds the sign verbs to
    ``regsim image`` when regsim/cli/image.py does not register them yet."""
    from regsim import cli
    from regsim.cli import image
    from regsim.cli.image_sign import register_sign

    def verbs_of(sub):
        return sub.choices["image"]._subparsers._group_actions[0]

    parser = cli.build_parser()
    if "sign" not in verbs_of(parser._subparsers._group_actions[0]).choices:
        original = image.register

        def register(sub):
            original(sub)
            register_sign(verbs_of(sub))
        monkeypatch.setattr(image, "register", register)
    monkeypatch.setenv("REGSIM_TEST_PASSWORD", PASSWORD)
    monkeypatch.delenv("COSIGN_PASSWORD", raising=False)

    def run(*argv: str) -> tuple[int, str, str]:
        code = cli.main([str(a) for a in argv])
        out = capsys.readouterr()
        return code, out.out, out.err
    return run


# -- configuration -------------------------------------------------------------------------

def test_the_policy_section_is_checked_when_loaded(tmp_path, keypair):
    private, public = keypair
    ok = parse_config({"signatures": {"require": [{"prefix": "library/", "keys": [str(public)]}]}})
    [rule] = ok.signature_rules()
    assert rule.prefix == "library/" and len(rule.keys) == 1
    (tmp_path / "cosign.pub").write_bytes(public.read_bytes())
    relative = parse_config({"signatures": {"require": [{"prefix": "*", "keys": ["cosign.pub"]}]}}, base_dir=tmp_path)
    assert relative.signature_rules()[0].prefix == "*"

    def problem(section: dict) -> str:
        with pytest.raises(ConfigError) as e:
            parse_config({"signatures": section}, source="server.yaml")
        return str(e.value)

    assert problem({"require": [{"prefix": "team/", "keys": [str(tmp_path / "nope.pub")]}]}) == (
        f"server.yaml: signatures.require[0].keys[0]: cannot read the public key {tmp_path / 'nope.pub'}: "
        "No such file or directory")
    assert "signatures.require[0].keys[1]: " in problem({"require": [{"prefix": "team/",
                                                                       "keys": [str(public), str(private)]}]})
    assert "this is a private key; give the public key" in problem({"require": [{"prefix": "t/", "keys": [str(private)]}]})
    assert "signatures.require[0].keys" in problem({"require": [{"prefix": "team/", "keys": []}]})
    assert "signatures.require[0].prefix" in problem({"require": [{"prefix": "Team Space", "keys": [str(public)]}]})
    assert "prefix 'team/' is listed twice" in problem({"require": [{"prefix": "team/", "keys": [str(public)]},
                                                                     {"prefix": "team/", "keys": [str(public)]}]})
    assert "signatures.requires: unknown key" in problem({"requires": []})


# -- the policy on the wire (in-process) ---------------------------------------------------

def test_the_server_serves_only_signed_manifests(make_client, keypair, wrong_pub):
    from regsim.registry.signing.keys import read_private_key

    _, public = keypair
    key = read_private_key(keypair[0], PASSWORD.encode())
    client, services = make_client({"signatures": {"require": [{"prefix": "team/", "keys": [str(public)]}]}})
    digest, _ = client.push_image("team/app", "v1", [b"layer"])
    refused = client.get("/v2/team/app/manifests/v1")
    assert refused.status_code == 403 and error_codes(refused) == ["DENIED"]
    message = refused.json()["errors"][0]["message"]
    assert message.startswith(f"no trusted signature for {digest}: the image is not signed")
    assert client.get(f"/v2/team/app/manifests/{digest}").status_code == 403
    head = client.head("/v2/team/app/manifests/v1")
    assert head.status_code == 200 and head.headers["Docker-Content-Digest"] == digest
    assert client.get(f"/v2/team/app/blobs/{digest_of(b'layer')}").status_code == 200
    assert client.push_image("public/app", "v1", [b"layer"])  # no rule for public/
    assert client.get("/v2/public/app/manifests/v1").status_code == 200

    reg = services.registry
    other = generate()  # signed, but not by a trusted key
    attach(reg, "team/app", digest, sign(other, digest, "team/app:v1"))
    untrusted = client.get("/v2/team/app/manifests/v1")
    assert untrusted.status_code == 403 and "does not verify" in untrusted.json()["errors"][0]["message"]

    written = attach(reg, "team/app", digest, sign(key, digest, "team/app:v1"))
    for ref in ("v1", digest):
        ok = client.get(f"/v2/team/app/manifests/{ref}")
        assert ok.status_code == 200 and ok.headers["Docker-Content-Digest"] == digest
    for ref in (signature_tag(digest), str(written)):  # the signature manifest itself is never blocked
        assert client.get(f"/v2/team/app/manifests/{ref}").status_code == 200
    referrers = client.get(f"/v2/team/app/referrers/{digest}").json()["manifests"]
    assert str(written) in [r["digest"] for r in referrers]

    # a valid signature copied from another image does not sign this one
    second, _ = client.push_image("team/app", "v2", [b"other layer"])
    attach(reg, "team/app", second, sign(key, digest, "team/app:v1"))
    copied = client.get("/v2/team/app/manifests/v2")
    assert copied.status_code == 403
    assert f"its payload signs manifest {digest}, not {second}" in copied.json()["errors"][0]["message"]


# -- the command line on a local store -----------------------------------------------------

def test_keygen_sign_verify_on_a_local_store(tmp_path, regsim, wrong_pub, monkeypatch):
    layout = make_layout(tmp_path / "layout")
    root = tmp_path / "store"
    assert regsim("image", "import", layout, "--root", root, "--repository", "team/app")[0] == 0
    code, out, err = regsim("image", "keygen", "--out", tmp_path / "cosign.key", "--password-env", "REGSIM_TEST_PASSWORD")
    assert code == 0, err
    assert "wrote" in out and (tmp_path / "cosign.pub").is_file()

    code, out, err = regsim("image", "sign", "team/app:v1", "--key", tmp_path / "cosign.key", "--root", root,
                            "--password-env", "REGSIM_TEST_PASSWORD")
    assert code == 0, err
    assert "signed team/app@sha256:" in out and "as 'team/app:v1'" in out

    code, out, err = regsim("image", "verify", "team/app:v1", "--key", wrong_pub, "--key", tmp_path / "cosign.pub",
                            "--root", root, "--match-repository")
    assert code == 0, err
    assert out.startswith("verified team/app@sha256:") and "signed as 'team/app:v1'" in out

    code, out, err = regsim("image", "verify", "team/app:v1", "--key", wrong_pub, "--root", root)
    assert code == 1 and "no trusted signature for sha256:" in err and "does not verify" in err

    monkeypatch.setenv("REGSIM_TEST_PASSWORD", "not it")
    code, out, err = regsim("image", "sign", "team/app:v1", "--key", tmp_path / "cosign.key", "--root", root,
                            "--password-env", "REGSIM_TEST_PASSWORD")
    assert code == 2 and err.strip() == f"regsim image: {tmp_path / 'cosign.key'}: wrong password (the key does " \
                                        "not decrypt with it)"
    code, _, err = regsim("image", "sign", "team/app:nope", "--key", tmp_path / "cosign.key", "--root", root,
                          "--password-env", "UNSET_VARIABLE_FOR_TEST")
    assert code == 2 and "UNSET_VARIABLE_FOR_TEST: that environment variable is not set" in err


# -- skopeo and regsim serve ---------------------------------------------------------------

def need_skopeo() -> str:
    path = shutil.which("skopeo")
    if path is None:
        pytest.skip("skopeo is not installed (CI installs it with apt-get install -y skopeo)")
    return path


@pytest.fixture
def skopeo(tmp_path):
    """``skopeo(*args, policy=None, check=True)``: with a registries.d whose default-docker uses
    sigstore attachments, a private auth file, and ``--insecure-policy`` unless given a policy."""
    exe = need_skopeo()
    registries_d = tmp_path / "registries.d"
    registries_d.mkdir()
    (registries_d / "default.yaml").write_text("default-docker:\n  use-sigstore-attachments: true\n")
    env = {**os.environ, "REGISTRY_AUTH_FILE": str(tmp_path / "auth.json")}

    def call(*args: str, policy: Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
        trust = ["--policy", str(policy)] if policy else ["--insecure-policy"]
        done = subprocess.run([exe, *trust, "--registries.d", str(registries_d), *map(str, args)],
                              capture_output=True, text=True, timeout=120, env=env)
        if check and done.returncode != 0:
            raise AssertionError(f"skopeo {' '.join(map(str, args))} failed ({done.returncode}): {done.stderr.strip()}")
        return done
    return call


def sigstore_policy(tmp_path: Path, scope: str, public: Path) -> Path:
    """A policy.json accepting images under ``scope`` only with a sigstore signature by ``public``."""
    path = tmp_path / f"policy-{public.stem}.json"
    path.write_text(json.dumps({
        "default": [{"type": "reject"}],
        "transports": {"docker": {scope: [{"type": "sigstoreSigned", "keyPath": str(public),
                                           "signedIdentity": {"type": "matchRepository"}}]},
                       "oci": {"": [{"type": "insecureAcceptAnything"}]}}}))
    return path


@pytest.mark.slow
def test_skopeo_carries_regsim_signatures_and_regsim_verifies_what_skopeo_wrote(tmp_path, skopeo, regsim, keypair,
                                                                              wrong_pub):
    """regsim signs; skopeo copies the image and its signature to another repository, reading
    regsim's ``.sig`` manifest and writing its own; regsim verifies the copy skopeo stored."""
    private, public = keypair
    layout = make_layout(tmp_path / "layout")
    with running_server(tmp_path, {"registry": STORAGE}) as server:
        skopeo("copy", "--dest-tls-verify=false", f"oci:{layout}:v1", f"docker://{server.address}/team/app:v1")
        code, out, err = regsim("image", "sign", "team/app:v1", "--key", private, "--registry", server.address,
                                "--tls-verify", "false", "--password-env", "REGSIM_TEST_PASSWORD")
        assert code == 0, err
        assert f"as '{server.address}/team/app:v1'" in out
        skopeo("copy", "--src-tls-verify=false", "--dest-tls-verify=false", f"docker://{server.address}/team/app:v1",
               f"docker://{server.address}/mirror/app:v1")
        tags = json.loads(skopeo("list-tags", "--tls-verify=false", f"docker://{server.address}/mirror/app").stdout)
        digest = json.loads(skopeo("inspect", "--tls-verify=false",
                                   f"docker://{server.address}/mirror/app:v1").stdout)["Digest"]
        assert sorted(tags["Tags"]) == [signature_tag(digest), "v1"]  # written by skopeo
        code, out, err = regsim("image", "verify", "mirror/app:v1", "--key", public, "--registry",
                                f"http://{server.address}")
        assert code == 0, err
        assert f"signed as '{server.address}/team/app:v1'" in out and f"tag {signature_tag(digest)}" in out
        code, out, err = regsim("image", "verify", "mirror/app:v1", "--key", wrong_pub, "--registry",
                                f"http://{server.address}")
        assert code == 1 and f"no trusted signature for {digest}" in err and "does not verify" in err


@pytest.mark.slow
def test_the_require_policy_refuses_skopeo_the_unsigned_image(tmp_path, skopeo, regsim, keypair):
    """With token auth: skopeo pushes, cannot pull the unsigned image (403 DENIED with the reason);
    regsim signs through the token service; then skopeo pulls it, and copies it with its signature
    to another repository under the policy, where the signature skopeo wrote lets it be pulled."""
    private, public = keypair
    layout = make_layout(tmp_path / "layout")
    config = {"registry": STORAGE, "auth": {"mode": "token", "hash": FAST_HASH, "users": USERS},
              "signatures": {"require": [{"prefix": "team/", "keys": [str(public)]}]}}
    creds = "alice:wonderland"
    with running_server(tmp_path, config) as server:
        target = f"docker://{server.address}/team/app:v1"
        skopeo("copy", "--dest-tls-verify=false", "--dest-creds", creds, f"oci:{layout}:v1", target)
        refused = skopeo("inspect", "--tls-verify=false", "--creds", creds, target, check=False)
        assert refused.returncode != 0
        assert "denied" in refused.stderr and "no trusted signature for sha256:" in refused.stderr, refused.stderr
        code, out, err = regsim("image", "sign", "team/app:v1", "--key", private, "--registry",
                                f"http://{server.address}", "--creds", creds, "--password-env", "REGSIM_TEST_PASSWORD")
        assert code == 0, err
        info = json.loads(skopeo("inspect", "--tls-verify=false", "--creds", creds, target).stdout)
        # skopeo reads the signature (GET of the .sig tag is not blocked) and copies it with the image
        # into another repository under the policy, where what it wrote satisfies the policy too
        copy = f"docker://{server.address}/team/copy:v1"
        skopeo("copy", "--src-tls-verify=false", "--dest-tls-verify=false", "--src-creds", creds, "--dest-creds", creds,
               target, copy)
        assert json.loads(skopeo("inspect", "--tls-verify=false", "--creds", creds, copy).stdout)["Digest"] == info["Digest"]


@pytest.mark.slow
def test_skopeo_signs_and_regsim_verifies(tmp_path, skopeo, regsim, keypair, wrong_pub):
    """skopeo signs with the key regsim generated (cosign format) while pushing; regsim accepts
    the signature with the public key and refuses it with another."""
    private, public = keypair
    layout = make_layout(tmp_path / "layout")
    passphrase = tmp_path / "passphrase"
    passphrase.write_text(PASSWORD)
    with running_server(tmp_path, {"registry": STORAGE}) as server:
        pushed = skopeo("copy", "--dest-tls-verify=false", "--sign-by-sigstore-private-key", private,
                        "--sign-passphrase-file", passphrase, f"oci:{layout}:v1",
                        f"docker://{server.address}/team/app:v1", check=False)
        if pushed.returncode != 0 and SIGSTORE_DISABLED in pushed.stderr:
            pytest.skip(f"this skopeo is built without sigstore signing: {pushed.stderr.strip()[-120:]}")
        assert pushed.returncode == 0, pushed.stderr
        code, out, err = regsim("image", "verify", "team/app:v1", "--key", public, "--registry",
                                f"http://{server.address}", "--match-repository")
        assert code == 0, err
        assert f"signed as '{server.address}/team/app:v1'" in out
        code, _, err = regsim("image", "verify", "team/app:v1", "--key", wrong_pub, "--registry",
                              f"http://{server.address}")
        assert code == 1 and "does not verify" in err


@pytest.mark.slow
def test_regsim_signs_and_skopeo_verifies(tmp_path, skopeo, regsim, keypair, wrong_pub):
    """regsim signs an image it serves; skopeo copies it under a policy requiring a sigstore
    signature by the public key, and refuses it under a policy naming another key."""
    private, public = keypair
    layout = make_layout(tmp_path / "layout")
    with running_server(tmp_path, {"registry": STORAGE}) as server:
        skopeo("copy", "--dest-tls-verify=false", f"oci:{layout}:v1", f"docker://{server.address}/team/app:v1")
        code, _, err = regsim("image", "sign", "team/app:v1", "--key", private, "--registry",
                              f"http://{server.address}", "--password-env", "REGSIM_TEST_PASSWORD")
        assert code == 0, err
        source = f"docker://{server.address}/team/app:v1"
        accepted = skopeo("copy", "--src-tls-verify=false", source, f"oci:{tmp_path / 'back'}:v1",
                          policy=sigstore_policy(tmp_path, f"{server.address}/team", public), check=False)
        if accepted.returncode != 0 and SIGSTORE_DISABLED in accepted.stderr:
            pytest.skip(f"this skopeo is built without sigstore verification: {accepted.stderr.strip()[-120:]}")
        assert accepted.returncode == 0, accepted.stderr
        refused = skopeo("copy", "--src-tls-verify=false", source, f"oci:{tmp_path / 'refused'}:v1",
                         policy=sigstore_policy(tmp_path, f"{server.address}/team", wrong_pub), check=False)
        assert refused.returncode != 0 and "Source image rejected" in refused.stderr


def test_a_cosign_sigstore_typed_key_signs_too(tmp_path, regsim):
    """A key file with cosign 2.x's PEM type (ENCRYPTED SIGSTORE PRIVATE KEY) is read as well."""
    from regsim.registry.signing.keys import SIGSTORE_PEM_TYPE

    layout = make_layout(tmp_path / "layout")
    root = tmp_path / "store"
    assert regsim("image", "import", layout, "--root", root, "--repository", "team/app")[0] == 0
    key = generate()
    (tmp_path / "new.key").write_bytes(encrypt_private_key(key, PASSWORD.encode(), pem_type=SIGSTORE_PEM_TYPE))
    (tmp_path / "new.pub").write_bytes(public_pem(key))
    assert regsim("image", "sign", "team/app:v1", "--key", tmp_path / "new.key", "--root", root,
                  "--password-env", "REGSIM_TEST_PASSWORD")[0] == 0
    code, _, err = regsim("image", "verify", "team/app", "--key", tmp_path / "new.pub", "--root", root)
    assert code == 2 and "tag 'latest' is unknown" in err  # no tag means latest
    assert regsim("image", "verify", "team/app:v1", "--key", tmp_path / "new.pub", "--root", root)[0] == 0
