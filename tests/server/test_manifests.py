"""Manifests, tags, referrers and the catalog (end-3, end-7, end-8, end-9, end-12)."""

import json

import pytest

from regsim.registry.descriptors import OCI_INDEX, OCI_MANIFEST
from regsim.registry.manifests import MAX_MANIFEST_BYTES

from .conftest import digest_of, error_codes, image_manifest

LAYER = b"a layer" * 1000


def test_push_and_get_by_tag_and_digest(client):
    digest, manifest = client.push_image("team/app", "v1", [LAYER])
    assert digest == digest_of(manifest)
    for ref in ("v1", digest):
        r = client.get(f"/v2/team/app/manifests/{ref}", headers={"Accept": OCI_MANIFEST})
        assert r.status_code == 200
        assert r.content == manifest
        assert r.headers["Content-Type"] == OCI_MANIFEST
        assert r.headers["Docker-Content-Digest"] == digest


def test_put_answers_201_with_location_and_digest(client):
    config = b"{}"
    client.push_blob("team/app", config)
    client.push_blob("team/app", LAYER)
    body = image_manifest(config, [LAYER])
    r = client.put("/v2/team/app/manifests/v1", content=body, headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 201
    assert r.headers["Docker-Content-Digest"] == digest_of(body)
    assert r.headers["Location"].endswith(f"/v2/team/app/manifests/{digest_of(body)}")
    assert "OCI-Subject" not in r.headers


def test_head_gives_type_length_and_digest(client):
    digest, manifest = client.push_image("team/app", "v1", [LAYER])
    r = client.head("/v2/team/app/manifests/v1")
    assert r.status_code == 200 and r.content == b""
    assert r.headers["Content-Length"] == str(len(manifest))
    assert r.headers["Content-Type"] == OCI_MANIFEST
    assert r.headers["Docker-Content-Digest"] == digest


def test_manifest_naming_a_missing_blob_is_manifest_blob_unknown(client):
    client.push_blob("team/app", b"{}")
    body = image_manifest(b"{}", [b"never pushed"])
    r = client.put("/v2/team/app/manifests/v1", content=body, headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 400
    assert error_codes(r) == ["MANIFEST_BLOB_UNKNOWN"]
    assert r.json()["errors"][0]["detail"] == {"missing": [digest_of(b"never pushed")]}


@pytest.mark.parametrize("body", [b"not json", b'{"schemaVersion": 1}', b"[]"])
def test_malformed_manifest_is_manifest_invalid(client, body):
    r = client.put("/v2/team/app/manifests/v1", content=body, headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 400 and error_codes(r) == ["MANIFEST_INVALID"]


def test_push_by_digest_must_match_the_content(client):
    client.push_blob("team/app", b"{}")
    body = image_manifest(b"{}", [])
    r = client.put(f"/v2/team/app/manifests/{digest_of(b'other')}", content=body,
                   headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 400 and error_codes(r) == ["DIGEST_INVALID"]
    r = client.put(f"/v2/team/app/manifests/{digest_of(body)}", content=body, headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 201


def test_oversized_manifest_is_413_without_reading_it_all(client):
    body = b" " * (MAX_MANIFEST_BYTES + 1)
    r = client.put("/v2/team/app/manifests/v1", content=body, headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 413 and error_codes(r) == ["SIZE_INVALID"]


def test_unknown_manifest_and_unknown_repository(client):
    client.push_image("team/app", "v1", [LAYER])
    r = client.get("/v2/team/app/manifests/v2")
    assert r.status_code == 404 and error_codes(r) == ["MANIFEST_UNKNOWN"]
    r = client.get("/v2/team/nothing/manifests/v1")
    assert r.status_code == 404 and error_codes(r) == ["NAME_UNKNOWN"]
    r = client.get(f"/v2/team/app/manifests/{digest_of(b'x')}")
    assert r.status_code == 404 and error_codes(r) == ["MANIFEST_UNKNOWN"]


@pytest.mark.parametrize("path", [
    "/v2/%2e%2e/%2e%2e/etc/manifests/v1",   # path traversal
    "/v2/Team/App/manifests/v1",           # upper case
    "/v2/team//app/manifests/v1",          # empty component
    "/v2/team/_app/manifests/v1",
])
def test_invalid_names_are_name_invalid(client, path):
    r = client.get(httpx_raw(path))
    assert r.status_code == 400, (path, r.status_code, r.text)
    assert error_codes(r) == ["NAME_INVALID"]


def httpx_raw(path: str):
    """A URL whose path httpx sends as written (no dot-segment normalisation)."""
    import httpx
    return httpx.URL("http://registry.test", raw_path=path.encode())


def test_delete_by_digest_removes_manifest_and_tags(client):
    digest, _ = client.push_image("team/app", "v1", [LAYER])
    r = client.delete(f"/v2/team/app/manifests/{digest}")
    assert r.status_code == 202
    assert client.get(f"/v2/team/app/manifests/{digest}").status_code == 404
    assert client.get("/v2/team/app/manifests/v1").status_code == 404
    assert client.delete(f"/v2/team/app/manifests/{digest}").status_code == 404


def test_delete_by_tag_removes_only_the_tag(client):
    digest, _ = client.push_image("team/app", "v1", [LAYER])
    assert client.delete("/v2/team/app/manifests/v1").status_code == 202
    assert client.get("/v2/team/app/manifests/v1").status_code == 404
    assert client.get(f"/v2/team/app/manifests/{digest}").status_code == 200


# -- tags and catalog ---------------------------------------------------------------------

def test_tags_list_and_pagination_links(client):
    digest, _ = client.push_image("team/app", "a", [LAYER])
    body = client.get(f"/v2/team/app/manifests/{digest}").content
    for tag in ["b", "c", "d", "e"]:
        assert client.put(f"/v2/team/app/manifests/{tag}", content=body,
                          headers={"Content-Type": OCI_MANIFEST}).status_code == 201
    r = client.get("/v2/team/app/tags/list")
    assert r.json() == {"name": "team/app", "tags": ["a", "b", "c", "d", "e"]} and "Link" not in r.headers
    r = client.get("/v2/team/app/tags/list?n=2")
    assert r.json()["tags"] == ["a", "b"]
    assert r.headers["Link"] == '</v2/team/app/tags/list?n=2&last=b>; rel="next"'
    pages, url = [], "/v2/team/app/tags/list?n=2"
    while url:
        r = client.get(url)
        pages.append(r.json()["tags"])
        url = r.headers.get("Link", "").partition("<")[2].partition(">")[0]
    assert pages == [["a", "b"], ["c", "d"], ["e"]]
    assert client.get("/v2/team/app/tags/list?n=2&last=d").json()["tags"] == ["e"]
    assert client.get("/v2/team/app/tags/list?n=0").json()["tags"] == []


def test_tags_of_unknown_repository_is_name_unknown(client):
    r = client.get("/v2/team/none/tags/list")
    assert r.status_code == 404 and error_codes(r) == ["NAME_UNKNOWN"]


@pytest.mark.parametrize("n", ["-1", "x", "1.5"])
def test_bad_page_size_is_400(client, n):
    client.push_image("team/app", "a", [LAYER])
    r = client.get(f"/v2/team/app/tags/list?n={n}")
    assert r.status_code == 400 and error_codes(r) == ["PAGINATION_NUMBER_INVALID"]


def test_catalog_lists_repositories_with_links(client):
    for repo in ["a/one", "b/two", "c/three"]:
        client.push_blob(repo, b"x")
    assert client.get("/v2/_catalog").json() == {"repositories": ["a/one", "b/two", "c/three"]}
    r = client.get("/v2/_catalog?n=2")
    assert r.json()["repositories"] == ["a/one", "b/two"]
    assert r.headers["Link"] == '</v2/_catalog?n=2&last=b%2Ftwo>; rel="next"'
    assert client.get("/v2/_catalog?n=2&last=b/two").json()["repositories"] == ["c/three"]


# -- referrers ------------------------------------------------------------------------------

def _push_referrer(client, subject_digest: str, subject_size: int, artifact_type: str) -> str:
    client.push_blob("team/app", b"{}")
    body = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": artifact_type,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": digest_of(b"{}"), "size": 2},
        "layers": [],
        "subject": {"mediaType": OCI_MANIFEST, "digest": subject_digest, "size": subject_size},
    }).encode()
    r = client.put(f"/v2/team/app/manifests/{digest_of(body)}", content=body, headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 201, r.text
    assert r.headers["OCI-Subject"] == subject_digest
    return digest_of(body)


def test_referrers_list_and_artifact_type_filter(client):
    subject, manifest = client.push_image("team/app", "v1", [LAYER])
    sig = _push_referrer(client, subject, len(manifest), "application/vnd.example.signature")
    sbom = _push_referrer(client, subject, len(manifest), "application/spdx+json")
    r = client.get(f"/v2/team/app/referrers/{subject}")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == OCI_INDEX
    assert {m["digest"] for m in r.json()["manifests"]} == {sig, sbom}
    assert "OCI-Filters-Applied" not in r.headers
    r = client.get(f"/v2/team/app/referrers/{subject}?artifactType=application/spdx%2Bjson")
    assert [m["digest"] for m in r.json()["manifests"]] == [sbom]
    assert r.json()["manifests"][0]["artifactType"] == "application/spdx+json"
    assert r.headers["OCI-Filters-Applied"] == "artifactType"


def test_referrers_of_an_unreferenced_digest_is_an_empty_index(client):
    r = client.get(f"/v2/team/app/referrers/{digest_of(b'nobody')}")
    assert r.status_code == 200
    assert r.json() == {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}


def test_referrers_with_a_malformed_digest_is_digest_invalid(client):
    r = client.get("/v2/team/app/referrers/sha256:nothex")
    assert r.status_code == 400 and error_codes(r) == ["DIGEST_INVALID"]


def test_base_endpoint_and_unknown_paths(client):
    r = client.get("/v2/")
    assert r.status_code == 200 and r.json() == {}
    assert r.headers["Docker-Distribution-API-Version"] == "registry/2.0"
    assert client.get("/v3/whatever").status_code == 404
