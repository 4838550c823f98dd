"""Lazy pulling against the real server: a file of an eStargz layer, and of a plain gzip layer
indexed by SOCI, read with nothing but HTTP ``Range`` GETs on ``/v2/<name>/blobs/<digest>``."""

from __future__ import annotations

import json
import random

import pytest

from regsim.registry.descriptors import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, Descriptor
from regsim.registry.digest import Digest
from regsim.registry.lazy import estargz, soci
from regsim.registry.lazy.ranges import RangeSource
from tests.registry.lazy.layers import MiB, build_tar, compressible, mixed_spec

from .conftest import digest_of


class HttpBlob:
    """A blob of the server read only by Range GETs; records each response."""

    def __init__(self, client, repo: str, digest: str) -> None:
        self.client, self.url = client, f"/v2/{repo}/blobs/{digest}"
        head = client.head(self.url)
        assert head.status_code == 200 and head.headers["Accept-Ranges"] == "bytes"
        self.size = int(head.headers["Content-Length"])
        self.responses: list[tuple[int, str]] = []
        self.source = RangeSource(self.fetch, self.size, digest)

    def fetch(self, offset: int, length: int) -> bytes:
        r = self.client.get(self.url, headers={"Range": f"bytes={offset}-{offset + length - 1}"})
        self.responses.append((r.status_code, r.headers.get("Content-Range", "")))
        assert r.status_code == 206, r.text
        assert r.headers["Content-Range"] == f"bytes {offset}-{offset + length - 1}/{self.size}"
        return r.content


def push_manifest(client, repo: str, reference: str, doc: dict) -> str:
    body = json.dumps(doc).encode()
    r = client.put(f"/v2/{repo}/manifests/{reference}", content=body, headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 201, r.text
    return r.headers["Docker-Content-Digest"]


@pytest.fixture(scope="module")
def layer():
    rnd = random.Random(5)
    return build_tar(mixed_spec(31, files=80, big=False) + [
        ("opt/big.bin", "reg", rnd.randbytes(5 * MiB)), ("opt/notes.txt", "reg", compressible(rnd, 30_000))])


def test_an_estargz_file_is_read_with_range_gets_only(client, layer):
    built = estargz.build(layer.gz, level=1)
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [built.diff_id]}}).encode()
    repo = "lazy/estargz"
    client.push_blob(repo, config)
    layer_digest = client.push_blob(repo, built.blob)
    push_manifest(client, repo, "v1", {
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": digest_of(config), "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER, "digest": layer_digest, "size": len(built.blob),
                    "annotations": built.annotations()}]})

    # a lazy client: the manifest, then the layer's footer, TOC and the file's members by Range
    manifest = client.get(f"/v2/{repo}/manifests/v1", headers={"Accept": OCI_MANIFEST}).json()
    desc = manifest["layers"][0]
    blob = HttpBlob(client, repo, desc["digest"])
    reader = estargz.EStargzReader(blob.source, toc_digest=desc["annotations"][estargz.TOC_DIGEST_ANNOTATION])
    assert blob.source.log[0] == (blob.size - 51, 51)  # the footer first
    assert blob.source.log[1][0] == built.toc_offset    # then the TOC member
    for name in ("opt/notes.txt", "etc/file001.bin", "usr/lib/hard.link"):
        assert reader.read_file(name) == layer.files.get(name, layer.files["usr/lib/file000.bin"])
    assert all(status == 206 for status, _ in blob.responses)
    assert blob.source.bytes_fetched < blob.size / 10
    # a chunk of the 5 MiB file alone
    last = reader.chunks("opt/big.bin")[-1]
    before = blob.source.bytes_fetched
    assert reader.read_chunk(last) == layer.files["opt/big.bin"][last.chunk_offset:]
    assert blob.source.bytes_fetched - before == last.end - last.offset


def test_a_soci_indexed_file_read_by_range_through_the_referrers_api(client, layer):
    repo = "lazy/soci"
    image_digest, _ = client.push_image(repo, "v1", [layer.gz])
    layer_digest = digest_of(layer.gz)
    # the index: zTOC blobs, the empty config, the index manifest with the image as subject
    index = soci.build_index([(Descriptor(OCI_LAYER, Digest.parse(layer_digest), len(layer.gz)), layer.gz)],
                             min_layer_size=0, span_size=512 << 10)
    for desc, data in index.blobs():
        assert client.push_blob(repo, data) == str(desc.digest)
    client.push_blob(repo, soci.EMPTY_CONFIG)
    image = client.get(f"/v2/{repo}/manifests/v1", headers={"Accept": OCI_MANIFEST})
    subject = Descriptor(OCI_MANIFEST, Digest.parse(image_digest), len(image.content))
    body = index.manifest(subject)
    index_digest = push_manifest(client, repo, digest_of(body), json.loads(body))

    # a lazy client: referrers of the image -> the SOCI index -> the layer's zTOC -> Range GETs
    r = client.get(f"/v2/{repo}/referrers/{image_digest}", params={"artifactType": soci.SOCI_INDEX_ARTIFACT_TYPE})
    assert r.status_code == 200 and r.headers["OCI-Filters-Applied"] == "artifactType"
    (entry,) = r.json()["manifests"]
    assert entry["digest"] == index_digest and entry["artifactType"] == soci.SOCI_INDEX_ARTIFACT_TYPE
    doc = client.get(f"/v2/{repo}/manifests/{index_digest}", headers={"Accept": OCI_MANIFEST}).json()
    (ztoc_desc,) = [d for d in doc["layers"] if d["annotations"][soci.LAYER_DIGEST_ANNOTATION] == layer_digest]
    ztoc = soci.Ztoc.from_bytes(client.get(f"/v2/{repo}/blobs/{ztoc_desc['digest']}").content)

    blob = HttpBlob(client, repo, layer_digest)
    reader = soci.SociReader(ztoc, blob.source)
    for name in ("opt/notes.txt", "etc/file004.bin"):
        before = blob.source.bytes_fetched
        assert reader.read_file(name) == layer.files[name]
        (rng,) = reader.byte_ranges(name)
        assert blob.source.bytes_fetched - before == rng.length  # one Range GET, the computed spans
    assert all(status == 206 for status, _ in blob.responses)
    assert blob.source.bytes_fetched < blob.size / 2
