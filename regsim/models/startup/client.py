"""One node starting the container: a full pull and unpack, or a lazy client's mount and reads.

A **full pull** (``format: plain``) does what containerd does: the manifest, then every layer
whole (three at a time, Docker's default; from the registry in one GET, or piece by piece from
peers), each unpacked in layer order once it has arrived -- inflating it and writing its files,
priced by the calibrated ``gzip_inflate``, ``tar_unpack`` and ``file_create`` work on one core,
and no faster than the node's disk writes -- then the start-up trace runs on local files (its
CPU only: the files were just written and are in the page cache, an assumption).

Both fetch the image's config after the manifest (containerd reads it before unpacking).

A **lazy client** (the other formats) fetches the manifest, the config (and SOCI's index), then
mounts the layers (``workload.mount``): by default one after another in the image's order, as
containerd prepares each layer's snapshot on its parent's, every layer resolved at the first
mount (the snapshotter's probes, then the reader's opening ranges, one request each in order: an
eStargz footer then its TOC; a layer no index covers is pulled whole and unpacked in its turn),
each later mount re-checking its blob with one probe and paying the local ``cost``. A layer's
prefetch starts as soon as it is mounted; with ``wait_prefetch`` the container is created only
once each layer's prefetch is done (at most ``prefetch_timeout`` each). The background fetch
starts once every layer is mounted. Then the trace runs: each read first spends its CPU, then
needs its pieces; a missing piece is
fetched (one request per run of contiguous missing pieces, at most ``connections`` requests in
flight per node, reads before prefetch before background), a piece already on its way is waited
for, and each piece is inflated (``gzip_inflate`` / ``zstd_decompress``) when a read first uses it.
The node is ready when the trace's last read completes.
"""

from __future__ import annotations

from collections.abc import Generator

import simpy

from regsim.registry.receipts import Kind

from .config import Mount
from .image import CODEC, StartupImage
from .sources import Counters, PeerScheduler, RegistrySource, runs

#: layers a full pull downloads at once (Docker's ``max-concurrent-downloads``)
FULL_PULL_DOWNLOADS = 3
#: the most bytes one background request asks for (stargz-snapshotter's background fetcher
#: fetches layers in chunks; the size is an assumption)
BACKGROUND_REQUEST = 4 << 20
#: the bytes of a snapshotter's probe of a blob (a ``Range: bytes=0-1`` GET)
PROBE_BYTES = 2
#: request priorities on a node's connections
ON_DEMAND, PREFETCH, BACKGROUND = 0, 1, 2
_DECOMPRESS = {"gzip": Kind.GZIP_INFLATE, "zstd": Kind.ZSTD_DECOMPRESS}


class NodeStats:
    """What one node did and when."""

    __slots__ = ("start", "mounted", "ready", "fetch_wait_s", "on_demand", "prefetch_bytes", "bytes_before_ready",
                 "bytes", "background_done", "unpack_s", "inflate_s")

    def __init__(self, start: float) -> None:
        self.start = start
        self.mounted = self.ready = self.background_done = None
        self.fetch_wait_s = self.unpack_s = self.inflate_s = 0.0
        self.on_demand = self.prefetch_bytes = self.bytes_before_ready = self.bytes = 0


