"""What a finished run of the ``poisson`` and ``closed`` models hands its report: plain records.

The reports (:mod:`.report`, :mod:`.access_report`) read a :class:`RunRecord` and nothing else,
so they depend on what a run measured, not on how the run is put together; the run
(:mod:`.run`) makes the record once the simulation is over
(:meth:`~regsim.models.requests.run.RequestRun.record`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from regsim.models.core.storage_tier import TierUsage

from .config import RequestsConfig
from .monitoring import Alert
from .request import Request
from .scan import ScanRecord
from .scripted_faults import FailurePlan
from .storage_failures import RepairStats

__all__ = ["AuthStats", "RunRecord", "TeeStats"]

#: a resource counter's name -> its reading (see :func:`.access_report.resource_counters`)
Counters = Mapping[str, float]


@dataclass(frozen=True)
class AuthStats:
    """The auth path over the run: its database (if any), its token service's logins, the TTL."""

    #: the auth path has a database (and a token service): ``jwt`` and ``db`` modes
    has_database: bool
    #: connections of the database's pool (0: no database)
    db_pool: int
    db_queries: int
    login_failures: int
    token_ttl: float


@dataclass(frozen=True)
class TeeStats:
    """The registry's TEE: its kind, its working set and the share of it paged."""

    kind: str
    working_set: float
    paged_fraction: float


@dataclass(frozen=True)
class RunRecord:
    """One finished run: its requests, its window, and what the platform, the auth path, the
    storage, the monitor and the scanner measured."""

    config: RequestsConfig
    seed: int
    #: every request sent, in the order they were answered
    requests: tuple[Request, ...]
    #: the codec's data and total fragments
    k: int
    n: int
    #: how long requests kept arriving: the workload's duration (the run's measurement span)
    duration: float
    #: when the workload stopped sending: its duration, or when the request limit was reached
    window: float
    #: when the run ended (simulated seconds)
    end_time: float
    #: requests per second offered (:meth:`.arrivals.Arrivals.offered_rate`)
    offered_rps: float
    #: the series' sampling interval
    interval: float
    #: the resource counters at the end of the window and at the end of the run
    window_counters: Counters
    end_counters: Counters
    #: TCP connections opened ("tcp") and TLS handshakes ("full", "resumed")
    handshakes: Mapping[str, int]
    auth: AuthStats
    plan: FailurePlan
    repair: RepairStats
    #: (stored bytes per plaintext byte, stored bytes and plaintext bytes at modelled sizes)
    storage_overhead: tuple[float, int, int]
    #: mean utilisation of the storage nodes' disks; core-seconds the frontends were busy
    storage_disk_utilisation: float
    registry_cpu_busy_s: float
    #: the storage sampler's rows: (time, mean and max disk utilisation, NIC utilisation, nodes down)
    samples: tuple[tuple[float, float, float, float, int], ...]
    #: (time, repository, stored bytes)
    storage_samples: tuple[tuple[float, str, float], ...]
    #: storage capacity over every storage node (None: unlimited)
    capacity: float | None
    alerts: tuple[Alert, ...]
    scans: tuple[ScanRecord, ...]
    #: (time, kind, target, "start" | "end") of every scripted fault
    faults: tuple[tuple[float, str, str, str], ...]
    tee: TeeStats | None
    #: SimPy events the run processed
    events: int
    #: with ``workload.precision``: what each request paid to set up, in the order of ``requests``
    #: (a mask of :data:`.steady_state.CONNECT` and :data:`.steady_state.LOGIN`; empty without it)
    setup: tuple[int, ...] = ()
    #: with ``workload.precision``: how often the run checked its intervals, and whether the last
    #: check found them tight enough (so the arrivals stopped before their caps)
    precision_checks: int = 0
    stopped_precise: bool = False
    #: the storage tier's meters (requests, throttling, bytes); None for a record built by hand
    tier: TierUsage | None = None
    #: (time, "full" | "resumed") of every TLS handshake, and when the certificate was rotated
    handshake_times: tuple[tuple[float, str], ...] = ()
    rotations: tuple[float, ...] = ()
    #: with short-lived credentials: their KPIs (:meth:`.credentials.CredentialRenewal.kpis`)
    credentials: tuple[tuple[str, float], ...] = ()
