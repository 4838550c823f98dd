"""Poisson and closed loops: streams of pulls, pushes, manifest GETs and token requests against the registry.

With ``workload.kind: poisson`` (open loop) requests arrive at ``workload.rate`` (exponential
gaps) for the workload's duration, from a client chosen at random among ``workload.clients``
(spread over the cluster's nodes); with ``kind: closed`` each client sends a request, waits for
its answer, thinks (exponential, mean ``think_time``) and sends the next. Either stops sending
after ``workload.requests`` requests if given. Each request is a pull, a push, a manifest GET or
an auth request drawn from ``workload.mix``. It enters through the access layer
(:mod:`.access`: keep-alive connections, TLS handshakes, least-connections load balancing, a rate
limit per client), its credentials are checked by the real auth path (:mod:`.auth_path`: JWT or
database, with the token service's logins), and it runs the real registry path, whose receipt
is replayed on the simulated platform (:mod:`regsim.models.core.replay`); the four kinds are
:mod:`.request_kinds`:

- **pull**: auth check, then a real ``get_blob`` of one of the image's layers (drawn with the
  run's rng); the storage reads, transfers and the frontend's decoding and decryption stream to
  the client beside its download. A read while fragments are lost is a real degraded read: it
  reads around them, and for Reed-Solomon decodes (``ec_decode``). A read whose disk fails under
  it is read again around the failed node (counted as a retry).
- **push**: auth check, then a real ``put_blob`` of a fresh layer whose size is drawn from the
  image's layers -- hash, encrypt, encode, fan the fragments out to their storage nodes, write
  them -- beside the client's upload. With a modelled data plane the registry stores a sample of
  at most 1 MiB and the receipt is scaled to the modelled size (:func:`regsim.models.core.work.scale`).
- **manifest**: auth check and a real manifest GET (its receipt is reused while the same storage
  nodes are down, unless the data plane is ``real``): the small request that dominates a
  registry's load.
- **auth**: a token request -- a fresh login at the token service, and the registry's check of
  the new token; no blob work.

Storage nodes fail and are repaired from ``failures`` (:mod:`.storage_failures`): scripted
``fail``/``repair`` events of ``storage/I``, random failures at ``afr``, or -- with
``measure_degraded`` and no scripted storage events -- fixed phases that lose one, then two nodes
and repair them while requests keep arriving. Partitions, database outages and bad credentials
are played by :mod:`.scripted_faults`, scans by :mod:`.scan`, and every answer, push and finding is
reported to the alert rules (:mod:`.monitoring`). When requests are sent is :mod:`.arrivals`'
business, the storage series :mod:`.storage_series`'. The run ends when every request is answered,
the repair is done and the scans are over (or at the scenario's ``duration``). A registry in a
TEE is simulated twice, the second time without the TEE, so the result carries the TEE's
latency rise.

:class:`RequestRun` puts these parts together and drives them; each part gets the few objects it
acts on, never the run. When the simulation is over the run hands a :class:`~.record.RunRecord`
of what it measured to the report (:mod:`.report` and :mod:`.access_report`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Generator
from dataclasses import dataclass

from typing import TYPE_CHECKING

import numpy as np
import simpy

from regsim.registry.auth.audit import DENIED, UNAUTHORIZED
from regsim.registry.errors import RegistryError, TooManyRequests
from regsim.sim.disk import DiskFailed

from regsim.models.core.replay import Replay
from regsim.models.core.result import VariantResult
from regsim.models.core.spec import ModelError
from regsim.models.core.storage_tier import tier_usage
from regsim.models.core.work import RegistryWork
from regsim.models.core.world import World, build_world

from .access import AccessLayer, NetworkFailure
from .access_report import resource_counters
from .arrivals import Arrivals
from .auth_path import AuthFailure, AuthPath
from .config import Closed, Poisson, RequestsConfig, precise_kinds
from .credentials import CredentialRenewal
from .monitoring import AUTH as AUTH_FAILURE
from .monitoring import PULL as PULLED
from .monitoring import ACCESS, ACCESS_OUTCOMES, Monitor, standard_rules
from .record import AuthStats, RunRecord, TeeStats
from .report import request_result
from .request import KINDS, PULL, Request
from .request_kinds import BlobSizes, RegistryRequests, Repositories
from .scan import Scanner
from .scripted_faults import FailurePlan, Faults, plan_failures, rack_network
from .steady_state import PrecisionWatch, connects, series, waits_for_login
from .storage_failures import StorageFailures
from .storage_series import StorageSampler

if TYPE_CHECKING:
    from regsim.registry.registry import Registry

__all__ = ["RequestRun", "Streams", "simulate_poisson"]

#: points of the utilisation series over the workload's duration (unless monitoring.interval says otherwise)
SERIES_BINS = 100

Steps = Generator[simpy.Event, object, None]


def simulate_poisson(config: RequestsConfig, seed: int, progress: Callable[[float], None] | None = None) -> VariantResult:
    """The model of workload kinds ``poisson`` and ``closed``: one variant, and its baseline without a TEE."""
    if not isinstance(config.workload, (Poisson, Closed)):
        raise ModelError(f"the poisson model simulates workload kinds 'poisson' and 'closed', "
                         f"got {config.workload.kind!r}")
    baseline = None
    if config.registry.tee.enabled:  # the same run without the TEE, for the TEE's latency rise
        plain = config.registry.model_copy(update={"tee": config.registry.tee.model_copy(update={"enabled": False})})
        baseline = RequestRun.build(dataclasses.replace(config, registry=plain), seed)
        baseline.run()
    run = RequestRun.build(config, seed, progress)
    run.run()
    return request_result(run.record(), baseline.record() if baseline is not None else None)


@dataclass(frozen=True)
class Streams:
    """The run's random streams, one per thing drawn (``poisson/<name>`` of the run's source)."""

    arrivals: np.random.Generator
    kinds: np.random.Generator
    clients: np.random.Generator
    layers: np.random.Generator
    sizes: np.random.Generator
    bytes: np.random.Generator
    access: np.random.Generator
    auth: np.random.Generator
    think: np.random.Generator
    credentials: np.random.Generator

    @classmethod
    def of(cls, world: World) -> Streams:
        return cls(**{f.name: world.rr.stream(f"poisson/{f.name}") for f in dataclasses.fields(cls)})


class RequestRun:
    """One simulated variant of an open or a closed loop: the world, the real registry, every request."""

    def __init__(self, config: RequestsConfig, world: World, work: RegistryWork, seed: int,
                 progress: Callable[[float], None] | None = None) -> None:
        self.config, self.world, self.work, self.seed, self.progress = config, world, work, seed, progress
        self.env = world.env
        self.k, self.n = config.registry.storage.codec_kn()
        self.replay = Replay(world)
        self.requests: list[Request] = []
        self.streams = streams = Streams.of(world)
        #: (name, host) of every client, spread over the cluster's nodes
        self.clients = [(f"client{i}", world.nodes[i % len(world.nodes)]) for i in range(config.clients())]
        self.arrivals = Arrivals(self.env, config.workload, duration=config.workload_duration(),
                                 clients=len(self.clients), kinds=streams.kinds, gaps=streams.arrivals,
                                 picks=streams.clients, think=streams.think, submit=self.submit,
                                 on_stop=self._stop_sending)
        precision = config.workload.precision
        #: with ``workload.precision``: the stop rule (:mod:`.steady_state`), what each answered
        #: request paid to set up (in the order of ``requests``), and the start of each request in
        #: flight (a check reads only requests older than all of these)
        self.watch = (PrecisionWatch(precise_kinds(config.workload), rel=precision.p99_rel,
                                     confidence=precision.confidence, batches=precision.batches)
                      if precision is not None else None)
        self.setup: list[int] = []
        self._in_flight: dict[int, float] = {}
        self.stopped_precise = False
        mix = config.workload.mix
        work.check_real_budget(round(self.arrivals.expected * (mix.pull + mix.push)))
        self.finished = self.env.event()
        self.end_time = 0.0
        #: the resource counters at the end of the window (read when the workload stops sending)
        self.window_counters: dict[str, float] = {}
        self._outstanding = 0
        self._arriving = True
        self.blobs = BlobSizes(work)
        self.storage = StorageFailures(world, work.registry, self.replay, scale_of=self.blobs.of_key,
                                       extent=work.extent, bandwidth=config.failures.repair_bandwidth,
                                       cores=config.registry.cores, on_idle=self._check_done)
        self.access = AccessLayer(world, config, streams.access)
        self.access.warm([name for name, _ in self.clients])
        self.auth = AuthPath(config, world)
        self.auth.prepare([name for name, _ in self.clients], streams.auth)
        self.auth.warm({client: conn.frontend for client, conn in self.access.connections.items()})
        self.monitor = Monitor(standard_rules(config))
        self.credentials = CredentialRenewal(config, world, self.auth, self.monitor)
        self.credentials.prepare(self.clients, streams.credentials)
        self.scanner = Scanner(config, world, work, self.replay, self.monitor)
        self.faults = Faults(world, model=config.workload.kind, clients=self.clients, auth=self.auth,
                             access=self.access, storage=self.storage, send=self.submit,
                             until=self.arrivals.duration, credentials=self.credentials)
        capacity = config.registry.storage.capacity
        self.repositories = Repositories(work, config.workload.repositories, monitor=self.monitor, env=self.env,
                                         capacity=capacity * config.registry.storage.nodes
                                         if capacity is not None else None)
        self.kinds = RegistryRequests(work, self.auth, self.replay, self.storage, blobs=self.blobs,
                                      repositories=self.repositories, k=self.k, layers=streams.layers,
                                      sizes=streams.sizes, data=streams.bytes)
        #: how storage failures are driven (set when the run starts)
        self.plan = FailurePlan()
        interval = config.monitoring.interval or max(self.arrivals.expected_window / SERIES_BINS, 1e-4)
        self.sampler = StorageSampler(world, interval=interval, until=2 * self.arrivals.expected_window,
                                      storage=self.storage, repositories=self.repositories, finished=self.finished)

    @classmethod
    def build(cls, config: RequestsConfig, seed: int, progress: Callable[[float], None] | None = None) -> RequestRun:
        """A run of ``config`` on a fresh world and registry."""
        return cls(config, build_world(config, seed), RegistryWork(config, seed), seed, progress)

    @property
    def registry(self) -> Registry:
        """The real registry the requests run through."""
        return self.work.registry

    # -- the run -----------------------------------------------------------------------------------

    def run(self) -> None:
        config, world = self.config, self.world
        self.plan = plan_failures(config.failures, world.storage, self.faults, self.storage, registry=self.work.registry,
                                  layers=self.work.layers, k=self.k, duration=self.arrivals.duration)
        self.scanner.start()
        self.credentials.start()
        if config.registry.tls.rotation.at is not None:
            self.env.process(self._rotations())
        self.env.process(self.arrivals.process())
        self.env.process(self.sampler.process())
        self.repositories.observe()
        self.env.run(until=self.env.any_of([self.finished, self.env.timeout(config.duration)]))
        self.end_time = self.env.now
        if not self.window_counters:
            self._mark_window()

    def _rotations(self) -> Generator[simpy.Event, object, None]:
        """Rotate the certificate at ``registry.tls.rotation.at`` and every ``every`` after, while
        the workload sends."""
        rotation = self.config.registry.tls.rotation
        at = rotation.at
        while at is not None and at <= self.arrivals.duration:
            yield self.env.timeout(at - self.env.now)
            dropped = self.access.rotate(rotation.drop_connections)
            self.faults.log.append((self.env.now, "tls-rotation", f"{dropped} connections dropped", "start"))
            at += rotation.every

    def _stop_sending(self) -> None:
        """The workload sends no more: the measurement window ends now (the arrivals call this)."""
        self._mark_window()
        self._arriving = False
        self._check_done()

    def _mark_window(self) -> None:
        self.window_counters = resource_counters(self.world, self.auth, len(self.requests), self.access.handshakes)

    def submit(self, kind: str, client: int = 0, *, at: float | None = None, network: str | None = None,
               probe: bool = False) -> simpy.Process:
        """Send one request of ``kind`` from client number ``client``, now or at time ``at``.

        The arrivals send theirs with it; tests and examples script requests with it. The run
        does not end before the request is answered. ``network`` is where it comes from (default:
        the client's rack's network; a stolen credential's user is elsewhere); a ``probe`` asks for
        a scope the client holds no grant for, and is refused.
        """
        if kind not in KINDS:
            raise ValueError(f"a request is one of {', '.join(KINDS)}, got {kind!r}")
        if not 0 <= client < len(self.clients):
            raise ValueError(f"client must lie in [0, {len(self.clients)}), got {client}")
        self._outstanding += 1
        name, host = self.clients[client]
        return self.env.process(self._request(kind, name, host, at=at, network=network, probe=probe))

    def _request(self, kind: str, client: str, host: str, at: float | None = None, network: str | None = None,
                 probe: bool = False) -> Steps:
        if at is not None and at > self.env.now:
            yield self.env.timeout(at - self.env.now)
        req = Request(kind, client, self.env.now, during_repair=self.storage.repairing,
                      network=network or rack_network(self.world.node_rack.get(host, 0)))
        watched = self.watch is not None
        if watched:
            self._in_flight[id(req)] = req.start
            setup = connects(self.access, client, self.env.now)
        try:
            req.frontend = yield from self.access.enter(client, host)
            if watched:
                setup |= waits_for_login(self.auth, client, kind, self.env.now)
            if probe:
                yield from self.auth.probe(client, host, req.frontend, self.replay)
            else:
                yield from self.kinds.serve(req, host, req.frontend)
        except NetworkFailure as exc:
            req.failure, req.error = "network", f"NetworkFailure: {exc}"
        except TooManyRequests as exc:
            req.failure, req.error = "rate_limited", f"TooManyRequests: {exc}"
        except AuthFailure as exc:
            req.failure, req.error, req.auth_reason = "auth", f"AuthFailure: {exc}", exc.reason
        except (RegistryError, DiskFailed) as exc:  # a disk failing under a manifest read, say
            req.failure, req.error = "registry", f"{type(exc).__name__}: {exc}"
        req.end = self.env.now
        self.access.leave(client)
        self.requests.append(req)
        if watched:
            self.setup.append(setup)
            del self._in_flight[id(req)]
        self._observe(req)
        self._outstanding -= 1
        if self.progress is not None:
            self.progress(min(1.0, len(self.requests) / self.arrivals.expected))
        if watched:
            self._check_precision()
        self._check_done()

    def _check_precision(self) -> None:
        """Stop the arrivals once every watched p99 is precise enough (``workload.precision``)."""
        watch = self.watch
        assert watch is not None
        if not self._arriving or not watch.due(len(self.requests)):
            return
        before = min(self._in_flight.values(), default=self.env.now)
        if watch.check(series(self.requests, self.setup, watch.kinds, before=before)):
            self.stopped_precise = True
            self.arrivals.stop()

    def _check_done(self) -> None:
        if not (self._arriving or self._outstanding or self.storage.active or self.scanner.active
                or self.finished.triggered):
            self.finished.succeed()

    # -- what the monitor sees ---------------------------------------------------------------------

    def _observe(self, req: Request) -> None:
        now = self.env.now
        if req.failure == "auth":
            self.monitor.observe(now, AUTH_FAILURE, req.client, 1.0, req.error or "")
            outcome = ACCESS_OUTCOMES.index(DENIED if req.auth_reason == "denied" else UNAUTHORIZED)
            if req.auth_reason != "database":  # a refusal, not a check that could not run
                self.monitor.observe(now, ACCESS, req.client, outcome, req.network)
        elif req.failure is None:
            self.monitor.observe(now, AUTH_FAILURE, req.client, 0.0)
            self.monitor.observe(now, ACCESS, req.client, 0.0, req.network)
            if req.kind == PULL:
                self.monitor.observe(now, PULLED, req.client)

    # -- what the report gets ----------------------------------------------------------------------

    def record(self) -> RunRecord:
        """What the run measured, for the report (call it when the run is over)."""
        config, world, auth = self.config, self.world, self.auth
        tee = None
        if world.tee is not None:
            spec = config.registry.tee
            tee = TeeStats(spec.kind, spec.working_set, world.tee.paged_fraction(spec.working_set))
        return RunRecord(
            config=config, seed=self.seed, requests=tuple(self.requests), k=self.k, n=self.n,
            duration=self.arrivals.duration, window=self.arrivals.window, end_time=self.end_time,
            offered_rps=self.arrivals.offered_rate(), interval=self.sampler.interval,
            window_counters=dict(self.window_counters),
            end_counters=resource_counters(world, auth, len(self.requests), self.access.handshakes),
            handshakes=self.access.handshakes.copy(),
            auth=AuthStats(has_database=auth.database is not None,
                           db_pool=sum(db.pool_size for db in auth.databases),
                           db_queries=sum(db.queries for db in auth.databases),
                           login_failures=auth.login_failures, token_ttl=auth.ttl),
            plan=self.plan, repair=self.storage.stats(),
            storage_overhead=self.blobs.storage_overhead(self.work.registry),  # with retired pushes
            storage_disk_utilisation=float(np.mean([world.disks[s].utilisation() for s in world.storage])),
            registry_cpu_busy_s=sum(world.cpus[fe].busy_s for fe in world.frontends),
            samples=tuple(self.sampler.samples), storage_samples=tuple(self.sampler.storage_samples),
            capacity=self.repositories.capacity, alerts=tuple(self.monitor.alerts),
            scans=tuple(self.scanner.records), faults=tuple(self.faults.log), tee=tee,
            events=int(getattr(self.env, "events", 0)),
            setup=tuple(self.setup), precision_checks=self.watch.checks if self.watch is not None else 0,
            stopped_precise=self.stopped_precise, tier=tier_usage(world, config),
            handshake_times=tuple(self.access.handshake_times), rotations=tuple(self.access.rotations),
            credentials=tuple(self.credentials.kpis(self.arrivals.duration).items()))
