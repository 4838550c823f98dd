"""Does the request-load model predict the real server? ``regsim experiment serve-load``.

The experiment runs ``regsim serve`` for real -- a subprocess on a loopback port, JWT auth
(ES256, the verified-token cache on), an in-memory ``replicate(1)`` store holding one image with
a 1 MiB layer -- and drives it closed-loop from ``N`` client processes (1, 2, 4, 8): each client
fetches its token once, then sends requests back to back over one keep-alive connection
(``http.client``) for a fixed time after a warm-up, either manifest GETs or pulls of the layer.
It records each client's requests, latencies and CPU time, and the server process's CPU time
over the same window (``psutil``).

Then it simulates the same set-up with the ``closed`` model (:mod:`regsim.models.requests`):
the same clients and mix, one frontend, auth ``jwt`` with the server's algorithm and cache, a
loopback-like network, priced by a cost profile calibrated on this machine -- and compares
throughput and median latency. What the model is told about the machine -- measured in
calibration runs, never in the loads it is compared with -- and why, is in :class:`Setup` and
:func:`scenario_for`, and in ``docs/auth-comparison.md`` ("The model against the real server").

This module is orchestration: it may not import the server (the interface layer), so it starts
it the way a person does, as a command, and talks to it over HTTP only.
"""

from __future__ import annotations

import base64
import http.client
import json
import math
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..registry.descriptors import OCI_LAYER, OCI_MANIFEST, Descriptor
from ..registry.digest import compute
from ..registry.manifests import image_documents

__all__ = ["BAND", "LAYER_BYTES", "Comparison", "Experiment", "Measured", "ServerHandle", "Setup", "Simulated",
           "format_table", "measure", "push_image", "run_experiment", "running_server", "scenario_for", "simulate",
           "transport_profile"]

#: the band a simulated figure must fall in, as a ratio to the measured one
BAND = (0.75, 1.25)
#: the pulled layer's size
LAYER_BYTES = 1 << 20
#: the server's JWT algorithm and token cache (the simulated registry is told the same)
ALGORITHM = "ES256"
CACHE_SIZE = 10000
USER, PASSWORD = "bench", "bench-password"
REPO, TAG = "team/app", "v1"
WORKLOADS = ("manifest", "pull")
#: how long to wait for the server to answer /v2/ after it starts
READY_DEADLINE_S = 30.0


# -- the server ------------------------------------------------------------------------------------

def server_config() -> dict[str, Any]:
    """The server's configuration: in memory, ``replicate(1)``, JWT auth with one user."""
    return {
        "registry": {"backend": "memory", "codec": "replicate(1)", "nodes": 1},
        "auth": {"mode": "jwt", "algorithm": ALGORITHM, "cache_size": CACHE_SIZE, "token_ttl": 3600,
                 "users": [{"name": USER, "password": PASSWORD, "access": {"team/*": "*"}}]},
    }


@dataclass
class ServerHandle:
    """A running ``regsim serve``: its process, address and pid (for its CPU time)."""

    process: subprocess.Popen
    host: str
    port: int

    @property
    def pid(self) -> int:
        return self.process.pid


def _wait_ready(host: str, port: int, deadline: float) -> None:
    """Poll ``GET /v2/`` until the server answers (401 with auth on), or fail at ``deadline``."""
    last: Exception | None = None
    while time.monotonic() < deadline:
        conn = http.client.HTTPConnection(host, port, timeout=2)
        try:
            conn.request("GET", "/v2/")
            status = conn.getresponse().status
            if status in (200, 401):
                return
            last = RuntimeError(f"GET /v2/ answered {status}")
        except OSError as exc:
            last = exc
        finally:
            conn.close()
        time.sleep(0.05)  # a poll interval, not a stand-in for synchronisation
    raise RuntimeError(f"regsim serve did not answer GET /v2/ on {host}:{port} in time ({last})")


