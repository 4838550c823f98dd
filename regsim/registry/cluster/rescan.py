"""Rebuilding a cluster's layout index from what the nodes hold.

The index is a cache: every fragment's header names its blob, codec, index, stripe width and blob
size, so listing the nodes and reading each fragment's header (about :data:`PROBE_SIZE` bytes,
recorded as a transfer to the scanning machine) recovers every layout after a restart.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping

from .. import receipts
from ..errors import IntegrityError, InvalidKey, KeyNotFound
from ..receipts import Kind
from ..storage.base import BlobBackend
from .fragment import PROBE_SIZE, FragmentHeader, declared_header_size, parse_header
from .layout import FRAGMENTS, StripeLayout, split_fragment_key


def scan_layouts(nodes: Mapping[str, BlobBackend], *, dst: str) -> dict[str, StripeLayout]:
    """The layout of every blob with a readable fragment header on ``nodes`` (name -> backend)."""
    found: dict[str, list[tuple[str, FragmentHeader]]] = {}
    for name, backend in nodes.items():
        for header in headers_on(name, backend, dst=dst):
            found.setdefault(header.key, []).append((name, header))
    return {key: layout_from(key, headers) for key, headers in sorted(found.items())}


def headers_on(name: str, backend: BlobBackend, *, dst: str) -> Iterator[FragmentHeader]:
    """Valid headers of the fragments on one node; damaged or stray objects are skipped."""
    for obj in backend.list(FRAGMENTS):
        try:
            key, index = split_fragment_key(obj)
            probe = backend.read_at(obj, 0, PROBE_SIZE)
            receipts.record(Kind.TRANSFER, len(probe), node=name, dst=dst)
            if declared_header_size(probe) > len(probe) == PROBE_SIZE:  # a very long key
                probe = backend.read_at(obj, 0, declared_header_size(probe))
                receipts.record(Kind.TRANSFER, len(probe), node=name, dst=dst)
            header = parse_header(probe)
        except (InvalidKey, KeyNotFound, IntegrityError):
            continue  # not a fragment, gone, or damaged: repair rebuilds what is missing
        if (header.key, header.index) == (key, index):
            yield header


def layout_from(key: str, headers: list[tuple[str, FragmentHeader]]) -> StripeLayout:
    """The stripe most fragments of ``key`` agree on, each index on the first node found holding it.

    Fragments that disagree (left over from an older version of the blob) are ignored, as is a
    second fragment on a node that already holds one.
    """
    votes = Counter((h.codec, h.k, h.n, h.size) for _, h in headers)
    (codec, k, n, size), _ = votes.most_common(1)[0]
    nodes: list[str | None] = [None] * n
    for node, h in headers:
        if (h.codec, h.k, h.n, h.size) == (codec, k, n, size) and nodes[h.index] is None and node not in nodes:
            nodes[h.index] = node
    return StripeLayout(key, size, codec, k, tuple(nodes))
