"""The ``expect`` section: what a published measurement says a scenario should produce.

A scenario under ``scenarios/published/`` reproduces one published result. Its ``expect`` block
names the source (title, where it was published, the figure or table), the published numbers as
``metrics`` -- each a ``summary.csv`` column of one variant, the figure the source gives, the
tolerance and why it is that wide -- and which of the scenario's settings come from the source
and which are assumptions, each with its reason. ``regsim reproduce`` reads it
(:mod:`regsim.reproduce`); ``regsim run`` ignores it, so a published case is also an ordinary
scenario.

    expect:
      source:
        title: "Kraken: P2P Docker registry"
        where: "github.com/uber/kraken, README.md"
        figure: "section Performance: p50 10 s, p99 18 s, p99.9 22 s"
      from_source:
        cluster.nodes: "2,600 hosts"
      assumed:
        cluster.racks: "not stated; 65 racks of 40 with non-blocking uplinks"
      metrics:
        - {name: pull p50, kpi: pull_p50_s, published: 10, unit: s, tolerance: 20%,
           why: "the README gives whole seconds"}

A metric's ``tolerance`` is relative (``20%``: the simulated figure within 0.8-1.2 times the
published one); ``factor`` is the alternative for figures that span orders of magnitude (``factor:
2``: within half to twice). A metric that cannot pass yet keeps its tolerance and says why in
``known_miss``: it stays in the table, marked, and does not fail the run.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, model_validator

from .base import Section
from .quantities import Fraction

Text = Annotated[str, Field(min_length=1)]


class Source(Section):
    """Where a published figure comes from, precisely enough for a reader to find it."""

    title: Text
    #: the venue or address: a paper's conference, a repository and file, a blog's URL
    where: Text
    #: the figure, table or paragraph holding the numbers
    figure: Text


class Metric(Section):
    """One published figure and the simulated column it is compared with."""

    #: how the table names it ("pull p50, 1,000 clients")
    name: Text
    #: the ``summary.csv`` column of the simulated variant
    kpi: Text
    #: the swept values of the variant (a subset of its keys); empty for a scenario without sweep
    variant: dict[Text, Any] = {}
    published: float = Field(allow_inf_nan=False)
    unit: str = ""
    #: the simulated figure is the column divided by this (seconds per round, bytes per GiB...)
    divide_by: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    #: relative band: within ``1 - tolerance`` .. ``1 + tolerance`` of the published figure
    tolerance: Fraction | None = None
    #: multiplicative band: within ``published / factor`` .. ``published * factor``
    factor: float | None = Field(default=None, gt=1, allow_inf_nan=False)
    #: why the band is that wide (the source's rounding, its run-to-run spread, a read-off plot)
    why: Text
    #: run by ``regsim reproduce --quick`` (the cheap variants that CI runs)
    quick: bool = True
    #: set when the model cannot meet this figure yet: the reason (the metric is then reported,
    #: marked, and does not fail the run)
    known_miss: str | None = None

    @model_validator(mode="after")
    def _one_band(self) -> Metric:
        if (self.tolerance is None) == (self.factor is None):
            raise ValueError("give exactly one of 'tolerance' (relative, e.g. 20%) and 'factor' (e.g. 2)")
        if self.tolerance is not None and not 0 < self.tolerance < 1:
            raise ValueError("tolerance must be above 0% and below 100%")
        return self

    @property
    def band(self) -> tuple[float, float]:
        """The accepted range of simulated / published."""
        if self.factor is not None:
            return 1.0 / self.factor, self.factor
        assert self.tolerance is not None
        return 1.0 - self.tolerance, 1.0 + self.tolerance

    def describe_band(self) -> str:
        return f"x{self.factor:g}" if self.factor is not None else f"±{self.tolerance * 100:g}%"


class Expect(Section):
    """A published case: its source, its figures, and the provenance of every setting."""

    source: Source
    metrics: Annotated[list[Metric], Field(min_length=1)]
    #: scenario key (or a short description) -> what the source says about it
    from_source: dict[Text, Text] = {}
    #: scenario key -> why this value was assumed (the source does not give it)
    assumed: dict[Text, Text] = {}
    #: anything else a reader needs: how the published figure was read, what the model leaves out
    note: str = ""

    @model_validator(mode="after")
    def _unique_names(self) -> Expect:
        names = [m.name for m in self.metrics]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"metric names must be unique; repeated: {', '.join(repeated)}")
        return self
