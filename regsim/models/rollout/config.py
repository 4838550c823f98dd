"""The rollout family's scenario section and config: every node pulls the image once or more.

``Rollout`` is the ``workload`` section of ``kind: rollout`` (``docs/scenarios.md``);
``RolloutConfig`` is what the rollout models receive: the platform, the image, the workload and
the distribution strategy with its options.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from regsim.spec.base import Section
from regsim.spec.quantities import Duration, PositiveCount, Spread
from regsim.spec.traffic import Distribution

from ..core.spec import ModelConfig


class Rollout(Section):
    """Every node (or ``nodes`` of them) pulls the image: at once, or with starts spread out."""

    kind: Literal["rollout"] = "rollout"
    start: Spread = "all"  # type: ignore[assignment]
    nodes: PositiveCount | None = None
    repeat: PositiveCount = 1
    pause: Duration = "0s"  # type: ignore[assignment]


@dataclass(frozen=True)
class RolloutConfig(ModelConfig):
    """A rollout variant: who pulls (``workload``) and how the bytes reach them (``distribution``)."""

    workload: Rollout
    distribution: Distribution
