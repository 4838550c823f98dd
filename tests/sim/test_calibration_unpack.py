"""The ``unpack`` calibration workload prices decompression and tar extraction from real zlib,
zstandard and filesystem work; the reference profile holds those prices."""

import gzip
import io
import json
import tarfile

import pytest

from regsim.cli import main
from regsim.registry import receipts
from regsim.registry.receipts import Kind
from regsim.sim import calibrate as cal
from regsim.sim import calibration_unpack as cu
from regsim.sim.profile import load_profile

UNPACK_KINDS = ("gzip_inflate", "zstd_decompress", "tar_unpack", "file_create")
TINY = {"chunk_sizes": ((4 << 10, 2), (64 << 10, 1)), "layer_sizes": ((16 << 10, 1), (64 << 10, 1))}


@pytest.fixture
def workloads_restored(monkeypatch):
    """``regsim calibrate`` registers its workloads for the whole process: take ``unpack`` out
    again, and make the one it registers tiny."""
    monkeypatch.setitem(cal.WORKLOADS, "unpack", None)
    monkeypatch.setattr(cu, "UNPACK_CHUNK_SIZES", TINY["chunk_sizes"])
    monkeypatch.setattr(cu, "UNPACK_LAYER_SIZES", TINY["layer_sizes"])


def test_a_tiny_workload_prices_all_four_kinds():
    profile = cal.calibrate([cu.unpack_workload(**TINY)], repeats=1, warmup=0)
    for kind in ("gzip_inflate", "zstd_decompress", "tar_unpack"):
        assert profile.prices[kind].throughput > 0, kind
    assert profile.prices["file_create"].per_op_s > 0
    assert not {"disk_write", "disk_read"} & set(profile.prices)


def test_the_workload_records_chunks_and_layers_of_each_compression(tmp_path, monkeypatch):
    monkeypatch.setattr(cu, "UNPACK_DIRS", (str(tmp_path),))
    run = cu.unpack_workload(**TINY)
    with receipts.collect() as r:
        run()
    assert {i.kind for i in r} == set(UNPACK_KINDS)
    for kind in (Kind.GZIP_INFLATE, Kind.ZSTD_DECOMPRESS):
        chunks = [i.amount for i in r.of(kind) if i.detail == "chunk"]
        assert chunks == [4 << 10, 4 << 10, 64 << 10], kind
        assert len([i for i in r.of(kind) if i.detail == "layer"]) == 2, kind
    # each layer unpacked twice (gzip, zstd), its file data as asked and its entries counted
    assert sorted(i.amount for i in r.of(Kind.TAR_UNPACK)) == [16 << 10, 16 << 10, 64 << 10, 64 << 10]
    assert all(i.amount > 0 for i in r.of(Kind.FILE_CREATE))
    assert list(tmp_path.iterdir()) == []  # every unpacked tree removed


def test_layers_look_like_image_layers():
    content = cu._Content()
    tar = cu.build_layer_tar(content, 1 << 20)
    with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
        members = tf.getmembers()
    files = [m for m in members if m.isfile()]
    assert sum(m.size for m in files) == 1 << 20
    assert len(files) > 20 and sum(m.size > 100_000 for m in files) >= 1  # many small, a few large
    assert 1.8 < len(tar) / len(gzip.compress(tar, 6)) < 3.5


def test_calibrate_only_unpack(tmp_path, capsys, workloads_restored):
    out = tmp_path / "unpack.json"
    assert main(["calibrate", "--repeats", "1", "--only", "unpack", "--out", str(out)]) == 0
    prices = json.loads(out.read_text())["prices"]
    for kind in UNPACK_KINDS:
        assert (prices[kind].get("throughput_Bps") or prices[kind].get("per_op_s")) > 0, kind
    assert "gzip_inflate" in capsys.readouterr().out
    assert main(["calibrate", "--list"]) == 0
    assert "unpack" in capsys.readouterr().out.split()


def test_the_reference_profile_prices_unpacking():
    ref = load_profile("reference")
    for kind in UNPACK_KINDS:
        assert ref.prices[kind].samples > 0, kind
    for kind in ("gzip_inflate", "zstd_decompress", "tar_unpack"):
        assert ref.prices[kind].is_bytes, kind
    # zstd decompresses faster than zlib inflates, and writing a byte costs less than inflating it
    mib = 1 << 20
    assert ref.seconds("zstd_decompress", mib) < ref.seconds("gzip_inflate", mib)
    assert ref.seconds("tar_unpack", mib) < ref.seconds("gzip_inflate", mib)
