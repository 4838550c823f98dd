"""One conformance suite for every blob backend, then what only some backends promise.

Every backend -- memory, filesystem, S3 (on a moto server), and each wrapped in MeteredBackend --
must pass the parametrised tests; the filesystem section covers atomicity and crash safety, the
metered section the receipts and counters, the factory section configuration errors (what only
S3 promises is in test_backend_s3.py).
"""

from __future__ import annotations

import errno
import gc
import os
import time
from concurrent.futures import ThreadPoolExecutor
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regsim.registry import receipts
from regsim.registry.errors import BlobUploadInvalid, ConfigError, InvalidKey, KeyNotFound
from regsim.registry.receipts import Kind
from regsim.registry.storage import (
    BackendWriter,
    BlobBackend,
    FilesystemBackend,
    MemoryBackend,
    MeteredBackend,
    backend_kinds,
    factory,
    make_backend,
    register_backend,
)

from .killed_child import kill_when_ready
from .s3_server import moto_endpoint, s3_bucket, s3_credentials  # noqa: F401  (fixtures)

BAD_KEYS = ["../x", "/abs", "a//b", "a/./b", "a/\x00b", "a\\b", "", "a/", "a/../../b", "sp ace"]


@pytest.fixture(params=["memory", "filesystem", "s3", "metered-memory", "metered-filesystem", "metered-s3"])
def backend(request, tmp_path):
    if request.param.endswith("memory"):
        inner = MemoryBackend("mem")
    elif request.param.endswith("s3"):
        inner = request.getfixturevalue("s3_bucket").backend(name="s3", prefix="store")
    else:
        inner = FilesystemBackend(tmp_path / "store", name="fs")
    return MeteredBackend(inner) if request.param.startswith("metered") else inner


# -- conformance: every backend ----------------------------------------------------------------


def test_implements_the_protocol(backend):
    assert isinstance(backend, BlobBackend)
    w = backend.writer("k")
    assert isinstance(w, BackendWriter) and w.key == "k"
    w.cancel()


@pytest.mark.parametrize("wrap", [bytes, bytearray, memoryview])
def test_round_trip(backend, wrap):
    data = bytes(range(256)) * 7
    backend.put("blobs/sha256/ab/obj", wrap(data))
    assert backend.get("blobs/sha256/ab/obj") == data
    assert isinstance(backend.get("blobs/sha256/ab/obj"), bytes)
    assert backend.stat("blobs/sha256/ab/obj") == len(data)
    assert backend.exists("blobs/sha256/ab/obj")
    assert not backend.exists("blobs/sha256/ab/other")


def test_zero_length_object(backend):
    backend.put("empty", b"")
    assert backend.exists("empty")
    assert backend.get("empty") == b""
    assert backend.stat("empty") == 0
    assert backend.read_at("empty", 0, 10) == b""
    assert list(backend.list()) == ["empty"]


def test_overwrite_replaces_content(backend):
    backend.put("k", b"first version, longer")
    backend.put("k", b"second")
    assert backend.get("k") == b"second"
    assert backend.stat("k") == 6


def test_read_at(backend):
    backend.put("k", b"0123456789")
    assert backend.read_at("k", 2, 3) == b"234"
    assert backend.read_at("k", 0, 10) == b"0123456789"
    assert backend.read_at("k", 7, 10) == b"789"  # fewer only at the end
    assert backend.read_at("k", 10, 5) == b""  # at the end
    assert backend.read_at("k", 25, 5) == b""  # past the end
    assert backend.read_at("k", 3, 0) == b""
    assert backend.read_at("k", 4, 10**15) == b"456789"  # a huge length is not allocated
    with pytest.raises(ValueError):
        backend.read_at("k", -1, 3)
    with pytest.raises(ValueError):
        backend.read_at("k", 0, -3)


@pytest.mark.parametrize("op", ["stat", "get", "delete", "read_at"])
def test_missing_key_raises_key_not_found(backend, op):
    backend.put("present/x", b"x")
    args = (0, 1) if op == "read_at" else ()
    for key in ["absent", "present", "present/x/deeper"]:
        with pytest.raises(KeyNotFound, match="no object"):
            getattr(backend, op)(key, *args)
    assert not backend.exists("absent")


