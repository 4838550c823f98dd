"""A storage cluster: blobs cut into fragments by a codec and spread over storage nodes.

:class:`StorageCluster` is what the blob store writes through. It encodes a blob (through a
:class:`MeteredCodec`, so the coding is on the receipt), sends one fragment to each node chosen by
rendezvous placement, and keeps a layout index in memory that :meth:`StorageCluster.rescan` can
rebuild from the fragment headers alone. Every fragment that crosses the network is recorded as a
:data:`Kind.TRANSFER` between the origin (the frontend) and the node; disk work is recorded by
whatever metering wrapper the nodes come in, never here.

Failures are modelled at two levels: a node can be down (:meth:`fail_node`: reads and writes skip
it) or come back empty (:meth:`replace_node`); and a single fragment can be missing or damaged,
which a read finds out and reads around (:mod:`.stripe`). :func:`.repair.repair` restores full
redundancy. The cluster also satisfies the :class:`BlobBackend` protocol, so anything written
against a plain backend can run on it.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence

from .. import receipts
from ..codecs.base import Codec
from ..codecs.metered import MeteredCodec
from ..codecs.parse import parse_codec
from ..errors import ConfigError, DataLoss, IntegrityError, KeyNotFound
from ..receipts import Kind
from ..storage.base import BlobBackend, BufferedWriter, check_key
from .fragment import FragmentHeader, frame, parse
from .layout import StripeLayout
from .placement import place
from .rescan import scan_layouts
from .stripe import StripeReader

Buffer = bytes | bytearray | memoryview


class StorageCluster:
    """Blobs over ``nodes`` with ``codec``; ``origin`` names the machine clients talk to.

    ``replica_reads`` says which copy of a replicated blob a read fetches: ``spread`` takes the
    copies in turn, read after read of the same blob (as a Swift proxy shuffles replicas, or Ceph
    spreads a large object's stripes over many primaries), so a popular layer's reads share its
    copies' disks; ``primary`` always tries the first copy (the one placement ranked first) and
    leaves the others for when it is lost. Erasure-coded reads have no such choice: they need the
    ``k`` data fragments.
    """

    READ_POLICIES = ("spread", "primary")

    def __init__(self, nodes: Sequence[BlobBackend], codec: Codec, *, origin: str = "frontend",
                 name: str = "cluster", replica_reads: str = "spread") -> None:
        if replica_reads not in self.READ_POLICIES:
            raise ConfigError(f"replica_reads: expected one of {', '.join(self.READ_POLICIES)}, got {replica_reads!r}")
        names = [node.name for node in nodes]
        if len(set(names)) != len(names):
            dupes = sorted(n for n, c in Counter(names).items() if c > 1)
            raise ConfigError(f"storage node names must be unique; repeated: {', '.join(dupes)}")
        if len(nodes) < codec.n:
            raise ConfigError(f"codec {codec.name} writes {codec.n} fragments and needs at least {codec.n} "
                              f"storage nodes, got {len(nodes)}")
        self.name = name
        self.origin = origin
        self.codec: MeteredCodec = codec if isinstance(codec, MeteredCodec) else MeteredCodec(codec, node=origin)
        self._codecs: dict[str, MeteredCodec] = {self.codec.name: self.codec}
        self._nodes: dict[str, BlobBackend] = dict(zip(names, nodes))
        self._down: set[str] = set()
        self._layouts: dict[str, StripeLayout] = {}
        #: node -> fragment objects to delete when it comes back (deleted or moved while it was down)
        self._tombstones: dict[str, set[str]] = {}
        #: blob key -> indices of fragments a read found missing or damaged, for repair to rebuild
        self._suspects: dict[str, set[int]] = {}
        self._lock = threading.RLock()
        self.replica_reads = replica_reads
        #: blob key -> reads made of it, whose count picks the copy the next read tries first
        self._read_turns: Counter[str] = Counter()

    def __repr__(self) -> str:
        return f"StorageCluster({self.codec.name} over {len(self._nodes)} nodes, {len(self._layouts)} blobs)"

    # -- nodes ---------------------------------------------------------------------------------

    @property
    def node_names(self) -> tuple[str, ...]:
        return tuple(self._nodes)

    @property
    def live_nodes(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(n for n in self._nodes if n not in self._down)

    @property
    def down_nodes(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(n for n in self._nodes if n in self._down)

    def node(self, name: str) -> BlobBackend:
        return self._nodes[self._known(name)]

    def is_live(self, name: str) -> bool:
        return name in self._nodes and name not in self._down

    def fail_node(self, name: str) -> None:
        """The node becomes unreachable: reads and writes skip it until it is restored or replaced."""
        with self._lock:
            self._down.add(self._known(name))

    def restore_node(self, name: str) -> None:
        """The node is reachable again with whatever it held; deletes missed while down are applied."""
        with self._lock:
            self._down.discard(self._known(name))
            pending = self._tombstones.pop(name, set())
        for obj in sorted(pending):
            self._delete_object(name, obj)

    def replace_node(self, name: str, backend: BlobBackend) -> None:
        """The node comes back as ``backend``, empty: its fragments are lost until repaired."""
        self._known(name)
        if backend.name != name:
            raise ConfigError(f"replacement for node {name!r} is named {backend.name!r}; it must keep the name")
        with self._lock:
            self._nodes[name] = backend
            self._down.discard(name)
            self._tombstones.pop(name, None)

    def _known(self, name: str) -> str:
        if name not in self._nodes:
            raise ConfigError(f"no storage node named {name!r}; nodes are {', '.join(self._nodes)}")
        return name

    # -- blobs ---------------------------------------------------------------------------------

    def put(self, key: str, data: Buffer) -> StripeLayout:
        """Encode ``data`` and write one fragment to each placed node; returns the new layout.

        Nodes that are down are skipped (placement passes their slot on); with fewer than ``n``
        live nodes nothing is written and :class:`StorageUnavailable` says which nodes are down.
        """
        check_key(key)
        codec = self.codec
        nodes = place(key, self.node_names, codec.n, exclude=self.down_nodes)
        size = memoryview(data).nbytes
        layout = StripeLayout(key, size, codec.name, codec.k, nodes)
        written: list[int] = []
        try:
            for index, payload in enumerate(codec.encode(data)):
                self.write_fragment(layout, index, nodes[index], payload)
                written.append(index)
        except BaseException:
            for index in written:
                self._delete_object(nodes[index], layout.fragment_key(index))
            raise
        with self._lock:
            old = self._layouts.get(key)
            self._layouts[key] = layout
            self._suspects.pop(key, None)
        if old is not None:
            self._drop_stale(old, layout)
        return layout

    def get(self, key: str) -> bytes:
        """The blob, from its data fragments when they are all readable, else decoded from any ``k``."""
        return self._read(key, lambda reader: reader.read())

    def read_at(self, key: str, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes from ``offset``, fetching only the fragment bytes that cover them.

        Ranged reads trust the payload bytes they fetch (the crc covers whole fragments); a
        missing fragment is read around by decoding the same range of other fragments.
        """
        if offset < 0 or length < 0:
            raise ValueError("offset and length must be non-negative")
        return self._read(key, lambda reader: reader.read_range(offset, length))

    def _read(self, key: str, how: Callable[[StripeReader], bytes]) -> bytes:
        layout = self.layout(key)
        first = 0
        if layout.k == 1 and self.replica_reads == "spread":
            with self._lock:
                first = self._read_turns[key]
                self._read_turns[key] = first + 1
        try:
            return how(StripeReader(self, layout, first=first))
        except DataLoss:
            if not self.exists(key):  # deleted while we read it
                raise KeyNotFound(f"{self.name}: no blob {key!r}") from None
            raise

    def probe(self, key: str) -> None:
        """Check, without reading any payload, that enough of the blob's fragments are there to
        read it: DataLoss (naming the lost fragments and nodes) if fewer than ``k`` are on live
        nodes that still hold the fragment's object. A fragment found missing is reported for
        repair, as a read would. Damage inside a present fragment is found only by reading it."""
        layout = self.layout(key)
        reader = StripeReader(self, layout)
        for index in reader.available():
            node = layout.nodes[index]
            if not self._nodes[node].exists(layout.fragment_key(index)):
                reader._lose(index, KeyNotFound(f"fragment {index} of {key!r} is not on {node}"))
        if layout.n - len(reader.lost) < layout.k:
            if not self.exists(key):  # deleted meanwhile
                raise KeyNotFound(f"{self.name}: no blob {key!r}")
            raise reader.data_loss()

    def layout(self, key: str) -> StripeLayout:
        with self._lock:
            layout = self._layouts.get(key)
        if layout is None:
            raise KeyNotFound(f"{self.name}: no blob {check_key(key)!r}")
        return layout

    def stat(self, key: str) -> int:
        return self.layout(key).size

    def modified(self, key: str) -> float | None:
        """When the newest fragment of ``key`` on a live node was written (wall clock), or None when
        that cannot be told (a node's backend keeps no times, or no fragment is found)."""
        layout, newest = self.layout(key), None
        for index, node in enumerate(layout.nodes):
            if node is None or not self.is_live(node):
                continue
            backend = self._nodes[node]
            when = getattr(getattr(backend, "inner", backend), "modified", None)
            if when is None:
                return None
            try:
                t = when(layout.fragment_key(index))
            except KeyNotFound:
                continue
            newest = t if newest is None else max(newest, t)
        return newest

    def stored_size(self, key: str) -> int:
        """Bytes the blob's fragments take on the nodes, headers included."""
        layout = self.layout(key)
        return layout.fragment_size * sum(node is not None for node in layout.nodes)

    def exists(self, key: str) -> bool:
        with self._lock:
            return check_key(key) in self._layouts

    def delete(self, key: str) -> None:
        """Remove every fragment of the blob (those on down nodes when the nodes come back)."""
        with self._lock:
            layout = self._layouts.pop(check_key(key), None)
            self._suspects.pop(key, None)
            self._read_turns.pop(key, None)
        if layout is None:
            raise KeyNotFound(f"{self.name}: no blob {key!r}")
        for index, node in enumerate(layout.nodes):
            if node is not None:
                self._discard(node, layout.fragment_key(index))

    def keys(self) -> list[str]:
        with self._lock:
            return sorted(self._layouts)

    def list(self, prefix: str = "") -> Iterator[str]:
        """Blob keys under a directory-like ``prefix``, sorted (the BlobBackend listing)."""
        if prefix:
            prefix = check_key(prefix.rstrip("/")) + "/"
        return iter([k for k in self.keys() if k.startswith(prefix)])

    def writer(self, key: str, *, append: bool = False) -> BufferedWriter:
        """A buffered writer; the blob is encoded and stored (:meth:`put`) on commit.

        Erasure coding needs the whole blob (the chunk length depends on its size), so the writer
        keeps what it is given and encodes it once, on commit.
        """
        check_key(key)
        return BufferedWriter(key, self.put, self.get(key) if append and self.exists(key) else b"")

    def stored_bytes(self) -> int:
        """Bytes of every fragment the layout index accounts for, headers included."""
        with self._lock:
            layouts = list(self._layouts.values())
        return sum(l.fragment_size * sum(node is not None for node in l.nodes) for l in layouts)

    # -- fragments (shared with repair) ----------------------------------------------------------

    def codec_for(self, layout: StripeLayout) -> MeteredCodec:
        """The (metered) codec a stored stripe was written with."""
        with self._lock:
            codec = self._codecs.get(layout.codec)
            if codec is None:
                codec = self._codecs[layout.codec] = MeteredCodec(parse_codec(layout.codec), node=self.origin)
        if codec.k != layout.k or codec.n != layout.n:
            raise IntegrityError(f"blob {layout.key!r}: layout says k={layout.k}, n={layout.n} "
                                 f"but its codec {layout.codec} has k={codec.k}, n={codec.n}")
        return codec

    def fetch_fragment(self, layout: StripeLayout, index: int, *, dst: str | None = None) -> memoryview:
        """The verified payload of fragment ``index``, transferred from its node to ``dst``."""
        node = self._holder(layout, index)
        data = self._nodes[node].get(layout.fragment_key(index))
        receipts.record(Kind.TRANSFER, len(data), node=node, dst=dst or self.origin)
        header, payload = parse(data)
        expected = (layout.key, layout.codec, index, layout.k, layout.n, layout.size)
        found = (header.key, header.codec, header.index, header.k, header.n, header.size)
        if found != expected:
            raise IntegrityError(f"fragment {layout.fragment_key(index)} on {node} belongs to another stripe: "
                                 f"header says {found}, layout says {expected}")
        return payload

    def fetch_fragment_range(self, layout: StripeLayout, index: int, lo: int, hi: int, *,
                             dst: str | None = None) -> bytes:
        """Payload bytes ``lo..hi`` of fragment ``index`` (not crc-checked: the crc covers it whole)."""
        node = self._holder(layout, index)
        data = self._nodes[node].read_at(layout.fragment_key(index), layout.header_size + lo, hi - lo)
        receipts.record(Kind.TRANSFER, len(data), node=node, dst=dst or self.origin)
        if len(data) != hi - lo:
            raise IntegrityError(f"fragment {layout.fragment_key(index)} on {node} is truncated")
        return data

    def write_fragment(self, layout: StripeLayout, index: int, node: str, payload: Buffer, *,
                       src: str | None = None) -> int:
        """Frame ``payload`` as fragment ``index`` and store it on ``node``; returns bytes sent."""
        header = FragmentHeader.describe(layout.key, layout.codec, index, layout.k, layout.n, layout.size, payload)
        head = header.pack()
        size = len(head) + memoryview(payload).nbytes
        receipts.record(Kind.TRANSFER, size, node=src or self.origin, dst=node)
        # Header and payload go to the node as two writes: no joined copy of the payload.
        with self._nodes[node].writer(layout.fragment_key(index)) as w:
            w.write(head)
            w.write(payload)
        return size

    def relocate(self, key: str, moves: dict[int, str]) -> bool:
        """Record rebuilt fragments: fragment ``index`` of ``key`` now lives on ``moves[index]``.

        Returns False (and changes nothing) if the blob was deleted meanwhile. Copies left on the
        old nodes are deleted (when those nodes come back, if they are down).
        """
        with self._lock:
            layout = self._layouts.get(key)
            if layout is None:
                return False
            updated = layout
            for index, node in moves.items():
                updated = updated.moved(index, node)
            self._layouts[key] = updated
            suspects = self._suspects.get(key, set())
            suspects.difference_update(moves)
            if not suspects:
                self._suspects.pop(key, None)
        for index, node in moves.items():
            old = layout.nodes[index]
            if old is not None and old != node:
                self._discard(old, layout.fragment_key(index))
        return True

    def report_lost(self, layout: StripeLayout, index: int) -> None:
        """Note that a read found fragment ``index`` missing or damaged, so repair rebuilds it."""
        with self._lock:
            if self._layouts.get(layout.key) is layout:
                self._suspects.setdefault(layout.key, set()).add(index)

    def suspects(self, key: str) -> frozenset[int]:
        """Fragment indices of ``key`` that reads found missing or damaged since it was written or repaired."""
        with self._lock:
            return frozenset(self._suspects.get(key, ()))

    def _holder(self, layout: StripeLayout, index: int) -> str:
        node = layout.nodes[index]
        if node is None or not self.is_live(node):
            raise KeyNotFound(f"fragment {index} of {layout.key!r}: node {node or '(none)'} is not reachable")
        return node

    def _drop_stale(self, old: StripeLayout, new: StripeLayout) -> None:
        for index, node in enumerate(old.nodes):
            if node is not None and not (index < new.n and new.nodes[index] == node):
                self._discard(node, old.fragment_key(index))

    def _discard(self, node: str, obj: str) -> None:
        with self._lock:
            if node in self._down:
                self._tombstones.setdefault(node, set()).add(obj)
                return
        self._delete_object(node, obj)

    def _delete_object(self, node: str, obj: str) -> None:
        try:
            self._nodes[node].delete(obj)
        except KeyNotFound:
            pass

    # -- index ---------------------------------------------------------------------------------

    def rescan(self) -> int:
        """Rebuild the layout index from the fragment headers on the live nodes; returns blobs found.

        Only headers are read (their own crc vouches for them). A fragment index no live node
        holds is recorded as unknown (None), which reads and repair treat as lost.
        """
        layouts = scan_layouts({node: self._nodes[node] for node in self.live_nodes}, dst=self.origin)
        with self._lock:
            self._layouts = layouts
        return len(layouts)
