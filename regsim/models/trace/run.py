"""Trace: a recorded (or synthetic) registry trace replayed against the simulated registry, with caches.

Every request of ``workload.path`` (the IBM format of :mod:`regsim.traces`) is sent at its
recorded time -- counted from the trace's first request and divided by ``workload.speedup`` --
from the cluster node its client (``http.request.remoteaddr``) maps to: clients in order of first
appearance, dealt over the nodes rack by rack (client 0 on rack 0's first node, client 1 on rack
1's first node, ...). Frontends take requests round-robin. Each request runs its real registry
path (:mod:`.trace_store`) and the receipt is replayed on the platform
(:mod:`regsim.models.core.replay`):

- **manifest GET**: the auth check, a real manifest read, the response. With prefetching, the
  client's cache admits the manifest's layers and reads them from the registry in the background
  (real reads, priced like any other);
- **blob GET**: the client's cache (``registry.cache``, :mod:`.cache_layer`) decides when the
  request arrives. A hit is served from the cache host's memory -- the response transfer only (at
  the registry, after the auth check; at a rack cache, without reaching the registry); a hit on
  a layer still being read waits for that read. A miss, or any GET without a cache, is the real
  read streamed to the client (storage reads, transfers, decoding and decryption beside the
  response), through the rack's cache host when caches sit in racks; the layer is admitted. A
  repository name the registry refuses fails the GET before any cache is asked;
- **upload PUT** (a finished upload, the push of a layer): the auth check and a real
  ``put_blob`` of the blob's bytes beside the client's upload of its modelled size;
- **blob HEAD**: a real ``stat_blob`` (a blob held in another repository is mounted);
- **manifest PUT**: a real manifest of the layers the client pushed or reused since its last one;
- anything else (upload starts and chunks, manifest HEADs, tag lists, deletes, ``v2/``), and every
  request the trace records as failed: a round trip with the auth check.

The run ends when every request (and every prefetch) is done, or at the scenario's ``duration``;
requests recorded after it are not sent. The model replays a healthy platform: scripted or random
failures are refused. KPIs, series and notes: :mod:`.report`, from the run's
:class:`~.report.TraceOutcome`; the replay and the caching comparison: ``docs/traces.md``.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Generator, Iterable
from typing import TypeVar

import numpy as np
import simpy

from regsim.models.core.replay import Replay, combine
from regsim.models.core.result import VariantResult
from regsim.models.core.spec import ModelError, Progress
from regsim.models.core.work import RequestAuth, on_frontend
from regsim.models.core.world import REGISTRY_RACK, World, build_world
from regsim.registry import receipts
from regsim.registry.errors import RegistryError
from regsim.registry.names import validate_name
from regsim.registry.receipts import Receipt, WorkItem
from regsim.traces import Request, Trace, read_trace

from .cache_layer import CacheLayer, CacheSite
from .config import Trace as TraceWorkload
from .config import TraceConfig
from .replayed import BLOB_GET, BLOB_HEAD, BLOB_PUT, KINDS, MANIFEST_GET, MANIFEST_PUT, OTHER, Replayed, classify
from .report import TraceOutcome, trace_result
from .trace_store import TraceRegistry

__all__ = ["KINDS", "Replayed", "TraceRun", "classify", "client_nodes", "simulate_trace"]

Steps = Generator[simpy.Event, object, None]
T = TypeVar("T")


def client_nodes(requests: Iterable[Request], world: World) -> dict[str, str]:
    """Each client's node: clients in order of first appearance, dealt over the racks in turn."""
    racks: dict[int, list[str]] = {}
    for node in world.nodes:
        racks.setdefault(world.node_rack[node], []).append(node)
    order = [n for group in itertools.zip_longest(*racks.values()) for n in group if n is not None]
    clients = dict.fromkeys(r.client for r in requests)
    return {client: order[i % len(order)] for i, client in enumerate(clients)}


