"""Manifest pushes the OCI conformance suite's optional data exercises (end-7, end-7b):

- an image whose non-distributable layers (descriptors with ``urls``) were never pushed;
- ``PUT /v2/<name>/manifests/<digest>?tag=..`` tagging in the push, answered with ``OCI-Tag``;
- content addressed by sha512: an index and its manifests pushed by sha512 digest and tagged
  with ``?tag=``, answered (PUT, GET, HEAD, by digest and by tag) with the sha512 digest.
"""

import hashlib
import json

import pytest

from regsim.registry.descriptors import OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_MANIFEST
from regsim.server.manifests import MAX_TAG_PARAMS

from .conftest import digest_of, error_codes

ND_GZ = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
ND = "application/vnd.oci.image.layer.nondistributable.v1.tar"
CONFIG = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
LAYER = b"a layer that is pushed" * 200


def digest(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def oci_tags(response) -> list[str]:
    """The tags of every ``OCI-Tag`` header line, comma lists split (RFC 9110 list syntax)."""
    return [t.strip() for line in response.headers.get_list("OCI-Tag") for t in line.split(",")]


def push_blob(client, repo: str, data: bytes, algorithm: str = "sha256") -> dict:
    d = digest(data, algorithm)
    r = client.post(f"/v2/{repo}/blobs/uploads/?digest={d}", content=data)
    assert r.status_code == 201, r.text
    return {"digest": d, "size": len(data)}


def put(client, repo: str, ref: str, body: bytes, media_type: str = OCI_MANIFEST, query: str = ""):
    return client.put(f"/v2/{repo}/manifests/{ref}{query}", content=body, headers={"Content-Type": media_type})


def assert_served(client, repo: str, ref: str, body: bytes, media_type: str, want_digest: str) -> None:
    """GET and HEAD of ``ref`` give the bytes, type, length and digest header the suite checks."""
    r = client.get(f"/v2/{repo}/manifests/{ref}", headers={"Accept": f"{OCI_INDEX}, {OCI_MANIFEST}"})
    assert r.status_code == 200, r.text
    assert r.content == body
    assert r.headers["Content-Type"] == media_type
    assert r.headers["Content-Length"] == str(len(body))
    assert r.headers["Docker-Content-Digest"] == want_digest
    r = client.head(f"/v2/{repo}/manifests/{ref}")
    assert r.status_code == 200 and r.content == b""
    assert r.headers["Content-Type"] == media_type
    assert r.headers["Content-Length"] == str(len(body))
    assert r.headers["Docker-Content-Digest"] == want_digest


# -- non-distributable layers -----------------------------------------------------------------

def nondistributable_image(client, repo: str, missing: bytes | None = None) -> bytes:
    """The suite's "Non-distributable Layers" image: two layers with urls (gzip and plain tar),
    never pushed, one ordinary layer and the config pushed; ``missing`` adds an ordinary layer
    that is not pushed."""
    gz, tar = digest(b"nd gzip content"), digest(b"nd tar content")
    layers = [
        {"mediaType": ND_GZ, "digest": gz, "size": 123456,
         "urls": [f"https://store.example.com/blobs/sha256/{gz.split(':')[1]}"]},
        {"mediaType": ND, "digest": tar, "size": 12345,
         "urls": [f"https://store.example.com/blobs/sha256/{tar.split(':')[1]}"]},
        {"mediaType": OCI_LAYER, **push_blob(client, repo, LAYER)},
    ]
    if missing is not None:
        layers.append({"mediaType": OCI_LAYER, "digest": digest(missing), "size": len(missing)})
    doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
           "config": {"mediaType": OCI_CONFIG, **push_blob(client, repo, CONFIG)}, "layers": layers}
    return json.dumps(doc).encode()


def test_nondistributable_layers_need_not_be_pushed(client):
    body = nondistributable_image(client, "conformance/nd")
    d = digest(body)
    r = put(client, "conformance/nd", d, body)
    assert r.status_code == 201, r.text
    assert r.headers["Docker-Content-Digest"] == d
    assert r.headers["Location"].endswith(f"/v2/conformance/nd/manifests/{d}")
    r = put(client, "conformance/nd", "non-distributable-image", body)
    assert r.status_code == 201, r.text
    assert r.headers["Docker-Content-Digest"] == d
    for ref in ("non-distributable-image", d):
        assert_served(client, "conformance/nd", ref, body, OCI_MANIFEST, d)
    assert client.get("/v2/conformance/nd/tags/list").json()["tags"] == ["non-distributable-image"]
    # the non-distributable layers are not in the registry: a client fetches them from their urls
    assert client.head(f"/v2/conformance/nd/blobs/{digest(b'nd gzip content')}").status_code == 404
    assert client.delete("/v2/conformance/nd/manifests/non-distributable-image").status_code == 202
    assert client.delete(f"/v2/conformance/nd/manifests/{d}").status_code == 202
    assert client.get(f"/v2/conformance/nd/manifests/{d}").status_code == 404


