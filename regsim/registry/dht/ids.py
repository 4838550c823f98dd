"""The keyspace: 256-bit identifiers, the XOR metric, bucket indices, and the key of a layer.

Kademlia (Maymounkov & Mazieres, IPTPS 2002, section 2) places nodes and keys in one space of
``B``-bit identifiers and measures closeness by ``d(x, y) = x XOR y`` read as an integer. libp2p's
kad-dht uses ``B = 256`` (SHA-256 outputs). An identifier here is a plain Python ``int`` in
``[0, 2**256)``: XOR and comparison of ints are the cheapest operations Python has, and a lookup
in a network of hundreds of nodes makes tens of thousands of them.

**The key of a layer** is ``sha256(str(digest).encode())`` -- the SHA-256 of the digest *string*
(``"sha256:3f1c..."``), not the digest's own bytes. Why:

- it is what Spegel does: its router turns every key it advertises or looks up into a CIDv1 whose
  multihash is the SHA-256 of the key string (``createCid`` in ``pkg/routing/libp2p/libp2p.go``),
  so the keyspace position of a layer follows the same rule as in the system being modelled;
- it gives every kind of key one rule: ``sha512:`` digests (whose bytes are 512 bits) and image
  tags (Spegel advertises ``registry/repo:tag`` names too) land in the same 256-bit space;
- the algorithm is part of the name, so ``sha256:X`` and a ``sha512:`` digest of the same bytes are
  different keys, as they are different registry addresses.

The digest's own bytes would be just as uniformly spread, so nothing about routing quality depends
on the choice. (libp2p hashes once more: its XOR position is ``sha256`` of the multihash bytes.
One hash or two, the position is uniform; ``docs/dht.md`` lists this among the differences.)
"""

from __future__ import annotations

import hashlib
import random

import numpy as np

from ..digest import Digest

#: bits in an identifier (SHA-256).
ID_BITS = 256
#: one more than the largest identifier.
ID_SPACE = 1 << ID_BITS

#: a node ID or a key: an int in [0, 2**256).
NodeId = int


def id_of_bytes(data: bytes) -> NodeId:
    """The identifier a byte string hashes to (SHA-256, big-endian)."""
    return int.from_bytes(hashlib.sha256(data).digest(), "big")


def id_of_name(name: str) -> NodeId:
    """A node ID derived from a host name: deterministic, and as uniform as a random one.

    libp2p peer IDs are hashes of public keys, so their positions are uniformly random; hashing
    the host name gives the same spread while letting a run be reproduced without a generator.
    """
    return id_of_bytes(name.encode())


def key_of_digest(digest: str | Digest) -> NodeId:
    """The DHT key under which a layer's providers are recorded: sha256 of the digest string."""
    return id_of_bytes(str(Digest.parse(digest)).encode())


def key_of_name(text: str) -> NodeId:
    """The DHT key of any other string key (an image tag, say), by the same rule as a digest."""
    return id_of_bytes(text.encode())


def random_id(rng: random.Random | np.random.Generator) -> NodeId:
    """A uniformly random identifier from a seeded generator (stdlib or numpy)."""
    if isinstance(rng, np.random.Generator):
        return int.from_bytes(rng.bytes(ID_BITS // 8), "big")
    return rng.getrandbits(ID_BITS)


def distance(a: NodeId, b: NodeId) -> int:
    """Kademlia's XOR distance: symmetric, zero only for equal IDs, and unidirectional."""
    return a ^ b


def bucket_index(self_id: NodeId, other: NodeId) -> int:
    """Index of the k-bucket ``other`` belongs to in ``self_id``'s table: the position of the
    highest bit in which they differ, 0..255 (255: the far half of the space). -1 for ``other ==
    self_id``, which belongs in no bucket. Bucket ``i`` holds the IDs at distance [2**i, 2**(i+1))."""
    return (self_id ^ other).bit_length() - 1


def common_prefix_length(a: NodeId, b: NodeId) -> int:
    """How many leading bits ``a`` and ``b`` share (256 for equal IDs): libp2p's "CPL"."""
    return ID_BITS - (a ^ b).bit_length()


def random_id_in_bucket(self_id: NodeId, index: int, rng: random.Random | np.random.Generator) -> NodeId:
    """A random identifier that falls in bucket ``index`` of ``self_id``'s table: it differs from
    ``self_id`` at bit ``index`` and shares every bit above it. A bucket refresh looks one up."""
    if not 0 <= index < ID_BITS:
        raise ValueError(f"bucket index must be in [0, {ID_BITS}), got {index}")
    low = random_id(rng) & ((1 << index) - 1)
    return self_id ^ ((1 << index) | low)


def short(node_id: NodeId) -> str:
    """The first 12 hex digits of an identifier, for messages and reprs."""
    return f"{node_id:064x}"[:12]
