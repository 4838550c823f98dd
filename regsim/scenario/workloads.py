"""The scenario's ``workload`` section: one of the workload kinds the model families declare.

Each model family (:mod:`regsim.models`) brings the section classes of the workload kinds it
simulates; the scenario's ``workload`` key accepts any of them, told apart by ``kind``. A new
family adds a workload kind without touching this package.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any, Union

from pydantic import Discriminator, Tag

from regsim.models import specs

__all__ = ["DEFAULT_KIND", "Workload", "distribution_strategies", "workload_kinds", "workload_sections"]

#: the workload of a scenario that names none: every node pulls the image
DEFAULT_KIND = "rollout"


@cache
def workload_sections() -> dict[str, type]:
    """Every workload kind's section class, the default kind first."""
    sections = {kind: cls for spec in specs() for kind, cls in spec.workloads.items()}
    if DEFAULT_KIND not in sections:
        raise RuntimeError(f"no model family declares the default workload kind {DEFAULT_KIND!r}")
    return {DEFAULT_KIND: sections.pop(DEFAULT_KIND), **sections}


def workload_kinds() -> tuple[str, ...]:
    """``("rollout", "closed", "poisson", "trace")``: the kinds a scenario may name."""
    return tuple(workload_sections())


def distribution_strategies() -> tuple[str, ...]:
    """``("central", "proxy-cache", ...)``: the ``distribution.strategy`` values the families simulate."""
    return tuple(dict.fromkeys(s for spec in specs() for s in spec.strategies))


def _or(kinds: tuple[str, ...]) -> str:
    return ", ".join(repr(k) for k in kinds[:-1]) + f" or {kinds[-1]!r}" if len(kinds) > 1 else repr(kinds[0])


def _kind_of(data: Any) -> str | None:
    if isinstance(data, dict):
        kind = data.get("kind", DEFAULT_KIND)
        return kind if kind in workload_sections() else None
    return getattr(data, "kind", None)


def _workload_type() -> Any:
    sections = workload_sections()
    choices = tuple(Annotated[cls, Tag(kind)] for kind, cls in sections.items())
    return Annotated[Union[choices], Discriminator(  # type: ignore[valid-type]
        _kind_of, custom_error_type="unknown_kind",
        custom_error_message=f"expected a mapping whose kind is {_or(tuple(sections))}")]


Workload = _workload_type()
