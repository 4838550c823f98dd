"""The node-local mirror: upload cap, whole and ranged serving, resolve with zone preference,
fallback to the registry, advertise-after-image against per-layer, delete and withdraw, and the
registry's BlobStore as a node's content store."""

from __future__ import annotations

import hashlib
import random

import numpy as np
import pytest

from regsim.registry.config import RegistryConfig
from regsim.registry.digest import Digest
from regsim.registry.dht import (
    BUSY,
    LOCAL,
    NOT_FOUND,
    OK,
    PEER,
    REGISTRY,
    BlobStoreContent,
    DhtError,
    ManualClock,
    MemoryContent,
    Mirror,
    MirrorPeers,
    Network,
    key_of_digest,
    registry_fetch,
)
from regsim.registry.dht.mirror import UNREACHABLE
from regsim.registry.registry import Registry


def blob(i: int, size: int = 1000) -> tuple[Digest, bytes]:
    data = bytes(random.Random(i).getrandbits(8) for _ in range(size))
    return Digest("sha256", hashlib.sha256(data).hexdigest()), data


L1, D1 = blob(1)
L2, D2 = blob(2)
L3, D3 = blob(3)


class FakeRegistry:
    """The fallback: serves every layer, counting the calls."""

    def __init__(self, layers: dict[Digest, bytes]) -> None:
        self.layers = layers
        self.calls: list[tuple[Digest, int, int | None]] = []

    def __call__(self, d: Digest, offset: int = 0, length: int | None = None) -> bytes:
        self.calls.append((d, offset, length))
        data = self.layers[d]
        return data[offset:] if length is None else data[offset:offset + length]


class Cluster:
    """A converged DHT with one mirror per node, zones by node number, and a fake registry."""

    def __init__(self, n: int = 30, *, seed: int = 1, zones: int = 3, clock: ManualClock | None = None,
                 **mirror_options) -> None:
        self.clock = clock or ManualClock()
        self.net = Network.build(n, seed=seed, k=8, clock=self.clock, record_ttl=100.0, republish_interval=50.0)
        self.registry = FakeRegistry({L1: D1, L2: D2, L3: D3})
        self.zone = {node.addr: f"z{int(node.addr[1:]) % zones}" for node in self.net}
        self.peers = MirrorPeers(transport=self.net.transport)
        self.mirrors = {node.addr: self.peers.add(Mirror(node, MemoryContent(), registry=self.registry,
                                                         zone_of=self.zone.get, **mirror_options))
                        for node in self.net}

    def __getitem__(self, addr: str) -> Mirror:
        return self.mirrors[addr]


def test_uploads_beyond_the_cap_are_refused_busy():
    c = Cluster(max_uploads=2)
    m = c["n0"]
    m.add_layer(L1, D1)
    first, second = m.open_upload(L1), m.open_upload(L1, 10, 20)
    assert first.ok and second.ok and m.uploads == 2 and first.open
    third = m.open_upload(L1)
    assert third.status == BUSY and not third.ok and third.data is None and not third.open
    first.close()
    first.close()  # idempotent
    assert m.uploads == 1
    with m.open_upload(L1) as fourth:
        assert fourth.ok and m.uploads == 2
    assert m.uploads == 1
    second.close()
    assert m.uploads == 0
    assert m.answers == {OK: 3, BUSY: 1}
    assert m.open_upload(L2).status == NOT_FOUND and m.uploads == 0
    with pytest.raises(ValueError):
        Mirror(c.net["n1"], max_uploads=0)


def test_no_cap_by_default_as_spegel():
    c = Cluster()
    m = c["n0"]
    m.add_layer(L1, D1)
    uploads = [m.open_upload(L1) for _ in range(50)]
    assert all(u.ok for u in uploads) and m.uploads == 50


def test_whole_and_ranged_reads():
    c = Cluster()
    m = c["n0"]
    m.add_layer(L1, D1)
    whole = m.serve(L1)
    assert whole.data == D1 and whole.nbytes == whole.size == 1000 and whole.offset == 0
    part = m.serve(L1, 100, 50)
    assert part.data == D1[100:150] and part.nbytes == 50 and part.offset == 100 and part.size == 1000
    tail = m.serve(L1, 990, 50)  # cut at the end
    assert tail.data == D1[990:] and tail.nbytes == 10
    assert m.serve(L1, 2000).nbytes == 0
    assert m.bytes_served == 1000 + 50 + 10
    # a modelled layer: a size, no bytes
    m.add_layer(L2, 5000)
    modelled = m.serve(L2, 1000, 3000)
    assert modelled.ok and modelled.data is None and modelled.nbytes == 3000 and modelled.size == 5000
    with pytest.raises(ValueError):
        m.serve(L1, -1)


