"""Ctrl-C during a run: the finished variants are written, workers stop, one line says where.

Interrupts are raised where a real Ctrl-C lands -- in the model (in-process), in the parent
while it waits for workers (a reporter that raises when the first variant ends), while the
report is drawn -- and, in one slow test, by SIGINT to a real ``regsim run`` process group.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import regsim.runner.run as run_module
from regsim.cli import main
from regsim.results import load
from regsim.runner import NullReporter, RunInterrupted, run_scenario
from tests.results.fakes import fake_model, scenario, use_model

#: cluster sizes of the test sweeps: the first variant finishes, the others are interrupted.
FAST, SLOW = 10, 20
_held: list = []  # FIFO handles a worker keeps open while it hangs


def interrupt_second(s, seed, progress=None):
    """The fake model for the first variant, Ctrl-C in the second (as if pressed during it)."""
    if s.cluster.nodes != FAST:
        raise KeyboardInterrupt
    return fake_model(s, seed, progress)


def hang_unless_fast(s, seed, progress=None):
    """The fake model for the first variant; the others block until their worker is stopped."""
    if s.cluster.nodes != FAST:
        threading.Event().wait(120)  # bounded, so a runner that fails to stop workers fails slowly
    return fake_model(s, seed, progress)


def announce_and_hang(s, seed, progress=None):
    """Write this worker's pid to the FIFO named by REGSIM_TEST_FIFO, then block until stopped."""
    fifo = open(os.environ["REGSIM_TEST_FIFO"], "w")  # noqa: SIM115 -- kept open while hanging
    fifo.write(f"{os.getpid()}\n")
    fifo.flush()
    _held.append(fifo)
    threading.Event().wait(120)
    return fake_model(s, seed, progress)


class CtrlCAfterFirst(NullReporter):
    """Raises KeyboardInterrupt in the parent when the first variant ends, as a Ctrl-C would."""

    def end(self, variant, ok):
        raise KeyboardInterrupt


def _sweep(*nodes):
    return scenario(sweep={"cluster.nodes": list(nodes)})


def _meta(folder: Path) -> dict:
    return json.loads((folder / "meta.json").read_text())


def _spawned_children() -> list:
    psutil = pytest.importorskip("psutil")
    alive = []
    for child in psutil.Process().children(recursive=True):
        try:
            if "spawn_main" in " ".join(child.cmdline()) and child.status() != psutil.STATUS_ZOMBIE:
                alive.append(child)
        except psutil.NoSuchProcess:
            continue
    return alive


def test_in_process_keeps_the_variants_that_finished(tmp_path):
    with pytest.raises(RunInterrupted) as info:
        run_scenario(_sweep(FAST, SLOW, SLOW), out=tmp_path / "r", model=interrupt_second, plots=False)
    assert str(info.value) == f"interrupted: 1 of 3 variants finished; partial results in {tmp_path / 'r'}"
    results = load(tmp_path / "r")
    assert results.summary["variant"].tolist() == ["v000"] and results.summary.loc[0, "nodes"] == FAST
    meta = _meta(tmp_path / "r")
    assert meta["status"] == "interrupted" and meta["unfinished"] == ["v001", "v002"]
    assert meta["variants_ok"] == 1 and [v["id"] for v in meta["variants"]] == ["v000"]


@pytest.mark.slow
def test_worker_processes_are_stopped_and_finished_variants_kept(tmp_path):
    with pytest.raises(RunInterrupted) as info:
        run_scenario(_sweep(FAST, SLOW, SLOW), out=tmp_path / "r", model=hang_unless_fast, jobs=2,
                     reporter=CtrlCAfterFirst(), plots=False)
    assert info.value.finished == 1 and info.value.total == 3
    assert not _spawned_children(), "worker processes outlived the interrupted run"
    assert load(tmp_path / "r").summary["variant"].tolist() == ["v000"]
    assert _meta(tmp_path / "r")["status"] == "interrupted"


def test_ctrl_c_while_the_report_is_drawn_marks_the_run_interrupted(tmp_path, monkeypatch):
    def interrupted_render(folder, plots=True):
        raise KeyboardInterrupt

    monkeypatch.setattr(run_module, "render", interrupted_render)
    with pytest.raises(RunInterrupted, match="interrupted while writing the results: 2 of 2 variants finished"):
        run_scenario(_sweep(FAST, SLOW), out=tmp_path / "r", model=fake_model)
    meta = _meta(tmp_path / "r")
    assert meta["status"] == "interrupted" and meta["unfinished"] == [] and meta["variants_ok"] == 2
    assert "regsim report" in meta["errors"][-1]["error"]
    assert len(load(tmp_path / "r").summary) == 2


def test_the_cli_prints_one_line_and_exits_130(scenario_file_three, monkeypatch, tmp_path, capsys):
    use_model(monkeypatch, interrupt_second)
    out = tmp_path / "out"
    assert main(["run", str(scenario_file_three), "--out", str(out), "-j", "1", "-q", "--no-plots"]) == 130
    captured = capsys.readouterr()
    assert captured.err == f"regsim run: interrupted: 1 of 3 variants finished; partial results in {out}\n"
    assert (out / "summary.csv").read_text().count("\n") == 2  # header and v000


@pytest.fixture
def scenario_file_three(tmp_path):
    path = tmp_path / "three.yaml"
    path.write_text(f"name: three\nimage: {{layers: [10MB]}}\nsweep:\n  cluster.nodes: [{FAST}, {SLOW}, {SLOW + 1}]\n")
    return path


@pytest.mark.slow
def test_sigint_to_a_real_run_stops_it_and_its_workers_without_a_traceback(scenario_file_three, tmp_path):
    fifo = tmp_path / "started"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # before any writer, so workers can open it
    script = ("import sys; from regsim import models; from regsim.cli import main; "
              "from tests.test_runner_interrupt import announce_and_hang; "
              "from tests.results.fakes import with_model; family, spec = with_model(announce_and_hang); "
              "models._SPECS[family] = spec; sys.exit(main(sys.argv[1:]))")
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-c", script, "run", str(scenario_file_three), "--out", str(out),
                             "-j", "2", "-q", "--no-plots"], cwd=Path(__file__).resolve().parents[1],
                            env={**os.environ, "REGSIM_TEST_FIFO": str(fifo)}, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    pids: list[int] = []
    try:
        text = ""
        while len(pids) < 2:
            ready, _, _ = select.select([reader], [], [], 120)
            assert ready, "the workers never started"
            chunk = os.read(reader, 1024).decode()
            assert chunk or proc.poll() is None, proc.communicate()[1]
            text += chunk
            pids = [int(p) for p in text.split()]
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal does on Ctrl-C: the whole process group
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        os.close(reader)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, stderr
    assert stderr == f"regsim run: interrupted: 0 of 3 variants finished; partial results in {out}\n"
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    meta = _meta(out)
    assert meta["status"] == "interrupted" and meta["unfinished"] == ["v000", "v001", "v002"]
