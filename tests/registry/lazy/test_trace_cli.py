"""``regsim image trace``: a synthetic trace from a layout, a recorded one converted, bad input on one line."""

from __future__ import annotations

import inspect

import pytest

import regsim.cli.image as image_cli
from regsim.cli import main
from regsim.cli.image_trace import register_trace
from regsim.registry.lazy.recorded import overlaybd_bytes
from regsim.registry.lazy.trace import Read, StartupTrace

from .layers import build_tar, write_layout


@pytest.fixture(autouse=True)
def hooked(monkeypatch):
    """Until ``regsim/cli/image.py`` calls ``register_trace``, add the verb the way that hook would."""
    if "register_trace" in inspect.getsource(image_cli):
        return
    sign = image_cli.register_sign

    def both(verbs):
        sign(verbs)
        register_trace(verbs)
    monkeypatch.setattr(image_cli, "register_sign", both)


@pytest.fixture
def layout(tmp_path):
    a = build_tar([("etc", "dir", None), ("etc/os-release", "reg", b"x" * 3000),
                   *[(f"usr/lib/lib{i}.so", "reg", bytes([i]) * (1000 * (i + 1))) for i in range(30)]])
    b = build_tar([("app", "dir", None), ("app/main.py", "reg", b"print(1)\n" * 500)])
    return write_layout(tmp_path / "layout", [a, b])


def test_synthetic_trace_from_a_layout(layout, tmp_path, capsys):
    out = tmp_path / "t.json"
    assert main(["image", "trace", str(layout), "--fraction", "0.3", "--seed", "1", "--out", str(out)]) == 0
    t = StartupTrace.load(out)
    total = 3000 + sum(1000 * (i + 1) for i in range(30)) + 4500
    assert t.bytes_read >= 0.3 * total and t.meta["seed"] == 1 and t.meta["fraction"] == 0.3
    assert "wrote" in capsys.readouterr().out
    again = tmp_path / "u.json"
    assert main(["image", "trace", str(layout), "--fraction", "0.3", "--seed", "1", "--out", str(again)]) == 0
    assert again.read_text() == out.read_text()
    assert main(["image", "trace", str(layout), "--out", str(again), "--locality", "0", "--partial", "0.5",
                 "--cpu-between", "0"]) == 0
    assert StartupTrace.load(again).cpu_s == 0 and StartupTrace.load(again).meta["fraction"] == 0.064


def test_recorded_trace_converted(tmp_path, capsys):
    rec = tmp_path / "trace"
    rec.write_bytes(overlaybd_bytes([("R", 0, 4096, 0), ("R", 1, 512, 8192)]))
    out = tmp_path / "t.json"
    assert main(["image", "trace", "--recorded", str(rec), "--out", str(out)]) == 0
    assert StartupTrace.load(out).reads == (Read(0, None, 0, 4096), Read(1, None, 8192, 512))
    assert "2 reads (2 raw)" in capsys.readouterr().out
    csv = tmp_path / "t.csv"
    csv.write_text("0,0,10\n1,bin/sh,0,5,0.5\n")
    assert main(["image", "trace", "--recorded", str(csv), "--cpu-between", "0.25", "--out", str(out)]) == 0
    assert [r.cpu_before_s for r in StartupTrace.load(out).reads] == [0.25, 0.25]


@pytest.mark.parametrize("argv, message", [
    (["--out", "X"], "give either an OCI layout DIR"),
    (["LAYOUT", "--recorded", "REC", "--out", "X"], "give either an OCI layout DIR"),
    (["--recorded", "REC", "--fraction", "0.5", "--out", "X"], "--fraction apply only to a synthetic trace"),
    (["--recorded", "MISSING", "--out", "X"], "no such file"),
    (["--recorded", "BAD", "--out", "X"], "bad.csv:2: length must be an integer"),
    (["LAYOUT", "--fraction", "2", "--out", "X"], "fraction must be between 0 and 1"),
    (["LAYOUT", "--ref", "nope", "--out", "X"], "has no image named 'nope'"),
    (["MISSING", "--out", "X"], "no such folder"),
])
def test_bad_input_is_one_line_exit_2(layout, tmp_path, capsys, argv, message):
    rec = tmp_path / "rec.csv"
    rec.write_text("0,0,1\n")
    bad = tmp_path / "bad.csv"
    bad.write_text("0,0,1\n0,0,x\n")
    subst = {"LAYOUT": str(layout), "REC": str(rec), "BAD": str(bad), "MISSING": str(tmp_path / "missing"),
             "X": str(tmp_path / "out.json")}
    assert main(["image", "trace", *[subst.get(a, a) for a in argv]]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "out.json").exists()
