"""Non-distributable ("foreign") layers: layer descriptors with ``urls`` that are never pushed.

The registry accepts a manifest naming them without holding them; every other descriptor must
still be in the repository. Garbage collection, deletes and the referrers API treat them as
references to nothing stored.
"""

import json

import pytest

from regsim.registry import descriptors as mt
from regsim.registry.config import RegistryConfig
from regsim.registry.descriptors import Descriptor
from regsim.registry.digest import compute
from regsim.registry.errors import ManifestBlobUnknown, ManifestInvalid
from regsim.registry.manifests import parse_manifest
from regsim.registry.registry import Registry

ND_GZ = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
ND = "application/vnd.oci.image.layer.nondistributable.v1.tar"
CONFIG = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
LAYER = b"an ordinary layer" * 100


from .clocked_registry import Clock, clock, reg  # noqa: F401 -- fixtures, used by name


def foreign(content: bytes, media_type: str = ND_GZ, urls: object = None) -> dict:
    d = compute(content)
    return {"mediaType": media_type, "digest": str(d), "size": len(content),
            "urls": [f"https://store.example.com/blobs/sha256/{d.hex}"] if urls is None else urls}


def plain(content: bytes, media_type: str = mt.OCI_LAYER) -> dict:
    return {"mediaType": media_type, "digest": str(compute(content)), "size": len(content)}


def manifest(layers: list[dict], config: dict | None = None, **extra) -> bytes:
    doc = {"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST,
           "config": config or plain(CONFIG, mt.OCI_CONFIG), "layers": layers, **extra}
    return json.dumps(doc).encode()


# -- parsing ----------------------------------------------------------------------------------

def test_urls_are_parsed_kept_and_written_back():
    layer = foreign(b"elsewhere")
    m = parse_manifest(manifest([layer, plain(LAYER)]))
    assert m.layers[0].urls == tuple(layer["urls"]) and m.layers[1].urls is None
    assert m.layers[0].to_json() == layer
    assert "urls" not in m.layers[1].to_json()
    assert [d.digest for d in m.foreign_layers()] == [m.layers[0].digest]


def test_required_blobs_leave_out_layers_with_urls_only():
    m = parse_manifest(manifest([foreign(b"a"), plain(LAYER), foreign(b"b", ND, urls=[])]))
    # the config and a layer without urls (an empty list gives none) are required
    assert [str(d.digest) for d in m.required_blobs()] == [str(compute(CONFIG)), str(compute(LAYER)),
                                                          str(compute(b"b"))]
    # every blob named is still a reference (GC marks them all)
    assert len(m.blob_references()) == 4


def test_a_config_with_urls_is_still_required():
    config = foreign(CONFIG, mt.OCI_CONFIG)
    m = parse_manifest(manifest([], config=config))
    assert [d.digest for d in m.required_blobs()] == [compute(CONFIG)]


@pytest.mark.parametrize("urls", ["https://x.example/blob", [1], [None], {"a": "b"}])
def test_urls_must_be_a_list_of_strings(urls):
    with pytest.raises(ManifestInvalid, match=r"layers\[0\]\.urls"):
        parse_manifest(manifest([foreign(b"x", urls=urls)]))


def test_descriptor_equality_ignores_urls():
    d = compute(b"x")
    assert Descriptor(ND_GZ, d, 1, urls=("https://a.example/x",)) == Descriptor(ND_GZ, d, 1)


# -- pushing ----------------------------------------------------------------------------------

def test_manifest_with_unpushed_foreign_layers_is_accepted(reg):
    reg.put_blob("r", CONFIG)
    reg.put_blob("r", LAYER)
    body = manifest([foreign(b"first, gzip"), foreign(b"second, tar", ND), plain(LAYER)])
    d = reg.put_manifest("r", "v1", body, mt.OCI_MANIFEST)
    assert d == compute(body)
    assert reg.get_manifest("r", "v1").data == body
    assert reg.get_manifest("r", str(d)).data == body
    assert reg.repos.manifest_info("r", "v1") == (d, mt.OCI_MANIFEST, len(body))
    assert reg.put_manifest("r", str(d), body, mt.OCI_MANIFEST) == d  # by digest too


def test_any_layer_media_type_with_urls_is_exempt(reg):
    reg.put_blob("r", CONFIG)
    body = manifest([foreign(b"a docker foreign layer", mt.DOCKER_LAYER), foreign(b"oci layer", mt.OCI_LAYER)])
    assert reg.put_manifest("r", "v1", body, mt.OCI_MANIFEST) == compute(body)


