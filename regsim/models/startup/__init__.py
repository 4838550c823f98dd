"""The start-up family: nodes start a container from an image in a lazy-pulling format, or pull it whole.

``workload.kind: startup``; ``distribution.strategy``: ``central`` (every byte from the registry)
or ``p2p-scheduler`` (a Dragonfly-like scheduler sends nodes to peers that hold a piece).
:mod:`.image` builds the image for real (generated or read layers, converted by the real
converters, a start-up trace planned over the real readers); :mod:`.client` is a node's full pull
or lazy client; :mod:`.sources` the registry's Range GETs and the peers; :mod:`.run` the variant
and its KPIs. ``docs/lazy-pulling.md#the-start-up-model`` describes the model and its assumptions.
"""

from __future__ import annotations

from regsim.models import register
from regsim.models.core.spec import ModelSpec

from .checks import IGNORES, startup_checks
from .config import Startup, StartupConfig
from .run import simulate_startup

STRATEGIES = ("central", "p2p-scheduler")

SPEC = register(ModelSpec(
    family="startup",
    workloads={"startup": Startup},
    strategies=STRATEGIES,
    config=StartupConfig,
    order=15,
    simulate=simulate_startup,
    ignores=IGNORES,
    checks=startup_checks,
))
