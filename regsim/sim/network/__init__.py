"""Flow-level network model: (weighted) max-min fair bandwidth sharing over a :class:`~regsim.sim.topology.Topology`.

- :mod:`.sharing` -- :class:`FlowModel`: plain max-min, or TCP-like (SimGrid's LV08).
- :mod:`.maxmin` -- the pure numpy kernel: weighted progressive filling, connected components.
- :mod:`.flows` -- persistent per-flow state (route entries, lazy progress, per-link bytes).
- :mod:`.reshare` -- the exact re-share strategies: uniform, grouped, component.
- :mod:`.lazy` -- lazy processor sharing: while every entry sits at its bottleneck's fair share,
  a start or an end moves one virtual clock per touched bottleneck, not every entry's rate.
- :mod:`.transfer` -- :class:`Transfer`, what a caller gets back.
- :mod:`.model` -- :class:`Network`, the SimPy-facing manager: ``net.transfer(...)`` -> event.
- :mod:`.sampling` -- :class:`LinkRecorder`, exact link-utilisation time series.
"""

from regsim.sim.network.maxmin import component, fill_levels, maxmin_rates
from regsim.sim.network.model import Network, NetworkStats
from regsim.sim.network.sharing import LV08, MAXMIN, PRESETS, SHARING, TCP, FlowModel
from regsim.sim.network.sampling import LinkRecorder
from regsim.sim.network.transfer import Transfer

__all__ = [
    "LV08",
    "MAXMIN",
    "PRESETS",
    "SHARING",
    "TCP",
    "FlowModel",
    "LinkRecorder",
    "Network",
    "NetworkStats",
    "Transfer",
    "component",
    "fill_levels",
    "maxmin_rates",
]
