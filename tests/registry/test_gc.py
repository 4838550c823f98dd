"""Garbage collection: what is reachable stays, what is not goes, pushes in flight are safe; what a
writer killed mid-upload leaves goes after the upload grace period, and a live upload stays."""

import os
import time
from pathlib import Path

import pytest

from regsim.registry.config import RegistryConfig
from regsim.registry.digest import compute
from regsim.registry.errors import BlobUnknown, BlobUploadUnknown
from regsim.registry.registry import Registry


from .killed_child import kill_when_ready
from .clocked_registry import Clock, clock, reg  # noqa: F401 -- fixtures, used by name


def test_unreferenced_blob_swept_after_grace(reg, clock):
    image = reg.push_image("r", "v1", [b"keep me"])
    orphan = reg.put_blob("r", b"orphan layer" * 100)
    clock.now += 10
    report = reg.gc(grace_s=60)
    assert report.swept == [] and report.kept_in_grace == 1  # a push in flight is never collected
    clock.now += 3600
    before = reg.stored_bytes()
    dry = reg.gc(grace_s=60, dry_run=True)
    assert dry.swept == [str(orphan)] and dry.reclaimed_bytes == 1200
    assert reg.get_blob("r", orphan)  # dry run changed nothing
    report = reg.gc(grace_s=60)
    assert report.swept == [str(orphan)] and report.reclaimed_bytes == 1200
    assert reg.stored_bytes() < before
    with pytest.raises(BlobUnknown):
        reg.get_blob("r", orphan)
    assert reg.pull_image("r", "v1") == [b"keep me"]
    assert str(image.manifest) not in report.swept


def test_untagged_manifests_only_with_delete_untagged(reg, clock):
    old = reg.push_image("r", "v1", [b"old layer"])
    new = reg.push_image("r", "v1", [b"new layer"])  # retags v1
    clock.now += 7200
    kept = reg.gc(grace_s=60)
    assert kept.swept == []  # untagged manifests are still reachable by digest
    report = reg.gc(grace_s=60, delete_untagged=True)
    assert report.manifests_deleted == [f"r@{old.manifest}"]
    assert set(report.swept) >= {str(old.manifest), str(compute(b"old layer"))}
    assert reg.pull_image("r", "v1") == [b"new layer"]
    assert str(new.manifest) not in report.swept


def test_shared_layer_survives_while_any_repository_needs_it(reg, clock):
    reg.push_image("a", "v1", [b"shared"])
    img_b = reg.push_image("b", "v1", [b"shared", b"only b"])
    reg.delete_manifest("a", str(reg.get_manifest("a", "v1").digest))
    clock.now += 7200
    report = reg.gc(grace_s=60)
    assert str(compute(b"shared")) not in report.swept
    assert reg.pull_image("b", str(img_b.manifest)) == [b"shared", b"only b"]


def test_stale_uploads_discarded(reg, clock):
    uid = reg.start_upload("r")
    reg.upload_chunk("r", uid, b"partial")
    fresh = reg.start_upload("r")
    clock.now += 120
    report = reg.gc(grace_s=100)
    assert report.uploads_discarded == 2
    reg2_uid = reg.start_upload("r")
    assert reg.gc(grace_s=100).uploads_discarded == 0
    assert reg.upload_offset("r", reg2_uid) == 0
    assert fresh != uid


# -- what a writer killed mid-upload leaves, and live uploads ---------------------------------

#: a registry process that opens a chunked upload, streams one chunk into it and is killed mid-chunk:
#: prints the upload id once the part is being written, then waits (for SIGKILL) with it open.
KILLED_UPLOADER = r"""
import sys
from regsim.registry.config import RegistryConfig
from regsim.registry.registry import Registry
reg = Registry(RegistryConfig(backend="filesystem", root=sys.argv[1], codec="rs(4,2)", nodes=6,
                              encryption="aes-256-gcm", fsync=False))
uid = reg.start_upload("team/app")
def body():
    yield b"p" * 300_000
    sys.stdout.write(uid + "\n")
    sys.stdout.flush()
    sys.stdin.read()          # the part stays open until the process is killed
    yield b"never"
reg.upload_chunk("team/app", uid, body())
"""


