"""What a run will cost before it starts: peak memory and wall time, per variant and in all.

``regsim validate`` prints this estimate for a large scenario and ``regsim run`` refuses a
scenario that would not fit this machine (:func:`check_fits`; ``--force`` runs it anyway), so
that ``cluster.nodes: 10000000`` fails in a second with a number instead of after an hour and
5 GB. The estimate reads only the scenario's sections -- never a model's code -- through a
simple cost model whose terms are what dominates a variant:

- **hosts**: every cluster node is a simulated host with its processes; a rollout's nodes also
  each pull the image. Wall time grows as ``a N + b N^2`` because every node's flows share the
  registry's links and each change re-shares them (the N^2 term dominates from ~10,000 nodes of
  a central rollout);
- **P2P pieces**: a P2P rollout moves nodes x pieces piece arrivals (pieces = image size / piece
  size), up to the 700,000 arrivals beyond which the model groups pieces into runs;
- **requests**: a Poisson workload's ``requests``, or rate x duration; a closed one's clients x
  duration / think time;
- **trace requests**: the records of a trace file (its size / 400 bytes, the IBM format's
  average record; the uncompressed size of a ``.gz``).

Calibration (this machine: 2 CPUs, 24 GB, Python 3.11; one variant per fresh process, peak RSS
from ``getrusage``/``/usr/bin/time -v``, wall time with other jobs sharing the CPUs, so upper-ish
figures; ``scenarios/`` variants with ``--set``):

==========================================  ============  ==========  ========
variant                                      size          wall (s)    peak MB
==========================================  ============  ==========  ========
imports only                                 --            2.0         180
rollout central (p2p-vs-central-sweep)       1,000 nodes   3.6         212
rollout central                              10,000 nodes  52          436
rollout proxy-cache                          1,000 nodes   2.3         201
rollout proxy-cache                          10,000 nodes  17.7        275
rollout p2p-swarm, 900 MB / 8 MiB pieces     100 nodes     5.8         194
rollout p2p-swarm                            1,000 nodes   25          217
rollout p2p-swarm                            3,000 nodes   79          270
poisson, manifest GETs (jwt-vs-db-auth)      2,000 req     5.0         194
poisson, manifest GETs                       20,000 req    30          205
trace (trace-caching, any cache policy)      928 req       6.4 + 4.4   417
rollout node-mirror, 500 MB (docs/p2p.md)    200 nodes     2.6 (*)     --
rollout node-mirror, 500 MB                  1,000 nodes   20.8 (*)    --
replication (harbor-20704), 3 GB / 10 MiB    287 chunks    0.13 (*)    --
==========================================  ============  ==========  ========

(*) measured in the running process, imports excluded (2026-12-07); a replication run builds no
registry, so its estimate leaves out the 2 s the others start with.

The coefficients below are fitted to these points and rounded up; the estimate is meant to tell
seconds from hours and megabytes from gigabytes (within a factor of about 2 to 3), not to time a
run. ``docs/scenarios.md`` ("How big a run is") lists the same figures.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..scenario import Scenario, expand

__all__ = ["MAX_RUN_HOURS", "LARGE_MEMORY", "LARGE_WALL_S", "RunEstimate", "VariantEstimate", "available_memory",
           "check_fits", "effective_jobs", "estimate_run", "estimate_variant", "format_bytes", "format_seconds"]

MB = 1024 * 1024
#: a process that has imported regsim and its libraries (numpy, pandas, pyarrow, simpy, pydantic).
BASE_MEMORY = 200 * MB
#: start-up and the registry's real work for the image (push, hashing), per variant.
BASE_WALL_S = 2.0
#: memory per simulated host (its node, NIC links, processes, pull records).
MEMORY_PER_HOST = 28 * 1024
#: wall time per host and per host squared (flow re-sharing), by distribution strategy.
WALL_PER_HOST = {"central": 2.2e-3, "proxy-cache": 1.5e-3, "p2p-swarm": 6e-3, "p2p-scheduler": 6e-3,
                 "node-mirror": 1e-3}
#: node-mirror's square term is its DHT: every node joins and refreshes its buckets (200 nodes
#: 2.6 s, 1,000 nodes 20.8 s of simulation, measured 2026-12-07)
WALL_PER_HOST2 = {"central": 3.0e-7, "proxy-cache": 2e-8, "p2p-swarm": 2e-7, "p2p-scheduler": 2e-7,
                  "node-mirror": 1.8e-5}
#: a start-up run (lazy-vs-full, 20 nodes x 892 reads of a 130 MB image: ~1 ms per fetch; the
#: image's build, ~0.3 s per MB, is shared by the variants of a sweep run in one process)
WALL_PER_FETCH = 1e-3
STARTUP_BUILD_S_PER_BYTE = 0.3e-6
STARTUP_BUILDS_SHARED = 8
#: a generated image's files over its compressed bytes, and bytes read per read of a synthetic trace
STARTUP_UNCOMPRESSED = 2.2
STARTUP_BYTES_PER_READ = 20_000
#: bytes held while an image is built, per uncompressed byte: the layers are built and converted
#: one at a time (stargz-gcc's 412 MB image, 0.9 GB of files, ran in 0.9 GB of RSS), with a margin
STARTUP_BUILD_MEMORY = 1.5
#: a replication run: a tenth of a second, plus each chunk's requests (harbor-20704's 287 chunks: 0.13 s)
REPLICATION_BASE_S, WALL_PER_CHUNK = 0.1, 1e-4
#: the p2p models simulate at most this many piece arrivals (nodes x pieces), grouping pieces beyond.
P2P_PIECE_BUDGET = 700_000
MEMORY_PER_PIECE = 100
WALL_PER_PIECE = 1.6e-4
#: per request of a request-load workload (poisson, closed): its real registry work, records, samples.
MEMORY_PER_REQUEST = 3 * 1024
WALL_PER_REQUEST = 2.5e-3
#: per request replayed from a trace file; bytes of a trace file per request (IBM JSON records).
MEMORY_PER_TRACE_REQUEST = 4 * 1024
WALL_PER_TRACE_REQUEST = 7e-3
#: a trace replay's fixed extra memory (its registry and trace tables), measured with or without a cache.
TRACE_BASE_MEMORY = 230 * MB
TRACE_BYTES_PER_REQUEST = 400
#: a real data plane keeps the image's bytes (and their encoded copies) in memory.
REAL_BYTES_FACTOR = 3.0

#: ``regsim validate`` prints the estimate of a scenario above either of these.
LARGE_MEMORY = 1024 * MB
LARGE_WALL_S = 600.0
#: ``regsim run`` refuses a run estimated to take longer than this (all variants, given --jobs).
MAX_RUN_HOURS = 12.0


@dataclass(frozen=True)
class VariantEstimate:
    """One variant's estimated peak memory (bytes, its process) and wall time (seconds), and why."""

    id: str
    memory: float
    wall_s: float
    drivers: str  # what dominates, for people: "200,000 hosts", "1.2 M requests"


