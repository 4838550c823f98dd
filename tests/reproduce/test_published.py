"""The shipped published cases and the page generated from them: every case loads, and
docs/validation.md is what ``regsim reproduce --update-docs`` would write from the cases and the
record (docs/validation.json). Whether the record's figures are still what the code gives is
checked by ``regsim reproduce --quick --check-docs``, which ``.ci/run`` runs."""

from __future__ import annotations

from pathlib import Path

from regsim.reproduce import load_cases, read_record, validation_page
from regsim.reproduce.network_record import read_network_record
from regsim.reproduce.render import rows_from_record

ROOT = Path(__file__).resolve().parents[2]
PUBLISHED = ROOT / "scenarios" / "published"
DOCS = ROOT / "docs"


def test_every_published_case_loads_with_a_source_and_a_quick_figure():
    cases = load_cases(PUBLISHED)
    assert len(cases) >= 2
    for case in cases:
        assert case.expect.source.title and case.expect.from_source, case.name
        assert case.path.stem == case.name, f"{case.path.name} should be named after its case {case.name!r}"


def test_the_validation_page_is_current():
    cases = load_cases(PUBLISHED)
    record = read_record(DOCS / "validation.json")
    missing = [f"{r.case} / {r.metric.name}" for r in rows_from_record(cases, record) if r.error and "record" in r.error]
    assert not missing, f"not in docs/validation.json (run `regsim reproduce --update-docs`): {missing}"
    assert set(record["cases"]) == {c.name for c in cases}, "the record holds a case that no longer exists"
    expected = validation_page(cases, record, read_network_record(DOCS))
    assert (DOCS / "validation.md").read_text(encoding="utf-8") == expected, (
        "docs/validation.md differs from what `regsim reproduce --update-docs` writes; rerun it")
