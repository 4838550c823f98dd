"""Tagging in the push by digest (the registry side of ``PUT /manifests/<digest>?tag=``), and
manifests stored under the algorithm of the digest they were pushed by (sha512 included)."""

import json

import pytest

from regsim.registry import descriptors as mt
from regsim.registry.config import RegistryConfig
from regsim.registry.digest import compute
from regsim.registry.errors import DigestInvalid, ManifestBlobUnknown, TagInvalid
from regsim.registry.registry import Registry

CONFIG = b'{"architecture": "amd64", "os": "linux"}'


@pytest.fixture(params=["memory", "filesystem"])
def reg(request, tmp_path):
    if request.param == "filesystem":
        return Registry(RegistryConfig(backend="filesystem", root=tmp_path, codec="replicate(2)", nodes=2, fsync=False))
    return Registry(RegistryConfig(codec="rs(4,2)", nodes=6, encryption="aes-256-gcm"))


def image(reg: Registry, algorithm: str = "sha256", layer: bytes = b"layer") -> bytes:
    """An image manifest whose config and layer were pushed by ``algorithm`` digests."""
    descs = []
    for media_type, blob in ((mt.OCI_CONFIG, CONFIG), (mt.OCI_LAYER, layer)):
        d = reg.put_blob("r", blob, compute(blob, algorithm))
        descs.append({"mediaType": media_type, "digest": str(d), "size": len(blob)})
    return json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST, "config": descs[0],
                       "layers": descs[1:]}).encode()


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
def test_push_by_digest_applies_every_tag(reg, algorithm):
    body = image(reg, algorithm)
    d = compute(body, algorithm)
    assert reg.put_manifest("r", str(d), body, mt.OCI_MANIFEST, tags=["v1", "latest", "v1"]) == d
    assert reg.tags("r") == ["latest", "v1"]
    for ref in ("v1", "latest", str(d)):
        stored = reg.get_manifest("r", ref)
        assert (stored.digest, stored.data) == (d, body)
        assert reg.repos.manifest_info("r", ref) == (d, mt.OCI_MANIFEST, len(body))


def test_tags_move_to_the_newest_push(reg):
    first, second = image(reg, layer=b"one"), image(reg, layer=b"two")
    reg.put_manifest("r", str(compute(first)), first, tags=["v1", "stable"])
    reg.put_manifest("r", str(compute(second)), second, tags=["v1"])
    assert reg.get_manifest("r", "v1").digest == compute(second)
    assert reg.get_manifest("r", "stable").digest == compute(first)


def test_a_sha512_manifest_deleted_by_digest_takes_its_tags(reg):
    body = image(reg, "sha512")
    d = reg.put_manifest("r", str(compute(body, "sha512")), body, tags=["a", "b"])
    reg.delete_manifest("r", str(d))
    assert reg.tags("r") == []


@pytest.mark.parametrize("bad", ["", "-leading-dash", ".dot", "has/slash", "has:colon", "x" * 129, "spa ce"])
def test_a_bad_tag_stores_nothing(reg, bad):
    body = image(reg)
    d = compute(body)
    with pytest.raises(TagInvalid):
        reg.put_manifest("r", str(d), body, tags=["good", bad])
    assert reg.tags("r") == []
    assert not reg.repos.has_manifest("r", d)


def test_tags_are_refused_with_a_push_by_tag(reg):
    body = image(reg)
    with pytest.raises(TagInvalid, match="push by digest") as e:
        reg.put_manifest("r", "v1", body, tags=["v2"])
    assert e.value.detail == {"tags": ["v2"]}
    assert reg.tags("r") == []


def test_a_failed_push_by_digest_applies_no_tag(reg):
    body = image(reg)
    with pytest.raises(DigestInvalid):
        reg.put_manifest("r", str(compute(body + b" ")), body, tags=["v1"])
    missing = json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST,
                          "config": {"mediaType": mt.OCI_CONFIG, "digest": str(compute(b"?")), "size": 1},
                          "layers": []}).encode()
    with pytest.raises(ManifestBlobUnknown):
        reg.put_manifest("r", str(compute(missing)), missing, tags=["v1"])
    assert reg.tags("r") == []


def test_a_single_tag_string_is_one_tag(reg):
    body = image(reg)
    reg.put_manifest("r", str(compute(body)), body, tags="latest")
    assert reg.tags("r") == ["latest"]


def test_a_push_by_tag_is_hashed_with_sha256(reg):
    """Without a digest from the client the registry can only use its canonical algorithm, which
    is why content addressed by sha512 is tagged with ``tags=`` on the push by digest."""
    body = image(reg, "sha512")
    assert reg.put_manifest("r", "v1", body) == compute(body, "sha256")
