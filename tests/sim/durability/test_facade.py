"""The durability() facade: every summary column, the estimator it picks, and its errors."""

import pytest

from regsim.sim.durability import COLUMNS, IMPORTANCE, PLAIN, durability, nines
from regsim.sim.failure_processes import YEAR_S

DAY = 86400.0


def test_rs_4_2_at_afr_2_percent_reports_every_column():
    result = durability(6, 4, afr=0.02, repair_time_s=DAY, mc_trials=20_000, seed=1)
    row = result.to_row()
    assert set(COLUMNS) <= set(row)
    assert row["codec_n"] == 6 and row["codec_k"] == 4 and row["repair"] == "serial"
    assert result.mc_method == "importance-bfb-forcing"  # plain MC would see no loss here
    assert result.mc_agrees
    assert result.p_loss_year_analytic == pytest.approx(7.37e-9, rel=0.01)
    assert result.p_loss_year_approx == pytest.approx(result.p_loss_year_analytic, rel=0.01)
    assert result.mttdl_years == pytest.approx(1.349e8, rel=0.01)
    assert result.mttdl_closed_form_s == pytest.approx(result.mttdl_s, rel=1e-3)
    assert result.p_loss_year_binomial == pytest.approx(result.p_loss_year_analytic / 6, rel=0.05)


def test_auto_uses_plain_monte_carlo_when_losses_are_common():
    result = durability(6, 4, 0.5, 7 * DAY, "parallel", mc_trials=50_000, seed=2)
    assert result.mc_method == "vectorised"
    assert result.mc_agrees
    forced = durability(6, 4, 0.5, 7 * DAY, "parallel", mc_trials=20_000, seed=5, mc=IMPORTANCE)
    assert forced.mc_method.startswith("importance") and forced.mc_agrees


def test_plain_monte_carlo_on_request_sees_nothing_at_1e_9():
    result = durability(3, 1, 0.02, DAY, mc_trials=50_000, seed=3, mc=PLAIN)
    assert result.p_loss_year_mc == 0.0
    assert result.p_loss_year_mc_low == 0.0
    assert result.p_loss_year_mc_high > 1e-5  # the interval cannot exclude anything below 1/N


def test_years_scale_the_horizon():
    one = durability(6, 4, 0.02, DAY, mc_trials=1000)
    ten = durability(6, 4, 0.02, DAY, years=10, mc_trials=1000)
    assert ten.p_loss_year_analytic == pytest.approx(10 * one.p_loss_year_analytic, rel=0.01)
    assert ten.mttdl_s == one.mttdl_s


def test_same_seed_same_result():
    first = durability(9, 6, 0.02, DAY, mc_trials=5000, seed=4)
    assert first == durability(9, 6, 0.02, DAY, mc_trials=5000, seed=4)
    assert first != durability(9, 6, 0.02, DAY, mc_trials=5000, seed=5)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"repair": "eventually"}, "repair must be"),
    ({"years": 0}, "mission time"),
    ({"years": "1"}, "years must be"),
    ({"mc_trials": 0}, "positive integer"),
    ({"mc": "magic"}, "mc must be"),
    ({"seed": -1}, "non-negative"),
])
def test_invalid_options_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        durability(6, 4, 0.02, DAY, **kwargs)


def test_nines():
    assert nines(1e-11) == pytest.approx(11)
    assert nines(0.0) == float("inf")
    with pytest.raises(ValueError):
        nines(2.0)
    assert YEAR_S == 365.25 * DAY
