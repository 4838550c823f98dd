"""Signatures stored in a Registry the cosign way, found by the ``.sig`` tag and by referrers."""

import json

import pytest

from regsim.registry.descriptors import OCI_CONFIG, OCI_MANIFEST
from regsim.registry.errors import ManifestUnknown
from regsim.registry.signing.errors import NoTrustedSignature
from regsim.registry.signing.payload import SIMPLE_SIGNING_MEDIA_TYPE
from regsim.registry.signing.signature import SIGNATURE_ANNOTATION, sign, verify
from regsim.registry.signing.store import (SIGNATURE_ARTIFACT_TYPE, attach, find, is_signature_manifest,
                                           is_signature_tag, signature_tag)


def test_signature_tag():
    digest = "sha256:" + "ab" * 32
    assert signature_tag(digest) == "sha256-" + "ab" * 32 + ".sig"
    assert is_signature_tag(signature_tag(digest))
    assert not is_signature_tag("v1") and not is_signature_tag("sha256-abc.sig")


def test_attach_writes_cosigns_manifest_with_a_subject(registry, image, key):
    sig = sign(key, image.manifest, "team/app:v1")
    written = attach(registry, "team/app", image.manifest, sig)
    stored = registry.get_manifest("team/app", signature_tag(image.manifest))
    assert stored.digest == written and stored.media_type == OCI_MANIFEST
    doc = json.loads(stored.data)
    assert doc["config"]["mediaType"] == OCI_CONFIG
    [layer] = doc["layers"]
    assert layer["mediaType"] == SIMPLE_SIGNING_MEDIA_TYPE
    assert layer["annotations"] == {SIGNATURE_ANNOTATION: sig.annotations[SIGNATURE_ANNOTATION]}
    assert registry.get_blob("team/app", layer["digest"]) == sig.payload
    config = json.loads(registry.get_blob("team/app", doc["config"]["digest"]))
    assert config["rootfs"]["diff_ids"] == [layer["digest"]]
    assert doc["subject"]["digest"] == str(image.manifest) and doc["artifactType"] == SIGNATURE_ARTIFACT_TYPE
    assert is_signature_manifest(stored.data)
    assert not is_signature_manifest(registry.get_manifest("team/app", "v1").data)


def test_found_by_tag_and_by_referrers(registry, image, key):
    sig = sign(key, image.manifest, "team/app:v1")
    written = attach(registry, "team/app", image.manifest, sig)
    referrers = registry.referrers("team/app", image.manifest, SIGNATURE_ARTIFACT_TYPE)["manifests"]
    assert [r["digest"] for r in referrers] == [str(written)]
    found = find(registry, "team/app", image.manifest)
    assert [s.payload for s in found.signatures] == [sig.payload] and not found.problems
    assert found.signatures[0].source == f"tag {signature_tag(image.manifest)}, layer 0"
    assert verify(found.signatures, image.manifest, [key.public_key()])
    # without the tag (deleted, or never written by this client) the referrers API still finds it
    registry.delete_tag("team/app", signature_tag(image.manifest))
    again = find(registry, "team/app", image.manifest)
    assert [s.payload for s in again.signatures] == [sig.payload]
    assert again.signatures[0].source.startswith("referrer sha256:")


def test_signatures_are_appended_once(registry, image, key, other_key):
    first, second = sign(key, image.manifest, "a"), sign(other_key, image.manifest, "a")
    d1 = attach(registry, "team/app", image.manifest, first)
    assert attach(registry, "team/app", image.manifest, first) == d1  # already there: unchanged
    d2 = attach(registry, "team/app", image.manifest, second)
    layers = json.loads(registry.get_manifest("team/app", signature_tag(image.manifest)).data)["layers"]
    assert len(layers) == 2 and d2 != d1
    found = find(registry, "team/app", image.manifest)  # the old manifest is still a referrer: no duplicates
    assert sorted(s.payload for s in found.signatures) == sorted([first.payload, second.payload])
    assert len(verify(found.signatures, image.manifest, [key.public_key(), other_key.public_key()])) == 2


def test_an_unsigned_image_has_no_signatures(registry, image, key):
    assert find(registry, "team/app", image.manifest).signatures == []
    with pytest.raises(NoTrustedSignature, match="the image is not signed"):
        verify([], image.manifest, [key.public_key()])


def test_signing_a_manifest_the_repository_lacks_is_refused(registry, image, key):
    missing = "sha256:" + "0" * 64
    with pytest.raises(ManifestUnknown):
        attach(registry, "team/app", missing, sign(key, missing, "a"))


def test_an_unreadable_payload_is_a_problem_not_a_crash(registry, image, key):
    """A layer claiming a size no payload has (or naming a blob that is gone) is reported, not fatal."""
    sig = sign(key, image.manifest, "a")
    payload = registry.put_blob("team/app", sig.payload)
    config = registry.put_blob("team/app", b"{}")
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "digest": str(config), "size": 2},
                "layers": [{"mediaType": SIMPLE_SIGNING_MEDIA_TYPE, "digest": str(payload), "size": 10**9,
                            "annotations": dict(sig.annotations)}]}
    registry.put_manifest("team/app", signature_tag(image.manifest), json.dumps(manifest).encode(), OCI_MANIFEST)
    found = find(registry, "team/app", image.manifest)
    assert found.signatures == [] and "cannot be read: size 1000000000" in found.problems[0]
    with pytest.raises(NoTrustedSignature, match="cannot be read"):
        verify(found.signatures, image.manifest, [key.public_key()], problems=found.problems)
