"""Blobs come back exactly, whatever their size and whatever range is asked for.

The server streams a blob one stored extent at a time and hands each extent to the HTTP layer in
slices of :data:`~regsim.server.blobs.SLICE` (1 MiB). The sizes that matter are those where the
two grids disagree: an extent or a blob that is not a whole number of slices, 1 MiB +- 1, whole
extents +- 1, several extents. The registries here use small extents (a little over one slice,
and two slices) so such sizes stay a few MiB and the properties run fast. The in-process client
does not enforce Content-Length, so each test also checks it against the body; the last test
goes through a real socket, where uvicorn's HTTP layer refuses a body longer than declared.
"""

import random

import anyio
import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from regsim.server.blobs import SLICE, slice_bounds, sliced

from .conftest import RS_ENCRYPTED, digest_of, running_server

ODD_EXTENT = SLICE + 4099   # extents that are not a whole number of slices
EVEN_EXTENT = 2 * SLICE     # extents that are, with a partial last extent
PROPERTY = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def blob(size: int) -> bytes:
    """``size`` reproducible pseudo-random bytes (a shifted or repeated slice would show)."""
    return random.Random(size).randbytes(size)


def boundaries(extent: int, count: int = 4) -> list[int]:
    """Sizes next to every multiple of a slice and of an extent, up to ``count`` extents."""
    marks = {k * unit + d for unit in (SLICE, extent) for k in range(count + 1) for d in (-1, 0, 1)}
    return sorted(m for m in marks if 0 <= m <= count * extent + 1)


def collect(extents: list[bytes], size: int) -> list[bytes]:
    async def run() -> list[bytes]:
        return [bytes(piece) async for piece in sliced(iter(extents), size)]
    return anyio.run(run)


@settings(max_examples=200, deadline=None)
@given(lengths=st.lists(st.integers(0, 40), max_size=6), size=st.integers(1, 16))
def test_slices_cover_every_extent_exactly_once(lengths, size):
    extents = [bytes((i * 7 + j) % 251 for j in range(n)) for i, n in enumerate(lengths)]
    pieces = collect(extents, size)
    assert b"".join(pieces) == b"".join(extents)
    assert all(0 < len(p) <= size for p in pieces)
    assert len(pieces) == sum(-(-n // size) for n in lengths)


@pytest.mark.parametrize("length", [0, 1, SLICE - 1, SLICE, SLICE + 1, 1_500_000, 3 * SLICE, 3 * SLICE + 1])
def test_slice_bounds_tile_the_extent(length):
    bounds = slice_bounds(length)
    assert [b - a for a, b in bounds] == [SLICE] * (length // SLICE) + ([length % SLICE] if length % SLICE else [])
    starts, stops = [a for a, _ in bounds], [b for _, b in bounds]
    assert starts == ([0] + stops)[:len(bounds)]  # each piece starts where the one before stopped


@pytest.mark.parametrize("extent", [ODD_EXTENT, EVEN_EXTENT])
def test_any_blob_size_comes_back_exactly(make_client, extent):
    client, _ = make_client({"registry": {"extent_size": extent}})

    @PROPERTY
    @given(size=st.one_of(st.sampled_from(boundaries(extent)), st.integers(0, 4 * extent + 1)))
    @example(size=1_048_577)
    @example(size=1_500_000)
    @example(size=3_000_000)
    def check(size):
        data = blob(size)
        d = client.push_blob("team/app", data)
        r = client.get(f"/v2/team/app/blobs/{d}")
        assert r.status_code == 200
        assert int(r.headers["Content-Length"]) == len(r.content) == size
        assert r.content == data

    check()


def test_any_range_comes_back_exactly(make_client):
    """Ranges over an erasure-coded, encrypted blob of three and a half odd-sized extents."""
    client, _ = make_client({"registry": {**RS_ENCRYPTED, "extent_size": ODD_EXTENT}})
    size = 3 * ODD_EXTENT + ODD_EXTENT // 2
    data = blob(size)
    d = client.push_blob("team/app", data)
    marks = st.sampled_from(boundaries(ODD_EXTENT, 4))
    offsets = st.one_of(marks, st.integers(0, size + 2))

    @PROPERTY
    @given(first=offsets, last=st.one_of(st.none(), offsets), suffix=st.booleans())
    @example(first=100, last=None, suffix=False)
    @example(first=0, last=SLICE, suffix=False)
    @example(first=0, last=SLICE, suffix=True)
    def check(first, last, suffix):
        if suffix:  # the last n bytes
            n = max(first, 1)
            header, start, stop = f"bytes=-{n}", max(0, size - n), size
        elif last is None:
            header, start, stop = f"bytes={first}-", first, size
        else:
            first, last = min(first, last), max(first, last)
            header, start, stop = f"bytes={first}-{last}", first, min(last + 1, size)
        r = client.get(f"/v2/team/app/blobs/{d}", headers={"Range": header})
        if start >= size:
            assert r.status_code == 416
            assert r.headers["Content-Range"] == f"bytes */{size}"
            return
        assert r.status_code == 206
        assert r.headers["Content-Range"] == f"bytes {start}-{stop - 1}/{size}"
        assert int(r.headers["Content-Length"]) == len(r.content) == stop - start
        assert r.content == data[start:stop]

    check()


def test_sizes_that_are_not_whole_slices_go_through_a_real_socket(tmp_path):
    """uvicorn refuses to send more than Content-Length says, and a client sees a short body: the
    failure the audit found with skopeo and oras (1,500,000 bytes arrived as 1,048,576)."""
    sizes = [1_048_577, 1_500_000, 2 * ODD_EXTENT + 1]
    with running_server(tmp_path, {"registry": {"extent_size": ODD_EXTENT}, "http": {"metrics": False}}) as server, \
            httpx.Client(base_url=server.url, timeout=60) as http:
        for size in sizes:
            data = blob(size)
            d = digest_of(data)
            assert http.post(f"/v2/team/app/blobs/uploads/?digest={d}", content=data).status_code == 201
            r = http.get(f"/v2/team/app/blobs/{d}")
            assert r.status_code == 200 and int(r.headers["Content-Length"]) == size
            assert r.content == data, f"{size}-byte blob came back as {len(r.content)} bytes"
            r = http.get(f"/v2/team/app/blobs/{d}", headers={"Range": "bytes=100-"})
            assert r.status_code == 206 and r.content == data[100:]
