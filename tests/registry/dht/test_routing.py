"""k-buckets: placement, least-recently-seen order, the ping-the-oldest eviction rule, the
replacement cache, closest-contact queries, and refresh targets."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regsim.registry.dht import Contact, ManualClock, RoutingTable, bucket_index
from regsim.registry.dht.routing import ADDED, IGNORED, KEPT, REFRESHED, REPLACED

ME = 0


def far(j: int) -> Contact:
    """The j-th contact of bucket 255 (the far half) of node 0."""
    return Contact((1 << 255) | j, f"far{j}")


def test_contacts_go_to_the_bucket_of_their_highest_differing_bit():
    table = RoutingTable(ME, k=4)
    for node_id in (1, 2, 3, 1 << 100, (1 << 100) | 5, 1 << 255):
        assert table.update(Contact(node_id, node_id)).outcome == ADDED
    assert table.indices() == [0, 1, 100, 255]
    assert [c.id for c in table.bucket(1)] == [2, 3]
    assert [c.id for c in table.bucket(100)] == [1 << 100, (1 << 100) | 5]
    assert len(table) == 6 and 3 in table and 4 not in table
    assert table.update(Contact(ME, "me")).outcome == IGNORED
    assert ME not in table


def test_a_contact_seen_again_moves_to_the_tail():
    table = RoutingTable(ME, k=3)
    for j in range(3):
        table.update(far(j))
    assert table.update(far(0)).outcome == REFRESHED
    assert [c.id for c in table.bucket(255)] == [far(1).id, far(2).id, far(0).id]
    assert table.bucket(255).least_recent() == far(1)


def test_full_bucket_pings_the_least_recently_seen_and_keeps_it_if_alive():
    pinged = []
    table = RoutingTable(ME, k=3, ping=lambda c: pinged.append(c) or True)
    for j in range(3):
        table.update(far(j))
    update = table.update(far(9))
    assert update.outcome == KEPT and update.pinged == far(0) and update.evicted is None
    assert pinged == [far(0)]
    # the old contact stays and becomes the most recently seen; the newcomer is a replacement
    assert [c.id for c in table.bucket(255)] == [far(1).id, far(2).id, far(0).id]
    assert far(9).id not in table and far(9).id in table.bucket(255).replacements


def test_full_bucket_evicts_the_least_recently_seen_if_it_does_not_answer():
    dead = {far(0).id}
    table = RoutingTable(ME, k=3, ping=lambda c: c.id not in dead)
    for j in range(3):
        table.update(far(j))
    update = table.update(far(9))
    assert update.outcome == REPLACED and update.pinged == far(0) and update.evicted == far(0)
    assert [c.id for c in table.bucket(255)] == [far(1).id, far(2).id, far(9).id]
    assert len(table) == 3 and far(0).id not in table


def test_without_a_liveness_check_old_contacts_win():
    table = RoutingTable(ME, k=2)
    table.update(far(0))
    table.update(far(1))
    assert table.update(far(2)).outcome == KEPT
    assert far(2).id not in table


def test_a_failed_contact_is_replaced_by_the_freshest_replacement():
    table = RoutingTable(ME, k=2)
    for j in range(5):
        table.update(far(j))  # 2 and 3 and 4 go to the replacement cache
    assert table.remove(far(0).id) == far(4)
    assert [c.id for c in table.bucket(255)] == [far(1).id, far(4).id]
    assert table.remove(far(1).id) == far(3)
    assert table.remove(12345) is None
    assert len(table) == 2


def test_replacement_cache_is_bounded_by_k():
    table = RoutingTable(ME, k=2)
    for j in range(10):
        table.update(far(j))
    assert list(table.bucket(255).replacements) == [far(8).id, far(9).id]


def brute_closest(contacts, key, count, exclude=None):
    return sorted((c for c in contacts if c.id != exclude), key=lambda c: c.id ^ key)[:count]


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32), n=st.integers(0, 200), k=st.integers(1, 8), count=st.integers(0, 30),
       flat=st.booleans(), near=st.booleans())
def test_closest_matches_a_full_sort(seed, n, k, count, flat, near):
    rng = random.Random(seed)
    me = rng.getrandbits(256)
    table = RoutingTable(me, k=k)
    if not flat:
        table.FLAT_SORT_MAX = -1  # walk the buckets instead
    for _ in range(n):
        # half of them near ``me``, so low buckets are populated too
        node_id = me ^ rng.getrandbits(rng.randrange(1, 257)) if near else rng.getrandbits(256)
        table.update(Contact(node_id, node_id))
    contacts = list(table.contacts())
    key = me if rng.random() < 0.1 else (me ^ rng.getrandbits(rng.randrange(1, 257)))
    exclude = rng.choice(contacts).id if contacts and rng.random() < 0.5 else None
    assert table.closest(key, count, exclude=exclude) == brute_closest(contacts, key, count, exclude)


def test_refresh_targets_cover_stale_buckets_from_the_nearest_non_empty_one():
    clock = ManualClock()
    table = RoutingTable(ME, k=4, clock=clock)
    table.update(Contact(1 << 250, "a"))
    rng = random.Random(1)
    targets = table.refresh_targets(rng, interval=3600)
    assert [i for i, _ in targets] == list(range(250, 256))
    assert all(bucket_index(ME, t) == i for i, t in targets)
    for _, t in targets:
        table.touch_range(t)
    assert table.refresh_targets(rng, interval=3600) == []
    clock.advance(3599.0)
    assert table.refresh_targets(rng, interval=3600) == []
    clock.advance(1.0)  # an hour since the last lookup of each range: all due again
    assert len(table.refresh_targets(rng, interval=3600)) == 6
    assert len(table.refresh_targets(rng, interval=3600, force=True, start=253)) == 3


def test_k_must_be_positive():
    with pytest.raises(ValueError):
        RoutingTable(ME, k=0)
