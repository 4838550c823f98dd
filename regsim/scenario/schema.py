"""The scenario: one validated description of a platform, an image, a workload and what fails.

A scenario file is YAML with the keys of :class:`Scenario`; only ``name`` is required, so a
minimal scenario is a few lines and everything else takes a documented default
(``docs/scenarios.md`` lists every key with its unit and default). Quantities are written with
units (``1Gbps``, ``900MB``, ``5m``, ``2%``) and held in base units (bytes/s, bytes, seconds,
fractions). Every section rejects unknown keys, so a typo is an error rather than a silently
ignored setting.

Build scenarios with :func:`regsim.scenario.loader.load_scenario` (a file) or
:func:`regsim.scenario.loader.scenario_from_dict`: they turn validation errors into one line per
problem naming the file and the key, and check the ``sweep`` section against the schema.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, ValidationInfo, model_validator

from regsim.spec.base import Section, base_dir
from regsim.spec.expect import Expect
from regsim.spec.infra import Cluster, RegistrySpec, cross_field
from regsim.spec.network import NetworkSpec
from regsim.spec.operations import Monitoring, Scan
from regsim.spec.quantities import Count, Duration, format_duration
from regsim.spec.traffic import Distribution, Failures, Image

from .workloads import DEFAULT_KIND, Workload, _or, distribution_strategies, workload_sections

PROFILES = ("reference", "live")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def _name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError("expected a name of letters, digits, '.', '_' and '-' that starts with a letter or digit "
                         "(it names the results folder)")
    return value


def _profile(value: str, info: ValidationInfo) -> str:
    """``reference``, ``live``, or a cost-profile JSON file (made absolute)."""
    if value in PROFILES:
        return value
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = base_dir(info) / path
    if not path.is_file():
        raise ValueError(f"expected 'reference', 'live' or a cost-profile JSON file, but {str(path.resolve())!r} "
                         "is not a file")
    return str(path.resolve())


class Scenario(Section):
    """A whole scenario; see ``docs/scenarios.md`` for every key."""

    name: Annotated[str, AfterValidator(_name)]
    description: str = ""
    seed: Count = 0
    duration: Duration = Field(default="1d", gt=0)  # type: ignore[assignment]
    profile: Annotated[str, AfterValidator(_profile)] = "reference"
    cluster: Cluster = Field(default_factory=Cluster)
    registry: RegistrySpec = Field(default_factory=RegistrySpec)
    image: Image = Field(default_factory=Image)
    workload: Workload = Field(default_factory=lambda: workload_sections()[DEFAULT_KIND]())
    distribution: Distribution = Field(default_factory=Distribution)
    network: NetworkSpec = Field(default_factory=NetworkSpec)
    data_plane: Literal["real", "modelled", "sampled"] = "modelled"
    failures: Failures = Field(default_factory=Failures)
    monitoring: Monitoring = Field(default_factory=Monitoring)
    scan: Scan = Field(default_factory=Scan)
    sweep: dict[Annotated[str, Field(min_length=1)], Annotated[list[Any], Field(min_length=1)]] = {}
    #: a published measurement this scenario reproduces (``regsim reproduce``; ``run`` ignores it)
    expect: Expect | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        cluster, workload = self.cluster, self.workload
        strategies = distribution_strategies()
        if self.distribution.strategy not in strategies:
            raise cross_field("distribution.strategy", f"expected {_or(strategies)} "
                                                       f"(got {self.distribution.strategy!r})")
        if workload.kind == "rollout" and workload.nodes is not None and workload.nodes > cluster.nodes:
            raise cross_field("workload.nodes", f"a rollout to {workload.nodes} nodes needs at least that many "
                                                f"nodes in the cluster (cluster.nodes is {cluster.nodes})")
        if getattr(workload, "duration", None) is not None and workload.duration > self.duration:
            raise cross_field("workload.duration", f"the workload lasts {format_duration(workload.duration)}, "
                                                   f"longer than the scenario ({format_duration(self.duration)})")
        limits = {"node": cluster.nodes, "rack": cluster.racks, "storage": self.registry.storage.nodes,
                  "frontend": self.registry.frontends}
        for i, event in enumerate(self.failures.events):
            if event.at >= self.duration:
                raise cross_field(f"failures.events.{i}.at", f"the event at {format_duration(event.at)} falls after "
                                                             f"the scenario ends ({format_duration(self.duration)})")
            index, kind = event.target_index(), event.target_kind()
            if index is not None and index >= limits[kind]:
                raise cross_field(f"failures.events.{i}.target", f"{event.target!r} does not exist: there are "
                                                                 f"{limits[kind]} {kind}s, numbered from 0")
        for i, at in enumerate(self.scan.at):
            if at >= self.duration:
                raise cross_field(f"scan.at.{i}", f"the scan at {format_duration(at)} falls after the scenario ends "
                                                  f"({format_duration(self.duration)})")
        return self

    def workload_duration(self) -> float:
        """How long requests keep arriving: the workload's own duration, else the scenario's."""
        own = getattr(self.workload, "duration", None)
        return self.duration if own is None else own

    def clients(self) -> int:
        """How many clients send requests: a Poisson workload's ``clients`` or a rollout's ``nodes``,
        else every node of the cluster."""
        own = getattr(self.workload, "clients", getattr(self.workload, "nodes", None))
        return self.cluster.nodes if own is None else own
