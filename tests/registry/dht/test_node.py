"""A node's RPC handlers, its lookups' termination, parallelism and RPC accounting, and how it
treats peers that do not answer."""

from __future__ import annotations

import random

import pytest

from regsim.registry.dht import (
    ADD_PROVIDER,
    FIND_NODE,
    GET_PROVIDERS,
    PING,
    Contact,
    DhtNode,
    InMemoryTransport,
    ManualClock,
    Network,
    Unreachable,
    bucket_index,
    iterative_lookup,
    random_id,
)
from regsim.registry.dht.messages import (
    Ack,
    AddProvider,
    FindNode,
    GetProviders,
    Nodes,
    Ping,
    Pong,
    Providers,
    wire_size,
)


@pytest.fixture(scope="module")
def net() -> Network:
    return Network.build(120, seed=11, k=8)


def test_handlers_answer_as_the_spec_says():
    clock = ManualClock()
    transport = InMemoryTransport()
    a, b, c = (DhtNode(Contact.named(x), transport, clock=clock, k=4) for x in "abc")
    for node in (a, b, c):
        transport.register(node.contact, node)
    assert isinstance(a.handle(b.contact, Ping()), Pong)
    assert b.id not in a.routing  # a PING does not insert the pinger
    nodes = a.handle(b.contact, FindNode(c.id))
    assert isinstance(nodes, Nodes) and nodes.closer == ()  # never the asker itself
    assert b.id in a.routing  # any other request does
    assert a.handle(c.contact, FindNode(c.id)).closer == (b.contact,)
    # ADD_PROVIDER is taken only from the provider itself
    assert a.handle(b.contact, AddProvider(7, c.contact)) == Ack(False)
    assert a.handle(b.contact, AddProvider(7, b.contact)) == Ack(True)
    reply = a.handle(c.contact, GetProviders(7))
    assert isinstance(reply, Providers) and reply.providers == (b.contact,) and reply.closer == (b.contact,)
    with pytest.raises(TypeError):
        a.handle(b.contact, "hello")  # type: ignore[arg-type]


def test_wire_sizes_grow_with_the_peers_carried():
    assert wire_size(Ping()) < wire_size(FindNode(1)) < wire_size(AddProvider(1, Contact(1, "x")))
    few, many = Nodes((Contact(1, "x"),)), Nodes(tuple(Contact(i, i) for i in range(20)))
    assert wire_size(many) - wire_size(few) == 19 * (wire_size(few) - wire_size(Nodes(())))


def test_transport_fails_and_recovers_nodes_and_sees_every_request():
    seen = []
    transport = InMemoryTransport(on_request=lambda s, d, m, ok: seen.append((s.addr, d.addr, m.kind, ok)))
    clock = ManualClock()
    a, b = (DhtNode(Contact.named(x), transport, clock=clock) for x in "ab")
    transport.register(a.contact, a)
    transport.register(b.contact, b)
    assert a.ping(b.contact) and b.id in a.routing
    transport.fail("b")
    assert not transport.is_up("b") and not a.ping(b.contact)
    assert b.id not in a.routing  # a peer that did not answer is dropped
    transport.recover("b")
    with pytest.raises(Unreachable):
        transport.request(a.contact, Contact(b.id ^ 1, "b"), Ping())  # b's address, another ID
    transport.unregister("b")
    with pytest.raises(Unreachable):
        transport.request(a.contact, b.contact, Ping())
    assert seen[:2] == [("a", "b", PING, True), ("a", "b", PING, False)]
    assert transport.sent[PING] == 4 and transport.lost[PING] == 3
    assert a.sent[PING] == 2


def test_a_converged_table_holds_every_node_of_each_bucket_with_room(net):
    """Kademlia's invariant once converged: a bucket that is not full holds every node in its
    range (a full one holds k of them); so each node knows its nearest neighbour."""
    for node in net:
        others = [n.contact for n in net if n is not node]
        for index in range(256):
            in_range = {c.id for c in others if bucket_index(node.id, c.id) == index}
            bucket = node.routing.bucket(index)
            held = {c.id for c in bucket} if bucket is not None else set()
            assert held <= in_range
            assert len(held) == min(8, len(in_range))
        assert node.routing.closest(node.id, 1) == [min(others, key=lambda c: c.id ^ node.id)]


def test_find_node_returns_the_k_closest_and_ends_when_they_are_all_queried(net):
    rng = random.Random(1)
    nodes = list(net)
    for _ in range(20):
        key = random_id(rng)
        src = rng.choice(nodes)
        result = src.lookup_nodes(key)
        true = sorted((n.contact for n in nodes if n is not src), key=lambda c: c.id ^ key)[:8]
        assert result.closest == true
        queried = {r.dst.id for r in result.rpcs}
        assert all(c.id in queried for c in result.closest)
        assert result.kind == FIND_NODE and all(r.kind == FIND_NODE and r.ok for r in result.rpcs)
        assert result.rpc_count == len(queried)  # nobody is asked twice
        assert src.contact not in result.peers


