"""Repair: rebuild every lost fragment so each blob is back to full redundancy.

For each blob, a repair worker (the cluster's origin unless told otherwise) finds the lost
fragments -- on down or replaced nodes, missing, or found damaged -- reads ``k`` good fragments,
rebuilds the lost ones with the blob's codec and sends each to a node:

- the node that held it, if that node is up and holds no other fragment of the blob (a replaced
  node, or a damaged fragment rewritten in place);
- else the blob's most preferred live node (rendezvous ranking) that holds none of its fragments.

How lost fragments are found is the choice between recovery and scrubbing. By default (recovery)
a fragment is lost when its node is down, when its node no longer has it (a replaced node), or
when a read found it missing or damaged (:meth:`StorageCluster.suspects`); only blobs with a lost
fragment are read, ``k`` fragments each, which is the repair traffic a real system would see.
With ``scrub=True`` every fragment of every blob is read and its crc checked, so damage that no
read has met yet is found too, at the cost of reading everything.
Blobs with more than ``m`` fragments lost are listed as unrecoverable, never raised: one lost blob
must not stop the repair of the others. Repair does not lock out writers; run it while the blobs
it repairs are not being rewritten.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .. import receipts
from ..codecs.metered import MeteredCodec
from ..errors import DataLoss, KeyNotFound
from ..receipts import Kind
from .cluster import StorageCluster
from .layout import StripeLayout
from .placement import spare
from .stripe import StripeReader


@dataclass
class RepairReport:
    """What a repair did; ``unrecoverable`` and ``short`` list blob keys, ``causes`` says why."""

    blobs_checked: int = 0
    blobs_repaired: int = 0
    fragments_rebuilt: int = 0
    bytes_read: int = 0
    bytes_written: int = 0
    #: blobs with fewer than k good fragments: their data is gone
    unrecoverable: list[str] = field(default_factory=list)
    #: blobs rebuilt only partly because no live node was free to take a fragment
    short: list[str] = field(default_factory=list)
    causes: dict[str, str] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """True when every checked blob is back to full redundancy."""
        return not self.unrecoverable and not self.short

    def __str__(self) -> str:
        text = (f"checked {self.blobs_checked} blobs, repaired {self.blobs_repaired}: rebuilt "
                f"{self.fragments_rebuilt} fragments, read {self.bytes_read:,} B, wrote {self.bytes_written:,} B")
        if self.unrecoverable:
            text += f"; unrecoverable: {', '.join(self.unrecoverable)}"
        if self.short:
            text += f"; short of nodes: {', '.join(self.short)}"
        return text


def repair(cluster: StorageCluster, keys: Iterable[str] | None = None, *, scrub: bool = False,
           worker: str | None = None) -> RepairReport:
    """Rebuild the lost fragments of ``keys`` (default: every blob); see the module doc."""
    worker = worker or cluster.origin
    report = RepairReport()
    for key in cluster.keys() if keys is None else keys:
        try:
            layout = cluster.layout(key)
        except KeyNotFound:
            continue  # deleted since the listing: nothing to protect
        report.blobs_checked += 1
        with receipts.collect() as work:
            _repair_blob(cluster, layout, report, scrub=scrub, worker=worker)
        report.bytes_read += sum(i.amount for i in work.of(Kind.TRANSFER) if i.dst == worker)
    return report


def _repair_blob(cluster: StorageCluster, layout: StripeLayout, report: RepairReport, *, scrub: bool,
                 worker: str) -> None:
    reader = StripeReader(cluster, layout, dst=worker)
    suspects = cluster.suspects(layout.key)
    for index in reader.available():
        node = layout.nodes[index]
        assert node is not None  # available() excludes unknown holders
        if scrub:
            reader.fetch(index)
        elif index in suspects:
            reader.lost[index] = (node, "found missing or damaged by a read")
        elif not cluster.node(node).exists(layout.fragment_key(index)):
            reader.lost[index] = (node, "fragment missing")
    if not reader.lost:
        return
    try:
        sources = reader.fetch_any(layout.k)
    except DataLoss as exc:
        report.unrecoverable.append(layout.key)
        report.causes[layout.key] = str(exc)
        return
    targets = _targets(cluster, layout, sorted(reader.lost))
    if len(targets) < len(reader.lost):
        report.short.append(layout.key)
        unplaced = sorted(set(reader.lost) - set(targets))
        report.causes[layout.key] = f"no free live node for fragments {unplaced}"
    if not targets:
        return
    codec = reader.codec if worker == cluster.origin else MeteredCodec(reader.codec.inner, node=worker)
    rebuilt = codec.reconstruct(sources, sorted(targets), layout.size)
    for index, node in sorted(targets.items()):
        report.bytes_written += cluster.write_fragment(layout, index, node, rebuilt[index], src=worker)
    if cluster.relocate(layout.key, targets):
        report.blobs_repaired += 1
        report.fragments_rebuilt += len(targets)


def _targets(cluster: StorageCluster, layout: StripeLayout, lost: list[int]) -> dict[int, str]:
    """A node for each lost fragment that can have one: in place if possible, else the best spare."""
    taken = {node for i, node in enumerate(layout.nodes) if i not in lost and node is not None}
    targets: dict[int, str] = {}
    for index in lost:
        node = layout.nodes[index]
        if node is not None and cluster.is_live(node) and node not in taken:
            targets[index] = node
            taken.add(node)
    unusable = taken | set(cluster.down_nodes)
    for index in lost:
        if index in targets:
            continue
        node = spare(layout.key, cluster.node_names, exclude=unusable)
        if node is None:
            continue
        targets[index] = node
        unusable.add(node)
    return targets
