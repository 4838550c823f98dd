"""The ``network`` section: how flows share links (the models turn it into the engine's
``FlowModel``, :mod:`regsim.sim.network.sharing`).

``model`` picks a preset -- ``tcp`` (the default: SimGrid's LV08 with latencies honoured as
written), ``lv08`` (SimGrid's model exactly) or ``maxmin`` (the plain fluid model of the closed
forms) -- and every other key, left out, takes the preset's value. ``coalesce`` trades exactness
for speed: re-shares wait up to that long to batch starts and ends (0 s is exact).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from regsim.spec.base import Section
from regsim.spec.quantities import Duration, Fraction, PositiveSize, Size


#: what regsim's models tell apart: responses to clients' pulls, pushed uploads, the storage
#: repair's reads and writes, and a scanner's reads
TrafficClass = Literal["pull", "push", "repair", "scan"]


class NetworkSpec(Section):
    """How the flow-level network shares links; see ``docs/scenarios.md#network``."""

    model: Literal["tcp", "lv08", "maxmin"] = "tcp"
    bandwidth_factor: Fraction | None = Field(default=None, gt=0)
    latency_factor: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    weight_s: Size | None = None
    reverse_load: Fraction | None = None
    #: a connection's window; ``none`` for no bound
    window: PositiveSize | Literal["none"] | None = None
    coalesce: Duration = Field(default="0s", ge=0)  # type: ignore[assignment]
    #: weight of each traffic class on a contended link (1 when not named): isolation
    classes: dict[TrafficClass, Annotated[float, Field(gt=0, allow_inf_nan=False)]] = {}
