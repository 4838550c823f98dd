"""Garbage collection: what is reachable stays, what is not goes, pushes in flight are safe."""

import pytest

from regsim.registry.config import RegistryConfig
from regsim.registry.digest import compute
from regsim.registry.errors import BlobUnknown
from regsim.registry.registry import Registry


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture(params=["replicate(1)", "rs(4,2)"])
def reg(request, clock):
    nodes = 6 if request.param.startswith("rs") else 1
    return Registry(RegistryConfig(codec=request.param, nodes=nodes, encryption="aes-256-gcm"), clock=clock)


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
