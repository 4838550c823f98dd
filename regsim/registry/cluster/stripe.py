"""Reading one blob's stripe: plan which fragments to fetch, and read around the ones that fail.

A read first looks for a *verbatim* plan -- every data chunk it needs held as is by a reachable
fragment -- which costs transfers only. When some needed chunk is lost it falls back to a real
decode from any ``k`` surviving fragments. A fragment that turns out to be missing or damaged
while being read is marked lost and the read is planned again, so a corrupted fragment costs one
wasted transfer, not the read. Only when fewer than ``k`` fragments survive does the read fail,
with a :class:`DataLoss` that names the blob and every lost fragment's node and cause.

A reader reads through a :class:`FragmentSource`, the few fragment calls it needs, which
:class:`~regsim.registry.cluster.cluster.StorageCluster` provides. Naming those calls here, rather
than importing the cluster class, keeps the dependency one way: the cluster builds readers.
"""

from __future__ import annotations

from typing import Protocol

from ..codecs.metered import MeteredCodec
from ..errors import DataLoss, IntegrityError, KeyNotFound
from .layout import StripeLayout


class FragmentSource(Protocol):
    """What a :class:`StripeReader` needs from the storage cluster it reads."""

    def codec_for(self, layout: StripeLayout) -> MeteredCodec: ...

    def is_live(self, name: str) -> bool: ...

    def fetch_fragment(self, layout: StripeLayout, index: int, *, dst: str | None = None) -> memoryview: ...

    def fetch_fragment_range(self, layout: StripeLayout, index: int, lo: int, hi: int, *,
                             dst: str | None = None) -> bytes: ...

    def report_lost(self, layout: StripeLayout, index: int) -> None: ...


def lost_reason(exc: Exception) -> str:
    """A short cause for a fragment read that failed, for DataLoss messages and repair reports."""
    if isinstance(exc, KeyNotFound):
        return "fragment missing"
    return f"fragment damaged: {exc}"