def simulate_trace(config: TraceConfig, seed: int, progress: Progress | None = None) -> VariantResult:
    """Replay the trace of ``config.workload`` on the simulated platform; its KPIs are :mod:`.report`'s."""
    if not isinstance(config.workload, TraceWorkload):
        raise ModelError(f"the trace model simulates workload kind 'trace', got {config.workload.kind!r}")
    trace = read_trace(config.workload.path)
    world = build_world(config, seed)
    run = TraceRun(config, world, trace, seed, progress)
    run.run()
    return trace_result(run.outcome())


class TraceRun:
    """The state of one replayed trace: the world, the real registry, the caches, every request."""

    def __init__(self, config: TraceConfig, world: World, trace: Trace, seed: int,
                 progress: Progress | None = None) -> None:
        self.config, self.world, self.seed, self.progress = config, world, seed, progress
        self.workload: TraceWorkload = config.workload  # type: ignore[assignment]
        self.records = trace.sorted().requests
        if not self.records:
            raise ModelError(f"the trace {trace.source} holds no requests")
        self.source = trace.source
        self.t0 = self.records[0].time
        self.env = world.env
        self.store = TraceRegistry(config, self.records)
        self.replay = Replay(world)
        self.caches = CacheLayer(config.registry.cache, world)
        self.clients = client_nodes(self.records, world)
        self._auth = RequestAuth(config, np.random.default_rng(seed)) if config.registry.auth.mode != "none" else None
        self.done: list[Replayed] = []
        #: requests recorded after the scenario's duration, not sent
        self.skipped = 0
        #: every priced receipt item's amount by kind: requests, and prefetches apart
        self.work: Counter[str] = Counter()
        self.prefetch_work: Counter[str] = Counter()
        self.finished = self.env.event()
        self.end_time = 0.0
        self._outstanding = 0
        self._arriving = True
        self._frontends = itertools.cycle(world.frontends)
        self._tokens: dict[str, tuple[object, float]] = {}

    # -- the run -----------------------------------------------------------------------------------

    def run(self) -> None:
        """Send every request at its time; stop when all are done or at the config's ``duration``."""
        self.env.process(self._arrivals())
        self.env.run(until=self.env.any_of([self.finished, self.env.timeout(self.config.duration)]))
        self.end_time = self.env.now

    def outcome(self) -> TraceOutcome:
        """What the replay measured, for :func:`~.report.trace_result` (which needs no more of the run)."""
        uplink = self.world.topology.racks[REGISTRY_RACK].uplink
        return TraceOutcome(
            config=self.config, source=self.source, done=tuple(self.done),
            sent=tuple(self.records[: len(self.records) - self.skipped]), skipped=self.skipped,
            cache_sites=len(self.caches.sites), cache_stats=self.caches.stats(),
            prefetch_stats=self.caches.prefetch_stats(), hits_waited=self.caches.waited(),
            # bytes that left the registry's site over its uplink to the core switch
            registry_egress_bytes=int(self.world.net.link_bytes()[uplink]) if uplink is not None else 0,
            work=dict(self.work), prefetch_work=dict(self.prefetch_work),
            stocked_blobs=self.store.stocked_blobs, stocked_images=self.store.stocked_images,
            stock_errors=dict(self.store.stock_errors), end_time=self.end_time,
            registry_cpu_busy_s=sum(self.world.cpus[fe].busy_s for fe in self.world.frontends),
            events=int(getattr(self.env, "events", 0)))

    def offset(self, request: Request) -> float:
        """Simulated time at which ``request`` is sent."""
        return (request.time - self.t0) / self.workload.speedup

    def _arrivals(self) -> Steps:
        for i, record in enumerate(self.records):
            at = self.offset(record)
            if at >= self.config.duration:
                self.skipped = len(self.records) - i
                break
            if at > self.env.now:
                yield self.env.timeout(at - self.env.now)
            self._start(self._request(i, record))
        self._arriving = False
        self._check_done()

    def _start(self, steps: Steps) -> None:
        self._outstanding += 1
        self.env.process(self._tracked(steps))

    def _tracked(self, steps: Steps) -> Steps:
        yield from steps
        self._outstanding -= 1
        self._check_done()

    def _check_done(self) -> None:
        if not (self._arriving or self._outstanding or self.finished.triggered):
            self.finished.succeed()

    def _request(self, index: int, record: Request) -> Steps:
        # Everything before a handler's first yield runs when the request arrives, in trace order:
        # that is where the caches decide, so they see requests in the recorded order.
        kind = classify(record)
        node = self.clients[record.client]
        req = Replayed(index, kind, record.client, node, self.env.now)
        handler = {MANIFEST_GET: self._manifest_get, BLOB_GET: self._blob_get, BLOB_HEAD: self._blob_head,
                   BLOB_PUT: self._blob_put, MANIFEST_PUT: self._manifest_put, OTHER: self._other}[kind]
        yield from handler(req, record, node, next(self._frontends))
        req.end = self.env.now
        self.done.append(req)
        if self.progress is not None:
            self.progress(min(1.0, len(self.done) / len(self.records)))

    # -- request kinds -----------------------------------------------------------------------------

    def _other(self, req: Replayed, record: Request, node: str, frontend: str) -> Steps:
        yield from self._small(req, node, frontend, self._authorize(req.client))

    def _manifest_get(self, req: Replayed, record: Request, node: str, frontend: str) -> Steps:
        auth = self._authorize(req.client)
        got = self._real(req, self.store.manifest_get, record.repository, record.reference)
        if got is None:
            yield from self._small(req, node, frontend, auth)
            return
        receipt, req.size, layers = got
        site = self.caches.site_for(node)
        if site is not None:
            for digest in site.prefetch(req.client, record.repository, record.reference, layers, self.env.now):
                req.prefetched += 1
                self._start(self._prefetch(site, record.repository, digest, frontend,
                                           site.filling(self.env, digest)))
        yield from self._small(req, node, frontend, auth, receipt)
        yield self.world.net.transfer(frontend, node, req.size, tag="egress")

    def _blob_get(self, req: Replayed, record: Request, node: str, frontend: str) -> Steps:
        repo, digest = record.repository, record.reference
        req.size = size = self.store.size(digest, record.size)
        if self._real(req, validate_name, repo) is None:  # refused before any cache is asked
            yield from self._small(req, node, frontend, self._authorize(req.client))
            return
        site = self.caches.site_for(node)
        fill = None
        if site is not None:
            req.hit = site.lookup(req.client, repo, digest, size, self.env.now)
            if req.hit:
                wait = site.pending(digest)
                if wait is not None:
                    req.waited = True
                    site.waited += 1
                yield from self._hit(req, site, node, frontend, wait)
                return
            fill = site.filling(self.env, digest)
        auth = self._authorize(req.client)
        receipt = self._real(req, self.store.read, repo, digest)
        if receipt is None:
            if site is not None:
                site.policy.discard(digest)
                site.filled(digest, fill)
            yield from self._small(req, node, frontend, auth)
            return
        items = on_frontend(receipt, frontend)
        self._account(req, auth, items)
        if site is None or site.host is None:
            yield from self.replay.request(node, frontend, auth)
            yield from self.replay.stream(items, frontend, node, size, tag="egress")
        else:
            yield self.world.net.transfer(node, site.host, 0)
            yield from self.replay.request(site.host, frontend, auth)
            yield from self._serve(items, (frontend, site.host, size, "egress"), (site.host, node, size, "rack"))
        if site is not None:
            site.filled(digest, fill)

    def _hit(self, req: Replayed, site: CacheSite, node: str, frontend: str, wait: simpy.Event | None) -> Steps:
        """A hit: served from the cache host's memory once the read filling it (if any) has ended.

        At the registry the request is still authenticated; a rack cache answers without the registry.
        """
        if site.host is None:
            auth = self._authorize(req.client)
            self._account(req, auth)
            yield from self.replay.request(node, frontend, auth)
            if wait is not None:
                yield wait
            yield self.world.net.transfer(frontend, node, req.size, tag="egress")
        else:
            yield self.world.net.transfer(node, site.host, 0)
            if wait is not None:
                yield wait
            yield self.world.net.transfer(site.host, node, req.size, tag="rack")

    def _prefetch(self, site: CacheSite, repo: str, digest: str, frontend: str,
                  fill: simpy.Event | None) -> Steps:
        """A layer the cache admitted on a manifest GET: read from the registry in the background."""
        try:
            receipt = self.store.read(repo, digest)
        except RegistryError:
            site.policy.discard(digest)
            site.filled(digest, fill)
            return
        items = on_frontend(receipt, frontend)
        for item in items:
            self.work[item.kind] += item.amount
            self.prefetch_work[item.kind] += item.amount
        if site.host is None:
            yield from self.replay.serve(items)
        else:
            yield from self._serve(items, (frontend, site.host, self.store.size(digest), "egress"))
        site.filled(digest, fill)

    def _blob_head(self, req: Replayed, record: Request, node: str, frontend: str) -> Steps:
        auth = self._authorize(req.client)
        receipt = self._real(req, self.store.head, req.client, record.repository, record.reference)
        yield from self._small(req, node, frontend, auth, receipt or Receipt())

    def _blob_put(self, req: Replayed, record: Request, node: str, frontend: str) -> Steps:
        auth = self._authorize(req.client)
        req.size = size = self.store.size(record.reference, record.size)
        receipt = self._real(req, self.store.push, req.client, record.repository, record.reference)
        if receipt is None:
            yield from self._small(req, node, frontend, auth)
            return
        items = on_frontend(receipt, frontend)
        self._account(req, auth, items)
        yield from self.replay.request(node, frontend, auth)
        yield from self.replay.stream(items, node, frontend, size, tag="ingress")

    def _manifest_put(self, req: Replayed, record: Request, node: str, frontend: str) -> Steps:
        auth = self._authorize(req.client)
        got = self._real(req, self.store.manifest_put, req.client, record.repository, record.reference)
        if got is None:
            yield from self._small(req, node, frontend, auth)
            return
        receipt, req.size = got
        items = on_frontend(receipt, frontend)
        self._account(req, auth, items)
        yield from self.replay.request(node, frontend, auth)
        yield from self.replay.stream(items, node, frontend, req.size, tag="ingress")

    # -- helpers -----------------------------------------------------------------------------------

    def _small(self, req: Replayed, node: str, frontend: str, *parts: Receipt) -> Steps:
        """A round trip to ``frontend`` and the registry's work for it."""
        receipt = combine(*parts)
        self._account(req, receipt)
        yield from self.replay.request(node, frontend, receipt)

    def _serve(self, items: list[WorkItem], *transfers: tuple[str, str, int, str]) -> Steps:
        """The registry's work side by side with transfers (a read streaming through a rack cache)."""
        env, net = self.env, self.world.net
        branches = [env.process(self.replay.serve(items))]
        branches += [net.transfer(src, dst, nbytes, tag=tag) for src, dst, nbytes, tag in transfers]
        yield env.all_of(branches)

    def _real(self, req: Replayed, fn: Callable[..., T], *args: object) -> T | None:
        """The result of a real registry call; None (and the registry's error on ``req``) if it refused."""
        try:
            return fn(*args)
        except RegistryError as exc:
            req.status, req.error = exc.status, f"{type(exc).__name__}: {exc}"
            return None

    def _account(self, req: Replayed, *parts: Receipt | Iterable[WorkItem]) -> None:
        for part in parts:
            for item in part:
                req.work[item.kind] = req.work.get(item.kind, 0) + item.amount
                self.work[item.kind] += item.amount

    def _authorize(self, client: str) -> Receipt:
        """The auth check of one request, with a token request first when the client holds none valid."""
        if self._auth is None:
            return Receipt()
        held = self._tokens.get(client)
        login = Receipt()
        if held is None or self.env.now - held[1] >= self.config.registry.auth.token_ttl:
            creds, login = self._login(client)
            held = self._tokens[client] = (creds, self.env.now)
        with receipts.collect() as check:
            self._auth.authorize(held[0], self.config.image.repository)
        return combine(login, check)

    def _login(self, client: str) -> tuple[object, Receipt]:
        assert self._auth is not None
        with receipts.collect() as r:
            creds = self._auth.login(client, self.config.image.repository)
        return creds, r