def test_delete(backend):
    backend.put("a/b/c", b"1")
    backend.put("a/d", b"2")
    backend.delete("a/b/c")
    assert not backend.exists("a/b/c")
    assert list(backend.list()) == ["a/d"]
    with pytest.raises(KeyNotFound):
        backend.delete("a/b/c")
    backend.put("a/b/c", b"again")  # a deleted key (and its emptied directory) can be reused
    assert backend.get("a/b/c") == b"again"


def test_list_prefixes_sorted(backend):
    keys = ["blobs/sha256/ab/2", "blobs/sha256/aa/1", "blobs/sha512/x", "blobsx/y", "a/b", "a-c/d", "m"]
    for k in keys:
        backend.put(k, k.encode())
    assert list(backend.list()) == sorted(keys)  # "a-c/d" sorts before "a/b": not a per-level walk
    assert list(backend.list("blobs")) == ["blobs/sha256/aa/1", "blobs/sha256/ab/2", "blobs/sha512/x"]
    assert list(backend.list("blobs/")) == list(backend.list("blobs"))
    assert list(backend.list("blobs/sha256/aa")) == ["blobs/sha256/aa/1"]
    assert list(backend.list("blob")) == []  # prefixes are directory-like
    assert list(backend.list("nothing/here")) == []
    assert list(backend.list("m")) == []  # an object is not a directory


def test_list_hides_unfinished_writes(backend):
    backend.put("done", b"d")
    w = backend.writer("pending/obj")
    w.write(b"partial")
    cancelled = backend.writer("cancelled")
    cancelled.write(b"x")
    cancelled.cancel()
    assert list(backend.list()) == ["done"]
    w.commit()
    assert list(backend.list()) == ["done", "pending/obj"]


def test_writer_commit(backend):
    w = backend.writer("up/obj")
    assert w.size == 0
    assert w.write(b"hello ") == 6
    assert w.write(memoryview(b"world")) == 5
    assert w.size == 11
    assert not backend.exists("up/obj")  # nothing visible before commit
    w.commit()
    assert backend.get("up/obj") == b"hello world"
    with pytest.raises(BlobUploadInvalid):
        w.write(b"more")
    with pytest.raises(BlobUploadInvalid):
        w.commit()


def test_writer_keeps_old_content_until_commit(backend):
    backend.put("k", b"old")
    with backend.writer("k") as w:
        w.write(b"new")
        assert backend.get("k") == b"old"
    assert backend.get("k") == b"new"


def test_writer_cancel(backend):
    backend.put("k", b"old")
    w = backend.writer("k")
    w.write(b"new data")
    w.cancel()
    assert backend.get("k") == b"old"
    w.cancel()  # idempotent
    with pytest.raises(BlobUploadInvalid):
        w.write(b"x")
    with pytest.raises(BlobUploadInvalid):
        w.commit()
    with backend.writer("fresh") as w2:
        w2.write(b"x")
        w2.cancel()  # an explicit cancel inside `with` is not undone by the exit
    assert not backend.exists("fresh")


def test_exception_inside_with_cancels(backend):
    backend.put("k", b"old")
    with pytest.raises(RuntimeError, match="boom"):
        with backend.writer("k") as w:
            w.write(b"half of the new")
            raise RuntimeError("boom")
    assert backend.get("k") == b"old"
    with pytest.raises(RuntimeError):
        with backend.writer("new") as w:
            w.write(b"x")
            raise RuntimeError("boom")
    assert not backend.exists("new")
    assert list(backend.list()) == ["k"]