@dataclass(frozen=True)
class RunEstimate:
    """Every variant's estimate; the run's peak memory and wall time given how many run at once."""

    variants: list[VariantEstimate]

    def peak_memory(self, jobs: int = 1) -> float:
        """Memory of the ``jobs`` largest variants running at once (each in its own process), plus
        this process when they run in workers."""
        sizes = sorted((v.memory for v in self.variants), reverse=True)[:max(1, jobs)]
        return sum(sizes) + (BASE_MEMORY if jobs > 1 and len(self.variants) > 1 else 0)

    def wall_s(self, jobs: int = 1) -> float:
        """The whole run: variants spread over ``jobs`` processes, never less than the longest one."""
        walls = [v.wall_s for v in self.variants]
        if not walls:
            return 0.0
        return max(max(walls), sum(walls) / max(1, min(jobs, len(walls))))

    def largest(self) -> VariantEstimate:
        return max(self.variants, key=lambda v: (v.memory, v.wall_s))

    def is_large(self) -> bool:
        """Worth printing: a variant over :data:`LARGE_MEMORY`, or a run over :data:`LARGE_WALL_S`."""
        return any(v.memory > LARGE_MEMORY for v in self.variants) or self.wall_s() > LARGE_WALL_S

    def lines(self, jobs: int = 1, *, per_variant: int = 10) -> list[str]:
        """The estimate for people: the run in all, then the largest variants."""
        n = len(self.variants)
        out = [f"estimate: peak memory {format_bytes(self.peak_memory(jobs))}, wall time "
               f"{format_seconds(self.wall_s(jobs))} for {n} variant{'s' if n != 1 else ''} with {jobs} "
               f"job{'s' if jobs != 1 else ''} (rough: within a factor of 2 to 3)"]
        shown = sorted(self.variants, key=lambda v: (-v.wall_s, -v.memory))[:per_variant]
        out += [f"  {v.id}: {format_bytes(v.memory)}, {format_seconds(v.wall_s)} ({v.drivers})"
                for v in sorted(shown, key=lambda v: v.id)]
        if n > len(shown):
            out.append(f"  ... and {n - len(shown)} smaller variants")
        return out


