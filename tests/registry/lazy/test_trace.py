"""StartupTrace: reads, totals, validation and the JSON form (round trip, version, clear errors)."""

from __future__ import annotations

import json

import pytest

from regsim.registry.lazy.trace import TRACE_VERSION, Read, StartupTrace, TraceError, concat


def sample() -> StartupTrace:
    return StartupTrace((Read(0, "bin/sh", 0, 1000, 0.002), Read(0, "./etc/passwd", 10, 20, 0.0),
                         Read(1, None, 4096, 8192, 0.5), Read("sha256:" + "ab" * 32, "usr/lib/x.so", 0, 5, 0.001),
                         Read(0, "bin/sh", 500, 1000, 0.0)),
                        source="hand", image="app:v1", meta={"note": "x"})


def test_totals():
    t = sample()
    assert t.bytes_read == 1000 + 20 + 8192 + 5 + 1000
    assert t.unique_bytes_read == 1500 + 20 + 8192 + 5  # bin/sh 0..1500 once
    assert t.files_touched == 3
    assert t.cpu_s == pytest.approx(0.503)
    assert t.layers() == [0, 1, "sha256:" + "ab" * 32]
    assert t.reads[1].path == "etc/passwd"  # cleaned as the tar reader does
    assert t.reads[2].kind == "raw" and t.reads[0].kind == "file"
    assert "5 reads (1 raw)" in t.summary()


def test_json_round_trip(tmp_path):
    t = sample()
    assert StartupTrace.loads(t.dumps()) == t
    assert StartupTrace.from_json(json.loads(json.dumps(t.to_json()))) == t
    path = t.save(tmp_path / "t.json")
    assert StartupTrace.load(path) == t
    doc = json.loads(path.read_text())
    assert doc["version"] == TRACE_VERSION and doc["kind"] == "regsim.startup-trace"
    assert "path" not in doc["reads"][2]  # a raw read has no path
    empty = StartupTrace(())
    assert StartupTrace.loads(empty.dumps()) == empty


@pytest.mark.parametrize("read, message", [
    (Read(-1, "a", 0, 1), "layer index must be >= 0"),
    (Read("latest", "a", 0, 1), "a digest like sha256"),
    (Read(0, "a", -5, 1), "offset must be an integer >= 0"),
    (Read(0, "a", 0, 0), "length must be > 0"),
    (Read(0, "a", 0, 1, -0.1), "cpu_before_s must be a finite number"),
    (Read(0, "a", 0, 1, float("nan")), "cpu_before_s"),
    (Read(0, "a", 1.5, 1), "offset must be an integer"),
])
def test_bad_reads_are_refused(read, message):
    with pytest.raises(TraceError, match=message) as e:
        StartupTrace((Read(0, "ok", 0, 1), read))
    assert "trace read 1" in str(e.value)


@pytest.mark.parametrize("doc, message", [
    ([], "a trace is a JSON object"),
    ({"version": 2, "reads": []}, "unsupported trace version 2"),
    ({"reads": []}, "unsupported trace version None"),
    ({"kind": "other", "version": 1, "reads": []}, "kind is 'other'"),
    ({"version": 1, "reads": {}}, "'reads' must be a list"),
    ({"version": 1, "reads": [{"layer": 0, "offset": 0}]}, r"reads\[0\]: missing length"),
    ({"version": 1, "reads": [{"layer": 0, "offset": 0, "length": 1, "size": 3}]}, "unknown field.*size"),
    ({"version": 1, "reads": [{"layer": 0, "offset": "0", "length": 1}]}, r"reads\[0\]: offset must be an integer"),
])
def test_bad_json(doc, message):
    with pytest.raises(TraceError, match=message) as e:
        StartupTrace.from_json(doc, "t.json")
    assert str(e.value).startswith("t.json")


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(TraceError, match="cannot read trace"):
        StartupTrace.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(TraceError, match=r"bad.json: not JSON"):
        StartupTrace.load(tmp_path / "bad.json")


def test_validate_against_an_image():
    t = sample()
    files = {0: {"bin/sh": 1500, "etc/passwd": 30}, 1: {}, "sha256:" + "ab" * 32: {"usr/lib/x.so": 5}}
    t.validate(files, {1: 20000})
    with pytest.raises(TraceError, match=r"read 4: bytes 500..1500 of .bin/sh. are past its end \(1499 bytes\)"):
        t.validate({**files, 0: {"bin/sh": 1499, "etc/passwd": 30}})
    with pytest.raises(TraceError, match="read 1: layer 0 has no file 'etc/passwd'"):
        t.validate({**files, 0: {"bin/sh": 1500}})
    with pytest.raises(TraceError, match="read 2: bytes 4096..12288 are past the end of layer 1"):
        t.validate(files, {1: 10000})
    with pytest.raises(TraceError, match="no layer 1"):
        t.validate(files, {0: 1})


def test_concat():
    a, b = sample(), StartupTrace((Read(2, None, 0, 1),), source="b")
    c = concat([a, b])
    assert len(c) == 6 and c.source == "hand + b"