def test_append_writer_continues_committed_object(backend):
    backend.put("uploads/u1", b"abc")
    with backend.writer("uploads/u1", append=True) as w:
        assert w.size == 3
        w.write(b"def")
        assert w.size == 6
        assert backend.get("uploads/u1") == b"abc"
    assert backend.get("uploads/u1") == b"abcdef"
    w = backend.writer("uploads/u1", append=True)
    w.write(b"zzz")
    w.cancel()
    assert backend.get("uploads/u1") == b"abcdef"
    with backend.writer("uploads/missing", append=True) as w:
        assert w.size == 0
        w.write(b"start")
    assert backend.get("uploads/missing") == b"start"


@pytest.mark.parametrize("key", BAD_KEYS)
def test_invalid_keys_rejected(backend, key):
    calls = [
        lambda: backend.put(key, b"x"),
        lambda: backend.get(key),
        lambda: backend.read_at(key, 0, 1),
        lambda: backend.stat(key),
        lambda: backend.exists(key),
        lambda: backend.delete(key),
        lambda: backend.writer(key),
        lambda: backend.writer(key, append=True),
    ]
    if key not in ("", "a/"):  # '' lists everything; a trailing slash is fine on a prefix
        calls.append(lambda: list(backend.list(key)))
    for call in calls:
        with pytest.raises(InvalidKey):
            call()
    assert list(backend.list()) == []


@st.composite
def chunked(draw):
    data = draw(st.binary(max_size=3000))
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=8)))
    bounds = [0, *cuts, len(data)]
    return data, [data[a:b] for a, b in zip(bounds, bounds[1:])]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    initial=st.binary(max_size=300),
    parts=chunked(),
    wrap=st.sampled_from([bytes, bytearray, memoryview]),
    append=st.booleans(),
    window=st.tuples(st.integers(0, 3500), st.integers(0, 3500)),
)
def test_any_chunking_reads_back_identical(backend, initial, parts, wrap, append, window):
    data, chunks = parts
    backend.put("hyp/obj", initial)
    expected = (initial if append else b"") + data
    with backend.writer("hyp/obj", append=append) as w:
        for chunk in chunks:
            assert w.write(wrap(chunk)) == len(chunk)
        assert w.size == len(expected)
    assert backend.get("hyp/obj") == expected
    assert backend.stat("hyp/obj") == len(expected)
    offset, length = window
    assert backend.read_at("hyp/obj", offset, length) == expected[offset : offset + length]


# -- filesystem: layout, atomicity, crash safety, confinement -----------------------------------


@pytest.fixture
def fs(tmp_path):
    return FilesystemBackend(tmp_path / "store", name="fs")


def temp_files(fs: FilesystemBackend) -> list[str]:
    return sorted(os.listdir(fs.root / "_tmp"))


def test_filesystem_layout(fs):
    fs.put("blobs/sha256/ab/data", b"payload")
    assert (fs.root / "data" / "blobs" / "sha256" / "ab" / "data").read_bytes() == b"payload"
    w = fs.writer("uploads/u")
    w.write(b"x")
    assert len(temp_files(fs)) == 1 and temp_files(fs)[0].endswith(".part")
    w.commit()
    assert temp_files(fs) == []


def test_filesystem_objects_survive_a_new_instance(fs):
    fs.put("a/b", b"kept")
    again = FilesystemBackend(fs.root)
    assert again.get("a/b") == b"kept"
    assert list(again.list()) == ["a/b"]


def test_filesystem_without_fsync_still_round_trips(tmp_path):
    fs = FilesystemBackend(tmp_path, fsync=False)
    with mock.patch("os.fsync", side_effect=AssertionError("fsync called")):
        fs.put("a/b", b"data")
        fs.delete("a/b")
        fs.put("a/b", b"data2")
    assert fs.get("a/b") == b"data2"


def test_interrupted_write_leaves_nothing(fs):
    fs.put("blobs/old", b"previous")
    for key in ["blobs/old", "blobs/new"]:
        with pytest.raises(RuntimeError):
            with fs.writer(key) as w:
                w.write(b"a" * 10_000)
                raise RuntimeError("client went away")
    assert fs.get("blobs/old") == b"previous"
    assert not fs.exists("blobs/new")
    assert list(fs.list()) == ["blobs/old"]
    assert temp_files(fs) == []


