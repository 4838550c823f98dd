"""The registry facade end to end: repositories, manifests, uploads, mounts, referrers, deletes."""

import json

import pytest

from regsim.registry import descriptors as mt
from regsim.registry import receipts
from regsim.registry.config import RegistryConfig
from regsim.registry.digest import compute
from regsim.registry.errors import (
    BlobUnknown,
    BlobUploadInvalid,
    BlobUploadUnknown,
    ConfigError,
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestUnknown,
    NameInvalid,
    NameUnknown,
)
from regsim.registry.registry import Registry

CONFIGS = {
    "memory-plain": dict(),
    "memory-rs42-encrypted": dict(codec="rs(4,2)", nodes=6, encryption="aes-256-gcm", segment_size=4096),
    "filesystem-replicate3": dict(backend="filesystem", codec="replicate(3)", nodes=4, fsync=False),
}


@pytest.fixture(params=list(CONFIGS))
def reg(request, tmp_path):
    cfg = dict(CONFIGS[request.param])
    if cfg.get("backend") == "filesystem":
        cfg["root"] = tmp_path
    return Registry(RegistryConfig(**cfg))


def manifest_for(config: bytes, layers: list[bytes], **extra) -> bytes:
    doc = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "config": {"mediaType": mt.OCI_CONFIG, "digest": str(compute(config)), "size": len(config)},
        "layers": [{"mediaType": mt.OCI_LAYER, "digest": str(compute(x)), "size": len(x)} for x in layers],
    }
    doc.update(extra)
    return json.dumps(doc).encode()


def test_push_pull_round_trip(reg):
    layers = [b"layer-one" * 1000, b"", b"\x00\xff" * 5000]
    image = reg.push_image("team/app", "v1", layers)
    assert reg.pull_image("team/app", "v1") == layers
    assert reg.pull_image("team/app", str(image.manifest)) == layers
    assert reg.tags("team/app") == ["v1"]
    assert reg.catalog() == ["team/app"]
    stored = reg.get_manifest("team/app", "v1")
    assert stored.digest == image.manifest and stored.media_type == mt.OCI_MANIFEST


def test_wrong_digest_stores_nothing(reg):
    with pytest.raises(DigestInvalid):
        reg.put_blob("a", b"content", "sha256:" + "0" * 64)
    assert list(reg.blobs.digests()) == []
    assert not reg.has_blob("a", compute(b"content"))


def test_blobs_are_scoped_to_repositories_and_mountable(reg):
    d = reg.put_blob("one", b"shared layer")
    with pytest.raises(BlobUnknown):
        reg.get_blob("two", d)
    reg.mount_blob("two", "one", d)
    assert reg.get_blob("two", d) == b"shared layer"
    assert len(list(reg.blobs.digests())) == 1  # stored once
    with pytest.raises(BlobUnknown):
        reg.mount_blob("three", "nowhere", compute(b"other"))


def test_manifest_with_missing_blob_is_rejected(reg):
    cfg = reg.put_blob("r", b"{}")
    with pytest.raises(ManifestBlobUnknown, match="unknown to repository"):
        reg.put_manifest("r", "t", manifest_for(b"{}", [b"never pushed"]))
    assert reg.tags("r") == []
    assert cfg == compute(b"{}")


def test_manifest_put_by_digest_must_match(reg):
    reg.put_blob("r", b"{}")
    data = manifest_for(b"{}", [])
    with pytest.raises(DigestInvalid):
        reg.put_manifest("r", "sha256:" + "1" * 64, data)
    d = reg.put_manifest("r", str(compute(data)), data)
    assert reg.get_manifest("r", str(d)).data == data
    assert reg.tags("r") == []


def test_tag_listing_paginates(reg):
    reg.put_blob("r", b"{}")
    data = manifest_for(b"{}", [])
    for tag in ["c", "a", "b", "d"]:
        reg.put_manifest("r", tag, data)
    assert reg.tags("r") == ["a", "b", "c", "d"]
    assert reg.tags("r", n=2) == ["a", "b"]
    assert reg.tags("r", n=2, last="b") == ["c", "d"]
    assert reg.tags("r", last="d") == []


def test_unknown_repository_and_tag(reg):
    with pytest.raises(NameUnknown):
        reg.get_manifest("nope", "latest")
    reg.put_blob("r", b"{}")
    with pytest.raises(ManifestUnknown):
        reg.get_manifest("r", "latest")


def test_referrers_with_artifact_type_filter(reg):
    image = reg.push_image("r", "v1", [b"x"])
    reg.put_blob("r", b"{}")
    subject = {"mediaType": mt.OCI_MANIFEST, "digest": str(image.manifest), "size": 1}
    sig = manifest_for(b"{}", [], subject=subject, artifactType="application/vnd.example.sig")
    sbom = manifest_for(b"{}", [], subject=subject, artifactType="application/spdx+json")
    d_sig = reg.put_manifest("r", str(compute(sig)), sig)
    d_sbom = reg.put_manifest("r", str(compute(sbom)), sbom)
    all_refs = reg.referrers("r", image.manifest)
    assert all_refs["mediaType"] == mt.OCI_INDEX
    assert {m["digest"] for m in all_refs["manifests"]} == {str(d_sig), str(d_sbom)}
    only = reg.referrers("r", image.manifest, artifact_type="application/spdx+json")["manifests"]
    assert [m["digest"] for m in only] == [str(d_sbom)]
    reg.delete_manifest("r", str(d_sbom))
    assert [m["digest"] for m in reg.referrers("r", image.manifest)["manifests"]] == [str(d_sig)]