@contextmanager
def running_server(config: dict[str, Any] | None = None) -> Iterator[ServerHandle]:
    """``regsim serve`` in a subprocess on a free loopback port, ready when this yields; stopped after."""
    import yaml

    with tempfile.TemporaryDirectory(prefix="regsim-serve-load-") as tmp:
        path = Path(tmp, "server.yaml")
        path.write_text(yaml.safe_dump(config or server_config()), encoding="utf-8")
        command = [sys.executable, "-c", "import sys; from regsim.cli import main; sys.exit(main())",
                   "serve", "--config", str(path), "--host", "127.0.0.1", "--port", "0"]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            line = process.stdout.readline() if process.stdout is not None else ""
            if "listening on http://" not in line:
                process.kill()
                err = process.stderr.read() if process.stderr is not None else ""
                raise RuntimeError(f"regsim serve did not start: {line.strip()} {err.strip()}")
            address = line.split("listening on http://", 1)[1].split()[0]
            host, port = address.rsplit(":", 1)
            _wait_ready(host, int(port), time.monotonic() + READY_DEADLINE_S)
            yield ServerHandle(process, host, int(port))
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            for stream in (process.stdout, process.stderr):
                if stream is not None:
                    stream.close()


def fetch_token(host: str, port: int, scope: str) -> str:
    """A bearer token for ``scope`` from the server's token endpoint, with the user's password."""
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        conn.request("GET", f"/token?service=regsim&scope={scope}", headers={"Authorization": f"Basic {basic}"})
        reply = conn.getresponse()
        body = reply.read()
        if reply.status != 200:
            raise RuntimeError(f"GET /token answered {reply.status}: {body[:200]!r}")
        return json.loads(body)["token"]
    finally:
        conn.close()


def push_image(host: str, port: int) -> dict[str, str]:
    """Push a config blob, a :data:`LAYER_BYTES` layer and a manifest tagged :data:`TAG`; their paths."""
    token = fetch_token(host, port, f"repository:{REPO}:pull,push")
    auth = {"Authorization": f"Bearer {token}"}
    layer = os.urandom(LAYER_BYTES)
    layer_digest = compute(layer)
    image = image_documents([Descriptor(OCI_LAYER, layer_digest, len(layer))])
    conn = http.client.HTTPConnection(host, port, timeout=60)
    try:
        for blob, digest in ((image.config, image.config_digest), (layer, layer_digest)):
            conn.request("POST", f"/v2/{REPO}/blobs/uploads/?digest={digest}", body=blob,
                         headers={**auth, "Content-Type": "application/octet-stream"})
            reply = conn.getresponse()
            reply.read()
            if reply.status != 201:
                raise RuntimeError(f"pushing a blob answered {reply.status}")
        conn.request("PUT", f"/v2/{REPO}/manifests/{TAG}", body=image.manifest,
                     headers={**auth, "Content-Type": OCI_MANIFEST})
        reply = conn.getresponse()
        reply.read()
        if reply.status != 201:
            raise RuntimeError(f"pushing the manifest answered {reply.status}")
    finally:
        conn.close()
    return {"manifest": f"/v2/{REPO}/manifests/{TAG}", "pull": f"/v2/{REPO}/blobs/{layer_digest}"}


# -- the load --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _ClientJob:
    host: str
    port: int
    path: str
    accept: str
    warmup_s: float
    seconds: float


def _client(job: _ClientJob, start: Any, ready: Any, go: Any, out: Any) -> None:
    """One closed-loop client (a process): its token once, then requests back to back.

    Sends its results -- requests completed in the window, their latencies, its CPU seconds over
    the window -- on ``out``. Requests that start in the warm-up are not counted; the window ends
    at ``start + warmup + seconds`` (a request in flight then is not counted).
    """
    try:
        token = fetch_token(job.host, job.port, f"repository:{REPO}:pull")
        headers = {"Authorization": f"Bearer {token}", "Accept": job.accept}
        conn = http.client.HTTPConnection(job.host, job.port, timeout=60)
        conn.connect()
        ready.set()
        go.wait()
        begin, end = start.value + job.warmup_s, start.value + job.warmup_s + job.seconds
        latencies: list[float] = []
        cpu0 = None
        while True:
            t0 = time.time()
            if t0 >= end:
                break
            if cpu0 is None and t0 >= begin:
                cpu0 = time.process_time()
            conn.request("GET", job.path, headers=headers)
            reply = conn.getresponse()
            while reply.read(1 << 20):
                pass
            t1 = time.time()
            if reply.status != 200:
                raise RuntimeError(f"GET {job.path} answered {reply.status}")
            if begin <= t0 and t1 <= end:
                latencies.append(t1 - t0)
        cpu = time.process_time() - cpu0 if cpu0 is not None else 0.0
        conn.close()
        out.put({"latencies": latencies, "cpu_s": cpu})
    except BaseException as exc:  # noqa: BLE001 -- reported to the parent, which raises
        ready.set()
        out.put({"error": f"{type(exc).__name__}: {exc}"})


