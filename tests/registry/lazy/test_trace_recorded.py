"""Recorded traces: overlaybd's trace-prefetch file (and its layer tar), CSV and JSON lines, with
errors that name the file, the line or record, and what was expected."""

from __future__ import annotations

import binascii
import io
import tarfile

import pytest

from regsim.registry.lazy.recorded import (
    OVERLAYBD_HEADER, OVERLAYBD_MAGIC, OVERLAYBD_RECORD, crc32c_raw, detect, load_recorded, overlaybd_bytes,
    parse_csv, parse_jsonl, parse_overlaybd,
)
from regsim.registry.lazy.trace import Read, TraceError


def test_overlaybd_constants():
    # upstream's comment: the magic is "CRC32 of `Container Image Trace Format`" (zlib's CRC-32)
    assert binascii.crc32(b"Container Image Trace Format") == OVERLAYBD_MAGIC
    assert OVERLAYBD_HEADER.size == 24 and OVERLAYBD_RECORD.size == 24  # LP64 struct layout
    # CRC-32C seeded with 0, no inversion (crc32c_extend); the standard check value differs
    r1 = OVERLAYBD_RECORD.pack(b"R", 1, 4096, 0)
    r2 = OVERLAYBD_RECORD.pack(b"R", 0, 8192, 16384)
    assert crc32c_raw(b"") == 0
    assert crc32c_raw(r1) == 0xBA691A13
    assert crc32c_raw(r1 + r2) == crc32c_raw(r2, crc32c_raw(r1)) == 0xD29283DD
    # the standard CRC-32C (init and final inversion) of "123456789" is 0xE3069283
    assert crc32c_raw(b"123456789", 0xFFFFFFFF) ^ 0xFFFFFFFF == 0xE3069283


def test_overlaybd_round_trip(tmp_path):
    records = [("R", 0, 4096, 0), ("R", 2, 65536, 1 << 30), ("W", 1, 10, 0), ("R", 1, 512, 4096), ("R", 0, 0, 9)]
    path = tmp_path / "trace"
    path.write_bytes(overlaybd_bytes(records))
    t = load_recorded(path)
    assert t.reads == (Read(0, None, 0, 4096), Read(2, None, 1 << 30, 65536), Read(1, None, 4096, 512))
    assert t.meta["records"] == 5 and t.meta["writes_skipped"] == 1
    assert "overlaybd" in t.source
    assert parse_overlaybd(overlaybd_bytes(records), cpu_between=0.01).cpu_s == pytest.approx(0.03)


def test_overlaybd_acceleration_layer_tar(tmp_path):
    buf = io.BytesIO()
    data = overlaybd_bytes([("R", 0, 100, 200)])
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("trace")
        info.size, info.mode = len(data), 0o444
        tf.addfile(info, io.BytesIO(data))
    (tmp_path / "layer.tar").write_bytes(buf.getvalue())
    assert detect(buf.getvalue()) == "overlaybd-layer"
    assert load_recorded(tmp_path / "layer.tar").reads == (Read(0, None, 200, 100),)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        tf.addfile(tarfile.TarInfo("other"), io.BytesIO(b""))
    (tmp_path / "other.tar").write_bytes(buf.getvalue())
    with pytest.raises(TraceError, match="other.tar: a tar without a file named 'trace'"):
        load_recorded(tmp_path / "other.tar")