def test_index_must_reference_known_manifests(reg):
    image = reg.push_image("r", "v1", [b"x"])
    good = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX,
            "manifests": [{"mediaType": mt.OCI_MANIFEST, "digest": str(image.manifest), "size": 1}]}
    reg.put_manifest("r", "multi", json.dumps(good).encode())
    bad = dict(good, manifests=[{"mediaType": mt.OCI_MANIFEST, "digest": "sha256:" + "9" * 64, "size": 1}])
    with pytest.raises(ManifestBlobUnknown):
        reg.put_manifest("r", "broken", json.dumps(bad).encode())


def test_delete_manifest_removes_its_tags(reg):
    image = reg.push_image("r", "v1", [b"x"])
    reg.put_manifest("r", "also", reg.get_manifest("r", "v1").data)
    reg.delete_manifest("r", str(image.manifest))
    assert reg.tags("r") == []
    with pytest.raises(ManifestUnknown):
        reg.get_manifest("r", str(image.manifest))


def test_delete_tag_keeps_manifest(reg):
    image = reg.push_image("r", "v1", [b"x"])
    reg.delete_tag("r", "v1")
    assert reg.get_manifest("r", str(image.manifest)).digest == image.manifest
    with pytest.raises(ManifestUnknown):
        reg.delete_tag("r", "v1")


def test_chunked_upload_with_offsets(reg):
    data = bytes(range(256)) * 100
    uid = reg.start_upload("r")
    assert reg.upload_offset("r", uid) == 0
    assert reg.upload_chunk("r", uid, data[:1000], offset=0) == 1000
    with pytest.raises(BlobUploadInvalid) as info:
        reg.upload_chunk("r", uid, data[2000:3000], offset=2000)
    assert info.value.detail == {"offset": 1000}
    assert reg.upload_chunk("r", uid, data[1000:20000]) == 20000
    assert not reg.has_blob("r", compute(data))  # nothing visible before the upload is finished
    with pytest.raises(DigestInvalid):
        reg.finish_upload("r", uid, "sha256:" + "2" * 64, data[20000:], offset=20000)
    assert reg.upload_offset("r", uid) == len(data)  # a failed finish leaves the session intact
    d = reg.finish_upload("r", uid, compute(data))
    assert reg.get_blob("r", d) == data
    with pytest.raises(BlobUploadUnknown):
        reg.upload_offset("r", uid)


def test_cancelled_upload_is_gone(reg):
    uid = reg.start_upload("r")
    reg.upload_chunk("r", uid, b"abc")
    reg.cancel_upload("r", uid)
    with pytest.raises(BlobUploadUnknown):
        reg.upload_chunk("r", uid, b"d")
    with pytest.raises(BlobUploadUnknown):
        reg.upload_offset("r", "../../etc")


@pytest.mark.parametrize("name", ["../etc/passwd", "a/../../b", "/abs", "UPPER", "a//b", ""])
def test_path_traversal_and_bad_names_rejected_everywhere(reg, name):
    for call in (
        lambda: reg.put_blob(name, b"x"),
        lambda: reg.start_upload(name),
        lambda: reg.tags(name),
        lambda: reg.get_manifest(name, "latest"),
    ):
        with pytest.raises(NameInvalid):
            call()


def test_range_reads(reg):
    data = bytes(range(256)) * 257
    d = reg.put_blob("r", data)
    for off, n in [(0, 10), (4095, 3), (5000, 20000), (len(data) - 5, 100), (len(data), 10)]:
        assert reg.read_blob("r", d, off, n) == data[off : off + n]
    assert reg.stat_blob("r", d) == len(data)


def test_codec_needs_enough_nodes():
    with pytest.raises(ConfigError, match="at least 6"):
        Registry(RegistryConfig(codec="rs(4,2)", nodes=5))


def test_push_receipt_prices_every_stage():
    reg = Registry(RegistryConfig(codec="rs(4,2)", nodes=6, encryption="aes-256-gcm"))
    data = b"z" * (1 << 20)
    with receipts.collect() as r:
        reg.put_blob("r", data)
    kinds = r.by_kind()
    assert kinds["sha256"] >= len(data)
    assert kinds["aes_gcm_encrypt"] == len(data)
    # bytes multiplied: chunk x k x m, i.e. the encrypted blob padded to k = 4 chunks, x m = 2
    assert 2 * len(data) <= kinds["ec_encode"] < 2.01 * len(data)
    assert len(r.of("transfer")) == 6
    assert {i.dst for i in r.of("transfer")} == {f"s{i}" for i in range(6)}
    assert 1.45 * len(data) < kinds["transfer"] < 1.6 * len(data)
    assert 1.45 * len(data) < kinds["disk_write"] < 1.6 * len(data)


def test_filesystem_registry_survives_restart(tmp_path):
    cfg = RegistryConfig(backend="filesystem", root=tmp_path, codec="rs(4,2)", nodes=6,
                         encryption="aes-256-gcm", keyring=tmp_path / "keyring.json", fsync=False)
    layers = [b"persistent" * 999]
    Registry(cfg).push_image("r", "v1", layers)
    again = Registry(cfg)
    assert again.pull_image("r", "v1") == layers


def test_degraded_read_and_repair_through_the_facade():
    reg = Registry(RegistryConfig(codec="rs(4,2)", nodes=7, encryption="aes-256-gcm"))
    layers = [bytes(range(256)) * 400, b"small"]
    reg.push_image("r", "v1", layers)
    reg.fail_node("s0")
    reg.fail_node("s3")
    assert reg.pull_image("r", "v1") == layers
    reg.replace_node("s0")
    reg.replace_node("s3")
    report = reg.repair()
    assert not report.unrecoverable
    assert reg.pull_image("r", "v1") == layers
