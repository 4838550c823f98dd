import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from regsim.registry import descriptors as mt
from regsim.registry.errors import ManifestInvalid, Unsupported
from regsim.registry.manifests import parse_manifest

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64


def image(**extra):
    doc = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "config": {"mediaType": mt.OCI_CONFIG, "digest": D1, "size": 10},
        "layers": [{"mediaType": mt.OCI_LAYER, "digest": D2, "size": 20}],
    }
    doc.update(extra)
    return json.dumps(doc).encode()


def test_image_manifest_parses():
    m = parse_manifest(image())
    assert m.media_type == mt.OCI_MANIFEST and not m.is_index
    assert [str(b.digest) for b in m.blob_references()] == [D1, D2]
    assert m.effective_artifact_type == mt.OCI_CONFIG


def test_docker_schema2_accepted_by_content_type():
    doc = json.loads(image())
    del doc["mediaType"]
    m = parse_manifest(json.dumps(doc).encode(), mt.DOCKER_MANIFEST)
    assert m.media_type == mt.DOCKER_MANIFEST


def test_index_and_subject():
    idx = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX,
           "manifests": [{"mediaType": mt.OCI_MANIFEST, "digest": D1, "size": 3}]}
    m = parse_manifest(json.dumps(idx).encode())
    assert m.is_index and [str(x.digest) for x in m.manifests] == [D1]
    sig = parse_manifest(image(subject={"mediaType": mt.OCI_MANIFEST, "digest": D2, "size": 5},
                               artifactType="application/vnd.example.sig"))
    assert str(sig.subject.digest) == D2
    assert sig.effective_artifact_type == "application/vnd.example.sig"


@pytest.mark.parametrize(
    "data,where",
    [
        (b"not json", "not valid JSON"),
        (b"[]", "JSON object"),
        (image(schemaVersion=1), "schemaVersion"),
        (image(config={"mediaType": mt.OCI_CONFIG, "digest": "sha256:xyz", "size": 1}), "config.digest"),
        (image(layers=[{"mediaType": mt.OCI_LAYER, "digest": D2, "size": -1}]), "layers[0].size"),
        (image(layers=[{"digest": D2, "size": 1}]), "layers[0].mediaType"),
        (image(layers="nope"), "layers"),
    ],
)
def test_invalid_manifests_name_the_field(data, where):
    with pytest.raises(ManifestInvalid) as info:
        parse_manifest(data)
    assert where in str(info.value)


def test_unknown_media_type_is_unsupported():
    with pytest.raises(Unsupported):
        parse_manifest(image(mediaType="application/x-tar"))


def test_content_type_disagreement_rejected():
    with pytest.raises(ManifestInvalid, match="disagrees"):
        parse_manifest(image(), mt.DOCKER_MANIFEST)


@given(st.binary(max_size=256))
def test_parser_rejects_garbage_cleanly(data):
    try:
        parse_manifest(data)
    except (ManifestInvalid, Unsupported):
        pass
