"""The request-load family's scenario sections and config: open and closed loops of requests.

``Poisson`` (``kind: poisson``, an open loop) and ``Closed`` (``kind: closed``, clients who wait
and think) are the ``workload`` sections these models simulate (``docs/scenarios.md``);
``RequestsConfig`` is what the models receive: the platform, the image, the workload, the
scenario's duration, what fails, what is monitored and scanned.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field, model_validator

from regsim.spec.base import Section
from regsim.spec.infra import cross_field
from regsim.spec.operations import Monitoring, Scan
from regsim.spec.quantities import Duration, Fraction, PerSecond, PositiveCount
from regsim.spec.traffic import Failures

from ..core.spec import ModelConfig


class Mix(Section):
    """Shares of request kinds in a Poisson or closed-loop workload; they must add up to 100 %."""

    pull: Fraction = 0.0
    push: Fraction = 0.0
    auth: Fraction = 0.0
    manifest: Fraction = 0.0

    @model_validator(mode="after")
    def _adds_up(self) -> Mix:
        total = self.pull + self.push + self.auth + self.manifest
        if abs(total - 1.0) > 1e-9:
            raise cross_field("pull", f"the shares of pull, push, auth and manifest must add up to 100%, "
                                      f"but they add up to {total * 100:.6g}%")
        return self


#: the request kinds a precision target may name (the order of ``workload.mix``)
Kind = Literal["pull", "push", "auth", "manifest"]


class Precision(Section):
    """Run a load point until its latency p99 is known to a stated precision (``workload.precision``).

    Set, it makes ``workload.requests`` and ``workload.duration`` caps rather than the sample's
    size: the arrivals stop as soon as the p99 of every kind in ``kinds`` has a ``confidence``
    interval whose half-width is within ``p99_rel`` of the estimate (batch means by sectioning,
    over ``batches`` batches of the requests after the warm-up, :mod:`.steady_state`), or when a
    cap is hit. Latency KPIs then leave out the warm-up (MSER-5) and report each kind's p99 apart
    from the requests that paid for a login or a new connection. Unset (the default), a run sends
    ``requests`` (or for ``duration``) exactly as before.
    """

    p99_rel: Fraction = 0.05
    confidence: Fraction = 0.95
    batches: int = Field(default=20, ge=2, strict=True)
    #: the kinds whose p99 must be that precise; null: every kind with a share of the mix
    kinds: list[Kind] | None = None


class _Loop(Section):
    """What the open and the closed loop share beyond their fields (each declares its own, in the
    order the resolved scenario shows them): a precision target names only kinds the mix sends,
    else it could never be met."""

    @model_validator(mode="after")
    def _precise_kinds(self) -> _Loop:
        precision = getattr(self, "precision", None)
        if precision is not None and precision.kinds is not None:
            absent = [k for k in precision.kinds if getattr(self.mix, k) <= 0]  # type: ignore[attr-defined]
            if absent:
                raise cross_field("precision", f"kinds names {', '.join(absent)}, which workload.mix never sends")
        return self


def precise_kinds(workload: Poisson | Closed) -> list[str]:
    """The kinds whose p99 ``workload.precision`` watches: its ``kinds``, else every kind the mix
    sends; empty without a precision target."""
    precision = workload.precision
    if precision is None:
        return []
    if precision.kinds is not None:
        return list(dict.fromkeys(precision.kinds))
    return [k for k in ("pull", "push", "auth", "manifest") if getattr(workload.mix, k) > 0]


class Poisson(_Loop):
    """Requests arriving as a Poisson process, each one a pull, a push or an auth request."""

    kind: Literal["poisson"] = "poisson"
    rate: PerSecond = "100/s"  # type: ignore[assignment]
    duration: Duration | None = None
    mix: Mix = {"pull": "90%", "push": "5%", "auth": "5%"}  # type: ignore[assignment]
    clients: PositiveCount | None = None
    requests: PositiveCount | None = None
    repositories: PositiveCount = 1
    precision: Precision | None = None


class Closed(_Loop):
    """A closed loop: each client sends a request, waits for the answer, thinks, and sends the next."""

    kind: Literal["closed"] = "closed"
    clients: PositiveCount | None = None
    think_time: Duration = "1s"  # type: ignore[assignment]
    duration: Duration | None = None
    mix: Mix = {"pull": "90%", "push": "5%", "auth": "5%"}  # type: ignore[assignment]
    requests: PositiveCount | None = None
    repositories: PositiveCount = 1
    precision: Precision | None = None


@dataclass(frozen=True)
class RequestsConfig(ModelConfig):
    """An open- or closed-loop variant: the load, how long, what fails, what is watched and scanned."""

    workload: Poisson | Closed
    duration: float
    failures: Failures
    monitoring: Monitoring
    scan: Scan

    def workload_duration(self) -> float:
        """How long requests keep arriving: the workload's own duration, else the scenario's."""
        return self.duration if self.workload.duration is None else self.workload.duration

    def clients(self) -> int:
        """How many clients send requests: the workload's ``clients``, else every node of the cluster."""
        return self.cluster.nodes if self.workload.clients is None else self.workload.clients