@dataclass(frozen=True)
class Measured:
    """One closed-loop load on the real server."""

    workload: str
    clients: int
    seconds: float
    requests: int
    rps: float
    p50_s: float
    #: CPU seconds per request of the server process, and its CPU use in cores, over the window
    server_cpu_per_request_s: float
    server_cores: float
    #: CPU seconds per request of the clients (their own turnaround: building the request,
    #: parsing the answer)
    client_cpu_per_request_s: float


def measure(server: ServerHandle, paths: dict[str, str], workload: str, clients: int, *,
            seconds: float, warmup_s: float) -> Measured:
    """Drive ``server`` with ``clients`` processes sending ``workload`` requests; what was measured."""
    import psutil

    ctx = _context()
    ready_events = [ctx.Event() for _ in range(clients)]
    go, out = ctx.Event(), ctx.Queue()
    accept = "application/vnd.oci.image.manifest.v1+json" if workload == "manifest" else "*/*"
    # every client gets the same start time: start the processes, wait until each has its token and
    # connection, then set the time and let them go
    shared_start = ctx.Value("d", 0.0)
    job = _ClientJob(server.host, server.port, paths[workload], accept, warmup_s, seconds)
    procs = [ctx.Process(target=_client, args=(job, shared_start, ready_events[i], go, out), daemon=True)
             for i in range(clients)]
    for p in procs:
        p.start()
    try:
        deadline = time.monotonic() + 120
        for event, p in zip(ready_events, procs):
            while not event.wait(0.1):  # a client that dies before it is ready must not hang us
                if not p.is_alive() or time.monotonic() > deadline:
                    raise RuntimeError(f"a load client did not get ready (exit code {p.exitcode})")
        start = time.time() + 0.05
        shared_start.value = start
        go.set()
        server_proc = psutil.Process(server.pid)
        _sleep_until(start + warmup_s)
        cpu0 = _cpu(server_proc)
        _sleep_until(start + warmup_s + seconds)
        cpu1 = _cpu(server_proc)
        results = [out.get(timeout=120) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.terminate()
                p.join()
    errors = [r["error"] for r in results if "error" in r]
    if errors:
        raise RuntimeError(f"a load client failed: {errors[0]}")
    latencies = sorted(x for r in results for x in r["latencies"])
    n = len(latencies)
    if n == 0:
        raise RuntimeError(f"no {workload} request completed within the {seconds} s window")
    server_cpu = cpu1 - cpu0
    return Measured(workload, clients, seconds, n, n / seconds, statistics.median(latencies),
                    server_cpu / n, server_cpu / seconds, sum(r["cpu_s"] for r in results) / n)


def _context() -> Any:
    """Processes by fork where there is fork (a client starts in milliseconds; the parent runs no
    threads while it measures), else by spawn."""
    return mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")


def _cpu(proc: Any) -> float:
    """User and system CPU seconds of ``proc`` and its threads."""
    times = proc.cpu_times()
    return times.user + times.system


def _sleep_until(when: float) -> None:
    """Wait for a point of the measurement's timeline (the window's edges are times, not events)."""
    while True:
        left = when - time.time()
        if left <= 0:
            return
        time.sleep(min(left, 0.5))


# -- the model ---------------------------------------------------------------------------------------

#: simulated requests per variant (the closed loop's throughput and median settle well before)
SIM_REQUESTS = {"manifest": 3000, "pull": 1200}
#: one-way latency of each simulated hop (client - rack switch - core - frontend: 3 hops): a
#: loopback round trip is tens of microseconds
HOP_LATENCY = "5us"
#: the HTTP price each workload's request pays on the frontend, which the transport price adds to
ENDPOINT = {"manifest": "http_manifest_get", "pull": "http_blob_get"}


@dataclass(frozen=True)
class Setup:
    """What the model is told about the real set-up, each figure measured on it, by workload.

    - ``server_s``, ``client_s``: the server process's and a client process's CPU seconds per
      request with one client (a lone request: the server is otherwise idle);
    - ``busy_server_s``, ``busy_client_s``: the same at the largest load, when the server always
      has work (its event loop then serves several requests per wake-up, so a request costs it
      less: the wake-ups of the loop and of the worker thread are shared);
    - ``spare_cores``: the cores the server and its clients got together in that busy run (the
      server's CPU plus the clients'), at most the CPU count: the machine's cores less what its
      other jobs took;
    - ``priced_s``: the frontend CPU seconds per request the cost profile already prices.

    The server is one Python process: its Python code runs on one core at a time (the GIL), so
    the frontend has one core, and its clients share the machine with it, while the model gives
    clients no CPU. So a request's frontend demand is the larger of the busy server's CPU and the
    share of the spare cores that a busy request takes, server and client together
    (:meth:`demand_s`); what a lone request's round trip holds beyond that -- the wake-ups a busy
    server shares, the client's own CPU -- is a delay that uses no frontend core (:meth:`delay_s`).
    """

    profile: str
    server_s: dict[str, float] = field(default_factory=dict)
    client_s: dict[str, float] = field(default_factory=dict)
    busy_server_s: dict[str, float] = field(default_factory=dict)
    busy_client_s: dict[str, float] = field(default_factory=dict)
    spare_cores: dict[str, float] = field(default_factory=dict)
    priced_s: dict[str, float] = field(default_factory=dict)
    cores: int = 1

    def demand_s(self, workload: str) -> float:
        """Frontend seconds per request: ``max(busy server, (busy server + busy client) / spare)``."""
        server = self.busy_server_s.get(workload, self.server_s.get(workload, 0.0))
        client = self.busy_client_s.get(workload, self.client_s.get(workload, 0.0))
        spare = self.spare_cores.get(workload, float("inf"))
        return max(server, (server + client) / spare) if spare > 0 else server + client

    def transport_s(self, workload: str) -> float:
        """What the frontend demand adds to the profile's prices: the price of the HTTP transport
        (uvicorn's parsing, the socket calls, the hand-offs between the event loop and the
        worker threads) and, on a machine without a spare core, the clients' CPU taken from the
        server's."""
        if workload not in self.server_s:
            return 0.0
        return max(self.demand_s(workload) - self.priced_s.get(workload, 0.0), 0.0)

    def delay_s(self, workload: str) -> float:
        """A lone request's round trip (server and client CPU) beyond the frontend demand."""
        if workload not in self.server_s:
            return self.client_s.get(workload, 0.0)
        whole = self.server_s[workload] + self.client_s.get(workload, 0.0)
        return max(whole - self.demand_s(workload), 0.0)


def scenario_for(setup: Setup, workload: str, clients: int, *, profile_path: str | None = None,
                 requests: int | None = None) -> Any:
    """The ``closed`` scenario of the real set-up: ``clients`` clients with no think time sending
    ``workload`` requests (100 %) to one frontend of ``setup.cores`` cores, JWT auth as the
    server's (algorithm, cache), a ``replicate(1)`` store holding an image of one 1 MiB layer.

    The network is a loopback: hops of :data:`HOP_LATENCY`, links and disks far faster than the
    CPU. :meth:`Setup.delay_s` enters as extra one-way latency between the core switch and the
    registry (half each way): a delay in every round trip that uses no frontend core.
    """
    from ..scenario import scenario_from_dict

    data = {
        "name": f"serve-load-{workload}-{clients}", "seed": 1, "duration": "1h",
        "profile": profile_path or setup.profile,
        "cluster": {"nodes": 1, "racks": 1, "latency": HOP_LATENCY, "node": {"cores": 64, "nic": "400Gbps"}},
        "registry": {"frontends": 1, "cores": setup.cores, "egress": "400Gbps",
                     "latency": f"{setup.delay_s(workload) / 2:.9f}s",
                     "storage": {"codec": "replicate(1)", "nodes": 1, "nic": "400Gbps",
                                 "disk": {"read": "100GB/s", "write": "100GB/s"}},
                     "auth": {"mode": "jwt", "algorithm": ALGORITHM, "cache": CACHE_SIZE}},
        "image": {"repository": REPO, "layers": [LAYER_BYTES]},
        "workload": {"kind": "closed", "clients": clients, "think_time": "0s",
                     "requests": requests or SIM_REQUESTS[workload], "mix": {workload: "100%"}},
        "data_plane": "modelled",
    }
    return scenario_from_dict(data)


def transport_profile(setup: Setup, folder: Path) -> str:
    """``setup.profile`` with each workload's transport price added to its endpoint's HTTP price
    (a profile adjustment: the measured table is untouched); the path of the JSON written."""
    from ..sim.profile import Adjustment, load_profile

    profile = load_profile(setup.profile)
    extra = {ENDPOINT[w]: Adjustment(extra_s_per_unit=setup.transport_s(w)) for w in setup.server_s}
    if extra:
        profile = profile.adjusted(extra, name=f"{profile.name}+transport")
    return str(profile.save(folder / "profile-with-transport.json"))


@dataclass(frozen=True)
class Simulated:
    """The ``closed`` model's KPIs of one load."""

    workload: str
    clients: int
    rps: float
    p50_s: float
    capacity_rps: float
    bottleneck: str


def simulate(setup: Setup, workload: str, clients: int, *, profile_path: str | None = None,
             requests: int | None = None) -> Simulated:
    """The ``closed`` model of the set-up (:func:`scenario_for`)."""
    from ..models import simulate as run_model

    kpis = run_model(scenario_for(setup, workload, clients, profile_path=profile_path, requests=requests), 1).kpis
    return Simulated(workload, clients, float(kpis["throughput_rps"]), float(kpis["latency_p50_s"]),
                     float(kpis["capacity_rps"]), str(kpis["bottleneck"]))


def priced_demand_s(profile: str, workload: str) -> float:
    """Frontend CPU seconds per request the profile prices for ``workload`` (the model's own
    demand: one core over its saturation point, the frontend's cores being the bottleneck)."""
    sim = simulate(Setup(profile=profile), workload, 1, requests=300)
    if sim.bottleneck != "frontend_cpu":
        raise RuntimeError(f"expected the frontend's cores to bound {workload}, the model says {sim.bottleneck}")
    return 1.0 / sim.capacity_rps


# -- the experiment ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Comparison:
    """One load: measured (the median over rounds) against simulated."""

    measured: Measured
    simulated: Simulated
    #: every round's measurement of this load (their spread is the machine's noise)
    rounds: tuple[Measured, ...] = ()

    @property
    def rps_ratio(self) -> float:
        return self.simulated.rps / self.measured.rps

    @property
    def p50_ratio(self) -> float:
        return self.simulated.p50_s / self.measured.p50_s

    @property
    def ok(self) -> bool:
        lo, hi = BAND
        return all(math.isfinite(r) and lo <= r <= hi for r in (self.rps_ratio, self.p50_ratio))


@dataclass(frozen=True)
class Experiment:
    """What the model was told (measured in the calibration runs), and each comparison."""

    setup: Setup
    rows: list[Comparison]
    rounds: int

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.rows)