def _fs_config(root: Path, **kw) -> RegistryConfig:
    return RegistryConfig(backend="filesystem", root=root, codec="rs(4,2)", nodes=6, encryption="aes-256-gcm",
                          fsync=False, **kw)


def _kill_mid_upload(root: Path) -> str:
    """Run KILLED_UPLOADER against ``root``, SIGKILL it mid-part; returns the upload id."""
    uid = kill_when_ready(KILLED_UPLOADER, str(root)).strip()
    assert uid
    return uid


def _temp_parts(root: Path) -> list[Path]:
    return sorted(root.glob("**/_tmp/*.part"))


def _age(paths: list[Path], seconds: float) -> None:
    then = time.time() - seconds
    for p in paths:
        os.utime(p, (then, then))


def test_part_left_by_a_killed_writer_goes_once_older_than_the_grace(tmp_path):
    root = tmp_path / "store"
    uid = _kill_mid_upload(root)
    parts = _temp_parts(root)
    assert len(parts) == 1 and parts[0].stat().st_size == 300_000  # the crash left the open part behind
    clock = Clock()
    clock.now = time.time()
    reg = Registry(_fs_config(root, upload_grace_s=600), clock=clock)
    assert reg.upload_offset("team/app", uid) == 0  # nothing partial is visible

    young = reg.gc(grace_s=60)  # the part and the session are younger than the upload grace
    assert young.uploads.sessions == [] and young.uploads.temp_files == [] and young.uploads_discarded == 0
    assert _temp_parts(root) == parts

    _age(parts, 601)
    clock.now += 601
    dry = reg.gc(grace_s=60, dry_run=True)
    assert dry.uploads.temp_bytes == 300_000 and dry.uploads.sessions == [f"team/app/{uid}"]
    assert _temp_parts(root) == parts  # a dry run removes nothing

    report = reg.gc(grace_s=60)
    assert report.uploads.temp_files == [f"meta/{parts[0].name}"]
    assert report.uploads.temp_bytes == 300_000
    assert report.uploads.sessions == [f"team/app/{uid}"] and report.uploads_discarded == 1
    assert "1 temporary parts (300,000 bytes)" in report.summary()
    assert _temp_parts(root) == []
    with pytest.raises(BlobUploadUnknown):
        reg.upload_offset("team/app", uid)


def test_sweep_at_start_keeps_young_parts_and_removes_stale_ones(tmp_path):
    root = tmp_path / "store"
    _kill_mid_upload(root)
    reg = Registry(_fs_config(root, upload_grace_s=600))
    young = reg.sweep_uploads()
    assert young.temp_files == [] and young.sessions == []
    assert len(_temp_parts(root)) == 1
    _age(_temp_parts(root), 601)
    swept = reg.sweep_uploads()
    assert swept.temp_bytes == 300_000 and len(swept.temp_files) == 1
    assert swept.sessions == []  # the session itself is younger than the grace: a client may resume it
    assert _temp_parts(root) == []


def test_fragment_temp_files_on_the_nodes_are_swept_too(tmp_path):
    reg = Registry(_fs_config(tmp_path / "store", upload_grace_s=60))
    left = tmp_path / "store" / "nodes" / "s3" / "_tmp" / "4242-crashed.part"
    left.write_bytes(b"f" * 1000)
    _age([left], 61)
    swept = reg.sweep_uploads()
    assert swept.temp_files == ["s3/4242-crashed.part"] and swept.temp_bytes == 1000
    assert not left.exists()


