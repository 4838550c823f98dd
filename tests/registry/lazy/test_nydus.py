"""Nydus-style layers: content-addressed zstd chunks, a bootstrap per layer, and a chunk
dictionary that stores a chunk shared by layers and images once."""

from __future__ import annotations

import hashlib
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regsim.registry.lazy import nydus
from regsim.registry.lazy.errors import LazyFormatError
from regsim.registry.lazy.ranges import RangeSource

from .layers import MiB, build_tar, mixed_spec


def sources_of(*layers: nydus.NydusLayer) -> dict[str, RangeSource]:
    return {layer.blob_id: RangeSource.of_bytes(layer.blob, layer.blob_id) for layer in layers if layer.blob}


def reader_of(layer: nydus.NydusLayer, *others: nydus.NydusLayer) -> nydus.NydusReader:
    boot = layer.bootstrap.to_bytes()
    return nydus.NydusReader.open(RangeSource.of_bytes(boot, "bootstrap"), sources_of(layer, *others))


@pytest.fixture(scope="module")
def built(mixed):
    return nydus.build(mixed.tar)


def test_files_are_cut_into_1mib_chunks_named_by_digest(mixed, built):
    big = {e.info.name: e for e in built.bootstrap.entries}["usr/lib/big-text.dat"]
    data = mixed.files["usr/lib/big-text.dat"]
    assert [c.file_offset for c in big.chunks] == [i * MiB for i in range(10)]
    assert [c.location.size for c in big.chunks] == [MiB] * 9 + [17]
    for c in big.chunks:
        assert c.digest == "sha256:" + hashlib.sha256(data[c.file_offset:c.file_offset + c.location.size]).hexdigest()
        assert c.location.blob == built.blob_id
    assert built.blob_id == "sha256:" + hashlib.sha256(built.blob).hexdigest()


def test_every_file_comes_back_one_range_per_run_of_chunks(mixed, built):
    reader = reader_of(built)
    assert reader.open_ranges[0].blob == "bootstrap"
    assert sorted(reader.files()) == sorted(mixed.files)
    for name, data in mixed.files.items():
        reader.reset_counters()
        assert reader.read_file(name) == data
        assert reader.bytes_fetched == sum(r.length for r in reader.byte_ranges(name))
    assert reader.read_file("usr/lib/hard.link") == mixed.files["usr/lib/file000.bin"]
    # one chunk of the big file is one Range read of its zstd frame
    chunk = reader.chunks("usr/lib/big-random.so")[2]
    reader.reset_counters()
    assert len(reader.read_chunk(chunk)) == MiB
    assert reader.requests == 1 and reader.bytes_fetched == chunk.location.compressed_size


def test_the_blob_carries_its_own_chunk_table(built):
    table = nydus.read_chunk_table(RangeSource.of_bytes(built.blob, built.blob_id))
    referenced = {c.digest: c.location for e in built.bootstrap.entries for c in e.chunks}
    assert dict(table) == referenced
    spans = sorted((loc.offset, loc.offset + loc.compressed_size) for _, loc in table)
    assert all(b <= c for (_, b), (c, _) in zip(spans, spans[1:]))


def test_the_bootstrap_round_trips(built):
    again = nydus.Bootstrap.from_bytes(built.bootstrap.to_bytes())
    assert again == built.bootstrap
    with pytest.raises(LazyFormatError, match="bootstrap"):
        nydus.Bootstrap.from_bytes(b"junk")


def test_a_chunk_repeated_within_a_layer_is_stored_once():
    same = random.Random(1).randbytes(300_000)
    layer = build_tar([("a", "reg", same), ("b", "reg", same), ("c", "reg", same[:1000])])
    built = nydus.build(layer.tar, chunk_size=100_000)
    assert built.new_chunks == 4 and built.reused_chunks == 3  # a: 3 new; b: 3 reused; c: 1 new
    reader = reader_of(built)
    assert reader.read_file("b") == same and reader.read_file("c") == same[:1000]