def test_resolve_prefers_same_zone_providers():
    c = Cluster(n=30, zones=3, resolve_count=None, advertise="layer")
    holders = ["n1", "n2", "n4", "n5", "n7"]  # zones z1, z2, z1, z2, z1
    for addr in holders:
        c[addr].add_layer(L1, D1)
    asker = c["n8"]  # zone z2
    res = asker.resolve(L1)
    assert res.source == PEER and {p.addr for p in res.candidates} == set(holders)
    zones = [c.zone[p.addr] for p in res.candidates]
    assert zones == sorted(zones, key=lambda z: z != "z2") and zones[:2] == ["z2", "z2"]
    assert res.peer.addr in ("n2", "n5")
    fetched = asker.fetch(L1, peers=c.peers)
    assert fetched.source == PEER and c.zone[fetched.peer.addr] == "z2" and fetched.data == D1
    # without the preference: the order the lookup found them in
    asker.prefer_same_zone = False
    plain = asker.resolve(L1)
    assert {p.addr for p in plain.candidates} == set(holders)
    assert [p.addr for p in plain.candidates] == [p.addr for p in plain.lookup.providers
                                                  if p.id != asker.node.id]


def test_resolve_count_caps_the_candidates_and_ends_the_lookup_early():
    c = Cluster(n=30, advertise="layer")  # resolve_count 3, Spegel's default
    for addr in ["n1", "n2", "n3", "n4", "n5", "n6"]:
        c[addr].add_layer(L1, D1)
    res = c["n9"].resolve(L1)
    assert len(res.candidates) == 3
    everyone = c["n9"].node.find_providers(key_of_digest(L1))
    assert len(everyone.providers) == 6 and res.lookup.rpc_count <= everyone.rpc_count


def test_shuffling_within_zone_groups_is_seeded():
    orders = []
    for _ in range(2):
        c = Cluster(n=30, zones=3, resolve_count=None, advertise="layer", rng=np.random.default_rng(5))
        for addr in ["n1", "n2", "n4", "n5", "n7", "n10"]:
            c[addr].add_layer(L1, D1)
        res = c["n8"].resolve(L1)
        orders.append([p.addr for p in res.candidates])
        assert [c.zone[a] for a in orders[-1]][:2] == ["z2", "z2"]
    assert orders[0] == orders[1]


def test_no_provider_falls_back_to_the_registry():
    c = Cluster()
    m = c["n3"]
    res = m.resolve(L1)
    assert res.source == REGISTRY and res.peer is None and res.candidates == []
    assert res.lookup is not None and res.lookup.rounds > 0 and res.lookup.rpc_count > 0
    got = m.fetch(L1, 10, 30, peers=c.peers)
    assert got.source == REGISTRY and got.data == D1[10:40] and got.nbytes == 30 and got.attempts == []
    assert c.registry.calls == [(L1, 10, 30)]
    orphan = Mirror(c.net["n4"])
    with pytest.raises(DhtError):
        orphan.fetch(L1, peers=c.peers)


def test_a_held_layer_resolves_locally_without_a_lookup():
    c = Cluster()
    m = c["n3"]
    m.add_layer(L1, D1)
    sent = sum(m.node.sent.values())
    res = m.resolve(L1)
    assert res.source == LOCAL and res.lookup is None
    got = m.fetch(L1, 5, 5)
    assert got.source == LOCAL and got.data == D1[5:10] and sum(m.node.sent.values()) == sent


def test_busy_missing_and_unreachable_peers_are_skipped():
    c = Cluster(n=30, max_uploads=1, advertise="layer", resolve_count=None)
    for addr in ("n1", "n2", "n3"):
        c[addr].add_layer(L1, D1)
    asker = c["n9"]
    order = [p.addr for p in asker.resolve(L1).candidates]
    hold = c[order[0]].open_upload(L1)  # the first candidate is busy
    c.net.fail([order[1]])  # the second is down
    got = asker.fetch(L1, peers=c.peers)
    assert got.source == PEER and got.peer.addr == order[2]
    assert got.attempts[:2] == [(c.net[order[0]].contact, BUSY), (c.net[order[1]].contact, UNREACHABLE)]
    # everyone busy or gone: the registry
    c.net.recover([order[1]])
    held = [c[order[1]].open_upload(L1), c[order[2]].open_upload(L1)]
    fallback = asker.fetch(L1, peers=c.peers)
    assert fallback.source == REGISTRY and [s for _, s in fallback.attempts] == [BUSY, BUSY, BUSY]
    for upload in [hold, *held]:
        upload.close()


