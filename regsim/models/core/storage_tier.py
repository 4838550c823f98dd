"""What a run's storage tier did and what it would cost a month: requests, throttling, money.

Every model that stores blobs reads the same figures off its world's storage devices (disks, an
object store, a file server) and prices them with the scenario's ``registry.storage.tier.cost``:

- **storage**: the raw bytes the registry keeps (its codec's overhead included), held a month,
  at ``gb_month`` for an object store and ``disk_gb_month`` for local disks and a file server;
- **requests**: the run's GET/HEAD and PUT/POST requests, at the run's rate sustained over a
  month, at ``get_per_1000`` and ``put_per_1000`` (an object store only: local disks and a file
  server bill no requests);
- **egress**: the bytes clients pulled, at the run's rate over a month, at ``egress_gb`` when
  ``egress_billed`` (clients outside the provider's region).

A month is 730 hours, as cloud price lists count it; GB are 10^9 bytes. ``run_cost_usd`` is what
the simulated span itself cost in requests and egress (a rollout's bill, say), storage aside.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from regsim.sim.durability import YEAR_S, DurabilityResult
from regsim.sim.object_store import ObjectStore

from .spec import ModelConfig
from .world import World

MONTH_S = 730 * 3600.0
GB = 1e9


@dataclass(frozen=True)
class TierUsage:
    """The storage devices' meters at the end of a run."""

    kind: str
    get_requests: int
    put_requests: int
    throttled: int
    failed_requests: int
    repartitions: int
    bytes_read: int
    bytes_written: int
    #: seconds of the S3 client's own work over every request (the calibrated s3_*_request prices)
    client_s: float = 0.0


def tier_usage(world: World, scenario: ModelConfig) -> TierUsage:
    """Sum the meters of every storage device of ``world``."""
    devices = [world.disks[s] for s in world.storage]
    stores = [d for d in devices if isinstance(d, ObjectStore)]
    return TierUsage(
        kind=scenario.registry.storage.tier.kind,
        get_requests=sum(s.get_requests for s in stores) if stores else sum(d.reads for d in devices),
        put_requests=sum(s.put_requests for s in stores) if stores else sum(d.writes for d in devices),
        throttled=sum(s.throttled for s in stores), failed_requests=sum(s.failed_requests for s in stores),
        repartitions=sum(s.repartitions for s in stores),
        bytes_read=sum(d.bytes_read for d in devices), bytes_written=sum(d.bytes_written for d in devices),
        client_s=sum(s.client_s for s in stores))


def tier_kpis(scenario: ModelConfig, usage: TierUsage, *, span_s: float, stored_bytes: float,
              pulled_bytes: float) -> dict[str, float | int | str]:
    """The tier's KPIs: its requests and throttling, and the monthly bill at the run's rates."""
    tier = scenario.registry.storage.tier
    cost = tier.cost
    per_month = MONTH_S / span_s if span_s > 0 else 0.0
    is_object = tier.kind == "object"
    storage_usd = stored_bytes / GB * (cost.gb_month if is_object else cost.disk_gb_month)
    run_requests_usd = (usage.get_requests * cost.get_per_1000 + usage.put_requests * cost.put_per_1000) / 1000 \
        if is_object else 0.0
    run_egress_usd = pulled_bytes / GB * cost.egress_gb if cost.egress_billed else 0.0
    requests_usd, egress_usd = run_requests_usd * per_month, run_egress_usd * per_month
    requests = usage.get_requests + usage.put_requests
    return {
        "storage_tier": tier.kind,
        "storage_get_requests": usage.get_requests, "storage_put_requests": usage.put_requests,
        "storage_requests_per_s": requests / span_s if span_s > 0 else 0.0,
        "requests_throttled": usage.throttled,
        "throttled_share": usage.throttled / (requests + usage.throttled) if requests + usage.throttled else 0.0,
        "object_requests_failed": usage.failed_requests, "object_repartitions": usage.repartitions,
        "object_client_s": usage.client_s,
        "cost_storage_usd_month": storage_usd, "cost_requests_usd_month": requests_usd,
        "cost_egress_usd_month": egress_usd, "monthly_cost_usd": storage_usd + requests_usd + egress_usd,
        "run_cost_usd": run_requests_usd + run_egress_usd,
    }


def stated_loss_per_year(scenario: ModelConfig) -> float | None:
    """The yearly probability of losing a blob that the tier states (object store, file server),
    or None for local storage, whose durability the failure model computes from its codec."""
    tier = scenario.registry.storage.tier
    if tier.kind == "object":
        return 1.0 - tier.object.durability
    if tier.kind == "nfs":
        return 1.0 - tier.nfs.durability
    return None


def stated_durability(dur: DurabilityResult, p_loss_year: float) -> DurabilityResult:
    """``dur`` with its loss figures replaced by a tier's stated yearly loss probability: no Monte
    Carlo (its interval is NaN, its method "stated"), the MTTDL of a constant hazard."""
    nan = float("nan")
    mttdl = -YEAR_S / math.log1p(-p_loss_year) if 0 < p_loss_year < 1 else math.inf
    return dataclasses.replace(
        dur, p_loss_year_analytic=p_loss_year, p_loss_year_mc=nan, p_loss_year_mc_low=nan, p_loss_year_mc_high=nan,
        mc_method="stated", mc_trials=0, mttdl_s=mttdl, mttdl_closed_form_s=mttdl, p_loss_year_approx=p_loss_year,
        p_loss_year_binomial=p_loss_year)
