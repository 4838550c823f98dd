"""Every verb ends cleanly: paths it cannot use, a closed pipe, Ctrl-C, units it cannot read."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import regsim.cli.list_ as list_verb
import regsim.cli.paths as paths
from regsim.cli import main
from regsim.demo import KEYRING, run_demo
from regsim.registry.errors import ConfigError
from regsim.results import ResultsError
from regsim.traces import TraceError
from regsim.units import UnitError

REPO = Path(__file__).resolve().parents[2]
TRACE = REPO / "tests" / "data" / "traces" / "synthetic-small.json"


@pytest.fixture
def a_file(tmp_path):
    """A plain file, where the tests give a folder."""
    path = tmp_path / "plain"
    path.write_text("not a folder\n")
    return path


# -- output into a closed pipe (| head) ------------------------------------------------------------

@pytest.mark.parametrize("argv", [["trace", "stats", str(TRACE)], ["list", "--dir", str(REPO / "scenarios" / "ci")]])
def test_a_closed_pipe_ends_the_command_quietly(argv):
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first line, as when `head` has had enough
    try:
        entry = "import sys; from regsim.cli import main; sys.exit(main())"  # what the regsim script runs
        proc = subprocess.run([sys.executable, "-c", entry, *argv], stdout=write, stderr=subprocess.PIPE, text=True,
                              timeout=120, cwd=REPO)
    finally:
        os.close(write)
    assert proc.stderr == ""
    assert proc.returncode == 141


# -- paths the user gave that cannot be used -----------------------------------------------------

def test_trace_generate_makes_the_folder_it_writes_into(tmp_path, capsys):
    out = tmp_path / "new" / "deeper" / "t.json"
    assert main(["trace", "generate", "--out", str(out), "--duration", "2m"]) == 0
    assert out.is_file() and str(out) in capsys.readouterr().out


@pytest.mark.parametrize("argv, what", [
    (["trace", "generate", "--duration", "1m", "--out"], "the trace to"),
    (["calibrate", "--only", "sha256", "--out"], "the profile to"),
])
def test_an_output_under_a_file_is_one_line_naming_it(a_file, capsys, argv, what):
    target = a_file / "x.json"
    assert main([*argv, str(target)]) == 2
    err = capsys.readouterr().err
    assert err.endswith(f"cannot write {what} {target}: {a_file} is a file, not a folder\n")
    assert err.count("\n") == 1


def test_calibrate_refuses_the_output_before_measuring(a_file, capsys):
    assert main(["calibrate", "--out", str(a_file / "p.json")]) == 2
    assert "calibrating" not in capsys.readouterr().out


def test_demo_root_that_is_a_file_or_under_one_exits_2(a_file, capsys):
    assert main(["demo", "--root", str(a_file)]) == 2
    assert capsys.readouterr().err == f"regsim demo: --root {a_file}: is a file, not a folder\n"
    assert main(["demo", "--root", str(a_file / "sub")]) == 2
    assert capsys.readouterr().err == f"regsim demo: {a_file / 'sub'}: {a_file} is a file, not a folder\n"


def test_a_second_demo_in_one_folder_reuses_its_keyring(tmp_path):
    lines: list[str] = []
    first = run_demo(tmp_path / "d", out=lines.append, sizes_mib=[1])
    assert (tmp_path / "d" / KEYRING).is_file()
    second = run_demo(tmp_path / "d", out=lines.append, sizes_mib=[1])
    assert second["image_bytes"] == first["image_bytes"]
    assert sum("verified after repair" in line for line in lines) == 2


def test_demo_refuses_a_folder_it_did_not_make(tmp_path, capsys):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "notes.txt").write_text("mine\n")
    assert main(["demo", "--root", str(tmp_path / "d")]) == 2
    assert "holds files but no keyring.json" in capsys.readouterr().err


def test_an_unusable_path_deep_in_a_verb_is_one_line(tmp_path, monkeypatch, capsys):
    def missing(args):
        raise FileNotFoundError(2, "No such file or directory", str(tmp_path / "gone"))

    monkeypatch.setattr(list_verb, "run", missing)
    assert main(["list"]) == 2
    assert capsys.readouterr().err == f"regsim list: {tmp_path / 'gone'}: No such file or directory\n"


# -- Ctrl-C in any verb ---------------------------------------------------------------------------

def test_ctrl_c_in_a_verb_is_one_line_and_exit_130(tmp_path, monkeypatch, capsys):
    def interrupted(folder):
        raise KeyboardInterrupt

    monkeypatch.setattr(list_verb, "scenario_rows", interrupted)
    assert main(["list", "--dir", str(tmp_path)]) == 130
    assert capsys.readouterr().err == "regsim list: interrupted\n"


# -- regsim list: where it looks, and the table's width ------------------------------------------

def _project(root: Path) -> Path:
    (root / "scenarios").mkdir(parents=True)
    (root / "scenarios" / "long.yaml").write_text("name: long\ndescription: " + "word " * 60 + "\n")
    (root / "deep" / "er").mkdir(parents=True)
    return root


def test_list_finds_the_project_from_a_subfolder(tmp_path, monkeypatch, capsys):
    _project(tmp_path)
    monkeypatch.chdir(tmp_path / "deep" / "er")
    monkeypatch.delenv("COLUMNS", raising=False)
    assert main(["list"]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines()[1].startswith("long.yaml") and captured.out.count("word") == 60
    assert captured.err == f"scenarios in {tmp_path / 'scenarios'}\n"


def test_list_cuts_descriptions_to_the_terminal_width(tmp_path, monkeypatch, capsys):
    _project(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "70")
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert all(len(line) <= 70 for line in lines) and lines[1].endswith("...")


def test_list_outside_any_project_says_where_it_looked(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(paths, "CHECKOUT", tmp_path / "no-checkout")
    assert main(["list"]) == 2
    err = capsys.readouterr().err
    assert f"no scenarios/ folder in {tmp_path.resolve()}, its parents" in err and "--help" in err


def test_check_defaults_come_from_the_project_not_the_current_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(paths, "CHECKOUT", tmp_path / "no-checkout")
    assert main(["check", "--no-ratios"]) == 2
    assert "no scenarios/ folder in" in capsys.readouterr().err
    _project(tmp_path)
    (tmp_path / "scenarios" / "ci").mkdir()
    monkeypatch.chdir(tmp_path / "deep")
    assert main(["check", "--no-ratios"]) == 2
    assert str(tmp_path / "scenarios" / "ci") in capsys.readouterr().err


# -- units on the command line -------------------------------------------------------------------

@pytest.mark.parametrize("egress, resolved", [("1Gb/s", "1Gbps"), ("100mb/s", "100Mbps"), ("100MBps", "800Mbps"),
                                              ("1GB/s", "8Gbps")])
def test_validate_reads_bits_and_bytes_by_the_case_of_b(tmp_path, capsys, egress, resolved):
    path = tmp_path / "u.yaml"
    path.write_text(f"name: x\nregistry: {{egress: {egress}}}\n")
    assert main(["validate", str(path), "--resolved"]) == 0
    assert f"egress: {resolved}\n" in capsys.readouterr().out


@pytest.mark.parametrize("text, message", [
    ("registry: {egress: 10GBPS}", "write '10Gbps' for bits per second or '10GB/s' for bytes"),
    ("image: {layers: [100Mb]}", "'100Mb' is in bits (lower-case b); a size is in bytes: write '100MB'"),
])
def test_validate_refuses_ambiguous_units_and_sizes_in_bits(tmp_path, capsys, text, message):
    path = tmp_path / "u.yaml"
    path.write_text(f"name: x\n{text}\n")
    assert main(["validate", str(path)]) == 2
    assert message in capsys.readouterr().err


# -- bad input from any layer: the one UserError handler in main ---------------------------------

@pytest.mark.parametrize("argv, message", [
    # a UnitError straight from regsim.units, which the verb does not catch
    (["trace", "cache", str(TRACE), "--capacity", "1Gb"], "'1Gb' is in bits (lower-case b)"),
    # a UnitError inside a pydantic validator, turned into a ScenarioError by the loader
    (["run", "{scenario}", "--set", "registry.egress=10GBPS"], "registry.egress: ambiguous rate unit 'GBPS'"),
])
def test_a_bad_unit_from_a_deep_layer_is_one_line_and_exit_2(tmp_path, capsys, argv, message):
    scenario = tmp_path / "s.yaml"
    scenario.write_text("name: s\n")
    argv = [a.format(scenario=scenario) for a in argv] + (["--out", str(tmp_path / "o")] if argv[0] == "run" else [])
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"regsim {argv[0]}: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("exc", [
    UnitError("expected a size such as 4MiB, got 'x'"),
    ResultsError("r: no such results folder"),
    TraceError("t.json", "expected a number", index=3, field="size"),
    ConfigError("registry.nodes: expected at least 1, got 0"),
], ids=lambda exc: type(exc).__name__)
def test_any_user_error_a_verb_lets_through_is_one_line(monkeypatch, capsys, exc):
    def raises(args):
        raise exc

    monkeypatch.setattr(list_verb, "run", raises)
    assert main(["list"]) == 2
    assert capsys.readouterr().err == f"regsim list: {exc}\n"


def test_an_internal_error_keeps_its_traceback(monkeypatch):
    """Only bad input is one line: a registry error no user caused (here in ``list``) is a bug."""
    from regsim.registry.errors import DataLoss

    def raises(args):
        raise DataLoss("blob sha256:00: 3 fragments lost")

    monkeypatch.setattr(list_verb, "run", raises)
    with pytest.raises(DataLoss):
        main(["list"])


def test_image_import_reports_what_the_registry_refuses_as_bad_input(tmp_path, capsys):
    """In ``image import`` a registry error is about the user's layout or names: one line, exit 2."""
    from tests.server.test_image_import import make_layout

    layout = make_layout(tmp_path / "img")
    assert main(["image", "import", str(layout), "--root", str(tmp_path / "store"), "--repository", "Not/Valid"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("regsim image: ") and "Not/Valid" in err and err.count("\n") == 1