def test_an_ordinary_layer_still_has_to_be_pushed(client):
    body = nondistributable_image(client, "conformance/nd", missing=b"not pushed")
    r = put(client, "conformance/nd", "v1", body)
    assert r.status_code == 400 and error_codes(r) == ["MANIFEST_BLOB_UNKNOWN"]
    assert r.json()["errors"][0]["detail"] == {"missing": [digest(b"not pushed")]}


def test_a_layer_url_that_is_not_http_is_manifest_invalid(client):
    doc = json.loads(nondistributable_image(client, "conformance/nd"))
    doc["layers"][0]["urls"] = ["file:///etc/shadow"]
    r = put(client, "conformance/nd", "v1", json.dumps(doc).encode())
    assert r.status_code == 400 and error_codes(r) == ["MANIFEST_INVALID"]
    assert "layers[0].urls[0]" in r.json()["errors"][0]["message"]


# -- ?tag= on a push by digest ----------------------------------------------------------------

def plain_image(client, repo: str, layer: bytes = LAYER) -> bytes:
    doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
           "config": {"mediaType": OCI_CONFIG, **push_blob(client, repo, CONFIG)},
           "layers": [{"mediaType": OCI_LAYER, **push_blob(client, repo, layer)}]}
    return json.dumps(doc).encode()


def test_push_by_digest_with_tags_answers_oci_tag(client):
    body = plain_image(client, "team/app")
    d = digest(body)
    r = put(client, "team/app", d, body, query="?tag=1.2.3&tag=1.2&tag=1&tag=latest")
    assert r.status_code == 201, r.text
    assert r.headers["Docker-Content-Digest"] == d
    assert oci_tags(r) == ["1.2.3", "1.2", "1", "latest"]
    assert client.get("/v2/team/app/tags/list").json()["tags"] == ["1", "1.2", "1.2.3", "latest"]
    for tag in ("1.2.3", "latest"):
        assert_served(client, "team/app", tag, body, OCI_MANIFEST, d)


def test_push_by_digest_without_tags_has_no_oci_tag(client):
    body = plain_image(client, "team/app")
    r = put(client, "team/app", digest(body), body)
    assert r.status_code == 201 and "OCI-Tag" not in r.headers
    assert client.get("/v2/team/app/tags/list").json()["tags"] == []


def test_a_repeated_tag_is_applied_and_named_once(client):
    body = plain_image(client, "team/app")
    r = put(client, "team/app", digest(body), body, query="?tag=v1&tag=v1")
    assert r.status_code == 201 and oci_tags(r) == ["v1"]


def test_ten_tags_in_one_push(client):
    body = plain_image(client, "team/app")
    tags = [f"t{i}" for i in range(10)]
    r = put(client, "team/app", digest(body), body, query="?" + "&".join(f"tag={t}" for t in tags))
    assert r.status_code == 201 and oci_tags(r) == tags
    assert client.get("/v2/team/app/tags/list").json()["tags"] == sorted(tags)


@pytest.mark.parametrize("bad", ["", "-dash", "a%2Fb", "a:b", "x" * 129, "%C3%A9t%C3%A9"])
def test_a_bad_tag_is_tag_invalid_and_nothing_is_stored(client, bad):
    body = plain_image(client, "team/app")
    d = digest(body)
    r = put(client, "team/app", d, body, query=f"?tag=ok&tag={bad}")
    assert r.status_code == 400 and error_codes(r) == ["TAG_INVALID"]
    assert "OCI-Tag" not in r.headers
    assert client.get(f"/v2/team/app/manifests/{d}").status_code == 404
    assert client.get("/v2/team/app/manifests/ok").status_code == 404


def test_tag_parameters_on_a_push_by_tag_are_tag_invalid(client):
    body = plain_image(client, "team/app")
    r = put(client, "team/app", "v1", body, query="?tag=v2")
    assert r.status_code == 400 and error_codes(r) == ["TAG_INVALID"]
    assert client.get("/v2/team/app/manifests/v1").status_code == 404


