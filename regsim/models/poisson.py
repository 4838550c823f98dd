"""Poisson: an open-loop stream of pulls, pushes and token requests against the registry.

Requests arrive at ``workload.rate`` (exponential gaps) for the workload's duration, each a pull,
a push or an auth request drawn from ``workload.mix``, from a client chosen at random among
``workload.clients`` (spread over the cluster's nodes); frontends take them round-robin. Every
request runs the real registry path and its receipt is replayed on the simulated platform
(:mod:`.replay`):

- **pull**: auth check, then a real ``get_blob`` of one of the image's layers (drawn with the
  run's rng); the storage reads, transfers and the frontend's decoding and decryption stream to
  the client beside its download. A read while fragments are lost is a real degraded read: it
  reads around them, and for Reed-Solomon decodes (``ec_decode``). A read whose disk fails under
  it is read again around the failed node (counted as a retry).
- **push**: auth check, then a real ``put_blob`` of a fresh layer whose size is drawn from the
  image's layers -- hash, encrypt, encode, fan the fragments out to their storage nodes, write
  them -- beside the client's upload. With a modelled data plane the registry stores a sample of
  at most 1 MiB and the receipt is scaled to the modelled size (:func:`.registry_work.scale`).
- **auth**: a token request -- the token service issues a token and the registry checks it; no
  blob work.

Storage nodes fail and are repaired from ``failures`` (:mod:`.storage_failures`): scripted
``fail``/``repair`` events of ``storage/I``, random failures at ``afr``, or -- with
``measure_degraded`` and no scripted storage events -- fixed phases that lose one, then two nodes
and repair them while requests keep arriving. The run ends when every request is answered and the
repair is done (or at the scenario's ``duration``). KPIs, series and notes: :mod:`.poisson_report`.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Generator
from dataclasses import dataclass

import simpy

from regsim.registry import receipts
from regsim.registry.blobstore import extent_key
from regsim.registry.digest import Digest, verify
from regsim.registry.errors import RegistryError
from regsim.registry.receipts import Kind, Receipt
from regsim.scenario import Scenario
from regsim.scenario.traffic import Poisson

from . import ModelError, register_model
from .poisson_report import poisson_result
from .registry_work import SAMPLE_BYTES, SAMPLED_NODES, RegistryWork, merged, on_frontend, scale
from .replay import Replay, combine
from .result import VariantResult
from .storage_failures import StorageFailures, phase_nodes, readable
from .world import World, build_world

PULL, PUSH, AUTH = "pull", "push", "auth"
KINDS = (PULL, PUSH, AUTH)
#: reads of one pull that a failing disk may cut short before the pull gives up
MAX_RETRIES = 3
#: points of the utilisation series over the workload's duration
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
    error: str | None = None

    @property
    def latency(self) -> float:
        return self.end - self.start


def simulate_poisson(scenario: Scenario, seed: int, progress: Callable[[float], None] | None = None) -> VariantResult:
    if not isinstance(scenario.workload, Poisson):
        raise ModelError(f"the poisson model simulates workload kind 'poisson', got {scenario.workload.kind!r}")
    world = build_world(scenario, seed)
    run = PoissonRun(scenario, world, RegistryWork(scenario, seed), seed, progress)
    run.run()
    return poisson_result(run)


class PoissonRun:
    """The state of one simulated Poisson variant: the world, the real registry, every request."""

    def __init__(self, scenario: Scenario, world: World, work: RegistryWork, seed: int,
                 progress: Callable[[float], None] | None = None) -> None:
        self.scenario, self.world, self.work, self.seed, self.progress = scenario, world, work, seed, progress
        self.workload: Poisson = scenario.workload  # type: ignore[assignment]
        self.duration = scenario.workload_duration()
        self.env = world.env
        self.registry = work.registry
        self.k, self.n = scenario.registry.storage.codec_kn()
        self.replay = Replay(world)
        self.requests: list[Request] = []
        self.expected = max(1, round(self.workload.rate * self.duration))
        work.check_real_budget(round(self.expected * (self.workload.mix.pull + self.workload.mix.push)))
        self.finished = self.env.event()
        self.end_time = 0.0
        self._outstanding = 0
        self._arriving = True
        self._frontends = itertools.cycle(world.frontends)
        self._tokens: dict[str, tuple[object, float]] = {}
        #: blob digest -> (modelled size, bytes really stored), for every layer the run knows
        self.blob_sizes = {str(d): (size, sample) for d, size, sample in
                           zip(work.layers, work.sizes, work.sample_sizes)}
        self._memo: dict[tuple, Receipt] = {}
        self._verified: Counter[int] = Counter()
        self._rng = {name: world.rr.stream(f"poisson/{name}")
                     for name in ("arrivals", "kinds", "clients", "layers", "sizes", "bytes")}
        self.clients = [(f"client{i}", world.nodes[i % len(world.nodes)]) for i in range(scenario.clients())]
        self.storage = StorageFailures(world, self.registry, self.replay, scale_of=self._scale_of,
                                       extent=work.extent, bandwidth=scenario.failures.repair_bandwidth,
                                       cores=scenario.registry.cores, on_idle=self._check_done)
        #: "scripted", "phases" or "none": how storage failures were driven
        self.failure_mode = "none"
        self.phase_nodes: tuple[str, str] | None = None
        #: rows of the sampler: time, mean and max storage disk utilisation, storage NIC utilisation,
        #: storage nodes down
        self.samples: list[tuple[float, float, float, float, int]] = []

    # -- the run -----------------------------------------------------------------------------------

    def run(self) -> None:
        self._plan_failures()
        self.env.process(self._arrivals())
        self.env.process(self._sampler(max(self.duration / SERIES_BINS, 1e-3)))
        self.env.run(until=self.env.any_of([self.finished, self.env.timeout(self.scenario.duration)]))
        self.end_time = self.env.now

    def _plan_failures(self) -> None:
        failures, storage = self.scenario.failures, self.world.storage
        script: list[tuple[float, str, str]] = []
        for i, event in enumerate(failures.events):
            if event.kind not in ("fail", "repair") or event.target_kind() != "storage":
                raise ModelError(f"failures.events[{i}]: the poisson model plays 'fail' and 'repair' of storage "
                                 f"nodes only; '{event.kind}' of {event.target!r} has no model in it")
            node = storage[event.target_index()]  # type: ignore[index]
            script.append((event.at, node, event.kind))
            if event.kind == "fail" and event.duration is not None:
                script.append((event.at + event.duration, node, "repair"))
        if script:
            self.failure_mode = "scripted"
            self.storage.script(script)
        elif failures.measure_degraded:
            if len(storage) < 2:
                raise ModelError("failures.measure_degraded fails two storage nodes, but registry.storage.nodes "
                                 f"is {len(storage)}")
            self.failure_mode = "phases"
            keys = [extent_key(d, 0) for d in self.work.layers]
            self.phase_nodes = phase_nodes(self.registry, keys, self.k)
            self.storage.phases(self.duration, *self.phase_nodes)
        if failures.afr > 0:
            scripted = {node for _, node, _ in script}
            self.storage.random([s for s in storage if s not in scripted], failures.afr, failures.repair_time)

    def _arrivals(self) -> Steps:
        rate, mix = self.workload.rate, self.workload.mix
        shares = [mix.pull, mix.push, mix.auth]
        t = 0.0
        while rate > 0:
            t += float(self._rng["arrivals"].exponential(1.0 / rate))
            if t >= self.duration:
                break
            yield self.env.timeout(t - self.env.now)
            kind = KINDS[int(self._rng["kinds"].choice(len(KINDS), p=shares))]
            self.submit(kind, int(self._rng["clients"].integers(len(self.clients))))
        self._arriving = False
        self._check_done()

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
        frontend = next(self._frontends)
        handler = {PULL: self._pull, PUSH: self._push, AUTH: self._auth}[kind]
        try:
            yield from handler(req, host, frontend)
        except RegistryError as exc:
            req.error = f"{type(exc).__name__}: {exc}"
        req.end = self.env.now
        self.requests.append(req)
        self._outstanding -= 1
        if self.progress is not None:
            self.progress(min(1.0, len(self.requests) / self.expected))
        self._check_done()

    def _check_done(self) -> None:
        if not (self._arriving or self._outstanding or self.storage.active or self.finished.triggered):
            self.finished.succeed()

    # -- requests ----------------------------------------------------------------------------------

    def _credentials(self, client: str, *, fresh: bool = False) -> tuple[object | None, Receipt]:
        """The client's token, and the receipt of getting one when it has none still valid."""
        held = self._tokens.get(client)
        if not fresh and held is not None and self.env.now - held[1] < self.scenario.registry.auth.token_ttl:
            return held[0], Receipt()
        creds, login = self.work.login(client)
        self._tokens[client] = (creds, self.env.now)
        return creds, login

    def _auth(self, req: Request, host: str, frontend: str) -> Steps:
        creds, login = self._credentials(req.client, fresh=True)
        yield from self.replay.request(host, frontend, combine(login, self.work.authorize(creds)))

    def _pull(self, req: Request, host: str, frontend: str) -> Steps:
        creds, login = self._credentials(req.client)
        yield from self.replay.request(host, frontend, combine(login, self.work.authorize(creds)))
        req.layer = index = int(self._rng["layers"].integers(len(self.work.layers)))
        req.size = self.work.sizes[index]
        for _ in range(MAX_RETRIES + 1):
            state = self._state(self.work.layers[index])
            req.lost = max(s.count(False) for s in state)
            req.degraded = any(not all(s[: self.k]) for s in state)
            receipt = self._read(index, state)
            req.decoded = any(item.kind == Kind.EC_DECODE for item in receipt)
            failed = yield from self.replay.stream(on_frontend(receipt, frontend), frontend, host, req.size,
                                                   tag="egress")
            if not failed:
                return
            req.retries += 1
        req.error = f"gave up after {MAX_RETRIES + 1} reads cut short by failing disks"

    def _push(self, req: Request, host: str, frontend: str) -> Steps:
        creds, login = self._credentials(req.client)
        yield from self.replay.request(host, frontend, combine(login, self.work.authorize(creds)))
        req.size = size = int(self._rng["sizes"].choice(self.work.sizes))
        sample = size if self.work.mode == "real" else min(size, SAMPLE_BYTES)
        data = self._rng["bytes"].bytes(sample)
        with receipts.collect() as work:
            digest = self.registry.put_blob(self.work.repo, data)
        self.blob_sizes[str(digest)] = (size, sample)
        receipt = merged(scale(work, size, sample, self.work.extent))
        failed = yield from self.replay.stream(on_frontend(receipt, frontend), host, frontend, size, tag="ingress")
        req.lost_writes = sum(1 for item in failed if item.kind == Kind.DISK_WRITE)

    # -- the real registry -------------------------------------------------------------------------

    def _state(self, digest: Digest) -> tuple[tuple[bool, ...], ...]:
        """Which fragments of each extent of the blob a read can fetch now."""
        extents = int(self.registry.blobs.info(digest)["extents"])
        return tuple(readable(self.registry, extent_key(digest, i)) for i in range(extents))

    def _read(self, index: int, state: tuple) -> Receipt:
        """The receipt of reading layer ``index`` for real, priced at its modelled size.

        A real data plane verifies every read; a sampled one verifies the first few reads of each
        layer and then reuses the receipt of a read made in the same fragment state.
        """
        mode, digest = self.work.mode, self.work.layers[index]
        memo = (index, state)
        if mode == "sampled" and memo in self._memo and self._verified[index] >= SAMPLED_NODES:
            return self._memo[memo]
        with receipts.collect() as work:
            data = self.registry.get_blob(self.work.repo, digest)
            if mode != "modelled":
                verify(data, digest, node="frontend")
        receipt = merged(scale(work, self.work.sizes[index], self.work.sample_sizes[index], self.work.extent))
        if mode == "sampled":
            self._verified[index] += 1
            self._memo[memo] = receipt
        return receipt

    def _scale_of(self, key: str) -> tuple[int, int]:
        """(modelled size, real size) of the blob owning cluster key ``blobs/<alg>/<xx>/<hex>/<i>``."""
        parts = key.split("/")
        digest = f"{parts[1]}:{parts[3]}" if len(parts) == 5 else ""
        return self.blob_sizes.get(digest, (1, 1))

    # -- series --------------------------------------------------------------------------------------

    def _sampler(self, dt: float) -> Steps:
        """Storage disk and NIC utilisation over each interval of ``dt`` (exact interval averages)."""
        world, storage = self.world, self.world.storage
        disks = [world.disks[s] for s in storage]
        links = [world.topology.host(s).up for s in storage] + [world.topology.host(s).down for s in storage]
        capacity = world.topology.capacities()[links] * dt
        busy, sent = [d.busy_s for d in disks], world.net.link_bytes()[links]
        while not self.finished.triggered:
            yield self.env.timeout(dt)
            now_busy, now_sent = [d.busy_s for d in disks], world.net.link_bytes()[links]
            util = [(b - a) / (dt * d.capacity) for a, b, d in zip(busy, now_busy, disks)]
            nic = float(((now_sent - sent) / capacity).mean())
            self.samples.append((self.env.now, sum(util) / len(util), max(util), nic, len(self.storage.down)))
            busy, sent = now_busy, now_sent


register_model("poisson", simulate_poisson)
