"""Provider records: expiry at exactly its boundary, renewal, pruning, the republish schedule, and
(on a small network) republish refreshing expiry at the holders and withdraw."""

from __future__ import annotations

import pytest

from regsim.registry.dht import (
    DEFAULT_RECORD_TTL_S,
    DEFAULT_REPUBLISH_INTERVAL_S,
    LIBP2P_2021,
    LIBP2P_2022,
    SPEGEL,
    Contact,
    ManualClock,
    Network,
    ProviderSchedule,
    ProviderStore,
    key_of_digest,
)

P, Q = Contact(1, "p"), Contact(2, "q")
KEY = 12345
HOUR = 3600.0
LAYER = "sha256:" + "5a" * 32


def test_defaults_are_libp2ps_24h_expiry_and_12h_republish():
    assert DEFAULT_RECORD_TTL_S == 24 * HOUR and DEFAULT_REPUBLISH_INTERVAL_S == 12 * HOUR
    assert LIBP2P_2021 == (24 * HOUR, 12 * HOUR)
    assert LIBP2P_2022 == (48 * HOUR, 22 * HOUR)
    assert SPEGEL == (19 * 60, 15 * 60)
    for timing in (LIBP2P_2021, LIBP2P_2022, SPEGEL):
        assert timing.republish_s < timing.ttl_s  # a provider renews before its records expire


def test_a_record_expires_at_exactly_received_plus_ttl():
    clock = ManualClock(1000.0)
    store = ProviderStore(clock, ttl=100.0)
    record = store.add(KEY, P)
    assert record.expires == 1100.0
    clock.set(1099.999)
    assert store.get(KEY) == [P] and len(store) == 1
    clock.set(1100.0)  # the boundary is exclusive: from received + ttl on, the record is gone
    assert store.get(KEY) == [] and len(store) == 0 and list(store.keys()) == []


def test_default_ttl_boundary():
    clock = ManualClock()
    store = ProviderStore(clock)
    store.add(KEY, P)
    clock.advance(DEFAULT_RECORD_TTL_S - 1e-6)
    assert store.get(KEY) == [P]
    clock.advance(1e-6)
    assert store.get(KEY) == []


def test_renewal_restarts_the_ttl_and_orders_providers_newest_first():
    clock = ManualClock()
    store = ProviderStore(clock, ttl=100.0)
    store.add(KEY, P)
    clock.advance(10)
    store.add(KEY, Q)
    assert store.get(KEY) == [Q, P]
    clock.advance(80)
    store.add(KEY, P)  # renewed at t=90: valid until 190
    assert store.get(KEY) == [P, Q]
    clock.set(110)  # Q (received at 10) has expired, P has not
    assert store.get(KEY) == [P]
    clock.set(190)
    assert store.get(KEY) == []


def test_prune_drops_only_expired_records():
    clock = ManualClock()
    store = ProviderStore(clock, ttl=100.0)
    store.add(KEY, P)
    clock.advance(50)
    store.add(KEY, Q)
    store.add(KEY + 1, P)
    clock.set(100)
    assert store.prune() == 1
    assert store.get(KEY) == [Q] and store.get(KEY + 1) == [P]
    assert store.remove(KEY, Q.id) and not store.remove(KEY, Q.id)
    clock.set(150)
    assert store.prune() == 1 and len(store) == 0


def test_schedule_says_what_is_due_and_when():
    clock = ManualClock()
    schedule = ProviderSchedule(clock, interval=10.0)
    assert schedule.next_due() is None and schedule.due() == []
    assert schedule.start(1) == 10.0
    clock.advance(3)
    schedule.start(2)
    assert schedule.next_due() == 10.0
    clock.set(9.999)
    assert schedule.due() == []
    clock.set(10.0)
    assert schedule.due() == [1]
    schedule.done(1)  # republished at 10: next at 20
    assert schedule.due() == [] and schedule.next_due() == 13.0
    clock.set(25)
    assert schedule.due() == [2, 1]  # earliest first
    assert schedule.stop(2) and not schedule.stop(2)
    assert schedule.due() == [1] and 2 not in schedule and len(schedule) == 1