def format_bytes(n: float) -> str:
    for unit, size in (("TB", 1024.0 ** 4), ("GB", 1024.0 ** 3), ("MB", float(MB))):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n / 1024:.3g} kB"


def format_seconds(s: float) -> str:
    if s >= 2 * 86400:
        return f"{s / 86400:.3g} days"
    if s >= 2 * 3600:
        return f"{s / 3600:.3g} h"
    if s >= 120:
        return f"{s / 60:.3g} min"
    return f"{s:.2g} s"


def _count(n: float, what: str) -> str:
    return f"{n:,.0f} {what}" if n < 1e6 else f"{n / 1e6:.3g} M {what}"


def _trace_requests(path: Any) -> float:
    """Requests in a trace file, from its size (no parsing: the file may be gigabytes)."""
    try:
        p = Path(path)
        size = p.stat().st_size
        if p.suffix == ".gz":
            with open(p, "rb") as f:  # gzip's trailer: the uncompressed size modulo 2**32
                f.seek(-4, os.SEEK_END)
                (isize,) = struct.unpack("<I", f.read(4))
            size = max(isize, size * 8) if isize < size else isize
    except (OSError, struct.error):
        return 0.0
    return size / TRACE_BYTES_PER_REQUEST


def _requests(s: Scenario) -> float:
    """Requests a request-load workload sends: its cap, else rate x duration or clients x duration / think."""
    w = s.workload
    cap = getattr(w, "requests", None)
    duration = float(s.workload_duration())
    if getattr(w, "rate", None) is not None:
        n = float(w.rate) * duration
    elif getattr(w, "think_time", None) is not None:
        n = s.clients() * duration / max(float(w.think_time), 1e-3)
    else:
        n = 0.0
    return min(n, float(cap)) if cap else n


