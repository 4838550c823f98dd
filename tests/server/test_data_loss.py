"""Crashes and losses, cleanly: what a server killed mid-upload left is swept at start, and a blob
with more fragments lost than the codec tolerates is answered with an OCI error before any body
byte (or, found mid-stream, cuts the connection) with one log line and no traceback."""

from __future__ import annotations

import io
import logging
import os
import threading
import time

import httpx
import pytest
import uvicorn

from regsim.registry.blobstore import extent_key
from regsim.registry.digest import Digest
from regsim.registry.errors import ConfigError
from regsim.server import build_services, create_app, parse_config
from regsim.server.serve import bind, sweep_at_start

from .conftest import Client, digest_of, error_codes
from .test_metrics import scrape, value

MiB = 1 << 20
#: rs(4,2) with encryption, in 1 MiB extents so a 3 MiB blob has three
STORAGE = {"codec": "rs(4,2)", "nodes": 6, "encryption": "aes-256-gcm", "segment_size": 4096,
           "extent_size": MiB}
DATA = os.urandom(3 * MiB - 1000)


def _fragments_on(services, d: str, extent: int) -> list[tuple[str, str]]:
    """(node, fragment key) of every fragment of one extent of blob ``d``."""
    layout = services.registry.cluster.layout(extent_key(Digest.parse(d), extent))
    return [(node, layout.fragment_key(i)) for i, node in enumerate(layout.nodes)]


def _delete_fragments(services, d: str, extent: int, count: int) -> list[str]:
    nodes = []
    for node, key in _fragments_on(services, d, extent)[:count]:
        services.registry.cluster.node(node).delete(key)
        nodes.append(node)
    return nodes


