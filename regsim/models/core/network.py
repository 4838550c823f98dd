"""The scenario's ``network`` section as the engine's sharing model."""

from __future__ import annotations

from regsim.sim.network.sharing import PRESETS, FlowModel
from regsim.spec.network import NetworkSpec

_OVERRIDES = ("bandwidth_factor", "latency_factor", "weight_s", "reverse_load")


def flow_model(spec: NetworkSpec) -> FlowModel:
    """The preset ``spec.model`` names, with the section's overrides."""
    changes: dict[str, object] = {key: float(getattr(spec, key)) for key in _OVERRIDES
                                  if getattr(spec, key) is not None}
    if spec.window is not None:
        changes["window"] = None if spec.window == "none" else float(spec.window)
    return PRESETS[spec.model].with_(**changes)