def test_overlaybd_errors():
    good = overlaybd_bytes([("R", 0, 4096, 0), ("R", 1, 10, 20)])
    with pytest.raises(TraceError, match="t.bin: 10 bytes is too short"):
        parse_overlaybd(good[:10], "t.bin")
    with pytest.raises(TraceError, match="t.bin: byte 0: magic 0x00000000 is not overlaybd's"):
        parse_overlaybd(b"\0" * 24, "t.bin")
    with pytest.raises(TraceError, match="byte 8: header says 48 bytes of records, the file has 40"):
        parse_overlaybd(good[:-8], "t.bin")
    corrupt = bytearray(good)
    corrupt[30] ^= 1
    with pytest.raises(TraceError, match="byte 16: checksum .* does not match"):
        parse_overlaybd(bytes(corrupt), "t.bin")
    assert len(parse_overlaybd(bytes(corrupt), verify_checksum=False)) == 2
    bad_op = overlaybd_bytes([("R", 0, 1, 0), ("X", 0, 1, 0)])
    with pytest.raises(TraceError, match=r"t.bin: record 1 \(byte 48\): op b'X' is neither"):
        parse_overlaybd(bad_op, "t.bin")
    negative = overlaybd_bytes([("R", 0, 1, -4096)])
    with pytest.raises(TraceError, match=r"record 0 \(byte 40\): offset -4096 is negative"):
        parse_overlaybd(negative, "t.bin")
    odd = OVERLAYBD_HEADER.pack(OVERLAYBD_MAGIC, 5, crc32c_raw(b"12345")) + b"12345"
    with pytest.raises(TraceError, match="5 bytes of records is not a multiple of 24"):
        parse_overlaybd(odd)


def test_csv(tmp_path):
    text = """# recorded with blktrace
layer,offset,length,cpu_s
0,0,4096,0.001

1,8192,512
sha256:abcd,0,10,0
2,bin/sh,0,100,0.5
2,"etc/a,b.conf",5,5
"""
    (tmp_path / "t.csv").write_text(text)
    t = load_recorded(tmp_path / "t.csv")
    assert t.reads == (Read(0, None, 0, 4096, 0.001), Read(1, None, 8192, 512), Read("sha256:abcd", None, 0, 10),
                       Read(2, "bin/sh", 0, 100, 0.5), Read(2, "etc/a,b.conf", 5, 5))


@pytest.mark.parametrize("line, message", [
    ("0,4096", "t.csv:2: expected layer,offset,length"),
    ("0,a,b,c,d,e", "t.csv:2: expected layer,offset,length"),
    ("0,-1,10", "t.csv:2: offset must be >= 0, got -1"),
    ("0,0,ten", "t.csv:2: length must be an integer, got 'ten'"),
    ("0,0,0", "t.csv:2: length must be > 0"),
    ("latest,0,10", "t.csv:2: layer must be an index or a digest"),
    ("0,0,10,soon", "t.csv:2: cpu_s must be a number of seconds, got 'soon'"),
    ("0,0,10,-1", "t.csv:2: cpu_before_s must be a finite number >= 0"),
])
def test_csv_errors_name_file_and_line(line, message):
    with pytest.raises(TraceError, match=message):
        parse_csv("0,0,1\n" + line + "\n", "t.csv")


def test_jsonl(tmp_path):
    text = ('{"layer": 0, "path": "bin/sh", "offset": 0, "length": 100, "cpu_s": 0.25}\n\n'
            '{"layer": 1, "offset": 4, "length": 8}\n')
    (tmp_path / "t.jsonl").write_text(text)
    t = load_recorded(tmp_path / "t.jsonl")
    assert t.reads == (Read(0, "bin/sh", 0, 100, 0.25), Read(1, None, 4, 8))
    with pytest.raises(TraceError, match="t.jsonl:2: expected a JSON object, got invalid JSON"):
        parse_jsonl('{"layer": 0, "offset": 0, "length": 1}\n{oops\n', "t.jsonl")
    with pytest.raises(TraceError, match="t.jsonl:1: missing length"):
        parse_jsonl('{"layer": 0, "offset": 0}\n', "t.jsonl")


def test_format_choice_and_file_errors(tmp_path):
    (tmp_path / "t.txt").write_text("0,0,10\n")
    with pytest.raises(TraceError, match="unknown recorded trace format"):
        load_recorded(tmp_path / "t.txt", "blk")
    with pytest.raises(TraceError, match="t.txt: 7 bytes is too short for an overlaybd trace"):
        load_recorded(tmp_path / "t.txt", "overlaybd")
    with pytest.raises(TraceError, match="cannot read"):
        load_recorded(tmp_path / "missing")
    (tmp_path / "bin").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(TraceError, match="bin: byte 0: not UTF-8 text"):
        load_recorded(tmp_path / "bin")
