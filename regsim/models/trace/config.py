"""The trace family's scenario section and config: a recorded registry trace, replayed.

``Trace`` is the ``workload`` section of ``kind: trace`` (``docs/scenarios.md``); ``TraceConfig``
is what the trace model receives: the platform (with its caches, ``registry.cache``) and the trace.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from regsim.spec.base import ExistingPath, Section
from regsim.spec.quantities import Factor

from ..core.spec import ModelConfig


class Trace(Section):
    """Requests replayed from a recorded trace file, optionally faster than recorded."""

    kind: Literal["trace"] = "trace"
    path: ExistingPath
    speedup: Factor = 1.0


@dataclass(frozen=True)
class TraceConfig(ModelConfig):
    """A trace variant: the trace to replay on the platform, for at most the scenario's ``duration``."""

    workload: Trace
    duration: float