def test_everything_else_must_still_be_pushed(reg):
    reg.put_blob("r", CONFIG)
    body = manifest([foreign(b"elsewhere"), plain(b"never pushed")])
    with pytest.raises(ManifestBlobUnknown) as e:
        reg.put_manifest("r", "v1", body, mt.OCI_MANIFEST)
    assert e.value.detail == {"missing": [str(compute(b"never pushed"))]}
    # a config is required even when it carries urls
    body = manifest([foreign(b"elsewhere")], config=foreign(b"{}", mt.OCI_CONFIG))
    with pytest.raises(ManifestBlobUnknown) as e:
        reg.put_manifest("r", "v2", body, mt.OCI_MANIFEST)
    assert e.value.detail == {"missing": [str(compute(b"{}"))]}
    assert reg.tags("r") == []


def test_an_index_child_with_urls_must_still_exist(reg):
    child = {"mediaType": mt.OCI_MANIFEST, "digest": str(compute(b"nope")), "size": 4,
             "urls": ["https://store.example.com/m"]}
    body = json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": [child]}).encode()
    with pytest.raises(ManifestBlobUnknown):
        reg.put_manifest("r", "v1", body, mt.OCI_INDEX)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://x.example/blob", "/relative/path", "https://",
                                 "http://[::1", ""])
def test_urls_must_be_absolute_http_or_https(reg, url):
    reg.put_blob("r", CONFIG)
    with pytest.raises(ManifestInvalid, match=r"layers\[0\]\.urls\[1\]"):
        reg.put_manifest("r", "v1", manifest([foreign(b"x", urls=["https://ok.example/x", url])]), mt.OCI_MANIFEST)
    assert reg.tags("r") == []


def test_a_pushed_foreign_layer_is_served_like_any_blob(reg):
    reg.put_blob("r", CONFIG)
    reg.put_blob("r", b"pushed anyway")
    body = manifest([foreign(b"pushed anyway")])
    reg.put_manifest("r", "v1", body, mt.OCI_MANIFEST)
    assert reg.get_blob("r", compute(b"pushed anyway")) == b"pushed anyway"


# -- garbage collection, deletes, referrers ---------------------------------------------------

def test_gc_keeps_the_manifest_and_sweeps_nothing_it_needs(reg, clock):
    reg.put_blob("r", CONFIG)
    reg.put_blob("r", LAYER)
    reg.put_blob("r", b"pushed foreign")   # a foreign layer the client pushed as well
    body = manifest([foreign(b"never pushed"), foreign(b"pushed foreign"), plain(LAYER)])
    d = reg.put_manifest("r", "v1", body, mt.OCI_MANIFEST)
    clock.now += 7200
    for untagged in (False, True):
        report = reg.gc(grace_s=60, delete_untagged=untagged)
        assert report.swept == [] and report.manifests_deleted == []
        # the manifest, its config, the plain layer and the pushed foreign one: what is stored
        assert report.marked == 4
    assert reg.get_manifest("r", "v1").data == body
    assert reg.get_blob("r", compute(b"pushed foreign")) == b"pushed foreign"
    assert not reg.blobs.exists(compute(b"never pushed"))  # marking it stored nothing
    # once the manifest is gone, what it named is garbage like anything else
    reg.delete_manifest("r", str(d))
    report = reg.gc(grace_s=60)
    assert set(report.swept) == {str(d), str(compute(CONFIG)), str(compute(LAYER)), str(compute(b"pushed foreign"))}


def test_referrer_with_foreign_layers(reg):
    image = reg.push_image("r", "v1", [LAYER])
    subject = reg.get_manifest("r", "v1")
    reg.put_blob("r", b"{}")
    body = manifest([foreign(b"signature kept elsewhere")],
                    config={"mediaType": mt.OCI_EMPTY, "digest": str(compute(b"{}")), "size": 2},
                    artifactType="application/vnd.example.sig",
                    subject={"mediaType": mt.OCI_MANIFEST, "digest": str(image.manifest), "size": len(subject.data)})
    d = reg.put_manifest("r", str(compute(body)), body, mt.OCI_MANIFEST)
    index = reg.referrers("r", image.manifest)
    assert [m["digest"] for m in index["manifests"]] == [str(d)]
    assert index["manifests"][0]["artifactType"] == "application/vnd.example.sig"
    assert "urls" not in index["manifests"][0]
    reg.delete_manifest("r", str(d))
    assert reg.referrers("r", image.manifest)["manifests"] == []
