"""eStargz: the blob is still a tar.gz, its TOC and footer locate every file's gzip members, and
a reader that only issues Range reads gets every file back."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regsim.registry.lazy import estargz
from regsim.registry.lazy.errors import LazyFormatError
from regsim.registry.lazy.ranges import RangeSource

from .layers import MiB, build_tar


@pytest.fixture(scope="module")
def built(mixed):
    return estargz.build(mixed.gz, level=1)


def open_reader(blob: bytes, **kw) -> tuple[estargz.EStargzReader, RangeSource]:
    source = RangeSource.of_bytes(blob, "layer")
    return estargz.EStargzReader(source, **kw), source


def test_the_blob_is_a_valid_tar_gz_with_the_same_files(mixed, built):
    with tarfile.open(fileobj=io.BytesIO(built.blob), mode="r:gz") as tf:
        members = {m.name: m for m in tf.getmembers()}
        for name, data in mixed.files.items():
            assert tf.extractfile(name).read() == data
        for name, target in mixed.symlinks.items():
            assert members[name].issym() and members[name].linkname == target
        for name, target in mixed.hardlinks.items():
            assert members[name].islnk() and members[name].linkname == target
        assert all(members[d].isdir() for d in mixed.dirs)
        assert tf.getnames()[0] == estargz.NO_PREFETCH_LANDMARK
        assert tf.getnames()[-1] == estargz.TOC_NAME
        assert json.loads(tf.extractfile(estargz.TOC_NAME).read()) == built.toc
    assert gzip.decompress(built.blob).endswith(b"\0" * 1024)  # the tar's end-of-archive blocks
    assert built.diff_id == "sha256:" + __import__("hashlib").sha256(gzip.decompress(built.blob)).hexdigest()
    assert built.uncompressed_size == len(gzip.decompress(built.blob))


def test_the_footer_is_51_bytes_and_names_the_toc_member(built):
    foot = built.blob[-estargz.FOOTER_SIZE:]
    assert foot == estargz.footer(built.toc_offset)
    assert estargz.parse_footer(foot) == built.toc_offset
    assert foot[12:14] == b"SG" and foot[16:38] == b"%016xSTARGZ" % built.toc_offset
    assert gzip.decompress(foot) == b""  # an empty gzip member
    assert built.blob[built.toc_offset:built.toc_offset + 2] == b"\x1f\x8b"
    with gzip.GzipFile(fileobj=io.BytesIO(built.blob[built.toc_offset:-estargz.FOOTER_SIZE])) as g:
        assert g.read(512)[:len(estargz.TOC_NAME)] == estargz.TOC_NAME.encode()


def test_toc_entries_carry_offsets_chunks_and_digests(mixed, built):
    entries = built.toc["entries"]
    assert built.toc["version"] == 1
    regs = {e["name"]: e for e in entries if e["type"] == "reg"}
    for name, data in mixed.files.items():
        e = regs[name]
        assert e["size"] == len(data) and e["mode"] == 0o644
        if data:
            assert e["digest"] == "sha256:" + __import__("hashlib").sha256(data).hexdigest()
            assert built.blob[e["offset"]:e["offset"] + 2] == b"\x1f\x8b"  # a gzip member starts there
    # the 9 MiB file is three 4 MiB chunks: reg (chunkSize 4 MiB), chunk, chunk (last: chunkSize 0)
    big = [e for e in entries if e["name"] == "usr/lib/big-text.dat"]
    assert [e["type"] for e in big] == ["reg", "chunk", "chunk"]
    assert [e["chunkOffset"] for e in big] == [0, 4 * MiB, 8 * MiB]
    assert [e["chunkSize"] for e in big] == [4 * MiB, 4 * MiB, 0]
    assert all(e["chunkDigest"].startswith("sha256:") for e in big)
    types = {e["type"] for e in entries}
    assert types == {"dir", "reg", "chunk", "symlink", "hardlink"}
    assert regs[estargz.NO_PREFETCH_LANDMARK]["size"] == 1
    assert built.annotations()[estargz.TOC_DIGEST_ANNOTATION] == built.toc_digest


def test_opening_reads_the_footer_then_the_toc_only(built):
    reader, source = open_reader(built.blob, toc_digest=built.toc_digest)
    size = len(built.blob)
    assert source.log == [(size - 51, 51), (built.toc_offset, size - 51 - built.toc_offset)]
    assert reader.open_ranges[0].length == 51


def test_every_file_comes_back_through_range_reads(mixed, built):
    reader, source = open_reader(built.blob)
    assert sorted(reader.files()) == sorted(mixed.files)  # the landmark is not a file of the image
    for name, data in mixed.files.items():
        source.reset_counters()
        assert reader.read_file(name) == data
        ranges = reader.byte_ranges(name)
        assert source.bytes_fetched == sum(r.length for r in ranges)
        assert source.requests == len(ranges) <= 1  # a file's members are adjacent: one request
    assert reader.read_file("./usr/lib/hard.link") == mixed.files["usr/lib/file000.bin"]


def test_a_small_file_costs_its_member_not_the_layer(built):
    reader, source = open_reader(built.blob)
    source.reset_counters()
    reader.read_file("etc/file001.bin")
    assert source.requests == 1 and source.bytes_fetched < 1000
    # a chunk of a large file is one member: read it alone
    chunks = reader.chunks("usr/lib/big-text.dat")
    assert len(chunks) == 3
    source.reset_counters()
    assert len(reader.read_chunk(chunks[2])) == 9 * MiB + 17 - 8 * MiB
    assert source.bytes_fetched == chunks[2].end - chunks[2].offset < len(built.blob) / 20


def test_prioritized_files_go_first_before_the_prefetch_landmark(mixed):
    wanted = ["etc/file001.bin", "usr/lib/hard.link", "usr/lib/file006.bin"]
    built = estargz.build(mixed.gz, prioritized=wanted, level=1)
    names = [e["name"] for e in built.toc["entries"] if e["type"] != "chunk"]
    landmark = names.index(estargz.PREFETCH_LANDMARK)
    assert names[:landmark] == ["etc", "etc/file001.bin", "usr", "usr/lib", "usr/lib/file000.bin",
                                "usr/lib/hard.link", "usr/lib/file006.bin"]
    assert estargz.NO_PREFETCH_LANDMARK not in names
    assert sorted(names[landmark + 1:] + names[:landmark]) == sorted(
        e["name"] for e in estargz.build(mixed.gz, level=1).toc["entries"]
        if e["type"] != "chunk" and e["name"] != estargz.NO_PREFETCH_LANDMARK)
    reader, source = open_reader(built.blob)
    (prefetch,) = reader.prefetch_ranges()
    assert prefetch.offset == 0
    for name in ("etc/file001.bin", "usr/lib/file006.bin"):
        (r,) = reader.byte_ranges(name)
        assert r.end <= prefetch.end
    with tarfile.open(fileobj=io.BytesIO(built.blob), mode="r:gz") as tf:
        for name, data in mixed.files.items():
            assert tf.extractfile(name).read() == data


def test_a_missing_prioritized_file_is_refused_unless_allowed(mixed):
    with pytest.raises(LazyFormatError, match="not in the layer"):
        estargz.build(mixed.gz, prioritized=["nope"], level=1)
    built = estargz.build(mixed.gz, prioritized=["nope", "etc/empty"], allow_missing=True, level=1)
    assert built.missing_prioritized == ("nope",)


def test_an_estargz_layer_converts_again_without_a_second_toc(built, mixed):
    again = estargz.build(built.blob, level=1)
    names = [e["name"] for e in again.toc["entries"]]
    assert estargz.TOC_NAME not in names and names.count(estargz.NO_PREFETCH_LANDMARK) == 1
    reader, _ = open_reader(again.blob)
    assert reader.read_file("etc/file001.bin") == mixed.files["etc/file001.bin"]


def test_a_wrong_toc_digest_or_a_plain_layer_is_refused(built, mixed):
    with pytest.raises(LazyFormatError, match="TOC digest"):
        open_reader(built.blob, toc_digest="sha256:" + "0" * 64)
    with pytest.raises(LazyFormatError, match="STARGZ|Extra"):
        open_reader(mixed.gz)
    with pytest.raises(LazyFormatError, match="not valid gzip"):
        estargz.build(b"\x1f\x8b" + b"x" * 100)
    with pytest.raises(LazyFormatError, match="not a tar"):
        estargz.build(b"x" * 1024)


def test_a_corrupt_member_is_caught_by_its_chunk_digest(built, mixed):
    name = next(n for n, d in mixed.files.items() if 1000 < len(d) < 100_000)
    blob = bytearray(built.blob)
    reader, _ = open_reader(bytes(blob))
    (chunk,) = reader.chunks(name)
    data = reader.read_chunk(chunk)
    # re-compress different bytes of the same length in place of the member's content
    forged = zlib.compressobj(1, zlib.DEFLATED, 31)
    forged = forged.compress(b"X" * len(data)) + forged.flush()
    member = forged + b"\0" * ((chunk.end - chunk.offset) - len(forged))
    blob[chunk.offset:chunk.end] = member[:chunk.end - chunk.offset]
    reader, _ = open_reader(bytes(blob))
    with pytest.raises(LazyFormatError, match="chunkDigest"):
        reader.read_file(name)


# -- properties ---------------------------------------------------------------------------------

names = st.text(alphabet="abcdefgh", min_size=1, max_size=6)
file_sets = st.dictionaries(names, st.integers(min_value=0, max_value=20_000), min_size=1, max_size=12)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files=file_sets, chunk_size=st.sampled_from([512, 4096, 7000]), seed=st.integers(0, 2**16))
def test_toc_chunks_cover_each_file_exactly_without_overlap(files, chunk_size, seed):
    import random
    rnd = random.Random(seed)
    layer = build_tar([(f"d/{n}", "reg", rnd.randbytes(size)) for n, size in files.items()])
    built = estargz.build(layer.tar, chunk_size=chunk_size, level=1)
    reader, source = open_reader(built.blob)
    members = []
    for name, data in layer.files.items():
        chunks = reader.chunks(name)
        assert [c.chunk_offset for c in chunks] == list(range(0, len(data), chunk_size))
        assert sum(c.size for c in chunks) == len(data)
        members += [(c.offset, c.end) for c in chunks]
        assert reader.read_file(name) == data
    members.sort()
    for (a, b), (c, _) in zip(members, members[1:]):
        assert a < b <= c  # members are disjoint
    assert all(0 < a and b <= built.toc_offset for a, b in members)
