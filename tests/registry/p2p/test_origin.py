"""Origins pull blobs from a real registry (whole, ranged, modelled) and serve verified pieces."""

from __future__ import annotations

import os

import numpy as np
import pytest

from regsim.registry import receipts
from regsim.registry.config import RegistryConfig
from regsim.registry.digest import compute
from regsim.registry.errors import BlobUnknown
from regsim.registry.p2p import Agent, MetaInfo, Origin, P2PError, Swarm
from regsim.registry.receipts import Kind
from regsim.registry.registry import Registry

REPO = "library/app"
PIECE = 4096


@pytest.fixture(scope="module")
def registry_and_blob():
    reg = Registry(RegistryConfig(codec="rs(4,2)", nodes=6))
    data = os.urandom(10 * PIECE + 777)
    return reg, reg.put_blob(REPO, data), data


@pytest.mark.parametrize("mode", ["whole", "ranged"])
def test_pull_builds_a_real_metainfo_from_the_registrys_bytes(registry_and_blob, mode):
    reg, digest, data = registry_and_blob
    origin = Origin("origin-0", reg, node="origin-0")
    with receipts.collect() as r:
        info = origin.pull(REPO, digest, PIECE, mode=mode)
    assert info == MetaInfo.from_bytes(data, PIECE) and origin.metainfo(digest) is info
    assert info.real and info.num_pieces == 11
    assert bytes(origin.read_piece(digest, 10)) == data[10 * PIECE:]
    # the registry read its fragments; the origin hashed the blob and every piece
    assert r.total(Kind.DISK_READ) > 0
    hashed_here = sum(i.amount for i in r.of(Kind.SHA256) if i.node == "origin-0")
    assert hashed_here == 2 * len(data)


def test_ranged_pull_reads_piece_by_piece(registry_and_blob):
    reg, digest, data = registry_and_blob
    calls = []

    class Spy:
        def stat_blob(self, repo, d):
            return reg.stat_blob(repo, d)

        def get_blob(self, repo, d):  # pragma: no cover - must not be used
            raise AssertionError("ranged pull must not read the whole blob")

        def read_blob(self, repo, d, offset, length):
            calls.append((offset, length))
            return reg.read_blob(repo, d, offset, length)

    Origin("o", Spy()).pull(REPO, digest, PIECE, mode="ranged")
    assert calls == [(i * PIECE, PIECE) for i in range(10)] + [(10 * PIECE, 777)]


def test_modelled_pull_only_asks_for_the_size(registry_and_blob):
    reg, digest, data = registry_and_blob
    origin = Origin("o", reg)
    with receipts.collect() as r:
        info = origin.pull(REPO, digest, PIECE, mode="modelled")
    assert not info.real and info.size == len(data) and r.total(Kind.SHA256) == 0
    with pytest.raises(P2PError, match="modelled data plane only"):
        origin.read_piece(digest, 0)


def test_pull_errors(registry_and_blob):
    reg, digest, _ = registry_and_blob
    with pytest.raises(BlobUnknown):
        Origin("o", reg).pull("library/other", digest, PIECE)
    with pytest.raises(P2PError, match="no registry"):
        Origin("o").pull(REPO, digest, PIECE)
    with pytest.raises(P2PError, match="mode 'torrent' is unknown"):
        Origin("o", reg).pull(REPO, digest, PIECE, mode="torrent")  # type: ignore[arg-type]
    with pytest.raises(BlobUnknown, match="does not seed"):
        Origin("o", reg).metainfo(digest)


def test_seed_checks_bytes_against_the_metainfo():
    data = os.urandom(1000)
    origin = Origin("o")
    with pytest.raises(P2PError, match="need a real metainfo"):
        origin.seed(MetaInfo.modelled(compute(data), 1000, 100), data)
    with pytest.raises(P2PError, match="999 bytes"):
        origin.seed(MetaInfo.from_bytes(data, 100), data[:-1])


def test_an_origin_serves_many_swarms_under_one_upload_limit():
    blobs = [os.urandom(800), os.urandom(800)]
    origin = Origin("o", upload_slots=3)
    swarms = [Swarm(origin.seed(MetaInfo.from_bytes(b, 100), b)) for b in blobs]
    seeds = [origin.join(s) for s in swarms]
    assert all(s.is_origin and s.have.all() for s in seeds)
    assert [m.peer_id for m in swarms[0].origins] == ["o"]
    a = Agent("a", swarms[0], rng=np.random.default_rng(0), max_downloads=8, auto_back_to_source=False)
    b = Agent("b", swarms[1], rng=np.random.default_rng(0), max_downloads=8, auto_back_to_source=False)
    first, second = a.next_requests(seeds[:1]), b.next_requests(seeds[1:])
    assert (len(first), len(second)) == (3, 0) and origin.slots.used == 3
    for req in first:
        a.on_piece(req.piece, req.source.read_piece(req.piece))
    assert origin.slots.used == 0 and origin.uploaded_bytes == 300 and origin.uploaded_pieces == 3
    assert len(b.next_requests(seeds[1:])) == 3


def test_join_refuses_a_swarm_cut_into_other_pieces():
    data = os.urandom(1000)
    origin = Origin("o")
    origin.seed(MetaInfo.from_bytes(data, 100))
    with pytest.raises(P2PError, match="pieces of 100, the swarm uses 250"):
        origin.join(Swarm(MetaInfo.from_bytes(data, 250)))
