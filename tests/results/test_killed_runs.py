"""A run that did not finish says so: killed (meta.json still ``running``, its process gone), still
running, or interrupted by Ctrl-C -- in ``regsim.results.load`` and in ``regsim report``."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from regsim.cli import main
from regsim.results import load, render
from regsim.results.meta import pid_alive, run_state
from regsim.runner import RunInterrupted, run_scenario
from tests.results.fakes import fake_model, scenario


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _running_folder(folder: Path, pid: int, host: str | None = None) -> Path:
    """A results folder as a run leaves it when it starts: scenario.yaml and a ``running`` meta.json."""
    run_scenario(scenario(), out=folder, model=fake_model, plots=False)
    meta = json.loads((folder / "meta.json").read_text())
    meta.update({"status": "running", "pid": pid, "host": host or platform.node(), "finished": None})
    for name in ("summary.csv", "summary.parquet", "series.parquet", "samples.parquet", "alerts.parquet",
                 "alerts.csv", "report.md"):
        (folder / name).unlink(missing_ok=True)
    (folder / "meta.json").write_text(json.dumps(meta))
    return folder


def test_a_run_records_its_pid_and_host(tmp_path):
    run = run_scenario(scenario(), out=tmp_path / "r", model=fake_model, plots=False)
    meta = json.loads((run.folder / "meta.json").read_text())
    assert meta["pid"] == os.getpid() and meta["host"] == platform.node()
    assert run_state(meta).status == "ok" and run_state(meta).note == ""


def test_running_with_a_dead_pid_is_reported_as_killed(tmp_path, capsys):
    pid = _dead_pid()
    folder = _running_folder(tmp_path / "r", pid)
    message = f"did not finish: the process that ran it (pid {pid} on host {platform.node()}) is gone"
    with pytest.warns(UserWarning, match=r"did not finish: the process that ran it \(pid"):
        r = load(folder)
    assert r.status == "killed" and r.state.note == message
    assert r.meta["status"] == "running"  # the file is read, not rewritten
    assert main(["report", str(folder)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_running_with_a_live_pid_is_reported_as_running(tmp_path, capsys):
    folder = _running_folder(tmp_path / "r", os.getpid())
    r = load(folder)
    assert r.status == "running"
    assert r.state.note == f"still running (pid {os.getpid()} on host {platform.node()})"
    assert main(["report", str(folder)]) == 2
    assert "still running" in capsys.readouterr().err


def test_a_run_on_another_host_is_not_judged_from_here(tmp_path):
    folder = _running_folder(tmp_path / "r", _dead_pid(), host="some-other-host.invalid")
    r = load(folder)
    assert r.status == "running" and "cannot tell" in r.state.note


def test_a_reused_pid_does_not_keep_a_killed_run_alive():
    if not Path(f"/proc/{os.getpid()}/stat").is_file():
        pytest.skip("needs /proc to read a process's start time")
    assert pid_alive(os.getpid())
    assert pid_alive(os.getpid(), "2999-01-01T00:00:00Z")
    assert not pid_alive(os.getpid(), "2000-01-01T00:00:00Z")  # this process started after that run


def test_an_interrupted_run_says_so_in_its_report(tmp_path, capsys):
    def interrupt_second(s, seed, progress=None):
        if s.cluster.nodes != 10:
            raise KeyboardInterrupt
        return fake_model(s, seed, progress)

    with pytest.raises(RunInterrupted):
        run_scenario(scenario(sweep={"cluster.nodes": [10, 20]}), out=tmp_path / "r", model=interrupt_second,
                     plots=False)
    r = load(tmp_path / "r")
    assert r.status == "interrupted" and "unfinished variants: v001" in r.state.note
    assert main(["report", str(tmp_path / "r"), "--no-plots"]) == 0
    assert "interrupted" in capsys.readouterr().err
    text = (tmp_path / "r" / "report.md").read_text()
    assert "| status | interrupted: Ctrl-C stopped it before it finished; unfinished variants: v001 |" in text
    assert "### The run" in text and "None (base)" not in text
    render(tmp_path / "r", plots=False)