def _median_of(runs: list[Measured]) -> Measured:
    """One load's rounds as one: the median of each figure."""
    med = lambda name: statistics.median(getattr(r, name) for r in runs)  # noqa: E731
    first = runs[0]
    return Measured(first.workload, first.clients, first.seconds, int(med("requests")), med("rps"), med("p50_s"),
                    med("server_cpu_per_request_s"), med("server_cores"), med("client_cpu_per_request_s"))


def run_experiment(clients: Sequence[int] = (1, 2, 4, 8), *, seconds: float = 5.0, warmup_s: float = 1.0,
                   calibration_s: float | None = None, rounds: int = 3, profile: str = "reference",
                   workloads: Sequence[str] = WORKLOADS,
                   progress: Callable[[str], None] | None = None) -> Experiment:
    """Measure the real server under each load, calibrate the model's inputs on it, simulate, compare.

    Each round, per workload: first the calibration -- one client for ``calibration_s`` seconds
    (the server's and the client's CPU seconds per request), and the largest load of ``clients``
    for as long (the cores the server and its clients got together: :attr:`Setup.spare_cores`)
    -- then each load of ``clients``. Every figure is the median over the
    rounds, which interleave, so a burst of other jobs on a shared machine moves one round's
    figures, not every load's. The model's inputs come from the calibration runs only, so every
    measured load is a prediction.
    """
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, got {rounds}")
    say = progress or (lambda _msg: None)
    calibration_s = seconds if calibration_s is None else calibration_s
    top = max(clients)
    runs: dict[tuple[str, int], list[Measured]] = {}
    calibration: dict[str, list[Measured]] = {w: [] for w in workloads}
    busy: dict[str, list[Measured]] = {w: [] for w in workloads}
    with running_server() as server:
        paths = push_image(server.host, server.port)
        for r in range(rounds):
            for workload in workloads:
                say(f"round {r + 1}/{rounds}, {workload}: calibrating (1 and {top} clients, {calibration_s:g} s)")
                calibration[workload].append(measure(server, paths, workload, 1, seconds=calibration_s,
                                                     warmup_s=warmup_s))
                busy[workload].append(measure(server, paths, workload, top, seconds=calibration_s,
                                              warmup_s=warmup_s))
                for n in clients:
                    say(f"round {r + 1}/{rounds}, {workload}: {n} client(s), {seconds:g} s after {warmup_s:g} s")
                    runs.setdefault((workload, n), []).append(
                        measure(server, paths, workload, n, seconds=seconds, warmup_s=warmup_s))
    cal = {w: _median_of(calibration[w]) for w in workloads}
    top_cal = {w: _median_of(busy[w]) for w in workloads}
    cpus = float(os.cpu_count() or 1)
    setup = Setup(profile=profile,
                  server_s={w: cal[w].server_cpu_per_request_s for w in workloads},
                  client_s={w: cal[w].client_cpu_per_request_s for w in workloads},
                  busy_server_s={w: top_cal[w].server_cpu_per_request_s for w in workloads},
                  busy_client_s={w: top_cal[w].client_cpu_per_request_s for w in workloads},
                  spare_cores={w: statistics.median(min(m.server_cores + m.client_cpu_per_request_s * m.rps, cpus)
                                                    for m in busy[w]) for w in workloads},
                  priced_s={w: priced_demand_s(profile, w) for w in workloads})
    rows = []
    with tempfile.TemporaryDirectory(prefix="regsim-serve-load-") as tmp:
        path = transport_profile(setup, Path(tmp))
        for (workload, n), measured in runs.items():
            say(f"simulating {workload}: {n} client(s)")
            rows.append(Comparison(_median_of(measured), simulate(setup, workload, n, profile_path=path),
                                   tuple(measured)))
    return Experiment(setup, rows, rounds)


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3f}"


