"""SOCI: a zTOC indexes an unmodified gzip layer; a file is read from the nearest checkpoint by
fetching only the compressed spans that hold it; the index is an OCI artifact the referrers API
finds."""

from __future__ import annotations

import gzip
import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regsim.registry.config import RegistryConfig
from regsim.registry.descriptors import OCI_LAYER, Descriptor
from regsim.registry.digest import Digest
from regsim.registry.lazy import soci
from regsim.registry.lazy.errors import LazyFormatError
from regsim.registry.lazy.ranges import RangeSource
from regsim.registry.registry import Registry

from .layers import MiB, build_tar, compressible


@pytest.fixture(scope="module")
def big_ztoc(big):
    return soci.build_ztoc(big.gz)


def test_the_ztoc_lists_every_file_where_the_tar_has_it(big, big_ztoc):
    assert big_ztoc.compressed_size == len(big.gz) and big_ztoc.uncompressed_size == len(big.tar)
    table = {f.name: f for f in big_ztoc.files}
    for name, data in big.files.items():
        f = table[name]
        assert f.size == len(data) and big.tar[f.offset:f.offset + f.size] == data
        assert f.header_offset < f.offset and (f.offset - f.header_offset) % 512 == 0
        assert big.tar[f.header_offset:f.header_offset + 512].startswith(name.encode())
    assert table["data"].type == "dir"


def test_checkpoints_are_about_a_span_apart(big_ztoc):
    points = big_ztoc.checkpoints
    assert points[0].uncompressed == 0 and points[0].compressed == 10  # just after the gzip header
    gaps = [b.uncompressed - a.uncompressed for a, b in zip(points, points[1:])]
    assert all(g >= soci.SPAN_SIZE for g in gaps[:-1])
    assert len(points) >= 5 and len(big_ztoc.span_digests) == len(points)


def test_the_ztoc_round_trips_through_its_bytes(big_ztoc):
    again = soci.Ztoc.from_bytes(big_ztoc.to_bytes())
    assert again == big_ztoc
    with pytest.raises(LazyFormatError, match="magic"):
        soci.Ztoc.from_bytes(b"not a ztoc at all")


def test_every_file_of_the_big_layer_comes_back_by_range(big, big_ztoc):
    source = RangeSource.of_bytes(big.gz, "layer")
    reader = soci.SociReader(big_ztoc, source)
    assert sorted(reader.files()) == sorted(big.files)
    for name, data in big.files.items():
        source.reset_counters()
        assert reader.read_file(name) == data
        (r,) = reader.byte_ranges(name)
        assert source.log == [(r.offset, r.length)]  # one request, exactly the computed range


def test_a_small_file_in_a_big_layer_fetches_a_small_fraction(big, big_ztoc):
    calls = []

    def read_range(offset: int, length: int) -> bytes:
        calls.append((offset, length))
        return big.gz[offset:offset + length]

    name = "data/small30.txt"
    start, end = soci.compressed_range(big_ztoc, name)
    assert soci.read_file(big_ztoc, name, read_range) == big.files[name]
    assert calls == [(start, end - start)]
    span = big_ztoc.span_of(big_ztoc.file(name).offset)
    assert start == big_ztoc.span_start(span)
    assert end - start < 0.35 * len(big.gz)  # one or two spans of a layer of five or more