def test_advertise_after_the_whole_image_by_default():
    c = Cluster()
    puller, asker = c["n1"], c["n2"]
    assert puller.advertise == "image"
    assert puller.add_layer(L1, D1) is None  # stored, not advertised yet
    assert puller.pending == {L1}
    assert asker.resolve(L1).source == REGISTRY
    assert puller.add_layer(L2, D2) is None
    provided = puller.complete_image([L1, L2, L3])  # L3 is not held: not advertised
    assert [r.key for r in provided] == [key_of_digest(L1), key_of_digest(L2)]
    assert all(r.stored_at for r in provided) and puller.pending == set()
    assert puller.advertised == {L1, L2}
    assert asker.resolve(L1).peer == puller.node.contact
    assert puller.complete_image([L1, L2]) == []  # already advertised


def test_advertise_per_layer_as_each_completes():
    c = Cluster(advertise="layer")
    puller, asker = c["n1"], c["n2"]
    result = puller.add_layer(L1, D1)
    assert result is not None and result.key == key_of_digest(L1) and result.rounds >= 1
    assert asker.resolve(L1).peer == puller.node.contact  # before the image is complete
    assert asker.resolve(L2).source == REGISTRY
    assert puller.add_layer(L1) is None  # already advertised
    assert puller.complete_image([L1]) == []
    with pytest.raises(DhtError):
        puller.add_layer(L3)  # not in the store, no content
    with pytest.raises(ValueError):
        Mirror(puller.node, advertise="sometimes")  # type: ignore[arg-type]


def test_delete_withdraws_and_stale_records_lead_to_not_found():
    clock = ManualClock()
    c = Cluster(clock=clock, advertise="layer")
    holder, asker = c["n1"], c["n2"]
    holder.add_layer(L1, D1)
    assert holder.delete_layer(L1) and not holder.delete_layer(L1)
    assert not holder.store.has(L1) and L1 not in holder.advertised
    assert key_of_digest(L1) not in holder.node.providing
    # the holders' records have not expired: the peer is still named, answers not_found, and
    # the fetch falls back to the registry
    res = asker.resolve(L1)
    assert res.peer == holder.node.contact
    got = asker.fetch(L1, peers=c.peers)
    assert got.source == REGISTRY and got.attempts == [(holder.node.contact, NOT_FOUND)]
    clock.set(100.0)  # the record ttl: gone
    assert asker.resolve(L1).source == REGISTRY


def test_republish_keeps_advertised_layers_findable_past_the_ttl():
    clock = ManualClock()
    c = Cluster(clock=clock, advertise="layer")
    holder, asker = c["n1"], c["n2"]
    holder.add_layer(L1, D1)
    holder.add_layer(L2, D2)
    holder.delete_layer(L2)
    clock.set(50.0)
    assert [r.key for r in holder.republish()] == [key_of_digest(L1)]
    clock.set(120.0)
    assert asker.resolve(L1).peer == holder.node.contact
    assert asker.resolve(L2).source == REGISTRY


def test_the_registrys_blob_store_as_the_node_content_store():
    registry = Registry(RegistryConfig(extent_size=256))
    registry.put_blob("library/app", D1)
    net = Network.build(12, seed=3, k=4)
    store = BlobStoreContent(Registry(RegistryConfig(extent_size=256)).blobs)
    holder = Mirror(net["n1"], store, advertise="layer")
    asker = Mirror(net["n2"], BlobStoreContent(Registry().blobs), registry=registry_fetch(registry, "library/app"))
    peers = MirrorPeers({"n1": holder, "n2": asker}, net.transport)
    assert asker.fetch(L1, 300, 400, peers=peers).source == REGISTRY
    whole = asker.fetch(L1, peers=peers)
    assert whole.source == REGISTRY and whole.data == D1
    assert asker.fetch(L1, 990, 100, peers=peers).data == D1[990:]

    holder.add_layer(L1, D1)  # verified against its digest by the blob store
    assert store.has(L1) and store.size(L1) == 1000 and store.digests() == [L1]
    got = asker.fetch(L1, 250, 300, peers=peers)  # a range across extents
    assert got.source == PEER and got.data == D1[250:550]
    assert holder.serve(L1).data == D1 and holder.serve(L1, 1000).data == b""
    with pytest.raises(DhtError):
        store.add(L2, 5)  # a blob store holds bytes, not sizes
    assert holder.delete_layer(L1) and not store.has(L1) and not store.delete(L1)