class NodeClient:
    """One node's start: see the module docstring."""

    def __init__(self, env: simpy.Environment, node: str, index: int, image: StartupImage, registry: RegistrySource,
                 scheduler: PeerScheduler | None, counters: Counters, *, connections: int, prefetch: str,
                 background: float | None, profile, disk_write: float, net, p2p_run_bytes: int = 4 << 20,
                 mount=None, align: int | None = None, setup: float = 0.0) -> None:
        self.env, self.node, self.index, self.image = env, node, index, image
        self.registry, self.scheduler, self.counters = registry, scheduler, counters
        self.fe = registry.frontend(index)
        self.pool = simpy.PriorityResource(env, connections)
        #: the most bytes one back-to-source request of a P2P node asks for
        self.p2p_run_bytes = p2p_run_bytes
        #: the round trip to the registry and this node's download rate (a P2P node's patience)
        route = net.topology.route(node, self.fe)
        self.source_rtt = 2 * route[1]
        self.link_down = net.topology.host(node).nic_down
        self.prefetch = {"trace": image.trace_pieces, "landmarks": image.landmark_pieces}.get(prefetch, ())
        self.background = background
        #: ``workload.setup``: the client's own time before its first request
        self.setup = setup
        #: ``workload.align``: a read's request rounded out to multiples of this many bytes
        self.align = align
        #: ``workload.mount`` (None: its defaults)
        self.mount = mount if mount is not None else Mount()
        wait = self.mount.wait_prefetch
        self.wait_prefetch = bool(self.prefetch) and (prefetch == "landmarks" if wait is None else wait)
        layer_of_blob = {b: i for i, layer in enumerate(image.layers) for b in layer.blobs}
        #: the prefetch list's pieces per layer, in first-use order
        self.prefetch_by_layer: list[list[int]] = [[] for _ in image.layers]
        for p in self.prefetch:
            self.prefetch_by_layer[layer_of_blob[int(image.piece_blob[p])]].append(p)
        self.profile, self.disk_write, self.net = profile, disk_write, net
        self.have = bytearray(image.pieces)
        self.used = bytearray(image.pieces)
        self.coming: dict[int, simpy.Event] = {}
        self.stats: NodeStats | None = None
        #: called when the node is ready (progress reporting)
        self.on_ready = None

    # -- the start ---------------------------------------------------------------------------

    def run(self, delay: float) -> Generator[simpy.Event, object, None]:
        if delay:
            yield self.env.timeout(delay)
        self.stats = stats = NodeStats(self.env.now)
        if self.setup:
            yield self.env.timeout(self.setup)
        yield from self.registry.login(self.node, self.fe)
        yield from self.registry.manifest(self.node, self.fe)
        yield from self.registry.manifest(self.node, self.fe)  # the config: a document as small, priced alike
        for _ in range(self.image.index_requests):
            yield from self.registry.manifest(self.node, self.fe)
        if self.image.fmt == "plain":
            yield from self._full_pull()
            stats.mounted = self.env.now
            cpu = sum(c for c, _ in self.image.reads)
            if cpu:
                yield self.env.timeout(cpu)
        else:
            prefetching = yield from self._mount_layers()
            stats.mounted = self.env.now
            if self.wait_prefetch:
                timeout = float(self.mount.prefetch_timeout)
                for done in prefetching:
                    if done is not None and not done.processed:
                        yield self.env.any_of([done, self.env.timeout(timeout)])
            if self.background is not None:
                self.env.process(self._background())
            yield from self._trace()
        stats.ready = self.env.now
        stats.bytes_before_ready = stats.bytes
        if self.on_ready is not None:
            self.on_ready()

    # -- a full pull ---------------------------------------------------------------------------

    def _full_pull(self):
        downloads = simpy.Resource(self.env, FULL_PULL_DOWNLOADS)
        arrived = [self.env.process(self._download(i, downloads)) for i in range(len(self.image.layers))]
        for i, layer in enumerate(self.image.layers):
            yield arrived[i]
            yield from self._unpack(i)

    def _download(self, layer: int, downloads: simpy.Resource):
        with downloads.request() as slot:
            yield slot
            blob = self.image.layers[layer].blobs[0]
            first, last = self.image.blob_pieces[blob]
            yield from self._ensure(list(range(first, last)), ON_DEMAND, whole=True)

    def _unpack(self, layer: int):
        info = self.image.layers[layer]
        inflate = self.profile.seconds(Kind.GZIP_INFLATE, info.tar_bytes)
        cpu = inflate + self.profile.seconds(Kind.TAR_UNPACK, info.data_bytes) \
            + self.profile.seconds(Kind.FILE_CREATE, info.entries)
        took = max(cpu, info.data_bytes / self.disk_write)
        self.stats.unpack_s += took
        yield self.env.timeout(took)

    # -- a lazy mount --------------------------------------------------------------------------

    def _mount_layers(self):
        """Mount every layer (``workload.mount``); returns each layer's prefetch process (or None)."""
        env, layers, mount = self.env, self.image.layers, self.mount
        prefetching: list[simpy.Process | None] = [None] * len(layers)
        opened = [env.process(self._open(i)) for i in range(len(layers))]
        if mount.order == "parallel":
            yield env.all_of([env.process(self._mounted(i, opened[i], prefetching, check=False))
                              for i in range(len(layers))])
        else:
            for i in range(len(layers)):
                yield from self._mounted(i, opened[i], prefetching, check=i > 0 and mount.check)
        return prefetching

    def _open(self, layer: int):
        """Resolve and open a layer: the snapshotter's probes, then the reader's opening ranges
        (a layer no index covers: its whole blob)."""
        info = self.image.layers[layer]
        if info.whole:
            first, last = self.image.blob_pieces[info.blobs[0]]
            yield from self._ensure(list(range(first, last)), ON_DEMAND, whole=True)
            return
        for _ in range(self.mount.resolve):
            yield from self._request(info.blobs[0], 0, PROBE_BYTES)
        for blob, offset, length in info.open:
            yield from self._request(blob, offset, length)

    def _mounted(self, layer: int, opened: simpy.Process, prefetching: list, *, check: bool):
        """The layer's mount once it is open: unpack a whole layer; else the re-check probe and
        the local cost; then its prefetch starts."""
        yield opened
        info = self.image.layers[layer]
        if info.whole:
            yield from self._unpack(layer)
            return
        if check:
            yield from self._request(info.blobs[0], 0, PROBE_BYTES)
        if self.mount.cost:
            yield self.env.timeout(float(self.mount.cost))
        if self.prefetch_by_layer[layer]:
            prefetching[layer] = self.env.process(self._prefetch(self.prefetch_by_layer[layer]))

    def _request(self, blob: int, offset: int, length: int):
        """One Range GET outside the piece map (probes, footers, TOCs) on one of the node's connections."""
        with self.pool.request(priority=ON_DEMAND) as slot:
            yield slot
            yield from self.registry.get(self.node, self.fe, blob, offset, length)
        self.stats.bytes += length

    def _prefetch(self, pieces: list[int]):
        """``pieces``' missing ones, one request per run, issued in first-use order."""
        first_use = {p: i for i, p in enumerate(pieces)}
        wanted = sorted(p for p in pieces if not self.have[p] and p not in self.coming)
        ordered = sorted(runs(self.image, wanted), key=lambda run: min(first_use[p] for p in run))
        fetches = [self.env.process(self._ensure(run, PREFETCH)) for run in ordered]
        if fetches:
            yield self.env.all_of(fetches)

    def _background(self):
        for layer in self.image.layers:
            if layer.whole:
                continue
            for blob in layer.blobs:
                first, last = self.image.blob_pieces[blob]
                missing = [p for p in range(first, last) if not self.have[p] and p not in self.coming]
                for run in runs(self.image, missing, BACKGROUND_REQUEST):
                    t0 = self.env.now
                    nbytes = sum(int(self.image.piece_length[p]) for p in run)
                    yield from self._ensure(run, BACKGROUND)
                    rest = t0 + nbytes / self.background - self.env.now
                    if rest > 0:
                        yield self.env.timeout(rest)
        self.stats.background_done = self.env.now

    # -- the trace ---------------------------------------------------------------------------

    def _trace(self):
        env, image = self.env, self.image
        decompress = _DECOMPRESS[CODEC[image.fmt]]
        for cpu, need in image.reads:
            if cpu:
                yield env.timeout(cpu)
            missing = [p for p in need if not self.have[p]]
            if missing:
                t0 = env.now
                yield from self._ensure(missing, ON_DEMAND)
                self.stats.fetch_wait_s += env.now - t0
            fresh = [p for p in need if not self.used[p]]
            if fresh:
                raw = int(sum(int(image.piece_raw[p]) for p in fresh))
                for p in fresh:
                    self.used[p] = 1
                took = self.profile.seconds(decompress, raw)
                self.stats.inflate_s += took
                yield env.timeout(took)

    # -- fetching ------------------------------------------------------------------------------

    def _ensure(self, pieces: list[int], priority: int, *, whole: bool = False):
        """Until every piece in ``pieces`` is here: fetch the missing ones, wait for those coming."""
        waits = [self.coming[p] for p in pieces if not self.have[p] and p in self.coming]
        todo = sorted(p for p in pieces if not self.have[p] and p not in self.coming)
        fetches = []
        if todo:
            if priority == ON_DEMAND and not whole:
                self.stats.on_demand += 1
            if self.scheduler is None:
                # one GET per run of contiguous pieces; a whole layer is one GET
                groups = [todo] if whole else runs(self.image, todo)
                if self.align and priority == ON_DEMAND and not whole:
                    groups = self._aligned(groups)
                fetches = [self.env.process(self._fetch_run(g, priority)) for g in groups]
            else:
                fetches = [self.env.process(self._fetch_p2p(g, claimed, priority))
                           for g, claimed in self._p2p_groups(todo)]
        if waits or fetches:
            yield self.env.all_of(waits + fetches)

    def _aligned(self, groups: list[list[int]]) -> list[list[int]]:
        """Each run grown by the neighbouring pieces of its blob that lie wholly inside its range
        rounded out to ``align`` bytes and are neither here nor on their way (nor in another run)."""
        image, a = self.image, self.align
        off, length, blob_of = image.piece_offset, image.piece_length, image.piece_blob
        taken = {p for g in groups for p in g}
        out = []
        for g in groups:
            first, last = image.blob_pieces[int(blob_of[g[0]])]
            lo = int(off[g[0]]) // a * a
            hi = -(-int(off[g[-1]] + length[g[-1]]) // a) * a
            p, q = g[0], g[-1]

            def free(x: int) -> bool:
                return not self.have[x] and x not in self.coming and x not in taken

            while p - 1 >= first and int(off[p - 1]) >= lo and free(p - 1):
                p -= 1
            while q + 1 < last and int(off[q + 1] + length[q + 1]) <= hi and free(q + 1):
                q += 1
            grown = list(range(p, g[0])) + g + list(range(g[-1] + 1, q + 1))
            taken.update(grown)
            out.append(grown)
        return out

    def _claim(self, run: list[int]) -> simpy.Event:
        done = self.env.event()
        for p in run:
            self.coming[p] = done
        return done

    def _landed(self, run: list[int], done: simpy.Event, nbytes: int, priority: int) -> None:
        for p in run:
            self.have[p] = 1
            self.coming.pop(p, None)
            if self.scheduler is not None:
                self.scheduler.arrived(self.node, p)
        self.stats.bytes += nbytes
        if priority == PREFETCH:
            self.stats.prefetch_bytes += nbytes
        done.succeed()

    def _fetch_run(self, run: list[int], priority: int, claimed: simpy.Event | None = None):
        """Range GETs of a run of contiguous pieces of one blob from the registry.

        A read claims its pieces at once (a later read waits for them rather than fetching them
        again); prefetch and background requests claim theirs only when they get a connection,
        and skip what a read fetched meanwhile, so a read never queues behind them for a piece.
        ``claimed``: the run was claimed by the caller already (P2P: before any other node looks).
        """
        if claimed is not None:
            groups = [(run, claimed)]
        else:
            groups = [(run, self._claim_source(run))] if priority == ON_DEMAND else []
        with self.pool.request(priority=priority) as slot:
            yield slot
            if not groups:
                run = [p for p in run if not self.have[p] and p not in self.coming]
                groups = [(g, self._claim_source(g)) for g in runs(self.image, run)]
            for group, done in groups:
                nbytes = self._span(group)
                if self.scheduler is not None:
                    for p in group:
                        self.scheduler.started[p] = self.env.now
                yield from self.registry.get(self.node, self.fe, int(self.image.piece_blob[group[0]]),
                                             int(self.image.piece_offset[group[0]]), nbytes)
                self._landed(group, done, nbytes, priority)

    def _claim_source(self, run: list[int]) -> simpy.Event:
        done = self._claim(run)
        if self.scheduler is not None:
            for p in run:
                self.scheduler.from_source[p] = (self.node, done)
        return done

    def _span(self, run: list[int]) -> int:
        image = self.image
        return int(image.piece_offset[run[-1]] + image.piece_length[run[-1]] - image.piece_offset[run[0]])

    # -- P2P -----------------------------------------------------------------------------------

    def _p2p_groups(self, todo: list[int]) -> list[tuple[list[int], simpy.Event | None]]:
        """How each missing piece will be fetched: pieces a peer holds or is fetching, and pieces
        beyond what this node's free connections can ask for now, one request each, decided when
        a connection frees (from a peer, or back to source then); the rest in runs of at most a
        P2P piece's bytes, claimed from the registry at once -- the scheduler's back-to-source
        peer, so that a node asking a moment later waits for them rather than fetching them again."""
        sched = self.scheduler
        later, source = [], []
        for p in todo:
            if sched.has_holders(p) or p in sched.from_source:
                later.append(([p], None))
            else:
                source.append(p)
        free = max(0, self.pool.capacity - self.pool.count - len(self.pool.queue))
        source_runs = runs(self.image, source, self.p2p_run_bytes)
        later += [([p], None) for run in source_runs[free:] for p in run]
        return [(g, self._claim_source(g)) for g in source_runs[:free]] + later

    def _fetch_p2p(self, group: list[int], claimed: simpy.Event | None, priority: int):
        """One piece from the least busy peer holding it; while it is on its way to a node, or
        every holder is busy, the next change of the piece is waited for; with neither, back to
        source."""
        if claimed is not None:  # back to source, claimed already
            yield from self._fetch_run(group, priority, claimed)
            return
        p = group[0]
        sched = self.scheduler
        done = self._claim([p])
        with self.pool.request(priority=priority) as slot:
            yield slot
            nbytes = int(self.image.piece_length[p])
            # a peer is worth waiting for only while it is the faster path: busy holders, or a
            # registry fetch still queued for a connection, no longer than the registry would take
            # (``expect``: a round trip and the piece at this node's link rate); a registry fetch
            # under way, until twice that from its start -- as a Dragonfly peer gives up on
            # parents after its scheduling retries
            expect = self.source_rtt + nbytes / self.link_down
            patience = None
            while True:
                peer = sched.holder(p, self.node)
                if peer is not None:
                    break
                holders = [h for h in sched.holders[p] if h != self.node]
                if not holders and not sched.under_way(p):
                    break  # nobody has it or is getting it: back to source
                wake = [sched.changed(p), *(sched.freed(h) for h in holders)]
                if holders or p not in sched.started:
                    # busy holders, or a registry fetch still waiting for its connection
                    patience = self.env.now + expect if patience is None else patience
                else:
                    # a registry fetch under way: it should end within ``expect`` of its start;
                    # one sharing a slow link with others may not, so wait at most twice that
                    patience = sched.started[p] + 2 * expect
                if self.env.now >= patience:
                    break
                wake.append(self.env.timeout(patience - self.env.now))
                yield self.env.any_of(wake)
            if peer is None:  # back to source: others may wait for it here
                sched.from_source[p] = (self.node, done)
                sched.started[p] = self.env.now
                yield from self.registry.get(self.node, self.fe, int(self.image.piece_blob[p]),
                                             int(self.image.piece_offset[p]), nbytes)
                self._landed([p], done, nbytes, priority)
                return
            sched.upload(peer, p, 1)
            yield self.net.transfer(self.node, peer, 0)
            yield self.net.transfer(peer, self.node, nbytes, tag="peer")
            sched.upload(peer, p, -1)
        self.counters.peer_requests += 1
        self.counters.peer_bytes += nbytes
        self._landed([p], done, nbytes, priority)
