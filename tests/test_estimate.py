"""The cost estimate of a run (regsim.runner.estimate), its guard in `regsim run`, and its lines in `regsim validate`.

No timing assertions: the estimate's terms are checked for what dominates and how they scale.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from regsim.cli import main
from regsim.runner.estimate import (MAX_RUN_HOURS, RunEstimate, VariantEstimate, check_fits, effective_jobs,
                                    estimate_run, estimate_variant)
from regsim.scenario import load_scenario, scenario_from_dict

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
GB = 1024 ** 3


def _one(**data) -> object:
    return estimate_variant(scenario_from_dict({"name": "x", **data}))


def test_hosts_dominate_a_rollout_and_cost_more_than_linearly_in_time():
    small, big = _one(cluster={"nodes": 1000}), _one(cluster={"nodes": 100_000})
    assert big.memory > 50 * (small.memory - _one(cluster={"nodes": 1}).memory)
    assert big.wall_s / small.wall_s > 100  # the N^2 re-sharing term
    assert "100,000 hosts" in big.drivers


def test_p2p_pieces_add_to_a_rollout_and_depend_on_the_piece_size():
    base = {"cluster": {"nodes": 1000}, "distribution": {"strategy": "p2p-swarm"}}
    coarse = _one(**base, image={"layers": ["900MB"]}, **{})
    fine = estimate_variant(scenario_from_dict({"name": "x", **base, "image": {"layers": ["900MB"]},
                                                "distribution": {"strategy": "p2p-swarm",
                                                                 "p2p": {"piece_size": "1MiB"}}}))
    assert fine.wall_s > coarse.wall_s and fine.memory > coarse.memory
    assert "node-pieces" in fine.drivers


def test_requests_drive_a_request_load():
    few = _one(workload={"kind": "poisson", "rate": "100/s", "duration": "10s"})
    many = _one(workload={"kind": "poisson", "rate": "100/s", "duration": "10s", "requests": 1000},
                duration="1h")
    capped = _one(workload={"kind": "poisson", "rate": "10000/s", "duration": "1h", "requests": 500})
    assert "1,000 requests" in few.drivers
    assert many.wall_s == pytest.approx(few.wall_s)
    assert "500 requests" in capped.drivers
    closed = _one(workload={"kind": "closed", "clients": 100, "think_time": "1s", "duration": "100s"})
    assert "10,000 requests" in closed.drivers


def test_trace_requests_come_from_the_trace_file():
    s = load_scenario(SCENARIOS / "trace-caching.yaml")
    v = estimate_run(s).variants[0]
    assert "trace requests" in v.drivers
    n = float(v.drivers.split(", ")[1].split()[0].replace(",", ""))
    assert 500 < n < 2000  # 928 records


def test_the_run_peak_counts_the_variants_running_at_once():
    e = RunEstimate([VariantEstimate(f"v{i}", (i + 1) * GB, 10.0, "") for i in range(4)])
    assert e.peak_memory(1) == 4 * GB
    assert e.peak_memory(2) > 7 * GB
    assert e.wall_s(1) == 40.0 and e.wall_s(4) == 10.0
    assert check_fits(e, 1, memory=5 * GB) is None
    why = check_fits(e, 2, memory=5 * GB)
    assert why and "estimated peak memory" in why and "available" in why
    assert check_fits(e, 1, memory=1 * GB, local=False) is None  # a remote Dask cluster: memory not ours
    slow = RunEstimate([VariantEstimate("v000", GB, MAX_RUN_HOURS * 3600 * 2, "10 M hosts")])
    assert "estimated wall time" in (check_fits(slow, 1, memory=100 * GB) or "")


def test_effective_jobs_follow_the_runner():
    assert effective_jobs(None, None, 1) == 1
    assert effective_jobs(8, None, 3) == 3
    assert effective_jobs(2, None, 10) == 2


@pytest.mark.parametrize("path", sorted(SCENARIOS.rglob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_scenario_fits_without_force(path):
    e = estimate_run(load_scenario(path))
    for jobs in (1, 2, 4):
        assert check_fits(e, effective_jobs(jobs, None, len(e.variants)), memory=8 * GB) is None, path.name


def test_validate_prints_the_estimate_of_a_large_scenario(capsys):
    assert main(["validate", str(SCENARIOS / "quickstart.yaml"), "--set", "cluster.nodes=10000000"]) == 0
    out = capsys.readouterr().out
    assert "estimate: peak memory" in out and "wall time" in out
    assert "v000:" in out and "10 M hosts" in out
    assert "--force runs it anyway" in out


def test_validate_is_quiet_about_a_small_one_unless_asked(capsys):
    assert main(["validate", str(SCENARIOS / "quickstart.yaml")]) == 0
    assert "estimate" not in capsys.readouterr().out
    assert main(["validate", str(SCENARIOS / "quickstart.yaml"), "--estimate"]) == 0
    assert "estimate: peak memory" in capsys.readouterr().out


def test_run_refuses_a_scenario_too_big_for_this_machine(tmp_path, capsys):
    code = main(["run", str(SCENARIOS / "quickstart.yaml"), "--set", "cluster.nodes=10000000",
                 "--results", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert "estimated peak memory" in err and "--force" in err
    assert not any(tmp_path.iterdir())  # nothing written


def test_force_skips_the_guard(tmp_path, monkeypatch, capsys):
    import regsim.cli.run as cli_run

    called = []
    monkeypatch.setattr(cli_run, "refuse_if_too_big", lambda *a: called.append(a))
    monkeypatch.setattr("regsim.runner.run_scenario", lambda *a, **k: (_ for _ in ()).throw(SystemExit(0)))
    with pytest.raises(SystemExit):
        main(["run", str(SCENARIOS / "quickstart.yaml"), "--set", "cluster.nodes=10000000", "--force",
              "--results", str(tmp_path)])
    assert called == []
