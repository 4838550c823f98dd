"""``regsim reproduce``: published measurements of real systems, replayed and compared.

    from regsim.reproduce import load_cases, reproduce, format_rows
    cases = load_cases("scenarios/published")              # every scenario with an ``expect`` block
    report = reproduce(cases, quick=True)                  # runs the variants the metrics name
    print(format_rows(report.rows)); report.failed         # published, simulated, ratio, verdict

A case is an ordinary scenario plus an ``expect`` block (:mod:`regsim.spec.expect`): its source,
its published figures with their tolerances, and which settings come from the source and which
are assumed. ``docs/validation.md`` is generated from the cases and a record of the last full run
(``docs/validation.json``), so the page always shows what the code produces.
"""

from .cases import Case, ReproduceError, load_cases
from .compare import Row, Verdict
from .record import read_record, record_of, stale_rows, write_record
from .render import format_rows, validation_page
from .run import Report, reproduce

__all__ = ["Case", "Report", "ReproduceError", "Row", "Verdict", "format_rows", "load_cases", "read_record",
           "record_of", "reproduce", "stale_rows", "validation_page", "write_record"]