def test_failed_fsync_on_commit_leaves_nothing(fs):
    fs.put("k", b"old")
    with mock.patch("os.fsync", side_effect=OSError(errno.ENOSPC, "No space left on device")):
        with pytest.raises(OSError, match="No space"):
            fs.put("k", b"new")
        with pytest.raises(OSError, match="No space"):
            fs.put("other", b"new")
    assert fs.get("k") == b"old"
    assert list(fs.list()) == ["k"]
    assert temp_files(fs) == []


def test_failed_write_cancels_the_writer(fs):
    w = fs.writer("k")
    with mock.patch("os.write", side_effect=OSError(errno.EIO, "I/O error")):
        with pytest.raises(OSError, match="I/O error"):
            w.write(b"data")
    assert temp_files(fs) == []
    with pytest.raises(BlobUploadInvalid):
        w.commit()


def test_abandoned_writer_removes_its_temp_file(fs):
    w = fs.writer("k")
    w.write(b"data")
    assert len(temp_files(fs)) == 1
    del w
    gc.collect()
    assert temp_files(fs) == []
    assert not fs.exists("k")


CHILD = r"""
import sys
from regsim.registry.storage import FilesystemBackend
backend = FilesystemBackend(sys.argv[1])
w = backend.writer("blobs/victim")
chunk = b"n" * 65536
w.write(chunk)
sys.stdout.write("writing\n")
sys.stdout.flush()
for _ in range(1024):      # keep writing (at most 64 MiB) until killed
    w.write(chunk)
sys.stdin.read()
"""


def test_killed_writer_process_leaves_no_object(fs):
    fs.put("blobs/victim", b"committed before the crash")
    assert kill_when_ready(CHILD, str(fs.root)) == "writing"
    fresh = FilesystemBackend(fs.root)
    assert fresh.get("blobs/victim") == b"committed before the crash"
    assert list(fresh.list()) == ["blobs/victim"]
    assert len(temp_files(fresh)) == 1  # the dead writer's temp file, invisible to readers
    assert fresh.sweep_temp(0) == 1
    assert temp_files(fresh) == []


def test_sweep_temp_spares_young_and_open_files(fs):
    stale = fs.root / "_tmp" / "12345-stale.part"
    stale.write_bytes(b"left by a crash")
    hour_ago = time.time() - 3600
    os.utime(stale, (hour_ago, hour_ago))
    young = fs.writer("young")
    young.write(b"in progress")
    old_open = fs.writer("old-open")
    old_open.write(b"idle upload")
    os.utime(old_open._temp, (hour_ago, hour_ago))
    assert fs.sweep_temp(600) == 1
    assert not stale.exists()
    assert fs.sweep_temp(0) == 0  # both remaining temp files belong to open writers
    young.commit()
    old_open.commit()
    assert fs.get("old-open") == b"idle upload"
    with pytest.raises(ValueError):
        fs.sweep_temp(-1)


def test_keys_resolving_outside_the_root_are_refused(fs, tmp_path):
    for key in ["../escape", "/etc/passwd", "a/../../escape", "a\x00b", ".", "a//b"]:
        with pytest.raises(InvalidKey):
            fs._split(key)  # refused even without check_key
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"not yours")
    os.symlink(outside, fs.root / "data" / "link")
    os.symlink(outside / "secret", fs.root / "data" / "file-link")
    calls = [
        lambda: fs.get("link/secret"),
        lambda: fs.read_at("link/secret", 0, 1),
        lambda: fs.put("link/new", b"x"),
        lambda: fs.writer("link/secret", append=True),
        lambda: list(fs.list("link")),
        lambda: fs.exists("link/secret"),
        lambda: fs.get("file-link"),
        lambda: fs.stat("file-link"),
        lambda: fs.delete("file-link"),
    ]
    for call in calls:
        with pytest.raises(InvalidKey, match="symbolic link"):
            call()
    assert sorted(os.listdir(outside)) == ["secret"]
    assert list(fs.list()) == []  # a symlink is not an object