def test_too_many_tags_is_414(client):
    body = plain_image(client, "team/app")
    query = "?" + "&".join(f"tag=t{i}" for i in range(MAX_TAG_PARAMS + 1))
    r = put(client, "team/app", digest(body), body, query=query)
    assert r.status_code == 414 and error_codes(r) == ["TAG_INVALID"]
    assert client.get(f"/v2/team/app/manifests/{digest(body)}").status_code == 404


# -- sha512 content -----------------------------------------------------------------------------

def test_sha512_index_tagged_in_the_push_by_digest(client):
    """The suite's "Tag Param sha512" data: two sha512 images and a sha512 index over them, each
    pushed by digest with ``tag`` parameters (the index with two tags); every reply, and every
    later GET and HEAD by tag or digest, names the sha512 digest."""
    repo = "conformance/sha512"
    config = {"mediaType": OCI_CONFIG, **push_blob(client, repo, CONFIG, "sha512")}
    children, expected = [], {}
    for i, arch in enumerate(["amd64", "arm64"]):
        layer = {"mediaType": OCI_LAYER, **push_blob(client, repo, f"layer {arch}".encode() * 99, "sha512")}
        body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config,
                           "layers": [layer]}).encode()
        d = digest(body, "sha512")
        r = put(client, repo, d, body, query=f"?tag=tag-param-sha512-{i}")
        assert r.status_code == 201, r.text
        assert r.headers["Docker-Content-Digest"] == d
        assert oci_tags(r) == [f"tag-param-sha512-{i}"]
        children.append({"mediaType": OCI_MANIFEST, "digest": d, "size": len(body),
                         "platform": {"os": "linux", "architecture": arch}})
        expected[f"tag-param-sha512-{i}"] = (body, OCI_MANIFEST, d)
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": children}).encode()
    d = digest(index, "sha512")
    r = put(client, repo, d, index, OCI_INDEX, query="?tag=tag-param-sha512&tag=tag-param-sha512-2")
    assert r.status_code == 201, r.text
    assert r.headers["Docker-Content-Digest"] == d
    assert sorted(oci_tags(r)) == ["tag-param-sha512", "tag-param-sha512-2"]
    r = client.get(r.headers["Location"], headers={"Accept": OCI_INDEX})
    assert r.status_code == 200 and r.content == index
    expected["tag-param-sha512"] = expected["tag-param-sha512-2"] = (index, OCI_INDEX, d)

    assert client.get(f"/v2/{repo}/tags/list").json()["tags"] == sorted(expected)
    for tag, (body, media_type, want) in expected.items():
        assert_served(client, repo, tag, body, media_type, want)
        assert_served(client, repo, want, body, media_type, want)
    # the tags go with the tag delete, the manifest with the digest delete
    assert client.delete(f"/v2/{repo}/manifests/tag-param-sha512").status_code == 202
    assert client.delete(f"/v2/{repo}/manifests/{d}").status_code == 202
    assert client.get(f"/v2/{repo}/manifests/tag-param-sha512-2").status_code == 404


def test_sha512_manifest_pushed_by_digest_only(client):
    """The suite's "Digest Algorithm sha512" data: pushed by digest, no tags."""
    repo = "conformance/sha512"
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                       "config": {"mediaType": OCI_CONFIG, **push_blob(client, repo, CONFIG, "sha512")},
                       "layers": []}).encode()
    d = digest(body, "sha512")
    r = put(client, repo, d, body)
    assert r.status_code == 201 and r.headers["Docker-Content-Digest"] == d
    assert_served(client, repo, d, body, OCI_MANIFEST, d)
    assert client.get(f"/v2/{repo}/manifests/{digest_of(body)}").status_code == 404  # not under sha256


def test_a_push_by_tag_is_answered_with_the_sha256_digest(client):
    """With no digest from the client the registry hashes with its canonical sha256; sha512
    content gets its tags through ``?tag=`` on the push by digest (above)."""
    repo = "conformance/sha512"
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                       "config": {"mediaType": OCI_CONFIG, **push_blob(client, repo, CONFIG, "sha512")},
                       "layers": []}).encode()
    r = put(client, repo, "v1", body)
    assert r.status_code == 201 and r.headers["Docker-Content-Digest"] == digest_of(body)
