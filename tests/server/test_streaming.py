"""Streaming both ways over a real socket: blobs go up (monolithic and chunked) and come back down
verified, while the server's peak resident memory grows by far less than a blob.

The registry stores blobs in extents of 64 MiB and works on one extent at a time (up to two
copies of one while it is read), so the bound is a few extents whatever the blob's size; the
blob is five extents long, so a server that held it whole would fail.
"""

import hashlib
from pathlib import Path

import httpx
import pytest

from .conftest import running_server

pytestmark = pytest.mark.slow

SIZE = 320 << 20   # five 64 MiB extents
PIECE = 1 << 20
BOUND = 200 << 20  # about three extents: well under one blob


def peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc status")


def pieces(seed: bytes):
    """SIZE pseudo-random bytes, generated piece by piece (the client never holds them whole)."""
    block = hashlib.sha512(seed).digest() * (PIECE // 64)
    for i in range(SIZE // PIECE):
        yield block[i % 64:] + block[:i % 64]


def digest_of_pieces(seed: bytes) -> str:
    h = hashlib.sha256()
    for p in pieces(seed):
        h.update(p)
    return "sha256:" + h.hexdigest()


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc to read peak memory")
def test_large_blob_streams_through_without_being_held(tmp_path):
    config = {"registry": {"backend": "filesystem", "root": str(tmp_path / "store"), "fsync": False},
              "http": {"metrics": False}}
    with running_server(tmp_path, config) as server, httpx.Client(base_url=server.url, timeout=120) as http:
        http.get("/v2/")
        baseline = peak_rss(server.process.pid)
        d = digest_of_pieces(b"mono")
        r = http.post(f"/v2/big/blob/blobs/uploads/?digest={d}", content=pieces(b"mono"))
        assert r.status_code == 201, r.text

        loc = http.post("/v2/big/blob/blobs/uploads/").headers["Location"]
        chunked, offset = digest_of_pieces(b"chunked"), 0
        gen = pieces(b"chunked")
        half = SIZE // PIECE // 2
        for _ in range(2):  # two PATCHes of half the blob each, streamed from the generator
            n = half * PIECE
            body = (next(gen) for _ in range(half))
            r = http.patch(loc, content=body, headers={"Content-Range": f"{offset}-{offset + n - 1}",
                                                       "Content-Length": str(n)})
            assert r.status_code == 202, r.text
            offset += n
            loc = r.headers["Location"]
        assert http.put(f"{loc}?digest={chunked}").status_code == 201  # the registry checks the digest

        h, got = hashlib.sha256(), 0
        with http.stream("GET", f"/v2/big/blob/blobs/{d}") as r:
            assert r.status_code == 200 and int(r.headers["Content-Length"]) == SIZE
            for part in r.iter_bytes():
                h.update(part)
                got += len(part)
        assert got == SIZE and "sha256:" + h.hexdigest() == d
        growth = peak_rss(server.process.pid) - baseline
        print(f"server peak RSS growth: {growth / 2**20:.1f} MiB for {SIZE >> 20} MiB blobs")
        assert growth < BOUND, f"server peak memory grew by {growth / 2**20:.0f} MiB for {SIZE >> 20} MiB blobs"
