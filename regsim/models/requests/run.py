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
is replayed on the simulated platform (:mod:`.replay`):

- **pull**: auth check, then a real ``get_blob`` of one of the image's layers (drawn with the
  run's rng); the storage reads, transfers and the frontend's decoding and decryption stream to
  the client beside its download. A read while fragments are lost is a real degraded read: it
  reads around them, and for Reed-Solomon decodes (``ec_decode``). A read whose disk fails under
  it is read again around the failed node (counted as a retry).
- **push**: auth check, then a real ``put_blob`` of a fresh layer whose size is drawn from the
  image's layers -- hash, encrypt, encode, fan the fragments out to their storage nodes, write
  them -- beside the client's upload. With a modelled data plane the registry stores a sample of
  at most 1 MiB and the receipt is scaled to the modelled size (:func:`.registry_work.scale`).
- **manifest**: auth check and a real manifest GET (its receipt is reused while the same storage
  nodes are down, unless the data plane is ``real``): the small request that dominates a
  registry's load.
- **auth**: a token request -- a fresh login at the token service, and the registry's check of
  the new token; no blob work.

Storage nodes fail and are repaired from ``failures`` (:mod:`.storage_failures`): scripted
``fail``/``repair`` events of ``storage/I``, random failures at ``afr``, or -- with
``measure_degraded`` and no scripted storage events -- fixed phases that lose one, then two nodes
and repair them while requests keep arriving. Partitions, database outages and bad credentials
are played by :mod:`.faults`, scans by :mod:`.scan`, and every answer, push and finding is
reported to the alert rules (:mod:`.monitoring`). The run ends when every request is answered,
the repair is done and the scans are over (or at the scenario's ``duration``). A registry in a
TEE is simulated twice, the second time without the TEE, so the result carries the TEE's
latency rise. KPIs, series and notes: :mod:`.poisson_report` and :mod:`.access_report`.
"""

from __future__ import annotations

import dataclasses

import math
from collections import Counter
from collections.abc import Callable, Generator
from dataclasses import dataclass

import simpy

from regsim.registry.errors import RegistryError, TooManyRequests
from regsim.registry.receipts import Receipt
from .config import Closed, Poisson, RequestsConfig
from regsim.sim.disk import DiskFailed

from regsim.models.core.spec import ModelError
from . import monitoring
from .access import AccessLayer, NetworkFailure
from .access_report import window_marks
from .arrivals import KINDS, closed_loop, open_loop
from .auth_path import AuthFailure, AuthPath
from .scripted_faults import Faults, plan_failures
from .monitoring import Monitor, standard_rules
from .report import poisson_result
from .request_kinds import MAX_RETRIES, RegistryRequests
from regsim.models.core.work import RegistryWork
from regsim.models.core.replay import Replay
from regsim.models.core.result import VariantResult
from .scan import Scanner
from .storage_failures import StorageFailures
from regsim.models.core.world import World, build_world

__all__ = ["KINDS", "MAX_RETRIES", "PoissonRun", "Request", "simulate_poisson"]

PULL, PUSH, AUTH, MANIFEST = KINDS
#: points of the utilisation series over the workload's duration (unless monitoring.interval says otherwise)
SERIES_BINS = 100

Steps = Generator[simpy.Event, object, None]


@dataclass(slots=True)
class Request:
    """One request and what happened to it; times are simulated seconds."""

    kind: str
    client: str
    start: float
    end: float = float("nan")
    size: int = 0
    #: the image layer a pull read (-1: not a pull)
    layer: int = -1
    #: fragments of the blob a read could not fetch (its worst extent)
    lost: int = 0
    #: a fragment a healthy read uses was unreadable, so the read went around it
    degraded: bool = False
    #: the read decoded (its receipt has ec_decode)
    decoded: bool = False
    #: the repair was running when the request arrived
    during_repair: bool = False
    retries: int = 0
    #: fragment writes of a push that a failing disk cut short (rebuilt by the next repair)
    lost_writes: int = 0
    #: the frontend that served it ("" if it never reached one)
    frontend: str = ""
    #: why it failed: "network", "rate_limited", "auth" or "registry" (None: answered)
    failure: str | None = None
    error: str | None = None

    @property
    def latency(self) -> float:
        return self.end - self.start


def simulate_poisson(scenario: RequestsConfig, seed: int, progress: Callable[[float], None] | None = None) -> VariantResult:
    """The model of workload kinds ``poisson`` and ``closed``: one variant, and its baseline without a TEE."""
    if not isinstance(scenario.workload, (Poisson, Closed)):
        raise ModelError(f"the poisson model simulates workload kinds 'poisson' and 'closed', "
                         f"got {scenario.workload.kind!r}")
    baseline = None
    if scenario.registry.tee.enabled:  # the same run without the TEE, for the TEE's latency rise
        plain = scenario.registry.model_copy(update={"tee": scenario.registry.tee.model_copy(update={"enabled": False})})
        baseline = PoissonRun.build(dataclasses.replace(scenario, registry=plain), seed)
        baseline.run()
    run = PoissonRun.build(scenario, seed, progress)
    run.run()
    return poisson_result(run, baseline)


class PoissonRun(RegistryRequests):
    """The state of one simulated variant: the world, the real registry, every request."""

    def __init__(self, scenario: RequestsConfig, world: World, work: RegistryWork, seed: int,
                 progress: Callable[[float], None] | None = None) -> None:
        self.scenario, self.world, self.work, self.seed, self.progress = scenario, world, work, seed, progress
        self.workload: Poisson | Closed = scenario.workload  # type: ignore[assignment]
        self.closed = isinstance(self.workload, Closed)
        self.duration = scenario.workload_duration()
        self.env = world.env
        self.registry = work.registry
        self.k, self.n = scenario.registry.storage.codec_kn()
        self.replay = Replay(world)
        self.requests: list[Request] = []
        self.limit = self.workload.requests or math.inf
        if self.closed:
            think = max(self.workload.think_time, 1e-9)
            self.expected = max(1, round(min(self.limit, scenario.clients() * self.duration / think)))
        else:
            self.expected = max(1, round(min(self.limit, self.workload.rate * self.duration)))
        mix = self.workload.mix
        work.check_real_budget(round(self.expected * (mix.pull + mix.push)))
        self.finished = self.env.event()
        self.end_time = 0.0
        #: when the workload stopped sending: its duration, or when the request limit was reached
        self.window = self.duration
        self.window_marks: dict[str, float] = {}
        self.sent = 0
        self._outstanding = 0
        self._arriving = True
        #: blob digest -> (modelled size, bytes really stored), for every layer the run knows
        self.blob_sizes = {str(d): (size, sample) for d, size, sample in
                           zip(work.layers, work.sizes, work.sample_sizes)}
        self._memo: dict[tuple, Receipt] = {}
        self._manifest: Receipt | None = None
        self._verified: Counter[int] = Counter()
        self.rng = self._rng = {name: world.rr.stream(f"poisson/{name}")
                     for name in ("arrivals", "kinds", "clients", "layers", "sizes", "bytes", "access", "auth",
                                  "think")}
        self.clients = [(f"client{i}", world.nodes[i % len(world.nodes)]) for i in range(scenario.clients())]
        self.storage = StorageFailures(world, self.registry, self.replay, scale_of=self._scale_of,
                                       extent=work.extent, bandwidth=scenario.failures.repair_bandwidth,
                                       cores=scenario.registry.cores, on_idle=self._check_done)
        self.access = AccessLayer(world, scenario, self._rng["access"])
        self.access.warm([name for name, _ in self.clients])
        self.auth = AuthPath(scenario, world)
        self.auth.prepare([name for name, _ in self.clients], self._rng["auth"])
        self.auth.warm({client: conn.frontend for client, conn in self.access.connections.items()})
        self.monitor = Monitor(standard_rules(scenario))
        self.scanner = Scanner(scenario, world, work, self.replay, self.monitor)
        self.faults = Faults(self)
        #: repository -> bytes pushed into it (modelled sizes); stored bytes are these times the overhead
        self.repositories = [work.repo] + [f"{work.repo}-{i}" for i in range(1, self.workload.repositories)]
        self.repo_bytes = Counter({repo: 0 for repo in self.repositories})
        self.repo_bytes[work.repo] = sum(work.sizes)
        self.overhead = self.registry.stored_bytes() / max(1, sum(work.sample_sizes))
        capacity = scenario.registry.storage.capacity
        self.capacity = capacity * scenario.registry.storage.nodes if capacity is not None else None
        self._pushes = 0
        #: "scripted", "phases" or "none": how storage failures were driven
        self.failure_mode = "none"
        self.phase_nodes: tuple[str, str] | None = None
        #: how long the workload should send: its duration, or the time its requests take to arrive
        self.expected_window = (self.duration if self.closed else
                                min(self.duration, self.limit / max(self.workload.rate, 1e-12)))  # type: ignore[union-attr]
        self.interval = scenario.monitoring.interval or max(self.expected_window / SERIES_BINS, 1e-4)
        #: rows of the sampler: time, mean and max storage disk utilisation, storage NIC utilisation,
        #: storage nodes down
        self.samples: list[tuple[float, float, float, float, int]] = []
        #: rows of the storage sampler: time, repository, stored bytes
        self.storage_samples: list[tuple[float, str, float]] = []

    @classmethod
    def build(cls, scenario: RequestsConfig, seed: int, progress: Callable[[float], None] | None = None) -> PoissonRun:
        """A run of ``scenario`` on a fresh world and registry."""
        return cls(scenario, build_world(scenario, seed), RegistryWork(scenario, seed), seed, progress)

    # -- the run -----------------------------------------------------------------------------------

    def run(self) -> None:
        plan_failures(self)
        self.scanner.start()
        self.env.process(closed_loop(self) if self.closed else open_loop(self))
        self.env.process(self._sampler(self.interval))
        self._observe_storage()
        self.env.run(until=self.env.any_of([self.finished, self.env.timeout(self.scenario.duration)]))
        self.end_time = self.env.now
        if not self.window_marks:
            self._mark_window()

    def stop_sending(self) -> None:
        """The workload sends no more: the measurement window ends now (the arrivals call this)."""
        self._mark_window()
        self._arriving = False
        self._check_done()

    def _mark_window(self) -> None:
        self.window_marks = window_marks(self)

    def submit(self, kind: str, client: int = 0, *, at: float | None = None) -> simpy.Process:
        """Send one request of ``kind`` from client number ``client``, now or at time ``at``.

        The arrivals send theirs with it; tests and examples script requests with it. The run
        does not end before the request is answered.
        """
        if kind not in KINDS:
            raise ValueError(f"a request is one of {', '.join(KINDS)}, got {kind!r}")
        if not 0 <= client < len(self.clients):
            raise ValueError(f"client must lie in [0, {len(self.clients)}), got {client}")
        self._outstanding += 1
        return self.env.process(self._request(kind, *self.clients[client], at=at))

    def _request(self, kind: str, client: str, host: str, at: float | None = None) -> Steps:
        if at is not None and at > self.env.now:
            yield self.env.timeout(at - self.env.now)
        req = Request(kind, client, self.env.now, during_repair=self.storage.repairing)
        handler = {PULL: self._pull, PUSH: self._push, AUTH: self._auth, MANIFEST: self._manifest_get}[kind]
        try:
            req.frontend = yield from self.access.enter(client, host)
            yield from handler(req, host, req.frontend)
        except NetworkFailure as exc:
            req.failure, req.error = "network", f"NetworkFailure: {exc}"
        except TooManyRequests as exc:
            req.failure, req.error = "rate_limited", f"TooManyRequests: {exc}"
        except AuthFailure as exc:
            req.failure, req.error = "auth", f"AuthFailure: {exc}"
        except (RegistryError, DiskFailed) as exc:  # a disk failing under a manifest read, say
            req.failure, req.error = "registry", f"{type(exc).__name__}: {exc}"
        req.end = self.env.now
        self.access.leave(client)
        self.requests.append(req)
        self._observe(req)
        self._outstanding -= 1
        if self.progress is not None:
            self.progress(min(1.0, len(self.requests) / self.expected))
        self._check_done()

    def _check_done(self) -> None:
        if not (self._arriving or self._outstanding or self.storage.active or self.scanner.active
                or self.finished.triggered):
            self.finished.succeed()

    # -- what the monitor sees ---------------------------------------------------------------------

    def _observe(self, req: Request) -> None:
        now = self.env.now
        if req.failure == "auth":
            self.monitor.observe(now, monitoring.AUTH, req.client, 1.0, req.error or "")
        elif req.failure is None:
            self.monitor.observe(now, monitoring.AUTH, req.client, 0.0)
            if req.kind == PULL:
                self.monitor.observe(now, monitoring.PULL, req.client)

    # -- series --------------------------------------------------------------------------------------

    def _sampler(self, dt: float) -> Steps:
        """Storage disk and NIC utilisation over each interval of ``dt`` (exact interval averages), and
        the bytes each repository holds, while the workload sends and at most as long again after."""
        world, storage = self.world, self.world.storage
        disks = [world.disks[s] for s in storage]
        links = [world.topology.host(s).up for s in storage] + [world.topology.host(s).down for s in storage]
        capacity = world.topology.capacities()[links] * dt
        busy, sent = [d.busy_s for d in disks], world.net.link_bytes()[links]
        while not self.finished.triggered and self.env.now < 2 * self.expected_window:
            yield self.env.timeout(dt)
            now_busy, now_sent = [d.busy_s for d in disks], world.net.link_bytes()[links]
            util = [(b - a) / (dt * d.capacity) for a, b, d in zip(busy, now_busy, disks)]
            nic = float(((now_sent - sent) / capacity).mean())
            self.samples.append((self.env.now, sum(util) / len(util), max(util), nic, len(self.storage.down)))
            busy, sent = now_busy, now_sent
            self.storage_samples += [(self.env.now, repo, self.overhead * b) for repo, b in self.repo_bytes.items()]