def test_rounds_send_alpha_queries_or_sweep_the_k_closest(net):
    rng = random.Random(2)
    nodes = list(net)
    for _ in range(20):
        result = rng.choice(nodes).lookup_nodes(random_id(rng))
        rounds = result.by_round()
        assert len(rounds) == result.rounds and all(rounds)
        assert max(len(r) for r in rounds) <= 8  # at most k in a sweep round
        assert len(rounds[0]) <= 3  # the first round is alpha wide
        assert all(r.round == i + 1 for i, batch in enumerate(rounds) for r in batch)
        assert all(rpc.hop >= 1 for rpc in result.rpcs)


def test_strict_alpha_without_the_sweep():
    net = Network.build(60, seed=12, k=6, alpha=2, sweep=False)
    rng = random.Random(3)
    for _ in range(10):
        result = rng.choice(list(net)).lookup_nodes(random_id(rng))
        assert all(len(batch) <= 2 for batch in result.by_round())


def test_get_providers_stops_once_it_has_enough(net):
    rng = random.Random(4)
    nodes = list(net)
    key = random_id(rng)
    providers = rng.sample(nodes, 5)
    for p in providers:
        p.provide(key)
    asker = next(n for n in nodes if n not in providers and not n.records.get(key))
    one = asker.find_providers(key, want=1)
    everyone = asker.find_providers(key)
    assert one.found and one.kind == GET_PROVIDERS and 1 <= len(one.providers)
    assert one.found_round == one.rounds and one.hops is not None and one.hops <= one.rounds
    assert {c.id for c in everyone.providers} == {p.id for p in providers}
    assert everyone.rpc_count >= one.rpc_count
    # a provider asking finds its own record without a single RPC
    mine = providers[0].find_providers(key, want=1)
    assert mine.rpc_count == 0 and mine.rounds == 0 and mine.hops == 0 and mine.found_round == 0


def test_provide_sends_add_provider_to_the_k_closest_in_one_extra_round(net):
    rng = random.Random(5)
    node = rng.choice(list(net))
    key = random_id(rng)
    result = node.provide(key)
    assert [r.dst for r in result.stores] == result.lookup.closest
    assert all(r.kind == ADD_PROVIDER and r.ok and r.round == result.rounds for r in result.stores)
    assert result.rpc_count == len(result.rpcs) == result.lookup.rpc_count + 8
    assert result.by_round()[-1] == result.stores
    assert all(node.contact in n.records.get(key) for n in net if n.contact in result.stored_at)


def test_lookup_drops_unreachable_peers_and_reports_them():
    net = Network.build(80, seed=13, k=6)
    rng = random.Random(6)
    nodes = list(net)
    down = rng.sample(nodes[1:], 16)
    net.fail(n.addr for n in down)
    src = nodes[0]
    before = len(src.routing)
    failures = 0
    for _ in range(10):
        result = src.lookup_nodes(random_id(rng))
        failures += len(result.failed)
        assert not {c.id for c in result.closest} & {n.id for n in down}
        assert all(not r.ok for r in result.rpcs if r.dst in result.failed)
    assert failures > 0
    assert not any(n.id in src.routing for n in down) or len(src.routing) < before


def test_lookup_rejects_bad_arguments():
    origin = Contact(0, "o")
    with pytest.raises(ValueError):
        iterative_lookup("PUT_VALUE", 1, origin, [], lambda c: Pong())
    with pytest.raises(ValueError):
        iterative_lookup(FIND_NODE, 1, origin, [], lambda c: Pong(), alpha=0)
    alone = iterative_lookup(FIND_NODE, 1, origin, [], lambda c: Pong())
    assert alone.rounds == 0 and alone.closest == [] and alone.hops is None


def test_a_lone_node_joins_nothing_and_a_second_finds_the_first():
    net = Network(k=4)
    a = net.add(Contact.named("a"))
    b = net.add(Contact.named("b"))
    results = b.join(a.contact)
    assert a.id in b.routing and b.id in a.routing
    assert results[0].closest == [a.contact]
    key = random_id(random.Random(0))
    a.provide(key)
    assert b.find_providers(key, want=1).providers == [a.contact]
    with pytest.raises(ValueError):
        net.add(Contact.named("a"))
    with pytest.raises(ValueError):
        Network.build(0)


def test_a_full_bucket_pings_its_oldest_contact_through_the_transport():
    clock = ManualClock()
    transport = InMemoryTransport()
    me = DhtNode(Contact(0, "me"), transport, clock=clock, k=2)
    peers = [DhtNode(Contact((1 << 255) | j, f"p{j}"), transport, clock=clock, k=2) for j in range(4)]
    for node in (me, *peers):
        transport.register(node.contact, node)
    for p in peers[:2]:
        me.handle(p.contact, FindNode(p.id))  # both land in bucket 255, which is now full
    me.handle(peers[2].contact, FindNode(1))  # p0 (oldest) answers the ping: p2 is turned away
    assert me.sent[PING] == 1 and peers[0].id in me.routing and peers[2].id not in me.routing
    transport.fail("p1")  # p1 is now the oldest
    me.handle(peers[3].contact, FindNode(1))
    assert me.sent[PING] == 2 and transport.lost[PING] == 1
    assert peers[1].id not in me.routing and peers[3].id in me.routing