class StripeReader:
    """Fetches fragments of one blob for one operation, remembering which are lost and why.

    ``dst`` is where the fragments travel to (the cluster's origin unless a repair worker reads).
    ``first``, for a replicated blob (``k = 1``: every fragment is a copy), is the copy to try first;
    the others follow in index order from it, so successive readers given successive ``first``
    spread their reads over the copies.
    """

    def __init__(self, cluster: FragmentSource, layout: StripeLayout, *, dst: str | None = None,
                 first: int = 0) -> None:
        self.cluster = cluster
        self.layout = layout
        self.codec = cluster.codec_for(layout)
        self.dst = dst
        self.first = first % layout.n if layout.k == 1 else 0
        #: fragment index -> (node or None, cause)
        self.lost: dict[int, tuple[str | None, str]] = {}
        self.payloads: dict[int, memoryview] = {}
        for i, node in enumerate(layout.nodes):
            if node is None:
                self.lost[i] = (None, "no node holds it")
            elif not cluster.is_live(node):
                self.lost[i] = (node, "node down")

    # -- fragment access -----------------------------------------------------------------------

    def available(self) -> list[int]:
        """Indices not (yet) known to be lost, in the order reads prefer: data fragments first (for a
        replicated blob, every copy from ``first`` on)."""
        k, n, first = self.layout.k, self.layout.n, self.first
        if first:
            return sorted((i for i in range(n) if i not in self.lost), key=lambda i: (i - first) % n)
        return sorted((i for i in range(n) if i not in self.lost), key=lambda i: (i >= k, i))

    def fetch(self, index: int) -> memoryview | None:
        """The verified payload of fragment ``index``, or None (and the index marked lost)."""
        if index not in self.payloads:
            try:
                self.payloads[index] = self.cluster.fetch_fragment(self.layout, index, dst=self.dst)
            except (KeyNotFound, IntegrityError) as exc:
                self._lose(index, exc)
                return None
        return self.payloads[index]

    def fetch_range(self, index: int, lo: int, hi: int) -> bytes | None:
        """Payload bytes ``lo..hi`` of fragment ``index``, or None (and the index marked lost)."""
        try:
            return self.cluster.fetch_fragment_range(self.layout, index, lo, hi, dst=self.dst)
        except (KeyNotFound, IntegrityError) as exc:
            self._lose(index, exc)
            return None

    def _lose(self, index: int, exc: Exception) -> None:
        node = self.layout.nodes[index]
        self.lost[index] = (node, lost_reason(exc))
        if node is not None and self.cluster.is_live(node):  # not merely down: the fragment is bad
            self.cluster.report_lost(self.layout, index)

    def fetch_any(self, count: int) -> dict[int, memoryview]:
        """``count`` verified payloads from surviving fragments (data first); DataLoss if too few survive."""
        while True:
            chosen = self.available()[:count]
            if len(chosen) < count:
                raise self.data_loss(count)
            if all(self.fetch(i) is not None for i in chosen):
                return {i: self.payloads[i] for i in chosen}

    def data_loss(self, needed: int | None = None) -> DataLoss:
        layout = self.layout
        needed = layout.k if needed is None else needed
        lost = "; ".join(
            f"#{i} on {node or 'no node'} ({cause})" for i, (node, cause) in sorted(self.lost.items())
        )
        nodes = sorted({node for node, _ in self.lost.values() if node})
        return DataLoss(
            f"blob {layout.key!r} is lost: {layout.codec} needs {needed} of {layout.n} fragments but only "
            f"{layout.n - len(self.lost)} are readable; lost nodes: {', '.join(nodes) or 'none'}; lost: {lost}",
            detail={"key": layout.key, "lost": {i: node for i, (node, _) in self.lost.items()}, "nodes": nodes,
                    "codec": layout.codec, "needed": needed, "readable": layout.n - len(self.lost)},
        )

    # -- reads ---------------------------------------------------------------------------------

    def read(self) -> bytes:
        """The whole blob."""
        layout, codec = self.layout, self.codec
        while True:
            sources = [codec.verbatim_source(p, self.available()) for p in range(layout.k)]
            if all(s is not None for s in sources):
                parts = {}
                for s in sources:
                    payload = self.fetch(s)  # type: ignore[arg-type]
                    if payload is None:
                        break
                    parts[s] = payload
                else:
                    return codec.decode(parts, layout.size)  # a concatenation: nothing to decode
                continue
            return codec.decode(self.fetch_any(layout.k), layout.size)

    def read_range(self, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes from ``offset``, fetching only the fragment bytes that cover them."""
        layout, codec = self.layout, self.codec
        end = min(layout.size, offset + length)
        if offset >= end:
            return b""
        chunk = layout.chunk
        spans = [(p, max(offset - p * chunk, 0), min(end - p * chunk, chunk))
                 for p in range(offset // chunk, (end - 1) // chunk + 1)]
        while True:
            sources = [codec.verbatim_source(p, self.available()) for p, _, _ in spans]
            if all(s is not None for s in sources):
                parts = []
                for (_, lo, hi), s in zip(spans, sources):
                    part = self.fetch_range(s, lo, hi)  # type: ignore[arg-type]
                    if part is None:
                        break
                    parts.append(part)
                else:
                    return parts[0] if len(parts) == 1 else b"".join(parts)
                continue
            if not getattr(codec, "bytewise", False):
                return self.read()[offset:end]
            decoded = self._read_decoded(spans)
            if decoded is not None:
                return decoded

    def _read_decoded(self, spans: list[tuple[int, int, int]]) -> bytes | None:
        """Decode the spans from the same payload window of any ``k`` fragments.

        The codec acts on each byte position alone, so payload bytes ``lo..hi`` of ``k`` fragments
        give bytes ``lo..hi`` of every data chunk. Returns None when a fragment failed while being
        read (the caller plans again).
        """
        k = self.layout.k
        lo, hi = min(a for _, a, _ in spans), max(b for _, _, b in spans)
        width = hi - lo
        chosen = self.available()[:k]
        if len(chosen) < k:
            raise self.data_loss()
        windows = {}
        for i in chosen:
            part = self.fetch_range(i, lo, hi)
            if part is None:
                return None
            windows[i] = part
        decoded = memoryview(self.codec.decode(windows, k * width))
        return b"".join(decoded[p * width + a - lo : p * width + b - lo] for p, a, b in spans)
