"""Run folders are claimed atomically: runs started in the same second never collide or share."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import pytest

import regsim.results.writer as writer_module
from regsim.results import ResultsError, ResultsWriter, run_id_for

from .fakes import scenario

MOMENT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


@pytest.fixture
def same_second(monkeypatch):
    """Every run starts at MOMENT, as runs launched together do."""
    monkeypatch.setattr(writer_module, "utc_now", lambda: MOMENT)
    return run_id_for(scenario(), MOMENT)


def test_runs_in_the_same_second_get_suffixed_ids(tmp_path, same_second):
    ids = [ResultsWriter.create(scenario(), root=tmp_path).run_id for _ in range(3)]
    assert ids == [same_second, f"{same_second}-2", f"{same_second}-3"]
    assert sorted(p.name for p in (tmp_path / "fake-rollout").iterdir()) == ids


def test_runs_created_at_once_each_get_their_own_folder(tmp_path, same_second):
    with ThreadPoolExecutor(8) as pool:
        writers = list(pool.map(lambda _: ResultsWriter.create(scenario(), root=tmp_path), range(16)))
    assert len({w.folder for w in writers}) == 16


def test_a_taken_run_id_or_out_folder_is_an_error(tmp_path):
    ResultsWriter.create(scenario(), root=tmp_path, run_id="mine")
    with pytest.raises(ResultsError, match="already exists and is not an empty folder; choose another --run-id"):
        ResultsWriter.create(scenario(), root=tmp_path, run_id="mine")
    (tmp_path / "empty").mkdir()
    assert ResultsWriter.create(scenario(), out=tmp_path / "empty").folder == tmp_path / "empty"
    with pytest.raises(ResultsError, match="choose another --out"):  # claimed by the first, though still empty
        ResultsWriter.create(scenario(), out=tmp_path / "empty")


def test_a_folder_under_a_file_cannot_be_created(tmp_path):
    (tmp_path / "plain").write_text("x")
    with pytest.raises(ResultsError, match="cannot create the results folder"):
        ResultsWriter.create(scenario(), out=tmp_path / "plain" / "run")