def format_table(experiment: Experiment) -> str:
    """What the model was told, then the comparison as a Markdown table."""
    setup = experiment.setup
    lines = [f"model: closed loop, 1 frontend of {setup.cores} core, profile {setup.profile!r}; measured "
             f"figures are medians of {experiment.rounds} round(s)"]
    for w in setup.server_s:
        lines.append(f"{w}: server CPU {_ms(setup.server_s[w])} ms/request over real sockets with 1 client, "
                     f"{_ms(setup.busy_server_s[w])} busy (profile prices {_ms(setup.priced_s[w])}); client CPU "
                     f"{_ms(setup.client_s[w])} ms/request, {_ms(setup.busy_client_s[w])} busy; spare cores "
                     f"{setup.spare_cores[w]:.2f} -> frontend demand {_ms(setup.demand_s(w))} ms (transport price "
                     f"{_ms(setup.transport_s(w))}), round-trip delay {_ms(setup.delay_s(w))} ms")
    lines += ["", "| clients | workload | measured rps | simulated rps | ratio | measured p50 (ms) "
              "| simulated p50 (ms) | ratio | server cores | rounds: rps, p50 (ms) | verdict |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in experiment.rows:
        m, s = r.measured, r.simulated
        spread = (f"{min(x.rps for x in r.rounds):.0f}-{max(x.rps for x in r.rounds):.0f}, "
                  f"{_ms(min(x.p50_s for x in r.rounds))}-{_ms(max(x.p50_s for x in r.rounds))}"
                  if len(r.rounds) > 1 else "")
        lines.append(f"| {m.clients} | {m.workload} | {m.rps:.0f} | {s.rps:.0f} | {r.rps_ratio:.2f} | {_ms(m.p50_s)} "
                     f"| {_ms(s.p50_s)} | {r.p50_ratio:.2f} | {m.server_cores:.2f} | {spread} "
                     f"| {'ok' if r.ok else 'OUT'} |")
    return "\n".join(lines)
