"""Blob endpoints: GET, HEAD, Range, DELETE, and their errors (spec end-2, end-10)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regsim.server.blobs import RangeNotSatisfiable, parse_range

from .conftest import digest_of, error_codes

DATA = bytes(range(256)) * 300  # 76,800 bytes: several 4 KiB encryption segments


def test_get_returns_the_bytes_with_digest_and_length(client):
    d = client.push_blob("team/app", DATA)
    r = client.get(f"/v2/team/app/blobs/{d}")
    assert r.status_code == 200
    assert r.content == DATA
    assert r.headers["Docker-Content-Digest"] == d
    assert r.headers["Content-Length"] == str(len(DATA))
    assert r.headers["Accept-Ranges"] == "bytes"
    assert r.headers["Docker-Distribution-API-Version"] == "registry/2.0"


def test_head_gives_size_and_digest_without_a_body(client):
    d = client.push_blob("team/app", DATA)
    r = client.head(f"/v2/team/app/blobs/{d}")
    assert r.status_code == 200
    assert r.content == b""
    assert r.headers["Content-Length"] == str(len(DATA))
    assert r.headers["Docker-Content-Digest"] == d


@pytest.mark.parametrize("header, start, end", [
    ("bytes=0-9", 0, 9),
    ("bytes=4000-8200", 4000, 8200),        # crosses encryption segments
    ("bytes=76000-", 76000, len(DATA) - 1),  # open-ended
    ("bytes=-100", len(DATA) - 100, len(DATA) - 1),  # suffix
    ("bytes=76700-999999", 76700, len(DATA) - 1),    # end clamped to the blob
])
def test_range_requests_get_206_and_content_range(client, header, start, end):
    d = client.push_blob("team/app", DATA)
    r = client.get(f"/v2/team/app/blobs/{d}", headers={"Range": header})
    assert r.status_code == 206
    assert r.headers["Content-Range"] == f"bytes {start}-{end}/{len(DATA)}"
    assert r.content == DATA[start:end + 1]
    assert r.headers["Content-Length"] == str(end - start + 1)


def test_range_past_the_end_is_416_with_the_size(client):
    d = client.push_blob("team/app", DATA)
    r = client.get(f"/v2/team/app/blobs/{d}", headers={"Range": f"bytes={len(DATA)}-"})
    assert r.status_code == 416
    assert r.headers["Content-Range"] == f"bytes */{len(DATA)}"


@pytest.mark.parametrize("header", ["bytes=0-1,5-6", "items=0-1", "bytes=9-2", "garbage"])
def test_unusable_range_headers_are_ignored(client, header):
    d = client.push_blob("team/app", DATA)
    r = client.get(f"/v2/team/app/blobs/{d}", headers={"Range": header})
    assert r.status_code == 200 and r.content == DATA


def test_unknown_blob_is_blob_unknown_404(client):
    client.push_blob("team/app", DATA)
    r = client.get(f"/v2/team/app/blobs/{digest_of(b'never pushed')}")
    assert r.status_code == 404
    assert error_codes(r) == ["BLOB_UNKNOWN"]
    assert r.headers["Content-Type"].startswith("application/json")


def test_head_of_unknown_blob_is_404_without_body(client):
    r = client.head(f"/v2/team/app/blobs/{digest_of(b'x')}")
    assert r.status_code == 404 and r.content == b""


def test_blob_of_another_repository_is_not_served(client):
    d = client.push_blob("team/app", DATA)
    assert client.get(f"/v2/team/other/blobs/{d}").status_code == 404


def test_malformed_digest_is_digest_invalid(client):
    r = client.get("/v2/team/app/blobs/sha256:abc")
    assert r.status_code == 400 and error_codes(r) == ["DIGEST_INVALID"]


def test_delete_unlinks_the_blob(client):
    d = client.push_blob("team/app", DATA)
    r = client.delete(f"/v2/team/app/blobs/{d}")
    assert r.status_code == 202
    assert r.headers["Docker-Content-Digest"] == d
    assert client.head(f"/v2/team/app/blobs/{d}").status_code == 404
    assert client.delete(f"/v2/team/app/blobs/{d}").status_code == 404


def test_wrong_method_is_405_unsupported(client):
    d = client.push_blob("team/app", DATA)
    r = client.put(f"/v2/team/app/blobs/{d}", content=b"x")
    assert r.status_code == 405 and error_codes(r) == ["UNSUPPORTED"]


def test_empty_blob_round_trips(client):
    d = client.push_blob("team/app", b"")
    r = client.get(f"/v2/team/app/blobs/{d}")
    assert r.status_code == 200 and r.content == b""


@settings(max_examples=60, deadline=None)
@given(size=st.integers(0, 10_000), a=st.integers(0, 12_000), b=st.integers(0, 12_000))
def test_parse_range_agrees_with_slicing(size, a, b):
    data = bytes(size)
    header = f"bytes={a}-{b}"
    try:
        got = parse_range(header, size)
    except RangeNotSatisfiable:
        assert a >= size and b >= a
        return
    if got is None:
        assert b < a
        return
    offset, length = got
    assert data[offset:offset + length] == data[a:b + 1]
    assert length == len(data[a:b + 1]) > 0
