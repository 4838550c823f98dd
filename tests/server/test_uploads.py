"""Upload endpoints: monolithic, POST-PUT, chunked PATCH, status, cancel, mount (end-4 to end-6,
end-11, end-13, and the upload DELETE)."""

import pytest

from .conftest import digest_of, error_codes

DATA = b"layer bytes " * 5000  # 60,000 bytes


def _open(client, repo="team/app"):
    r = client.post(f"/v2/{repo}/blobs/uploads/")
    assert r.status_code == 202
    return r


def test_post_opens_a_session_with_location_range_and_uuid(client):
    r = _open(client)
    upload_id = r.headers["Docker-Upload-UUID"]
    assert r.headers["Location"].endswith(f"/v2/team/app/blobs/uploads/{upload_id}")
    assert r.headers["Range"] == "0-0"
    assert r.headers["Content-Length"] == "0"


def test_monolithic_post_with_digest_creates_the_blob(client):
    d = digest_of(DATA)
    r = client.post(f"/v2/team/app/blobs/uploads/?digest={d}", content=DATA)
    assert r.status_code == 201
    assert r.headers["Location"].endswith(f"/v2/team/app/blobs/{d}")
    assert r.headers["Docker-Content-Digest"] == d
    assert client.get(f"/v2/team/app/blobs/{d}").content == DATA


def test_monolithic_post_with_a_wrong_digest_is_digest_invalid(client):
    wrong = digest_of(b"something else")
    r = client.post(f"/v2/team/app/blobs/uploads/?digest={wrong}", content=DATA)
    assert r.status_code == 400 and error_codes(r) == ["DIGEST_INVALID"]
    assert client.head(f"/v2/team/app/blobs/{wrong}").status_code == 404


def test_post_then_put_uploads_in_two_steps(client):
    loc = _open(client).headers["Location"]
    d = digest_of(DATA)
    r = client.put(f"{loc}?digest={d}", content=DATA)
    assert r.status_code == 201 and r.headers["Docker-Content-Digest"] == d
    assert client.get(f"/v2/team/app/blobs/{d}").content == DATA


def test_chunked_upload_in_order(client):
    loc = _open(client).headers["Location"]
    cuts = [0, 10_000, 35_000, len(DATA)]
    for start, end in zip(cuts, cuts[1:]):
        r = client.patch(loc, content=DATA[start:end], headers={"Content-Range": f"{start}-{end - 1}",
                                                                 "Content-Type": "application/octet-stream"})
        assert r.status_code == 202, r.text
        assert r.headers["Range"] == f"0-{end - 1}"
        loc = r.headers["Location"]
    status = client.get(loc)
    assert status.status_code == 204 and status.headers["Range"] == f"0-{len(DATA) - 1}"
    d = digest_of(DATA)
    assert client.put(f"{loc}?digest={d}").status_code == 201
    assert client.get(f"/v2/team/app/blobs/{d}").content == DATA


def test_streamed_patch_without_content_range_appends(client):
    loc = _open(client).headers["Location"]
    client.patch(loc, content=DATA[:100])
    r = client.patch(loc, content=DATA[100:])
    assert r.headers["Range"] == f"0-{len(DATA) - 1}"
    assert client.put(f"{loc}?digest={digest_of(DATA)}").status_code == 201


def test_out_of_order_chunk_is_416_with_the_current_range(client):
    loc = _open(client).headers["Location"]
    client.patch(loc, content=DATA[:1000], headers={"Content-Range": "0-999"})
    r = client.patch(loc, content=DATA[2000:3000], headers={"Content-Range": "2000-2999"})
    assert r.status_code == 416
    assert r.headers["Range"] == "0-999"
    assert r.headers["Location"] == loc
    assert error_codes(r) == ["BLOB_UPLOAD_INVALID"]
    # the session survives: the right chunk is still accepted
    r = client.patch(loc, content=DATA[1000:], headers={"Content-Range": f"1000-{len(DATA) - 1}"})
    assert r.status_code == 202
    assert client.put(f"{loc}?digest={digest_of(DATA)}").status_code == 201


def test_first_chunk_not_at_zero_is_416_with_range_0_0(client):
    loc = _open(client).headers["Location"]
    r = client.patch(loc, content=b"abc", headers={"Content-Range": "5-7"})
    assert r.status_code == 416 and r.headers["Range"] == "0-0"


def test_content_range_disagreeing_with_length_is_size_invalid(client):
    loc = _open(client).headers["Location"]
    r = client.patch(loc, content=b"abcd", headers={"Content-Range": "0-9"})
    assert r.status_code == 400 and error_codes(r) == ["SIZE_INVALID"]


def test_final_put_with_wrong_digest_is_digest_invalid_and_keeps_the_session(client):
    loc = _open(client).headers["Location"]
    client.patch(loc, content=DATA, headers={"Content-Range": f"0-{len(DATA) - 1}"})
    r = client.put(f"{loc}?digest={digest_of(b'other')}")
    assert r.status_code == 400 and error_codes(r) == ["DIGEST_INVALID"]
    assert client.put(f"{loc}?digest={digest_of(DATA)}").status_code == 201


def test_put_without_digest_is_digest_invalid(client):
    loc = _open(client).headers["Location"]
    r = client.put(loc, content=b"x")
    assert r.status_code == 400 and error_codes(r) == ["DIGEST_INVALID"]


def test_cancel_ends_the_session(client):
    loc = _open(client).headers["Location"]
    client.patch(loc, content=DATA[:10])
    assert client.delete(loc).status_code == 204
    r = client.get(loc)
    assert r.status_code == 404 and error_codes(r) == ["BLOB_UPLOAD_UNKNOWN"]
    assert client.patch(loc, content=b"x").status_code == 404


def test_unknown_upload_is_blob_upload_unknown(client):
    r = client.patch("/v2/team/app/blobs/uploads/0123456789abcdef", content=b"x")
    assert r.status_code == 404 and error_codes(r) == ["BLOB_UPLOAD_UNKNOWN"]


def test_session_of_another_repository_is_unknown_here(client):
    upload_id = _open(client, "team/app").headers["Docker-Upload-UUID"]
    r = client.get(f"/v2/team/other/blobs/uploads/{upload_id}")
    assert r.status_code == 404


def test_cross_repository_mount(client):
    d = client.push_blob("team/base", DATA)
    r = client.post(f"/v2/team/app/blobs/uploads/?mount={d}&from=team/base")
    assert r.status_code == 201
    assert r.headers["Location"].endswith(f"/v2/team/app/blobs/{d}")
    assert r.headers["Docker-Content-Digest"] == d
    assert client.get(f"/v2/team/app/blobs/{d}").content == DATA


@pytest.mark.parametrize("source", ["team/empty", "Bad/Name"])
def test_mount_of_a_missing_blob_opens_a_session_instead(client, source):
    d = digest_of(DATA)
    r = client.post(f"/v2/team/app/blobs/uploads/?mount={d}&from={source}")
    assert r.status_code == 202
    assert "Docker-Upload-UUID" in r.headers


def test_upload_to_an_invalid_name_is_name_invalid(client):
    r = client.post("/v2/Team/App/blobs/uploads/")
    assert r.status_code == 400 and error_codes(r) == ["NAME_INVALID"]