def test_a_corrupt_span_is_caught_by_its_digest(big, big_ztoc):
    name = "data/small10.txt"
    start, end = soci.compressed_range(big_ztoc, name)
    broken = bytearray(big.gz)
    broken[(start + end) // 2] ^= 0xFF
    with pytest.raises(LazyFormatError, match="zTOC digest"):
        soci.read_file(big_ztoc, name, lambda o, n: bytes(broken[o:o + n]))


def test_every_file_of_the_mixed_layer_comes_back(mixed):
    ztoc = soci.build_ztoc(mixed.gz, span_size=1 * MiB)
    source = RangeSource.of_bytes(mixed.gz, "layer")
    reader = soci.SociReader(ztoc, source)
    for name, data in mixed.files.items():
        assert reader.read_file(name) == data
    assert reader.read_file("usr/lib/hard.link") == mixed.files["usr/lib/file000.bin"]
    assert reader.byte_ranges("etc/empty") == []
    assert source.bytes_fetched < 60 * len(mixed.gz)


def test_layers_under_the_minimum_are_not_indexed(mixed, big):
    small = Descriptor(OCI_LAYER, Digest("sha256", "1" * 64), len(mixed.gz))
    large = Descriptor(OCI_LAYER, Digest("sha256", "2" * 64), len(big.gz))
    assert len(mixed.gz) < soci.MIN_LAYER_SIZE <= len(big.gz)
    index = soci.build_index([(small, mixed.gz), (large, big.gz)])
    assert list(index.ztocs) == [str(large.digest)]
    assert index.skipped == [(str(small.digest), len(mixed.gz), f"smaller than {soci.MIN_LAYER_SIZE} bytes")]
    index = soci.build_index([(small, mixed.gz)], min_layer_size=1 * MiB, span_size=1 * MiB)
    assert list(index.ztocs) == [str(small.digest)]


def test_bad_input_is_refused(mixed):
    with pytest.raises(LazyFormatError, match="at least"):
        soci.build_ztoc(mixed.gz, span_size=32768)
    with pytest.raises(LazyFormatError, match="gzip"):
        soci.build_ztoc(mixed.tar)
    ztoc = soci.build_ztoc(mixed.gz, span_size=4 * MiB)
    with pytest.raises(LazyFormatError, match="indexes a layer of"):
        soci.SociReader(ztoc, RangeSource.of_bytes(mixed.gz + b"x", "layer"))
    with pytest.raises(LazyFormatError, match="no file"):
        soci.compressed_range(ztoc, "nope")


def test_the_index_is_an_artifact_the_referrers_api_finds(big):
    reg = Registry(RegistryConfig())
    image = reg.push_image("team/app", "v1", [big.gz])
    layer = Descriptor(OCI_LAYER, image.layers[0], len(big.gz))
    assert soci.find_index(reg, "team/app", image.manifest) is None
    index = soci.build_index([(layer, big.gz)])
    digest = soci.push_index(reg, "team/app", image.manifest, index)

    listing = reg.referrers("team/app", image.manifest)
    (entry,) = listing["manifests"]
    assert entry["digest"] == str(digest) and entry["artifactType"] == soci.SOCI_INDEX_ARTIFACT_TYPE
    doc = json.loads(reg.get_manifest("team/app", str(digest)).data)
    assert doc["subject"]["digest"] == str(image.manifest)
    assert doc["config"]["mediaType"] == soci.SOCI_INDEX_ARTIFACT_TYPE and doc["config"]["size"] == 2
    (ztoc_desc,) = doc["layers"]
    assert ztoc_desc["mediaType"] == "application/octet-stream"
    assert ztoc_desc["annotations"][soci.LAYER_DIGEST_ANNOTATION] == str(image.layers[0])

    found = soci.find_index(reg, "team/app", image.manifest)
    assert found.manifest == digest and list(found.ztocs) == [str(image.layers[0])]
    ztoc = soci.load_ztoc(reg, "team/app", found.ztocs[str(image.layers[0])])
    source = RangeSource(lambda off, n: reg.read_blob("team/app", image.layers[0], off, n), len(big.gz),
                         str(image.layers[0]))
    reader = soci.SociReader(ztoc, source)
    assert reader.read_file("data/small05.txt") == big.files["data/small05.txt"]
    assert source.bytes_fetched < len(big.gz) / 2


def test_an_index_with_no_ztoc_is_not_pushed(mixed):
    reg = Registry(RegistryConfig())
    image = reg.push_image("team/app", "v1", [mixed.gz])
    index = soci.build_index([(Descriptor(OCI_LAYER, image.layers[0], len(mixed.gz)), mixed.gz)])
    with pytest.raises(LazyFormatError, match="no layer was indexed"):
        soci.push_index(reg, "team/app", image.manifest, index)


# -- properties ---------------------------------------------------------------------------------

@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sizes=st.lists(st.integers(min_value=0, max_value=150_000), min_size=1, max_size=10),
       seed=st.integers(0, 2**16), level=st.sampled_from([1, 6, 9]))
def test_ztoc_covers_each_file_exactly_and_ranges_stay_inside_the_blob(sizes, seed, level):
    rnd = random.Random(seed)
    layer = build_tar([(f"f{i}", "reg", rnd.randbytes(n) if i % 2 else compressible(rnd, n))
                       for i, n in enumerate(sizes)], level=level)
    ztoc = soci.build_ztoc(layer.gz, span_size=64 << 10)
    points = ztoc.checkpoints
    assert all(a.compressed < b.compressed and a.uncompressed < b.uncompressed for a, b in zip(points, points[1:]))
    rows = sorted((f.offset, f.offset + f.size, f.name) for f in ztoc.files if f.type == "reg")
    for (a, b, _), (c, _d, _n) in zip(rows, rows[1:]):
        assert a <= b <= c  # file data never overlaps
    for name, data in layer.files.items():
        f = ztoc.file(name)
        assert layer.tar[f.offset:f.offset + f.size] == data
        start, end = soci.compressed_range(ztoc, name)
        assert 0 <= start <= end <= len(layer.gz)
        got = soci.read_file(ztoc, name, lambda o, n: layer.gz[o:o + n])
        assert got == data
    assert gzip.decompress(layer.gz) == layer.tar
