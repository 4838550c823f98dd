"""What a model family declares: the workloads and strategies it simulates, its config, its checks.

A *family* is one sub-package of :mod:`regsim.models` (``rollout``, ``requests``, ``trace``...).
It registers one :class:`ModelSpec` when imported, and that spec is the only thing the rest of
regsim knows about it:

- ``workloads``: the scenario's ``workload`` sections it simulates, by ``kind`` (each a section
  class of the family's own, so a new workload kind never touches the scenario package);
- ``strategies``: for a rollout-like family, the ``distribution.strategy`` values it simulates;
- ``config``: the typed config the family's simulate function receives, made from the scenario's
  sections by field name (:meth:`ModelConfig.from_sections`), never the whole scenario;
- ``ignores``: scenario keys its models do not simulate (a section stands for all of its keys):
  the scenario loader refuses a scenario that sets one away from its default;
- ``checks``: rules its models would otherwise enforce only when they run, as :class:`Finding`;
- ``simulate``: ``simulate(config, seed, progress) -> VariantResult``.

The registry of specs is :mod:`regsim.models` (``register``, ``specs``, ``lookup``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from regsim.errors import UserError
from regsim.spec.infra import Cluster, RegistrySpec
from regsim.spec.network import NetworkSpec
from regsim.spec.traffic import Image

from .result import VariantResult

__all__ = ["Finding", "ModelConfig", "ModelError", "ModelSpec", "Progress"]

Progress = Callable[[float], None]
C = TypeVar("C", bound="ModelConfig")


class ModelError(UserError, LookupError):
    """No model can simulate what was asked for, or a model refuses it: a mistake in the input."""


@dataclass(frozen=True)
class Finding:
    """A rule a model would break: ``key`` (dotted) and why; ``depends`` are the keys whose value
    decides it, so a sweep over any of them leaves the finding to each variant."""

    key: str
    message: str
    depends: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelConfig:
    """What every model receives: the scenario's name and cost profile, the platform, the image.

    A family subclasses it with the further sections its models read (``workload``,
    ``distribution``...); every field is named after the scenario key it is taken from.
    """

    name: str
    profile: str
    data_plane: str
    cluster: Cluster
    registry: RegistrySpec
    image: Image
    network: NetworkSpec

    @classmethod
    def from_sections(cls: type[C], source: Any) -> C:
        """The config made from ``source``'s attributes of the same names (a scenario, or any
        object with those sections)."""
        return cls(**{f.name: getattr(source, f.name) for f in dataclasses.fields(cls)})

    @classmethod
    def section_names(cls) -> tuple[str, ...]:
        """The scenario's top-level keys this config is made from."""
        return tuple(f.name for f in dataclasses.fields(cls))


Simulate = Callable[[Any, int, "Progress | None"], VariantResult]
Checks = Callable[[Any], list[Finding]]


def _no_checks(config: Any) -> list[Finding]:
    return []


@dataclass(frozen=True)
class ModelSpec:
    """One family's declaration (see the module's docstring)."""

    family: str
    workloads: dict[str, type]
    config: type[ModelConfig]
    simulate: Simulate
    strategies: tuple[str, ...] = ()
    ignores: tuple[str, ...] = ()
    checks: Checks = _no_checks
    #: where the family comes in lists shown to users (errors, docs): lower first
    order: int = 100

    def __post_init__(self) -> None:
        if not self.family or not self.family.isidentifier():
            raise ValueError(f"a model family needs an identifier for a name, got {self.family!r}")
        if not self.workloads:
            raise ValueError(f"model family {self.family!r} simulates no workload kind")
        for kind, section in self.workloads.items():
            declared = getattr(section, "model_fields", {}).get("kind")
            if declared is None or declared.default != kind:
                raise ValueError(f"model family {self.family!r}: the workload section for kind {kind!r} "
                                 f"({section.__name__}) must have a field kind defaulting to {kind!r}")
        if not (isinstance(self.config, type) and issubclass(self.config, ModelConfig)):
            raise TypeError(f"model family {self.family!r}: config must be a ModelConfig subclass")
        if not callable(self.simulate) or not callable(self.checks):
            raise TypeError(f"model family {self.family!r}: simulate and checks must be callable")

    def model_names(self) -> list[str]:
        """``rollout/central``, ``rollout/p2p-swarm``..., or the workload kinds of a family without
        strategies (``poisson``, ``closed``)."""
        return [f"{kind}/{s}" for kind in self.workloads for s in self.strategies] if self.strategies \
            else list(self.workloads)

    def make_config(self, source: Any) -> ModelConfig:
        """The typed config of one variant, made from its scenario."""
        return self.config.from_sections(source)