def test_key_that_is_both_object_and_directory_is_refused(fs):
    fs.put("a", b"object")
    with pytest.raises(InvalidKey, match="existing object"):
        fs.put("a/b", b"x")
    fs.put("c/d", b"object")
    with pytest.raises(InvalidKey, match="directory"):
        fs.put("c", b"x")
    assert list(fs.list()) == ["a", "c/d"]
    assert temp_files(fs) == []


def test_delete_prunes_empty_directories(fs):
    fs.put("x/y/z", b"1")
    fs.put("x/w", b"2")
    fs.delete("x/y/z")
    assert sorted(os.listdir(fs.root / "data" / "x")) == ["w"]
    fs.delete("x/w")
    assert os.listdir(fs.root / "data") == []


# -- metered: receipts and counters ----------------------------------------------------------


@pytest.fixture(params=["memory", "filesystem"])
def inner(request, tmp_path):
    return MemoryBackend("s1") if request.param == "memory" else FilesystemBackend(tmp_path, name="s1")


def only_item(receipt, kind):
    assert [i.kind for i in receipt] == [kind]
    return receipt.items[0]


def test_metered_put_get_read_at_record_bytes_and_node(inner):
    m = MeteredBackend(inner)
    with receipts.collect() as r:
        m.put("k", b"x" * 1000)
    item = only_item(r, Kind.DISK_WRITE)
    assert (item.amount, item.node) == (1000, "s1")
    assert item.wall_s >= 0 and item.cpu_s >= 0
    with receipts.collect() as r:
        assert len(m.get("k")) == 1000
    item = only_item(r, Kind.DISK_READ)
    assert (item.amount, item.node) == (1000, "s1")
    with receipts.collect() as r:
        m.read_at("k", 990, 100)  # only 10 bytes come back
    assert only_item(r, Kind.DISK_READ).amount == 10
    with receipts.collect() as r:
        m.stat("k"), m.exists("k"), list(m.list())
    assert len(r) == 0


def test_metered_writer_commit_records_the_writers_bytes(inner):
    m = MeteredBackend(inner, node="rack1/s1")
    with receipts.collect() as r:
        with m.writer("u") as w:
            w.write(b"a" * 300)
            w.write(b"b" * 200)
    item = only_item(r, Kind.DISK_WRITE)
    assert (item.amount, item.node) == (500, "rack1/s1")
    with receipts.collect() as r:
        with m.writer("u", append=True) as w:
            w.write(b"c" * 50)
    assert only_item(r, Kind.DISK_WRITE).amount == 50  # not the 500 it continued
    with receipts.collect() as r:
        w = m.writer("u")
        w.write(b"discarded")
        w.cancel()
    assert len(r) == 0
    assert m.get("u") == b"a" * 300 + b"b" * 200 + b"c" * 50


def test_metered_failures_record_nothing_and_count_errors(inner):
    m = MeteredBackend(inner)
    with receipts.collect() as r:
        with pytest.raises(KeyNotFound):
            m.get("absent")
        with pytest.raises(KeyNotFound):
            m.read_at("absent", 0, 1)
    assert len(r) == 0
    assert m.errors == {"get": 1, "read_at": 1}
    assert m.bytes_read == 0


def test_metered_counters(inner):
    m = MeteredBackend(inner)
    m.put("a", b"12345")
    with m.writer("b") as w:
        w.write(b"123")
    m.get("a")
    m.read_at("b", 1, 10)
    m.stat("a")
    m.delete("a")
    snap = m.counters()
    assert snap["bytes_written"] == 8 and snap["bytes_read"] == 7
    assert snap["ops"] == {"put": 1, "writer": 1, "commit": 1, "get": 1, "read_at": 1, "stat": 1, "delete": 1}
    assert snap["errors"] == {}
    assert m.name == "s1"


