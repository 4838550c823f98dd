"""Confidence intervals: Wilson for loss counts, running moments for importance weights."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regsim.sim.durability.stats import Moments, proportion, weighted_mean, wilson, z_value


def test_z_value_of_95_percent():
    assert z_value(0.95) == pytest.approx(1.959964, rel=1e-6)
    with pytest.raises(ValueError, match="confidence"):
        z_value(1.0)


def test_wilson_interval_known_values():
    # Wilson (1927) score interval; textbook values for 0/10 and 5/10 at 95 %
    assert wilson(0, 10) == pytest.approx((0.0, 0.27753), abs=1e-5)
    assert wilson(5, 10) == pytest.approx((0.23659, 0.76341), abs=1e-5)
    assert wilson(10, 10)[1] == 1.0


@settings(max_examples=80, deadline=None)
@given(trials=st.integers(1, 10**9), fraction=st.floats(0, 1))
def test_wilson_interval_holds_the_estimate_inside_zero_one(trials, fraction):
    losses = round(fraction * trials)
    low, high = wilson(losses, trials)
    assert 0.0 <= low <= losses / trials <= high <= 1.0


def test_wilson_rejects_impossible_counts():
    with pytest.raises(ValueError, match="losses must lie"):
        wilson(11, 10)
    with pytest.raises(ValueError, match="positive integer"):
        proportion(0, 0, "x")


@settings(max_examples=40, deadline=None)
@given(values=st.lists(st.floats(0, 1e-6, allow_subnormal=False), min_size=2, max_size=60),
       cut=st.integers(0, 60))
def test_moments_merged_by_batches_equal_numpy(values, cut):
    data = np.array(values)
    moments = Moments()
    moments.add(data[:cut])
    moments.add(data[cut:])
    assert moments.count == data.size
    assert moments.mean == pytest.approx(float(data.mean()), rel=1e-9, abs=1e-300)
    assert moments.variance == pytest.approx(float(data.var(ddof=1)), rel=1e-6, abs=1e-30)


def test_weighted_mean_of_constant_contributions_has_no_width():
    moments = Moments()
    moments.add(np.full(1000, 3.7e-10))
    estimate = weighted_mean(moments, 1000, "x")
    assert estimate.value == pytest.approx(3.7e-10)
    assert estimate.high - estimate.low < 1e-24
