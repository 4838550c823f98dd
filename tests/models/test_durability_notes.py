"""The storage comparison's report says why plain Monte Carlo cannot estimate 1e-9 losses."""

from pathlib import Path

from regsim.models import simulate
from regsim.scenario import load_scenario

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "replication-vs-ec.yaml"


def test_report_explains_importance_sampling_for_rare_losses():
    sc = load_scenario(SCENARIO,
                       ["workload.duration=10s", "sweep={}", "registry.storage.codec=rs(4,2)",
                        "failures.afr=2%", "failures.repair_time=24h"])
    result = simulate(sc, 3)
    (note,) = [n for n in result.notes if "plain Monte Carlo cannot" in n]
    assert "importance sampling" in note and "stripe-years" in note
    low, high = result.kpis["p_loss_year_mc_low"], result.kpis["p_loss_year_mc_high"]
    assert low <= result.kpis["p_loss_year_analytic"] <= high