def test_metered_validates_keys_before_delegating():
    spy = mock.Mock(wraps=MemoryBackend("spy"))
    spy.name = "spy"
    m = MeteredBackend(spy)
    calls = [
        lambda: m.put("../x", b"x"),
        lambda: m.get("a//b"),
        lambda: m.writer("/abs"),
        lambda: m.list("a/./b"),
    ]
    for call in calls:
        with pytest.raises(InvalidKey):
            call()
    assert spy.put.call_count == spy.get.call_count == spy.writer.call_count == spy.list.call_count == 0
    assert m.ops == {}


def test_metering_twice_is_refused():
    with pytest.raises(ConfigError, match="already metered"):
        MeteredBackend(MeteredBackend(MemoryBackend()))


# -- factory -----------------------------------------------------------------------------------


def test_factory_builds_known_kinds(tmp_path):
    assert backend_kinds() == ["filesystem", "memory", "s3"]
    mem = make_backend("memory")
    assert isinstance(mem, MemoryBackend) and mem.name == "memory"
    assert make_backend({"kind": "memory", "name": "s7"}).name == "s7"
    assert make_backend({"kind": "memory", "name": "s7"}, name="s8").name == "s8"
    fs = make_backend("filesystem", name="s1", root=tmp_path / "s1")
    assert isinstance(fs, FilesystemBackend) and fs.root == tmp_path / "s1" and fs.fsync
    rel = make_backend({"kind": "filesystem", "root": "disks/s2", "fsync": False}, root=tmp_path)
    assert rel.root == tmp_path / "disks" / "s2" and not rel.fsync
    absolute = make_backend({"kind": "filesystem", "root": str(tmp_path / "abs")}, root=tmp_path / "ignored")
    assert absolute.root == tmp_path / "abs"
    absolute.put("k", b"v")
    assert absolute.get("k") == b"v"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("s4", "unknown storage backend kind 's4'; known kinds: filesystem, memory, s3"),
        ({"root": "/x"}, "has no 'kind'"),
        (42, "must be a kind name or a mapping"),
        ("filesystem", "needs a 'root' directory"),
        ({"kind": "filesystem", "root": "/x", "fsyncc": 1}, "option.*'fsyncc'.*accepted: fsync, root"),
        ({"kind": "filesystem", "root": "/x", "fsync": "yes"}, "'fsync' must be true or false"),
        ({"kind": "filesystem", "root": 7}, "'root' must be a directory path"),
        ({"kind": "memory", "size": 10}, "memory backend: unknown option"),
    ],
)
def test_factory_errors_are_clear(spec, message):
    with pytest.raises(ConfigError, match=message):
        make_backend(spec)


def test_register_backend(monkeypatch):
    monkeypatch.setattr(factory, "_KINDS", dict(factory._KINDS))

    def tagged(options, *, name, root):
        factory.check_options("tagged", options, {"tag"})
        return MemoryBackend(f"{name}-{options.get('tag', 'none')}")

    register_backend("tagged", tagged)
    assert make_backend({"kind": "tagged", "tag": "x"}, name="n").name == "n-x"
    with pytest.raises(ConfigError, match="already registered"):
        register_backend("memory", tagged)
    register_backend("memory", tagged, replace=True)
    assert make_backend("memory").name == "memory-none"


def test_append_falls_back_when_the_kernel_copy_is_refused(fs):
    data = os.urandom(3 * (1 << 20) + 5)
    fs.put("u", data)
    with mock.patch("os.copy_file_range", side_effect=OSError(errno.EXDEV, "cross-device")):
        with fs.writer("u", append=True) as w:
            assert w.size == len(data)
            w.write(b"tail")
    assert fs.get("u") == data + b"tail"


def test_concurrent_puts_and_deletes_in_one_directory(tmp_path):
    fs = FilesystemBackend(tmp_path, fsync=False)

    def churn(worker: int) -> None:
        for i in range(150):
            fs.put(f"shared/dir/w{worker}-{i}", b"x")
            fs.delete(f"shared/dir/w{worker}-{i}")  # may prune the directory under another worker
        fs.put(f"shared/dir/w{worker}-kept", b"kept")

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(churn, range(4)))
    assert list(fs.list()) == [f"shared/dir/w{w}-kept" for w in range(4)]