def test_two_layers_sharing_files_share_chunks_through_the_dictionary():
    shared_spec = [s for s in mixed_spec(3, files=40) if s[1] == "reg" and len(s[2]) > 100_000]
    layer1 = build_tar(mixed_spec(5, files=60, big=False) + shared_spec)
    layer2 = build_tar(mixed_spec(6, files=60, big=False, prefix="opt/") + shared_spec)
    chunks = nydus.ChunkDict()
    first = nydus.build(layer1.tar, chunks)
    after_first = chunks.report()
    second = nydus.build(layer2.tar, chunks)
    report = chunks.report()
    shared = sum(-(-len(s[2]) // MiB) for s in shared_spec)
    assert second.reused_chunks >= shared
    assert report.chunks_stored == after_first.chunks_stored + second.new_chunks
    assert report.ratio > 1 and 0 < report.saved_fraction < 1
    assert report.bytes_referenced - report.bytes_stored >= sum(len(s[2]) for s in shared_spec)
    # the second layer's shared files point into the first layer's blob: it needs both to read
    name = shared_spec[0][0]
    assert {c.location.blob for c in nydus.NydusReader(second.bootstrap, {}).chunks(name)} == {first.blob_id}
    reader = reader_of(second, first)
    for name, data in layer2.files.items():
        assert reader.read_file(name) == data
    with pytest.raises(LazyFormatError, match="no source"):
        reader_of(second).read_file(shared_spec[0][0])


def test_the_dictionary_spans_images_and_saves_to_json():
    data = random.Random(2).randbytes(3 * MiB)
    image1 = build_tar([("app/lib.so", "reg", data)])
    image2 = build_tar([("srv/copy-of-lib.so", "reg", data), ("srv/new", "reg", b"new" * 1000)])
    chunks = nydus.ChunkDict()
    nydus.build(image1.gz, chunks)
    restored = nydus.ChunkDict.from_json(chunks.to_json())
    second = nydus.build(image2.gz, restored)
    assert (second.new_chunks, second.reused_chunks) == (1, 3)
    assert restored.report().ratio == pytest.approx((2 * len(data) + 3000) / (len(data) + 3000))


def test_a_layer_with_nothing_new_has_no_blob(mixed):
    chunks = nydus.ChunkDict()
    nydus.build(mixed.tar, chunks)
    again = nydus.build(mixed.tar, chunks)
    assert again.blob is None and again.new_chunks == 0


def test_a_corrupt_chunk_is_caught(built, mixed):
    reader = reader_of(built)
    name = next(n for n, d in mixed.files.items() if 1000 < len(d) < 100_000)
    (chunk,) = reader.chunks(name)
    import zstandard
    forged = zstandard.ZstdCompressor().compress(b"Y" * chunk.location.size)
    with pytest.raises(LazyFormatError, match="does not match its digest"):
        reader.read_chunk(chunk, forged)


# -- properties ---------------------------------------------------------------------------------

@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sizes=st.lists(st.integers(min_value=0, max_value=30_000), min_size=1, max_size=10),
       chunk_size=st.sampled_from([1000, 4096, 10_000]), seed=st.integers(0, 2**16),
       repeat=st.booleans())
def test_bootstrap_chunks_cover_each_file_and_stay_inside_the_blob(sizes, chunk_size, seed, repeat):
    rnd = random.Random(seed)
    payloads = [rnd.randbytes(n) for n in sizes]
    if repeat:
        payloads.append(payloads[0])
    layer = build_tar([(f"f{i}", "reg", p) for i, p in enumerate(payloads)])
    built = nydus.build(layer.tar, chunk_size=chunk_size)
    table = nydus.read_chunk_table(RangeSource.of_bytes(built.blob, built.blob_id)) if built.blob else []
    table_start = len(built.blob or b"") - nydus._TRAILER.size - len(table) * nydus._TABLE_ROW.size
    for e in built.bootstrap.entries:
        offsets = [c.file_offset for c in e.chunks]
        assert offsets == list(range(0, e.info.size, chunk_size))
        assert sum(c.location.size for c in e.chunks) == e.info.size
        for c in e.chunks:
            assert 0 <= c.location.offset and c.location.offset + c.location.compressed_size <= table_start
    stored = sorted({(c.location.offset, c.location.offset + c.location.compressed_size)
                     for e in built.bootstrap.entries for c in e.chunks})
    assert all(b <= c for (_, b), (c, _) in zip(stored, stored[1:]))  # no two stored chunks overlap
    reader = reader_of(built)
    for name, data in layer.files.items():
        assert reader.read_file(name) == data
