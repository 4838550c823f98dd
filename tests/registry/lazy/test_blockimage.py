"""Block images: files laid out block-aligned in a small filesystem image, cut into (optionally
zstd-compressed) segments behind a jump table; a file read is a read of its blocks."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regsim.registry.lazy import blockimage
from regsim.registry.lazy.errors import LazyFormatError
from regsim.registry.lazy.ranges import RangeSource

from .layers import build_tar


@pytest.fixture(scope="module", params=["zstd", "none"])
def built(request, mixed):
    return blockimage.build(mixed.tar, compression=request.param)


def open_reader(blob: bytes) -> tuple[blockimage.BlockReader, RangeSource]:
    source = RangeSource.of_bytes(blob, "layer")
    return blockimage.BlockReader(source), source


def test_file_data_is_block_aligned_in_the_image(mixed, built):
    image = built.image
    bs = image.block_size
    assert image.data[:8] == b"RSBLKFS1" and len(image.data) % bs == 0
    for name, data in mixed.files.items():
        inode = image.inode(name)
        assert inode.size == len(data)
        assert inode.blocks == -(-len(data) // bs)
        start = inode.first_block * bs
        assert image.data[start:start + len(data)] == data
        assert image.data[start + len(data):(inode.first_block + inode.blocks) * bs].strip(b"\0") == b""
    hard = image.inode("usr/lib/hard.link")
    assert hard.type == "hardlink" and hard.first_block == image.inode("usr/lib/file000.bin").first_block


def test_the_container_has_header_segments_jump_table_trailer(built):
    blob = built.blob
    assert blob[:8] == blob[-512:-504] == b"RSBLKZ\x00\x01"
    assert len(built.segment_sizes) == -(-len(built.image.data) // built.segment_size)
    assert len(blob) == 512 + sum(built.segment_sizes) + 4 * len(built.segment_sizes) + 512


def test_every_file_comes_back_by_reading_its_blocks(mixed, built):
    reader, source = open_reader(built.blob)
    assert [r.offset for r in reader.open_ranges[:2]] == [len(built.blob) - 512, 512 + sum(built.segment_sizes)]
    assert sorted(reader.files()) == sorted(mixed.files)
    for name, data in mixed.files.items():
        source.reset_counters()
        assert reader.read_file(name) == data
        assert source.bytes_fetched == sum(r.length for r in reader.byte_ranges(name))
    assert reader.read_file("usr/lib/hard.link") == mixed.files["usr/lib/file000.bin"]
    assert reader.byte_ranges("etc/empty") == [] and reader.block_ranges("etc/empty") == []


def test_raw_segments_read_exactly_the_blocks(mixed):
    built = blockimage.build(mixed.tar, compression="none")
    reader, source = open_reader(built.blob)
    name = "usr/lib/big-random.so"
    ((first, count),) = reader.block_ranges(name)
    (r,) = reader.byte_ranges(name)
    assert (r.offset, r.length) == (512 + first * 4096, count * 4096)


def test_compressed_segments_read_only_the_segments_of_the_file(mixed):
    built = blockimage.build(mixed.tar, segment_size=16384)
    reader, source = open_reader(built.blob)
    name = next(n for n, d in mixed.files.items() if 100 < len(d) < 4096)
    source.reset_counters()
    reader.read_file(name)
    assert source.requests == 1 and source.bytes_fetched <= max(built.segment_sizes) * 2


def test_bad_options_and_blobs_are_refused(mixed):
    with pytest.raises(LazyFormatError, match="power of two"):
        blockimage.build(mixed.tar, block_size=1000)
    with pytest.raises(LazyFormatError, match="multiple"):
        blockimage.build(mixed.tar, segment_size=6000)
    with pytest.raises(LazyFormatError, match="compression"):
        blockimage.build(mixed.tar, compression="lz4")
    with pytest.raises(LazyFormatError, match="not a block image"):
        open_reader(mixed.gz)


# -- properties ---------------------------------------------------------------------------------

@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sizes=st.lists(st.integers(min_value=0, max_value=40_000), min_size=1, max_size=12),
       block_size=st.sampled_from([512, 4096]), blocks_per_segment=st.sampled_from([1, 4, 16]),
       compression=st.sampled_from(["zstd", "none"]), seed=st.integers(0, 2**16))
def test_block_map_covers_each_file_exactly_without_overlap(sizes, block_size, blocks_per_segment, compression, seed):
    rnd = random.Random(seed)
    layer = build_tar([(f"f{i}", "reg", rnd.randbytes(n)) for i, n in enumerate(sizes)])
    built = blockimage.build(layer.tar, block_size=block_size, segment_size=block_size * blocks_per_segment,
                             compression=compression)
    total_blocks = len(built.image.data) // block_size
    runs = []
    for name, data in layer.files.items():
        inode = built.image.inode(name)
        for first, count in blockimage.block_ranges(inode):
            assert 1 <= first and first + count <= total_blocks
            runs.append((first, first + count))
        assert sum(c for _, c in blockimage.block_ranges(inode)) == -(-len(data) // block_size)
    runs.sort()
    assert all(b <= c for (_, b), (c, _) in zip(runs, runs[1:]))
    reader, _ = open_reader(built.blob)
    for name, data in layer.files.items():
        for r in reader.byte_ranges(name):
            assert 512 <= r.offset and r.end <= len(built.blob) - 512 - 4 * len(built.segment_sizes)
        assert reader.read_file(name) == data