def _errors(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


# -- stale upload parts at start -------------------------------------------------------------

def test_sweep_at_start_removes_stale_parts_and_says_so(tmp_path):
    config = parse_config({"registry": {"backend": "filesystem", "root": "data", **STORAGE, "upload_grace": 600}},
                          base_dir=tmp_path)
    services = build_services(config)
    try:
        uid = services.registry.start_upload("team/app")
        services.registry.upload_chunk("team/app", uid, b"kept")
        tmp = tmp_path / "data" / "meta" / "_tmp"
        stale, young = tmp / "777-killed.part", tmp / "778-young.part"
        stale.write_bytes(b"x" * 4096)
        young.write_bytes(b"y" * 10)
        then = time.time() - 601
        os.utime(stale, (then, then))
        out = io.StringIO()
        sweep_at_start(services, out)
        assert out.getvalue() == ("regsim serve: removed 0 stale upload sessions (0 bytes), 1 temporary parts "
                                  "(4,096 bytes) and the stored extents of 0 unfinished pushes (0 bytes), idle for "
                                  "more than 600 s\n")
        assert not stale.exists() and young.exists()
        assert services.registry.upload_offset("team/app", uid) == 4  # a young session stays resumable
        quiet = io.StringIO()
        sweep_at_start(services, quiet)
        assert quiet.getvalue() == ""  # nothing removed: nothing said
    finally:
        services.close()


def test_upload_grace_is_validated():
    with pytest.raises(ConfigError, match="registry.upload_grace"):
        parse_config({"registry": {"upload_grace": -1}})
    assert parse_config({}).registry_config().upload_grace_s == 3600


# -- unrecoverable blobs before the headers ----------------------------------------------------

@pytest.fixture
def lossy(make_client):
    return make_client({"registry": STORAGE})


def test_nodes_down_beyond_tolerance_is_503_before_any_byte(lossy, caplog):
    client, services = lossy
    d = client.push_blob("team/app", DATA)
    for node in ("s0", "s2", "s4"):
        services.registry.fail_node(node)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        r = client.get(f"/v2/team/app/blobs/{d}")
    assert r.status_code == 503
    assert error_codes(r) == ["BLOB_UNKNOWN"]
    assert r.headers["Content-Type"].startswith("application/json")
    assert DATA[:64] not in r.content
    body = r.json()["errors"][0]
    assert body["detail"] == {"digest": d, "extent": 0, "nodes": ["s0", "s2", "s4"]}
    [line] = _errors(caplog)
    assert line.exc_info is None and d in line.getMessage() and "s0, s2, s4" in line.getMessage()
    assert "\n" not in line.getMessage()

    samples = scrape(client)
    assert value(samples, "regsim_blob_unrecoverable_reads_total", when="before_headers") == 1
    assert value(samples, "regsim_blob_unrecoverable_reads_total", when="mid_stream") == 0
    assert value(samples, "regsim_blobs_lost") == 1

    for node in ("s0", "s2", "s4"):
        services.registry.restore_node(node)
    assert client.get(f"/v2/team/app/blobs/{d}").content == DATA
    assert value(scrape(client), "regsim_blobs_lost") == 0  # read whole again: no longer lost


def test_fragments_gone_from_a_later_extent_are_found_before_the_headers(lossy, caplog):
    client, services = lossy
    d = client.push_blob("team/app", DATA)
    nodes = _delete_fragments(services, d, 2, 3)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        r = client.get(f"/v2/team/app/blobs/{d}")
    assert r.status_code == 503 and error_codes(r) == ["BLOB_UNKNOWN"]
    assert r.json()["errors"][0]["detail"]["extent"] == 2
    [line] = _errors(caplog)
    assert line.exc_info is None and d in line.getMessage() and ", ".join(sorted(nodes)) in line.getMessage()
    # a range that does not touch the lost extent is still served
    r = client.get(f"/v2/team/app/blobs/{d}", headers={"Range": "bytes=0-999"})
    assert r.status_code == 206 and r.content == DATA[:1000]
    assert value(scrape(client), "regsim_blobs_lost") == 1


def test_a_tolerable_loss_is_a_degraded_read(lossy, caplog):
    client, services = lossy
    d = client.push_blob("team/app", DATA)
    services.registry.fail_node("s1")
    _delete_fragments(services, d, 1, 1)  # one more fragment of extent 1 gone: 2 lost of rs(4,2)'s 2
    with caplog.at_level(logging.INFO):
        r = client.get(f"/v2/team/app/blobs/{d}")
    assert r.status_code == 200 and r.content == DATA
    r = client.get(f"/v2/team/app/blobs/{d}", headers={"Range": f"bytes={MiB - 10}-{MiB + 10}"})
    assert r.status_code == 206 and r.content == DATA[MiB - 10 : MiB + 11]
    assert _errors(caplog) == []
    samples = scrape(client)
    assert value(samples, "regsim_blob_unrecoverable_reads_total", when="before_headers") == 0
    assert value(samples, "regsim_blobs_lost") == 0


# -- a loss found mid-stream, over a real socket ------------------------------------------------

@pytest.fixture
def served(make_client):
    """The app on uvicorn in a thread, on a socket bound (and listening) before the server runs."""
    _, services = make_client({"registry": STORAGE})
    app = create_app(services)
    sock = bind("127.0.0.1", 0)
    config = uvicorn.Config(app, http="h11", lifespan="off", log_config=None, log_level="info")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", services
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def test_a_loss_found_mid_stream_cuts_the_connection_with_one_line(served, caplog):
    url, services = served
    caplog.set_level(logging.INFO)
    with httpx.Client(base_url=url, timeout=60) as http:
        d = digest_of(DATA)
        assert http.post(f"/v2/team/app/blobs/uploads/?digest={d}", content=DATA).status_code == 201
        blobs = services.registry.blobs
        read_extent = blobs._read_extent
        lost_nodes = []

        def losing(digest, index, *args):
            if index == 1:  # the check before the headers passed; now three fragments go
                lost_nodes.extend(_delete_fragments(services, d, 1, 3))
            return read_extent(digest, index, *args)

        blobs._read_extent = losing
        caplog.clear()
        received = bytearray()
        with pytest.raises(httpx.RemoteProtocolError):
            with http.stream("GET", f"/v2/team/app/blobs/{d}") as r:
                assert r.status_code == 200 and r.headers["Content-Length"] == str(len(DATA))
                for piece in r.iter_bytes():
                    received += piece
        assert bytes(received) == DATA[:MiB]  # the first extent, then the cut
        blobs._read_extent = read_extent

        records = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(records) == 1, [r.getMessage() for r in records]
        [line] = records
        assert line.name == "regsim.server" and line.exc_info is None
        assert d in line.getMessage() and ", ".join(sorted(lost_nodes)) in line.getMessage()
        assert "connection cut after 1,048,576 of" in line.getMessage()

        text = http.get("/metrics").text
        assert 'regsim_blob_unrecoverable_reads_total{when="mid_stream"} 1.0' in text
        assert "regsim_blobs_lost 1.0" in text
        # the server is fine afterwards: the next request on a new connection is served
        assert http.get("/v2/").status_code == 200
