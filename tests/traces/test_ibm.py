"""The IBM trace format: parsing, validation errors that name file, record and field, writing."""

from __future__ import annotations

import gzip
import json

import pytest

from regsim.traces import (Request, TraceError, dumps_trace, format_timestamp, loads_trace, parse_timestamp, parse_uri,
                           read_trace, write_trace)

DIGEST = "sha256:" + "ab" * 32
RECORD = {
    "host": "dc118836", "http.request.duration": 0.879512, "http.request.method": "GET",
    "http.request.remoteaddr": "0ee76ffa", "http.request.uri": f"v2/ca64a9a7/8b1c7f/blobs/{DIGEST}",
    "http.request.useragent": "docker/17.06.0-ce", "http.response.status": 200,
    "http.response.written": 1557, "id": "47f7cd1c28", "timestamp": "2017-06-20T02:41:18.000Z",
}


def test_a_published_style_record_parses_into_a_request():
    (r,) = loads_trace(json.dumps([RECORD]), "t.json")
    assert r == Request(parse_timestamp("2017-06-20T02:41:18Z"), "GET", RECORD["http.request.uri"], "blob",
                        "ca64a9a7/8b1c7f", DIGEST, 1557, 0.879512, "0ee76ffa", 200)
    assert r.time == 1_497_926_478.0


@pytest.mark.parametrize(("uri", "expected"), [
    ("v2/u/r/manifests/latest", ("manifest", "u/r", "latest")),
    ("/v2/u/r/manifests/" + DIGEST, ("manifest", "u/r", DIGEST)),
    (f"v2/org/team/app/blobs/{DIGEST}", ("blob", "org/team/app", DIGEST)),
    (f"v2/u/r/blobs/uploads/1f2e?digest={DIGEST}", ("upload", "u/r", DIGEST)),
    ("v2/u/r/blobs/uploads/", ("upload", "u/r", "")),
    ("v2/u/r/tags/list", ("tags", "u/r", "")),
    ("v2/", ("base", "", "")),
    ("v2/_catalog", ("other", "", "")),
    ("/metrics", ("other", "", "")),
])
def test_uris_are_classified(uri, expected):
    assert parse_uri(uri) == expected


def bad(field, value):
    record = dict(RECORD)
    if value is KeyError:
        del record[field]
    else:
        record[field] = value
    return [RECORD, RECORD, record]


@pytest.mark.parametrize(("field", "value", "says"), [
    ("timestamp", "yesterday", "ISO-8601"),
    ("timestamp", 1497926478, "ISO-8601"),
    ("http.request.method", "FETCH", "HTTP method"),
    ("http.request.uri", "", "registry API path"),
    ("http.response.written", "12a", "whole number of bytes"),
    ("http.response.written", -1, "whole number of bytes"),
    ("http.response.written", 1.5, "whole number of bytes"),
    ("http.request.duration", -0.1, "number of seconds"),
    ("http.request.duration", True, "number of seconds"),
    ("http.request.remoteaddr", 17, "client address"),
    ("http.response.status", 700, "status code"),
    ("http.response.status", "200", "status code"),
    ("http.response.status", KeyError, "missing field"),
])
def test_malformed_records_are_refused_naming_the_file_the_record_and_the_field(field, value, says):
    with pytest.raises(TraceError) as caught:
        loads_trace(json.dumps(bad(field, value)), "traces/day1.json")
    err = caught.value
    assert (err.source, err.index, err.field) == ("traces/day1.json", 2, field)
    assert str(err).startswith(f"traces/day1.json: record 2: {field}: ") and says in str(err)


def test_whole_file_problems_are_refused_clearly():
    with pytest.raises(TraceError, match=r"^t.json: not valid JSON: .* line 1, column"):
        loads_trace("[{", "t.json")
    with pytest.raises(TraceError, match=r"^t.json: expected a JSON array of request records \(got a dict\)"):
        loads_trace("{}", "t.json")
    with pytest.raises(TraceError, match=r"^t.json: record 0: expected a JSON object"):
        loads_trace("[1]", "t.json")
    with pytest.raises(TraceError, match="cannot read the trace"):
        read_trace("/nonexistent/trace.json")


def test_timestamps_keep_microseconds_and_print_milliseconds_when_exact():
    assert format_timestamp(parse_timestamp("2017-06-20T02:41:18.000Z")) == "2017-06-20T02:41:18.000Z"
    assert format_timestamp(parse_timestamp("2017-06-20T02:41:18.123456Z")) == "2017-06-20T02:41:18.123456Z"
    assert parse_timestamp("2017-06-20T04:41:18+02:00") == parse_timestamp("2017-06-20T02:41:18Z")
    assert parse_timestamp("2017-06-20T02:41:18") == parse_timestamp("2017-06-20T02:41:18Z")


def test_write_then_read_gives_the_same_requests_plain_gzipped_and_from_a_folder(tmp_path):
    requests = list(loads_trace(json.dumps([RECORD, {**RECORD, "timestamp": "2017-06-20T02:41:17.5Z"}])))
    write_trace(requests, tmp_path / "a.json")
    write_trace(requests[:1], tmp_path / "b.json.gz")
    assert list(read_trace(tmp_path / "a.json")) == requests
    assert gzip.decompress((tmp_path / "b.json.gz").read_bytes()).startswith(b"[\n{")
    merged = read_trace(tmp_path)
    assert [r.time for r in merged] == sorted(r.time for r in [*requests, requests[0]])
    assert (tmp_path / "a.json").read_text().count("\n") == 4  # one record per line


def test_an_empty_folder_is_an_error(tmp_path):
    with pytest.raises(TraceError, match="no .json or .json.gz trace files"):
        read_trace(tmp_path)


def test_frame_counts_time_from_the_first_request():
    trace = loads_trace(dumps_trace(loads_trace(json.dumps([RECORD, {**RECORD, "timestamp": "2017-06-20T02:41:20Z"}]))))
    frame = trace.frame()
    assert list(frame["time_s"]) == [0.0, 2.0] and trace.span_s == 2.0
    assert {"kind", "repository", "reference", "size", "client", "status"} <= set(frame.columns)
