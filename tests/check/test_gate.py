"""``regsim check``: passes on fresh baselines, fails with a readable table when a KPI moves,
``--update`` rewrites, and the shipped CI scenarios match their committed baselines."""

from __future__ import annotations

import json
from pathlib import Path

from regsim.check import read_baseline, run_gate
from regsim.cli import main

ROOT = Path(__file__).resolve().parents[2]


def check(scenarios, baselines, *extra):
    return main(["check", "--scenarios", str(scenarios), "--baselines", str(baselines), "--no-ratios", *extra])


def edit(path, fn):
    data = json.loads(path.read_text())
    fn(data)
    path.write_text(json.dumps(data, indent=2))


def test_fresh_baselines_pass(ci, capsys):
    scenarios, baselines = ci
    assert check(scenarios, baselines, "--update") == 0
    assert "2 baseline(s) written" in capsys.readouterr().out
    assert sorted(p.name for p in baselines.iterdir()) == ["tiny-a.json", "tiny-b.json"]
    assert check(scenarios, baselines) == 0
    out = capsys.readouterr().out
    assert out.strip().endswith(": passed") and "changed" not in out


def test_a_kpi_beyond_its_tolerance_fails_with_a_table(ci, capsys):
    scenarios, baselines = ci
    check(scenarios, baselines, "--update")
    capsys.readouterr()

    def slower(data):
        data["variants"]["v001"]["kpis"]["makespan_s"] *= 0.9
        data["variants"]["v000"]["kpis"]["codec"] = "rs(4,2)"

    edit(baselines / "tiny-a.json", slower)
    assert check(scenarios, baselines) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["scenario", "variant", "KPI", "baseline", "now", "change", "tolerance"]
    rows = [line.split() for line in lines[2:4]]
    assert rows[0][:3] == ["tiny-a", "v000", "codec"] and rows[0][3:5] == ["rs(4,2)", "replicate(2)"]
    assert rows[0][5:] == ["changed", "exact"]
    assert rows[1][:3] == ["tiny-a", "v001", "makespan_s"] and rows[1][-2:] == ["rtol", "1e-09"]
    assert rows[1][5].startswith("+") and rows[1][6] == "(+11.1%)"
    assert "FAILED: 2 KPI value(s) or variant(s) off their baseline" in lines[-1]


def test_a_stated_tolerance_lets_a_small_move_pass(ci, capsys):
    scenarios, baselines = ci
    check(scenarios, baselines, "--update")

    def moved(data):
        data["variants"]["v000"]["kpis"]["makespan_s"] *= 1.02
        data["tolerances"]["makespan_s"] = "rtol 0.05"

    edit(baselines / "tiny-b.json", moved)
    assert check(scenarios, baselines) == 0
    edit(baselines / "tiny-b.json", lambda d: d["tolerances"].update(makespan_s="rtol 0.01"))
    assert check(scenarios, baselines) == 1


def test_update_rewrites_the_kpis_and_keeps_stated_tolerances(ci, capsys):
    scenarios, baselines = ci
    check(scenarios, baselines, "--update")
    fresh = read_baseline(baselines / "tiny-a.json")

    def tampered(data):
        data["variants"]["v000"]["kpis"]["pull_p50_s"] = 123.0
        data["tolerances"]["pull_p50_s"] = "rtol 0.25"
        data["variants"]["v000"]["kpis"]["old_kpi"] = 1

    edit(baselines / "tiny-a.json", tampered)
    assert check(scenarios, baselines) == 1
    assert check(scenarios, baselines, "--update") == 0
    assert "pull_p50_s" in capsys.readouterr().out  # the update shows what it changed
    again = read_baseline(baselines / "tiny-a.json")
    assert again.variants == fresh.variants
    assert str(again.tolerances["pull_p50_s"].describe()) == "rtol 0.25" and "old_kpi" not in again.tolerances
    assert check(scenarios, baselines) == 0


def test_a_missing_baseline_or_a_changed_sweep_fails(ci, capsys):
    scenarios, baselines = ci
    assert check(scenarios, baselines) == 1
    out = capsys.readouterr().out
    assert "no baseline" in out and "run `regsim check --update` to write it" in out
    check(scenarios, baselines, "--update")
    text = (scenarios / "a.yaml").read_text().replace("[10Gbps, 25Gbps]", "[10Gbps, 25Gbps, 40Gbps]")
    (scenarios / "a.yaml").write_text(text)
    capsys.readouterr()
    assert check(scenarios, baselines) == 1
    out = capsys.readouterr().out
    assert "new variant" in out and "the scenario (as resolved) changed since its baseline" in out


def test_a_failing_variant_fails_the_gate_and_writes_no_baseline(ci, capsys):
    scenarios, baselines = ci
    text = (scenarios / "a.yaml").read_text().replace("registry.egress: [10Gbps, 25Gbps]",
                                                      'registry.storage.codec: ["replicate(2)", "rs(4,2)"]')
    (scenarios / "a.yaml").write_text(text)
    assert check(scenarios, baselines, "--update") == 1
    out = capsys.readouterr().out
    assert "variant failed" in out and "tiny-a: baseline not written" in out
    assert not (baselines / "tiny-a.json").exists() and (baselines / "tiny-b.json").exists()


def test_the_profile_is_forced_to_reference(ci):
    scenarios, baselines = ci
    (scenarios / "a.yaml").write_text((scenarios / "a.yaml").read_text() + "profile: live\n")
    gate = run_gate(scenarios, baselines, update=True)
    assert any("profile 'live' replaced by 'reference'" in n for s in gate.scenarios for n in s.notes)


def test_user_mistakes_exit_2(ci, tmp_path, capsys):
    scenarios, baselines = ci
    assert check(tmp_path / "none", baselines) == 2
    assert "no such folder of CI scenarios" in capsys.readouterr().err
    (scenarios / "c.yaml").write_text((scenarios / "a.yaml").read_text())
    assert check(scenarios, baselines) == 2
    assert "are both named 'tiny-a'" in capsys.readouterr().err
    (scenarios / "c.yaml").unlink()
    baselines.mkdir()
    (baselines / "tiny-a.json").write_text("{")
    assert check(scenarios, baselines) == 2
    assert "tiny-a.json: not valid JSON" in capsys.readouterr().err


def test_stale_baselines_are_noted(ci, capsys):
    scenarios, baselines = ci
    check(scenarios, baselines, "--update")
    (baselines / "retired.json").write_text("{}")
    assert check(scenarios, baselines) == 0
    assert "baselines without a scenario" in capsys.readouterr().out


def test_the_shipped_ci_scenarios_match_their_committed_baselines(capsys):
    gate = run_gate(ROOT / "scenarios" / "ci", ROOT / "results" / "baselines")
    assert len(gate.scenarios) >= 2
    assert not gate.failed, [r for r in gate.rows if r.failed]
    assert all(r.status == "ok" for r in gate.rows)
