"""Replaying start-up traces over real converted layers: the FetchPlan's ranges are the reader's,
lie inside the blobs, are enough to read each file, and differ by format."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regsim.registry.lazy.convert import convert_layer
from regsim.registry.lazy.errors import LazyFormatError
from regsim.registry.lazy.recorded import overlaybd_bytes, parse_overlaybd
from regsim.registry.lazy.replay import plan, tar_extents
from regsim.registry.lazy.synthetic import synthesize
from regsim.registry.lazy.trace import Read, StartupTrace, TraceError

from .layers import build_tar

KiB = 1024
#: small units so partial reads and caching show on a small layer
OPTIONS = {"estargz": {"level": 1, "chunk_size": 64 * KiB}, "soci": {"min_layer_size": 0, "span_size": 128 * KiB},
           "nydus": {"chunk_size": 64 * KiB}, "block": {}}


def random_layer(seed: int = 4):
    """~3 MB of incompressible files in a few folders (so no format can fetch fewer bytes than read)."""
    rnd = random.Random(seed)
    spec = [(d, "dir", None) for d in ("bin", "etc", "usr", "usr/lib", "opt")]
    for i in range(60):
        folder = ("bin", "etc", "usr/lib", "opt")[i % 4]
        spec.append((f"{folder}/f{i:02d}", "reg", rnd.randbytes(rnd.choice([1, 300, 5000, 40_000, 150_000]))))
    spec.append(("etc/empty", "reg", b""))
    return build_tar(spec)


@pytest.fixture(scope="module")
def layer():
    return random_layer()


@pytest.fixture(scope="module")
def converted(layer):
    return {fmt: convert_layer(layer.gz, fmt, **opts) for fmt, opts in OPTIONS.items()}


def trace_of(layer, **kw) -> StartupTrace:
    return synthesize([(0, n, len(d)) for n, d in layer.files.items()], **{"fraction": 0.3, "seed": 3, **kw})


def restrict(reader, allowed):
    """Make every later fetch of the reader fail unless it lies inside one of ``allowed``."""
    for name, src in reader.sources.items():
        inner = src.fetch

        def fetch(off, n, inner=inner, name=name):
            assert any(r.blob == name and r.offset <= off and off + n <= r.end for r in allowed), (name, off, n)
            return inner(off, n)
        src.fetch = fetch


@pytest.mark.parametrize("fmt", list(OPTIONS))
def test_whole_file_reads_cost_the_readers_ranges(layer, converted, fmt):
    reader = converted[fmt].open()
    t = trace_of(layer)
    p = plan(t, [reader])
    assert len(p.reads) == len(t) > 5
    for f in p.reads:
        assert list(f.ranges) == reader.byte_ranges(f.read.path)
        assert f.bytes >= f.new_bytes > 0 or f.cached
    # reading every traced file through a source that serves only the planned ranges works
    restrict(reader, [r for f in p.reads for r in f.ranges])
    for f in p.reads:
        assert reader.read_file(f.read.path) == layer.files[f.read.path]


@pytest.mark.parametrize("fmt", list(OPTIONS))
def test_partial_reads_fetch_a_subset(layer, converted, fmt):
    reader = converted[fmt].open()
    name = max(layer.files, key=lambda n: len(layer.files[n]))  # 150,000 bytes
    whole = plan(StartupTrace((Read(0, name, 0, 150_000),)), [reader]).reads[0]
    head = plan(StartupTrace((Read(0, name, 0, 100),)), [reader]).reads[0]
    tail = plan(StartupTrace((Read(0, name, 149_000, 1000),)), [reader]).reads[0]
    assert set(head.units) <= set(whole.units) and set(tail.units) <= set(whole.units)
    if fmt in ("estargz", "nydus", "block"):  # 64 KiB members, chunks, segments: the head is one of several
        assert head.bytes < whole.bytes and tail.bytes < whole.bytes
        assert not set(head.units) & set(tail.units)


def test_formats_differ_and_fetch_at_least_what_is_read(layer, converted):
    t = trace_of(layer)
    fetched = {}
    for fmt in ("estargz", "soci", "block"):
        p = plan(t, [converted[fmt].open()])
        fetched[fmt] = p.bytes_fetched
        # incompressible content: a unit holding N bytes of files is at least N bytes remote
        assert p.bytes_fetched >= t.unique_bytes_read
        assert 0 < p.bytes_fetched_share <= 1
        assert p.bytes_read == t.bytes_read
    assert len(set(fetched.values())) == 3, fetched
    # SOCI fetches whole spans (128 KiB of tar): the most; eStargz fetches per-file members
    assert fetched["soci"] > fetched["block"] and fetched["soci"] > fetched["estargz"]


def test_cache_within_a_trace_and_across_runs(layer, converted):
    reader = converted["block"].open()
    name = next(n for n, d in layer.files.items() if len(d) == 300)
    t = StartupTrace((Read(0, name, 0, 300), Read(0, name, 0, 10, 0.1)))
    p = plan(t, [reader])
    assert not p.reads[0].cached and p.reads[1].cached and p.requests == 1
    again = plan(trace_of(layer), [reader])
    warm = plan(trace_of(layer), [reader], cached=again.fetched)
    assert warm.bytes_fetched == 0 and warm.cached_reads == len(warm.reads)


def test_raw_reads_on_block_and_soci_layers(layer, converted):
    block = converted["block"].open()
    image_size = block.image_size
    rec = parse_overlaybd(overlaybd_bytes([("R", 0, 4096, 0), ("R", 0, 8192, image_size - 8192),
                                           ("R", 0, 100, 10)]))
    p = plan(rec, [block])
    first, last, again = p.reads
    assert first.units == (first.units[0],) and first.units[0].offset == block.offsets[0]
    assert last.units[-1].end == block.offsets[-1]  # the last segment
    assert again.cached
    with pytest.raises(TraceError, match="trace read 0: bytes .* past the end of the block image"):
        plan(StartupTrace((Read(0, None, image_size, 1),)), [block])
    soci = converted["soci"].open()
    p = plan(StartupTrace((Read(0, None, 0, 1000), Read(0, None, 600_000, 10))), [soci])
    assert p.reads[0].units[0].offset == soci.ztoc.span_start(0) and not p.reads[1].cached
    with pytest.raises(TraceError, match="past the end of layer 0"):
        plan(StartupTrace((Read(0, None, soci.ztoc.uncompressed_size, 1),)), [soci])


@pytest.mark.parametrize("fmt", ["estargz", "nydus"])
def test_raw_reads_on_file_formats_need_extents(layer, converted, fmt):
    reader = converted[fmt].open()
    raw = StartupTrace((Read(0, None, 0, 200_000),))
    with pytest.raises(TraceError, match=f"trace read 0: layer 0 is {fmt}, which has no block address space"):
        plan(raw, [reader])
    ext = tar_extents(layer.gz)
    p = plan(raw, [reader], extents={0: ext})
    inside = [n for n, start, size in ext if start + size <= 200_000]
    units = set(p.reads[0].units)
    for n in inside:
        assert set(plan(StartupTrace((Read(0, n, 0, len(layer.files[n])),)), [reader]).reads[0].units) <= units


def test_plain_layer_costs_the_whole_blob_once(layer):
    plain = convert_layer(layer.gz, "soci")  # under the 10 MiB minimum: no zTOC, pulled whole
    reader = plain.open()
    assert reader.format == "plain"
    p = plan(trace_of(layer), [reader])
    assert p.reads[0].bytes == len(layer.gz) and p.bytes_fetched == len(layer.gz)
    assert p.cached_reads == len(p.reads) - 1 and p.bytes_fetched_share == 1.0
    assert p.open_bytes == 0 and p.share_with_open == 1.0


def test_layers_by_digest_and_errors(layer, converted):
    es, blk = converted["estargz"].open(), converted["block"].open()
    name = next(iter(layer.files))
    digest = str(converted["block"].layers[0].digest)
    t = StartupTrace((Read(digest, name, 0, 1), Read("sha256:" + "0" * 64, name, 0, 1)))
    with pytest.raises(TraceError, match="trace read 1: no layer 'sha256:0000"):
        plan(t, [es, blk])
    p = plan(StartupTrace(t.reads[:1]), [es, blk])
    assert p.reads[0].layer == 1 and p.reads[0].units[0].blob == digest
    p = plan(StartupTrace((Read("sha256:" + "1" * 64, name, 0, 1),)), [es, blk], digests=["x", "sha256:" + "1" * 64])
    assert p.reads[0].layer == 1
    assert plan(StartupTrace((Read("a:b", name, 0, 1),)), {"a:b": es}).reads[0].layer == "a:b"
    with pytest.raises(TraceError, match="trace read 0: layer 2 does not exist"):
        plan(StartupTrace((Read(2, name, 0, 1),)), [es, blk])
    with pytest.raises(TraceError, match="trace read 0: estargz layer has no file 'nope'"):
        plan(StartupTrace((Read(0, "nope", 0, 1),)), [es])
    with pytest.raises(TraceError, match="trace read 0: bytes 0..10 of 'etc/empty' are past its end"):
        plan(StartupTrace((Read(0, "etc/empty", 0, 10),)), [es])
    with pytest.raises(TraceError, match="is a dir, not a regular file"):
        plan(StartupTrace((Read(0, "etc", 0, 1),)), [es])
    assert issubclass(TraceError, LazyFormatError)


# -- property: any trace over any file set ------------------------------------------------------

files_st = st.dictionaries(
    st.tuples(st.sampled_from(["bin", "etc", "usr/lib"]), st.text("abcdef", min_size=1, max_size=6)).map("/".join),
    st.integers(1, 90_000), min_size=1, max_size=8)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files=files_st, fmt=st.sampled_from(list(OPTIONS)), data=st.data())
def test_property_plans_lie_in_the_blob_and_cover_every_read(files, fmt, data):
    rnd = random.Random(len(files))
    spec = [(d, "dir", None) for d in ("bin", "etc", "usr", "usr/lib")]
    contents = {n: rnd.randbytes(s) for n, s in files.items()}
    spec += [(n, "reg", b) for n, b in contents.items()]
    layer = build_tar(spec)
    reader = convert_layer(layer.gz, fmt, **OPTIONS[fmt]).open()
    reads = []
    for _ in range(data.draw(st.integers(1, 10))):
        name = data.draw(st.sampled_from(sorted(contents)))
        size = len(contents[name])
        offset = data.draw(st.integers(0, size - 1))
        length = data.draw(st.integers(1, size - offset))
        reads.append(Read(0, name, offset, length, data.draw(st.floats(0, 1))))
    t = StartupTrace(tuple(reads))
    t.validate({0: {n: len(b) for n, b in contents.items()}})
    p = plan(t, [reader])
    sizes = {n: s.size for n, s in reader.sources.items()}
    for f in p.reads:
        whole = reader.byte_ranges(f.read.path)
        for r in f.ranges + f.new_ranges + f.units:  # inside the blob
            assert 0 <= r.offset and r.end <= sizes[r.blob]
        for u in f.units:  # a subset of what reading the whole file costs
            assert any(w.blob == u.blob and w.offset <= u.offset and u.end <= w.end for w in whole)
    # covering: each read's own ranges are enough to read its file's bytes at offset..end
    for f in p.reads:
        r = f.read
        if r.offset == 0 and r.length == len(contents[r.path]):
            fresh = convert_layer(layer.gz, fmt, **OPTIONS[fmt]).open()
            restrict(fresh, list(f.ranges))
            assert fresh.read_file(r.path) == contents[r.path]
    # each unit is fetched once (SOCI spans may share a byte: coalesced, never more than the units)
    assert p.bytes_fetched <= sum(u.length for u in p.fetched)
