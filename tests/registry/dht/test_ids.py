"""The keyspace: XOR metric, bucket indices, IDs in a bucket, the key of a layer digest."""

from __future__ import annotations

import hashlib
import random

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from regsim.registry.digest import Digest
from regsim.registry.dht import Contact, bucket_index, distance, id_of_name, key_of_digest, key_of_name, random_id
from regsim.registry.dht.ids import ID_BITS, common_prefix_length, random_id_in_bucket, short

ids = st.integers(0, (1 << ID_BITS) - 1)
LAYER = "sha256:" + "3f" * 32


@settings(max_examples=200, deadline=None)
@given(a=ids, b=ids, c=ids)
def test_xor_is_a_metric(a, b, c):
    assert distance(a, a) == 0
    assert (distance(a, b) == 0) == (a == b)
    assert distance(a, b) == distance(b, a)
    assert distance(a, c) <= distance(a, b) + distance(b, c)  # triangle inequality


@settings(max_examples=100, deadline=None)
@given(a=ids, d=st.integers(1, (1 << ID_BITS) - 1))
def test_xor_is_unidirectional(a, d):
    """For a point and a distance there is exactly one point at that distance (paper, 2.1)."""
    b = a ^ d
    assert distance(a, b) == d
    assert [x for x in (b, a ^ (d ^ 1)) if distance(a, x) == d] == [b]


def test_bucket_index_is_the_highest_differing_bit():
    me = 0b1011 << 200
    assert bucket_index(me, me) == -1
    assert bucket_index(me, me ^ 1) == 0
    assert bucket_index(me, me ^ (1 << 255)) == 255  # the far half of the space
    assert bucket_index(me, me ^ (1 << 200) ^ 7) == 200
    assert common_prefix_length(me, me) == 256
    assert common_prefix_length(me, me ^ (1 << 255)) == 0
    assert common_prefix_length(me, me ^ (1 << 200)) == 55


@settings(max_examples=200, deadline=None)
@given(me=ids, other=ids)
def test_bucket_i_holds_distances_from_2_to_the_i_to_2_to_the_i_plus_1(me, other):
    i = bucket_index(me, other)
    if other == me:
        assert i == -1
    else:
        assert 2**i <= distance(me, other) < 2 ** (i + 1)
        assert common_prefix_length(me, other) == ID_BITS - 1 - i


@settings(max_examples=100, deadline=None)
@given(me=ids, index=st.integers(0, ID_BITS - 1), seed=st.integers(0, 2**32))
def test_random_id_in_bucket_lands_in_that_bucket(me, index, seed):
    assert bucket_index(me, random_id_in_bucket(me, index, random.Random(seed))) == index
    assert bucket_index(me, random_id_in_bucket(me, index, np.random.default_rng(seed))) == index


def test_random_ids_are_seeded_and_256_bit():
    a, b = random_id(random.Random(7)), random_id(random.Random(7))
    assert a == b and 0 <= a < 1 << 256
    assert random_id(np.random.default_rng(7)) == random_id(np.random.default_rng(7))
    assert random_id(random.Random(7)) != random_id(random.Random(8))


def test_the_key_of_a_layer_is_sha256_of_the_digest_string():
    want = int.from_bytes(hashlib.sha256(LAYER.encode()).digest(), "big")
    assert key_of_digest(LAYER) == key_of_digest(Digest.parse(LAYER)) == key_of_name(LAYER) == want
    # not the digest's own bytes
    assert key_of_digest(LAYER) != int(LAYER.split(":")[1], 16)
    # sha512 digests land in the same 256-bit space
    assert 0 <= key_of_digest("sha512:" + "ab" * 64) < 1 << 256


def test_node_ids_from_names_are_stable():
    assert Contact.named("n1") == Contact(id_of_name("n1"), "n1")
    assert id_of_name("n1") != id_of_name("n2")
    assert short(key_of_digest(LAYER)) == f"{key_of_digest(LAYER):064x}"[:12]