def estimate_variant(s: Scenario, id: str = "v000") -> VariantEstimate:
    """The cost of simulating scenario ``s`` (one variant: no sweep), from its sections alone."""
    hosts = float(s.cluster.nodes)
    kind = s.workload.kind
    memory = BASE_MEMORY + MEMORY_PER_HOST * hosts
    wall = BASE_WALL_S
    drivers = [_count(hosts, "hosts")]
    if kind == "rollout":
        strategy = s.distribution.strategy
        nodes = float(getattr(s.workload, "nodes", None) or hosts) * float(getattr(s.workload, "repeat", 1) or 1)
        wall += WALL_PER_HOST.get(strategy, 6e-3) * nodes + WALL_PER_HOST2.get(strategy, 3e-7) * nodes ** 2
        if strategy.startswith("p2p"):
            piece = float(s.distribution.p2p.piece_size)
            pieces = sum(-(-int(size) // int(piece)) for size in (s.image.layers or ()))
            arrivals = min(nodes * pieces, P2P_PIECE_BUDGET)
            memory += MEMORY_PER_PIECE * arrivals
            wall += WALL_PER_PIECE * arrivals
            drivers.append(_count(nodes * pieces, "node-pieces"))
    elif kind == "startup":
        w = s.workload
        nodes = float(getattr(w, "nodes", None) or hosts)
        image = float(s.image.total_size())
        reads = float(w.trace.fraction) * STARTUP_UNCOMPRESSED * image / STARTUP_BYTES_PER_READ
        fetches = nodes * (1.0 if w.format == "plain" else reads)
        memory += STARTUP_BUILD_MEMORY * STARTUP_UNCOMPRESSED * image
        wall += WALL_PER_FETCH * fetches + STARTUP_BUILD_S_PER_BYTE * image / STARTUP_BUILDS_SHARED
        drivers.append(_count(fetches, "node-fetches"))
    elif kind == "replication":
        w = s.workload
        chunk = float(getattr(w, "chunk_size", 10 << 20))
        chunks = sum(-(-int(size) // int(chunk)) for size in w.blobs) * max(len(w.sites) - 1, 1)
        memory, wall = BASE_MEMORY, REPLICATION_BASE_S + WALL_PER_CHUNK * chunks
        drivers = [_count(chunks, "chunks")]
    elif kind == "trace":
        n = _trace_requests(getattr(s.workload, "path", ""))
        memory += TRACE_BASE_MEMORY + MEMORY_PER_TRACE_REQUEST * n
        wall += WALL_PER_TRACE_REQUEST * n + WALL_PER_HOST["proxy-cache"] * hosts
        drivers.append(_count(n, "trace requests"))
    else:
        n = _requests(s)
        memory += MEMORY_PER_REQUEST * n
        wall += WALL_PER_REQUEST * n + WALL_PER_HOST["proxy-cache"] * hosts
        drivers.append(_count(n, "requests"))
    if s.data_plane == "real":
        memory += REAL_BYTES_FACTOR * s.image.total_size()
    return VariantEstimate(id, memory, wall, ", ".join(drivers))


def estimate_run(scenario: Scenario) -> RunEstimate:
    """The estimate of every valid variant of ``scenario``'s sweep (invalid ones cost nothing)."""
    return RunEstimate([estimate_variant(v.scenario, v.id) for v in expand(scenario, source=scenario.name)
                        if v.scenario is not None])


def available_memory() -> float | None:
    """This machine's memory available to a new process (``MemAvailable`` of ``/proc/meminfo``), bytes."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return float(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def check_fits(estimate: RunEstimate, jobs: int = 1, *, memory: float | None = None, local: bool = True,
               max_hours: float = MAX_RUN_HOURS) -> str | None:
    """Why the run would not fit this machine, in words, or None when it fits.

    It does not fit when the variants running at once (``jobs`` of them) are estimated to need
    more than ``memory`` (default: MemAvailable now; skipped when ``local`` is False, for a Dask
    cluster elsewhere), or the run to take more than ``max_hours``.
    """
    if local:
        memory = available_memory() if memory is None else memory
        peak = estimate.peak_memory(jobs)
        if memory is not None and peak > memory:
            v = estimate.largest()
            return (f"estimated peak memory {format_bytes(peak)} ({jobs} variant{'s' if jobs != 1 else ''} at once; "
                    f"largest {v.id}: {format_bytes(v.memory)}, {v.drivers}) is more than the "
                    f"{format_bytes(memory)} available")
    wall = estimate.wall_s(jobs)
    if wall > max_hours * 3600:
        v = max(estimate.variants, key=lambda x: x.wall_s)
        return (f"estimated wall time {format_seconds(wall)} (longest {v.id}: {format_seconds(v.wall_s)}, "
                f"{v.drivers}) is more than {max_hours:g} h")
    return None


def effective_jobs(jobs: int | None, dask: str | None, variants: int) -> int:
    """How many variants run at once for ``--jobs``/``--dask``, as :func:`~.run.run_scenario` decides."""
    if jobs is None:
        jobs = os.cpu_count() or 1
        if dask is None:
            jobs = min(jobs, max(1, variants))
    return max(1, min(int(jobs), max(1, variants)))