def test_a_live_upload_survives_gc(tmp_path):
    clock = Clock()
    clock.now = time.time()
    root = tmp_path / "store"
    reg = Registry(_fs_config(root), clock=clock)
    uid = reg.start_upload("team/app")
    reg.upload_chunk("team/app", uid, b"a" * 1000)
    clock.now += 500
    reg.upload_chunk("team/app", uid, b"b" * 1000)  # started 500 s ago, but active just now
    clock.now += 200
    assert reg.gc(grace_s=60, upload_grace_s=300).uploads_discarded == 0
    seen = []

    def body():
        yield b"c" * 2000
        # mid-append, with the part open: every grace has passed, and GC still keeps the session
        clock.now += 10_000
        _age(_temp_parts(root), 10_000)
        seen.append(reg.gc(grace_s=0, upload_grace_s=0))
        yield b"d" * 2000

    reg.upload_chunk("team/app", uid, body())
    during = seen[0]
    assert during.uploads.sessions == [] and during.uploads.temp_files == []
    content = b"a" * 1000 + b"b" * 1000 + b"c" * 2000 + b"d" * 2000
    d = reg.finish_upload("team/app", uid, compute(content))
    assert reg.get_blob("team/app", d) == content


def test_discard_removes_parts_a_crash_left_uncounted(reg):
    uid = reg.start_upload("r")
    reg.upload_chunk("r", uid, b"counted")
    # a crash between committing part 1 and recording it in the session's info
    reg.meta.backend.put(f"repositories/r/_uploads/{uid}/parts/00000001", b"uncounted")
    assert reg.uploads.discard("r", uid) == len(b"counted") + len(b"uncounted")
    assert list(reg.meta.keys(f"repositories/r/_uploads/{uid}")) == []


#: a registry process killed in the middle of a monolithic push, after two extents are stored
KILLED_PUSHER = r"""
import hashlib, sys
from regsim.registry.config import RegistryConfig
from regsim.registry.registry import Registry
reg = Registry(RegistryConfig(backend="filesystem", root=sys.argv[1], codec="rs(4,2)", nodes=6,
                              encryption="aes-256-gcm", fsync=False, extent_size=1 << 20))
def body():
    yield b"q" * (5 << 19)     # 2.5 MiB: extents 0 and 1 are stored before the next chunk is asked for
    sys.stdout.write("stored\n")
    sys.stdout.flush()
    sys.stdin.read()
    yield b"never"
reg.put_blob_stream("team/app", body(), "sha256:" + hashlib.sha256(b"whatever").hexdigest())
"""


def _fragment_files(root: Path) -> list[Path]:
    return sorted(p for p in (root / "nodes").glob("*/data/fragments/**/*") if p.is_file())


def test_extents_of_a_push_killed_before_its_record_go_once_older_than_the_grace(tmp_path):
    root = tmp_path / "store"
    assert kill_when_ready(KILLED_PUSHER, str(root)) == "stored"
    reg = Registry(_fs_config(root, upload_grace_s=600, extent_size=1 << 20))
    [orphan] = reg.blobs.orphans()
    assert len(reg.blobs.orphans()[orphan]) == 2 and list(reg.blobs.digests()) == []
    fragments = _fragment_files(root)
    assert len(fragments) == 12  # two extents of rs(4,2)
    assert reg.sweep_uploads().orphan_blobs == []  # younger than the grace
    _age(fragments, 601)
    stored = sum(p.stat().st_size for p in fragments)
    assert reg.sweep_uploads(dry_run=True).orphan_bytes == stored and len(_fragment_files(root)) == 12
    swept = reg.sweep_uploads()
    assert swept.orphan_blobs == [str(orphan)] and swept.orphan_bytes == stored
    assert _fragment_files(root) == [] and reg.blobs.orphans() == {} and reg.cluster.keys() == []
    assert "the stored extents of 1 unfinished pushes" in swept.summary()
    data = b"r" * (3 << 20)
    d = reg.put_blob("team/app", data)  # the store works as before
    assert reg.get_blob("team/app", d) == data


def test_a_push_in_flight_keeps_its_extents_through_gc(tmp_path):
    root = tmp_path / "store"
    reg = Registry(_fs_config(root, extent_size=1 << 20))
    content = b"s" * (5 << 19) + b"t" * 1000
    seen = []

    def body():
        yield content[: 5 << 19]
        _age(_fragment_files(root), 10_000)  # extents 0 and 1 are stored, and look ancient
        seen.append(reg.gc(grace_s=0, upload_grace_s=0))
        yield content[5 << 19 :]

    d = reg.put_blob_stream("team/app", body(), compute(content))
    assert seen[0].uploads.orphan_blobs == []
    assert reg.get_blob("team/app", d) == content
