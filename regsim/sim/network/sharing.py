"""How flows share links: plain max-min, or a TCP-like model after SimGrid's LV08.

Plain max-min fairness gives every flow on a saturated link the same rate and lets a flow use a
link's whole capacity. Real TCP does not quite: headers and acknowledgements take part of every
link, a flow with a long round trip grows its window more slowly and so gets less of a shared
bottleneck, and a window caps what one connection can have in flight. Velho and Legrand fitted a
fluid model to packet-level simulations (P. Velho, A. Legrand, "Accuracy Study and Improvement of
Network Simulation in the SimGrid Framework", SIMUTools 2009; SimGrid's ``LV08`` network model,
its default). Its parts, each a parameter of :class:`FlowModel`:

- ``bandwidth_factor``: bytes move at this fraction of the rate max-min allots a flow (0.97);
  the allotment itself fills the link, so a saturated link reads fully used while a lone flow's
  goodput is 0.97 of it (headers);
- ``weight_s``: shares are weighted by ``1 / (latency + weight_s * sum(1 / capacity))`` over the
  route -- TCP's bias against long round trips, plus a per-link term (20,537 bytes);
- ``reverse_load``: each flow loads every link of the reverse path (its acknowledgements) with
  this fraction of its allotment (0.05). A flow that crosses a saturated link, even this lightly,
  gets that link's level: a host whose uplink is full also slows its downloads;
- ``latency_factor``: a transfer waits ``latency * latency_factor`` before its first byte moves
  (13.01 in LV08, which folds slow start of mid-sized messages into it);
- ``window``: one connection's allotment is at most ``window / (2 * latency)``, its window per
  round trip (SimGrid's ``TCP-gamma``, 4 MiB).

Latencies in the weight and the window bound are the route's own, not multiplied by
``latency_factor``: that is how SimGrid 4.1 computes them (``tools/simgrid/LV08.md``).

:data:`LV08` is SimGrid's model exactly; regsim's cross-check (``tools/simgrid``) compares to it.
:data:`TCP`, regsim's default, keeps LV08's bandwidth factor, weights and window, and differs in
two parameters, each for a measured reason:

- ``latency_factor = 1``: latencies are honoured as written (a scenario's ``registry.latency:
  20ms`` means 20 ms one way, not 260 ms); slow start is priced where a connection opens (the
  P2P layer), not on every transfer.
- ``reverse_load = 0``: LV08's acknowledgement coupling stands for FIFO queues in which acks
  wait behind data; a flow then takes the level of any saturated link its acks cross, however
  lightly. Against published measurements it only widens the gaps: Kraken's 2,600-host median
  13.25 s with it, 12.27 s without (published 10 s); Dragonfly's 1,000-2,000-client figures
  leave their band with it and stay in it without (``docs/validation.md``). Hosts today queue
  per flow (fq_codel), which serves acks apart. ``reverse_load: 5%`` restores it.

:data:`MAXMIN` is the plain fluid model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

SHARING = ("maxmin", "tcp")


@dataclass(frozen=True, slots=True)
class FlowModel:
    """The parameters of flow sharing; see the module docstring for each one's meaning."""

    sharing: Literal["maxmin", "tcp"] = "tcp"
    bandwidth_factor: float = 0.97
    latency_factor: float = 1.0
    weight_s: float = 20537.0
    reverse_load: float = 0.05
    window: float | None = 4 * 1024 * 1024

    def __post_init__(self) -> None:
        if self.sharing not in SHARING:
            raise ValueError(f"sharing must be one of {SHARING}, got {self.sharing!r}")
        if not (0 < self.bandwidth_factor <= 1):
            raise ValueError(f"bandwidth_factor must lie in (0, 1], got {self.bandwidth_factor!r}")
        if not (self.latency_factor >= 0 and math.isfinite(self.latency_factor)):
            raise ValueError(f"latency_factor must be a non-negative number, got {self.latency_factor!r}")
        if not (self.weight_s >= 0 and math.isfinite(self.weight_s)):
            raise ValueError(f"weight_s must be a non-negative number of bytes, got {self.weight_s!r}")
        if not (0 <= self.reverse_load <= 1):
            raise ValueError(f"reverse_load must lie in [0, 1], got {self.reverse_load!r}")
        if self.window is not None and not (self.window > 0 and math.isfinite(self.window)):
            raise ValueError(f"window must be a positive number of bytes or None, got {self.window!r}")

    @property
    def weighted(self) -> bool:
        """Whether shares depend on the route (latency weighting)."""
        return self.sharing == "tcp"

    def delay(self, latency: float) -> float:
        """How long a transfer over a route of this one-way ``latency`` waits before moving bytes."""
        return latency * self.latency_factor if self.sharing == "tcp" else latency

    def penalty(self, latency: float, capacities: list[float]) -> float:
        """The inverse weight of a flow over a route of this one-way ``latency`` and links of
        these ``capacities``."""
        return latency + self.weight_s * sum(1.0 / c for c in capacities)

    def bound(self, latency: float) -> float:
        """The most one connection over a route of this one-way ``latency`` is allotted (bytes/s;
        it moves ``goodput`` times that)."""
        if self.sharing != "tcp" or self.window is None or latency <= 0:
            return math.inf
        return self.window / (2.0 * latency)

    @property
    def goodput(self) -> float:
        """The fraction of its allotment a flow moves as payload."""
        return self.bandwidth_factor if self.sharing == "tcp" else 1.0

    @property
    def reverse(self) -> float:
        """The load a flow puts on each link of its reverse path, per unit of its allotment."""
        return self.reverse_load if self.sharing == "tcp" else 0.0

    def with_(self, **changes: object) -> FlowModel:
        return replace(self, **changes)  # type: ignore[arg-type]


#: plain max-min fairness over the nominal capacities; latency is paid once, as written.
MAXMIN = FlowModel(sharing="maxmin")
#: regsim's default: LV08 with latencies honoured as written.
TCP = FlowModel(reverse_load=0.0)
#: SimGrid's LV08 model exactly (its default network model).
LV08 = FlowModel(latency_factor=13.01)

PRESETS = {"maxmin": MAXMIN, "tcp": TCP, "lv08": LV08}
