"""Blobs in extents: streaming writes and reads, range reads across extents, tamper detection."""

import hashlib
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regsim.registry.blobstore import extent_key
from regsim.registry.config import RegistryConfig
from regsim.registry.digest import Digest, compute
from regsim.registry.errors import DigestInvalid, IntegrityError
from regsim.registry.registry import Registry

EXTENT = 1000


def make(**kw) -> Registry:
    cfg = dict(codec="rs(4,2)", nodes=6, encryption="aes-256-gcm", segment_size=1024, extent_size=EXTENT)
    cfg.update(kw)
    return Registry(RegistryConfig(**cfg))


def pieces(data: bytes, cuts: list[int]):
    points = sorted({min(c, len(data)) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in zip(points, points[1:])]


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=5000), st.lists(st.integers(0, 5000), max_size=6), st.booleans())
def test_stream_round_trip_any_chunking(data, cuts, encrypted):
    reg = make(encryption="aes-256-gcm" if encrypted else "none")
    d = reg.put_blob_stream("r", iter(pieces(data, cuts)), compute(data))
    assert reg.get_blob("r", d) == data
    assert b"".join(reg.iter_blob("r", d)) == data
    info = reg.blobs.info(d)
    assert info["extents"] == max(1, -(-len(data) // EXTENT)) and info["size"] == len(data)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 4200), st.integers(0, 4200))
def test_range_reads_across_extents(offset, length):
    reg = make()
    data = bytes(range(256)) * 16  # 4096 bytes: five extents, the last one short
    d = reg.put_blob("r", data)
    assert reg.read_blob("r", d, offset, length) == data[offset : offset + length]
    assert b"".join(reg.iter_blob("r", d, offset, length)) == data[offset : offset + length]


def test_stream_with_wrong_digest_leaves_nothing():
    reg = make()
    before = reg.stored_bytes()
    data = b"x" * 3500
    with pytest.raises(DigestInvalid):
        reg.put_blob_stream("r", iter([data[:1700], data[1700:]]), compute(b"something else"))
    assert reg.stored_bytes() == before and list(reg.cluster.keys()) == []
    assert list(reg.blobs.digests()) == []


def test_interrupted_stream_leaves_nothing():
    reg = make()

    def broken():
        yield b"a" * 2500
        raise ConnectionError("client went away")

    with pytest.raises(ConnectionError):
        reg.put_blob_stream("r", broken(), "sha256:" + "0" * 64)
    assert list(reg.cluster.keys()) == [] and list(reg.blobs.digests()) == []


def test_swapped_extents_are_detected():
    reg = make()
    data = bytes(range(256)) * 12
    d = reg.put_blob("r", data)
    first, second = (reg.cluster.get(extent_key(d, i)) for i in (0, 1))
    reg.cluster.put(extent_key(d, 0), second)
    reg.cluster.put(extent_key(d, 1), first)
    with pytest.raises(IntegrityError):
        reg.get_blob("r", d)


def test_extent_moved_to_another_blob_is_detected():
    reg = make()
    a, b = b"A" * 1500, b"B" * 1500
    da, db = reg.put_blob("r", a), reg.put_blob("r", b)
    reg.cluster.put(extent_key(db, 0), reg.cluster.get(extent_key(da, 0)))
    with pytest.raises(IntegrityError):
        reg.get_blob("r", db)


def test_dropping_the_last_extent_is_detected():
    reg = make()
    data = b"z" * 2500
    d = reg.put_blob("r", data)
    info = reg.blobs.info(d)
    reg.meta.write(f"blobs/sha256/{d.hex}/info", dict(info, extents=2, size=2000))  # pretend 2 extents
    with pytest.raises(IntegrityError):
        reg.get_blob("r", d)  # extent 1 was written as 'more', not 'last'


def test_existing_blob_stream_is_verified_not_rewritten():
    reg = make()
    data = b"q" * 2100
    d = reg.put_blob("r", data)
    stored = reg.stored_bytes()
    assert reg.put_blob_stream("s", iter([data]), d) == d
    assert reg.stored_bytes() == stored
    with pytest.raises(DigestInvalid):
        reg.put_blob_stream("s", iter([b"not it"]), d)


def test_uploads_store_parts_without_copying():
    reg = make()
    data = bytes(range(256)) * 40
    uid = reg.start_upload("r")
    for i in range(0, len(data), 700):
        reg.upload_chunk("r", uid, iter([data[i : i + 300], data[i + 300 : i + 700]]), offset=i)
    parts = [k for k in reg.meta.keys(f"repositories/r/_uploads/{uid}/parts")]
    assert len(parts) == -(-len(data) // 700)
    assert all(reg.meta.backend.stat(k) <= 700 for k in parts)
    d = reg.finish_upload("r", uid, compute(data))
    assert reg.get_blob("r", d) == data
    assert list(reg.meta.keys(f"repositories/r/_uploads/{uid}")) == []


def test_a_large_stream_is_never_whole_in_memory(tmp_path):
    extent, total = 1 << 20, 24 << 20
    reg = Registry(RegistryConfig(backend="filesystem", root=tmp_path, codec="rs(4,2)", nodes=6,
                                  encryption="aes-256-gcm", extent_size=extent, fsync=False))
    block = bytes(range(256)) * 1024  # 256 KiB
    h = hashlib.sha256()
    for _ in range(total // len(block)):
        h.update(block)
    digest = Digest("sha256", h.hexdigest())
    tracemalloc.start()
    reg.put_blob_stream("big", (block for _ in range(total // len(block))), digest)
    read = sum(len(c) for c in reg.iter_blob("big", digest))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert read == total
    assert peak < 8 * extent, f"peak {peak:,} bytes for a {total:,}-byte blob"