@pytest.mark.parametrize("bad", [0, -1.0])
def test_ttl_and_interval_must_be_positive(bad):
    with pytest.raises(ValueError):
        ProviderStore(ManualClock(), ttl=bad)
    with pytest.raises(ValueError):
        ProviderSchedule(ManualClock(), interval=bad)


def holders(net: Network, key: int, provider: Contact) -> list[str]:
    return [n.addr for n in net if provider in n.records.get(key) and n.contact != provider]


def test_republish_refreshes_expiry_at_the_holders():
    clock = ManualClock()
    net = Network.build(40, seed=3, clock=clock, k=8, record_ttl=24 * HOUR, republish_interval=12 * HOUR)
    p, q = net["n5"], net["n30"]
    key = key_of_digest(LAYER)
    first = p.provide(key)
    assert len(first.stored_at) == 8 and first.rounds == first.lookup.rounds + 1
    assert sorted(holders(net, key, p.contact)) == sorted(c.addr for c in first.stored_at)
    assert p.next_republish() == 12 * HOUR

    clock.set(12 * HOUR - 1)
    assert p.republish() == []  # not yet due
    clock.set(12 * HOUR)
    again = p.republish()
    assert [r.key for r in again] == [key] and p.next_republish() == 24 * HOUR
    # the records are renewed: they outlive the first ttl, up to 24 h after the republish
    clock.set(24 * HOUR + 1)
    assert q.find_providers(key, want=1).providers == [p.contact]
    clock.set(36 * HOUR - 1)
    assert holders(net, key, p.contact)
    clock.set(36 * HOUR)
    assert holders(net, key, p.contact) == []


def test_without_republish_records_expire_after_the_ttl():
    clock = ManualClock()
    net = Network.build(40, seed=3, clock=clock, k=8, record_ttl=100.0, republish_interval=50.0)
    p, q = net["n5"], net["n30"]
    key = key_of_digest(LAYER)
    p.provide(key)
    clock.set(99.0)
    assert q.find_providers(key, want=1).found
    clock.set(100.0)
    result = q.find_providers(key, want=1)
    assert not result.found and result.rounds > 0 and result.found_round is None


def test_withdraw_stops_republishing_and_drops_the_local_record():
    clock = ManualClock()
    net = Network.build(40, seed=4, clock=clock, k=8, record_ttl=100.0, republish_interval=50.0)
    p, q = net["n1"], net["n2"]
    key = key_of_digest(LAYER)
    p.provide(key)
    assert p.records.get(key) == [p.contact] and key in p.providing
    assert p.withdraw(key) and not p.withdraw(key)
    assert p.records.get(key) == [] and key not in p.providing and p.next_republish() is None
    clock.set(60.0)
    assert p.republish() == []
    # records at the holders stay until they expire (no message deletes them), then are gone
    assert q.find_providers(key, want=1).providers == [p.contact]
    clock.set(100.0)
    assert not q.find_providers(key, want=1).found


def test_maintain_refreshes_republishes_and_prunes():
    clock = ManualClock()
    net = Network.build(30, seed=5, clock=clock, k=6, record_ttl=100.0, republish_interval=50.0,
                        refresh_interval=40.0)
    p = net["n3"]
    p.provide(key_of_digest(LAYER))
    clock.set(50.0)
    done = p.maintain()
    assert [r.key for r in done.republished] == [key_of_digest(LAYER)]
    assert done.refreshes and done.rpc_count == (sum(r.rpc_count for r in done.refreshes)
                                                  + sum(r.rpc_count for r in done.republished))
    assert p.maintain().refreshes == []  # every bucket was just refreshed
